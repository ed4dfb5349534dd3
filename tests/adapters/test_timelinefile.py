"""The picture editors' interchange files through OpenTimelineIO: Resolve's marker EDL, FCP 7 XML, FCPXML and an
Avid AAF's locators become markers at picture timecode, and what the readers drop or get wrong is refused by name."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from peers.aaffiles import Locator, write_locators

from stage.adapters.timelinefile import read_interchange
from stage.core.markerformats import Format
from stage.core.spotting import MarkerList, Spotting, spot
from stage.core.timecode import RATES, Rate
from stage.errors import StageError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spotting"


def read(name: str, fmt: Format, rate: Rate | None = None) -> MarkerList:
    path = FIXTURES / name
    return read_interchange(fmt, path, path.read_bytes(), rate)


def cues(spotting: Spotting) -> list[tuple[str, str, str, str, str, list[tuple[str, str]]]]:
    return [(c.id, c.title, str(c.start), str(c.end), c.notes, [(str(h.at), h.label) for h in c.hits])
            for c in spotting.cues]


def problems(found: MarkerList | Spotting) -> list[str]:
    return [str(p) for p in found.problems]


def test_resolve_timeline_markers_to_edl() -> None:
    markers = read("resolve-markers-24.edl", Format.EDL, RATES["24"])
    assert (markers.rate, markers.title) == (RATES["24"], "R9 spot")
    assert problems(markers) == ["event 8: marker: not a marker: no |C:… |M:… |D:… line follows it"]
    by_event = {m.line: m for m in markers.markers}
    assert (by_event[2].name, by_event[2].comment, by_event[2].colour) == ("9M1 Lantern", 'strings, "sul tasto"',
                                                                          "green")
    assert (by_event[5].comment, by_event[5].duration) == ("the storm\nbuilds", 480)  # a note over two lines
    assert (by_event[6].name, by_event[6].colour) == ("lamp flickers", "lavender")  # a tab in the name
    assert by_event[9].name == "rain on glass"  # no name: the note names it
    spotting = spot(markers.markers)
    assert cues(spotting) == [
        ("9M1", "Lantern", "01:00:10:00", "01:00:20:00", 'strings, "sul tasto"',
         # event 6 was added later, out of time order: it is placed by its timecode, not by its place in the list
         [("01:00:12:12", "door slams"), ("01:00:15:00", "lamp flickers")]),
        ("9M2", "Storm", "01:00:30:00", "01:00:50:00", "the storm\nbuilds",  # 480 frames: the marker spans it
         [("01:00:36:00", "rain on glass"), ("01:00:41:00", "thunder")]),
    ]
    assert problems(spotting) == ["event 1: marker: 'REEL 9 HEAD' at 01:00:00:00 lies outside every cue"]


def test_a_drop_frame_edl_says_so_in_its_fcm_line() -> None:
    markers = read("resolve-markers-2997df.edl", Format.EDL, RATES["29.97"])
    assert markers.rate is RATES["29.97df"]
    assert cues(spot(markers.markers)) == [
        ("10M1", "", "01:00:59;28", "01:01:10;00", "", [("01:01:00;02", "minute one")]),
    ]
    with pytest.raises(StageError, match="FCM: DROP FRAME, but 24 fps has no drop-frame"):
        read("resolve-markers-2997df.edl", Format.EDL, RATES["24"])
    with pytest.raises(StageError, match="an EDL does not say its rate: give --rate"):
        read("resolve-markers-2997df.edl", Format.EDL)
    non_drop = read("resolve-markers-24.edl", Format.EDL, RATES["29.97df"])  # FCM: NON-DROP FRAME
    assert non_drop.rate is RATES["29.97"]


def test_the_edl_reader_stops_at_a_note_that_begins_with_a_digit(tmp_path: Path) -> None:
    edl = tmp_path / "digit.edl"
    edl.write_text("TITLE: x\nFCM: NON-DROP FRAME\n\n"
                   "001  001      V     C        01:00:10:00 01:00:10:01 01:00:10:00 01:00:10:01\n"
                   "3 hits here |C:ResolveColorRed |M:the keeper |D:1\n", encoding="utf-8")
    with pytest.raises(StageError, match=r"^an EDL that OpenTimelineIO's cmx_3600 reader cannot read: .*3 hits here"):
        read_interchange(Format.EDL, edl, edl.read_bytes(), RATES["24"])


def test_fcp7_xml_sequence_and_clip_markers_at_drop_frame() -> None:
    markers = read("fcp7-markers-2997df.xml", Format.FCP7)
    assert (markers.rate, markers.title) == (RATES["29.97df"], "R11 spot")  # <timebase>30, <ntsc>TRUE, DF
    assert problems(markers) == []
    assert {m.colour for m in markers.markers} == {""}  # FCP 7 markers have no colour
    spotting = spot(markers.markers)
    assert cues(spotting) == [
        ("11M1", "Fog", "01:00:00;00", "01:01:10;00", "low brass",
         [("01:01:00;02", "bell"), ("01:01:02;00", "splash")]),  # 'splash' sits on the clip
        ("11M2", "Drift", "01:01:20;00", "01:01:40;00", "pads",  # in and out: it spans the cue
         [("01:01:25;00", "gull"), ("01:01:28;02", "a note with no name")]),
    ]
    assert problems(spotting) == ["marker 7: marker: 'after the drift' at 01:01:41;12 lies outside every cue"]
    with pytest.raises(StageError, match=r"the file's markers are at 29\.97df fps, not 25"):
        read("fcp7-markers-2997df.xml", Format.FCP7, RATES["25"])


def test_fcpxml_markers_at_24_fps() -> None:
    markers = read("fcpx-markers-24.fcpxml", Format.FCPXML)
    assert (markers.rate, markers.title) == (RATES["24"], "R12 spot")
    # a to-do marker comes out red, a completed one green, any other purple; notes, chapter and gap markers are lost
    assert [(m.name, m.colour, m.comment) for m in markers.markers][:4] == [
        ("12M1 start Pier", "purple", ""), ("splash", "red", ""), ("boat turns", "purple", ""),
        ("12M1 end", "green", ""),
    ]
    assert "on the gap" not in {m.name for m in markers.markers}
    spotting = spot(markers.markers)
    assert cues(spotting) == [
        ("12M1", "Pier", "01:00:10:00", "01:00:20:00", "", [("01:00:12:06", "splash"), ("01:00:15:12", "boat turns")]),
        ("12M2", "Wake", "01:00:30:00", "01:00:50:00", "", [("01:00:37:12", "bell")]),
    ]
    assert problems(spotting) == ["clip marker 7: marker: 'after the wake' at 01:01:06:16 lies outside every cue"]


@pytest.mark.parametrize(("frame", "shown"), [("1/25s", "25"), ("1001/24000s", "23.976"), ("1001/30000s", "29")])
def test_fcpxml_at_rates_its_reader_miscounts_is_refused(tmp_path: Path, frame: str, shown: str) -> None:
    text = (FIXTURES / "fcpx-markers-24.fcpxml").read_text(encoding="utf-8").replace('"100/2400s"', f'"{frame}"')
    path = tmp_path / "other.fcpxml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StageError, match=rf"this FCPXML is at {shown} fps, where OpenTimelineIO's FCPXML reader"):
        read_interchange(Format.FCPXML, path, path.read_bytes(), None)


def test_avid_locators_in_an_aaf(tmp_path: Path) -> None:
    path = write_locators(tmp_path / "r13.aaf", "R13 spot", Fraction(24000, 1001), 86400, [
        Locator(240, "13M1 Tide\nslow strings", "green"),  # 01:00:10:00 at 23.976; green starts the cue
        Locator(300, "wave", "yellow"),
        Locator(600, "13M1", "red"),
        Locator(800, "13M2 Calm", "blue", length=480),  # a spanned locator: a whole cue
        Locator(900, "gull", "magenta"),
        Locator(2000, "after", "cyan"),
    ])
    markers = read_interchange(Format.AAF, path, path.read_bytes(), None)
    assert (markers.rate, markers.title, problems(markers)) == (RATES["23.976"], "R13 spot", [])
    assert [(m.where, m.colour) for m in markers.markers][:3] == [("locator 1", "green"), ("locator 2", "yellow"),
                                                                  ("locator 3", "red")]
    spotting = spot(markers.markers)
    assert cues(spotting) == [
        ("13M1", "Tide", "01:00:10:00", "01:00:25:00", "slow strings", [("01:00:12:12", "wave")]),
        ("13M2", "Calm", "01:00:33:08", "01:00:53:08", "", [("01:00:37:12", "gull")]),
    ]
    assert problems(spotting) == ["locator 6: marker: 'after' at 01:01:23:08 lies outside every cue"]


def test_an_aaf_at_drop_frame_needs_the_rate_to_say_so(tmp_path: Path) -> None:
    path = write_locators(tmp_path / "df.aaf", "df", Fraction(30000, 1001), 107892, [Locator(1800, "minute")],
                          drop=True)
    data = path.read_bytes()
    # the reader keeps the frame but not that the timecode counts drop-frame
    assert [str(m.timecode) for m in read_interchange(Format.AAF, path, data, None).markers] == ["01:00:56:12"]
    assert [str(m.timecode) for m in read_interchange(Format.AAF, path, data, RATES["29.97df"]).markers] == [
        "01:01:00;02"]


@pytest.mark.parametrize("fmt", [Format.FCP7, Format.FCPXML, Format.AAF])
def test_what_the_readers_cannot_read_is_one_clear_error(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / "broken"
    path.write_bytes(b"<?xml version='1.0'?><xmeml><sequence><rate>" if fmt is not Format.AAF
                     else bytes.fromhex("d0cf11e0a1b11ae1") + bytes(100))
    with pytest.raises(StageError, match=r"that OpenTimelineIO's .* reader cannot read: "):
        read_interchange(fmt, path, path.read_bytes(), None)
