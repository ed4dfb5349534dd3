"""Spotting notes: Pro Tools session text and CSV marker lists become cues and hits; every unusable line is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from stage.core.markertables import read_csv
from stage.core.protools import read_pro_tools
from stage.core.spotting import Marker, Role, clean_comment, clean_name, parse_colours, spot
from stage.core.timecode import RATES, Timecode
from stage.errors import StageError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spotting"
DF = RATES["29.97df"]


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def where(problems: object) -> list[tuple[str, str]]:
    return [(p.where, p.field) for p in problems]  # type: ignore[attr-defined]


def test_pro_tools_drop_frame_export() -> None:
    markers = read_pro_tools(text("protools-2997df.txt"))
    assert markers.rate is DF  # from "TIMECODE FORMAT: 29.97 Drop Frame"
    assert markers.title == "Harbour R3 spot"
    # the bars|beats marker has no sample position; 01:03:00;00 does not exist in drop-frame
    assert where(markers.problems) == [("line 31", "location"), ("line 36", "location")]
    assert "does not exist in drop-frame" in markers.problems[1].message
    by_name = {m.name: m for m in markers.markers}
    assert by_name["ship's bell"].comment == "ring\ttwice"  # the tab in the comment is kept
    assert by_name["gull"].comment == "takes off\nand flies away"  # the comment's second line joined
    # "1:11.500" is min:secs: placed by its samples from the session start
    assert by_name["rope snaps"].timecode == Timecode.parse("01:01:09;15", DF)
    assert by_name["rope snaps"].line == 32

    spotting = spot(markers.markers)
    assert where(spotting.problems) == [("line 26", "marker")]
    assert "REEL 3 HEAD" in spotting.problems[0].message
    assert "outside every cue" in spotting.problems[0].message
    c1, c2 = spotting.cues
    assert (c1.id, c1.title, c1.notes) == ("3M1", "Fog Horn", "low brass")
    assert (str(c1.start), str(c1.end)) == ("01:00:59;28", "01:01:12;15")
    assert [(str(h.at), h.label) for h in c1.hits] == [
        ("01:01:00;02", "ship's bell"),
        ("01:01:04;10", "gull"),
        ("01:01:09;15", "rope snaps"),
    ]
    assert (c2.id, str(c2.start), str(c2.end)) == ("3M2", "01:02:00;02", "01:02:20;00")  # "3m2 in" … "3M2 out"
    assert [(str(h.at), h.label) for h in c2.hits] == [("01:02:10;00", "door")]


def test_pro_tools_with_track_columns() -> None:
    markers = read_pro_tools(text("protools-tracks-24.txt"))
    assert markers.rate is RATES["24"]
    assert markers.problems == ()
    names = [(m.name, m.comment) for m in markers.markers]
    assert names == [("4M1 start", ""), ("splash", "a\tb"), ("boat turns", ""), ("4M1 end", "")]
    (cue,) = spot(markers.markers).cues
    assert [h.label for h in cue.hits] == ["splash", "boat turns"]


def test_the_rate_given_overrides_the_file() -> None:
    markers = read_pro_tools(text("protools-tracks-24.txt"), RATES["25"])
    assert markers.rate is RATES["25"]
    assert markers.markers[0].timecode.rate is RATES["25"]


def test_pro_tools_without_markers_or_rate() -> None:
    assert where(read_pro_tools("SESSION NAME:\tx\n").problems) == [("file", "markers")]
    no_rate = "SESSION NAME:\tx\n\nM A R K E R S  L I S T I N G\n#   \tLOCATION     \n"
    assert where(read_pro_tools(no_rate).problems) == [("file", "rate")]
    odd_rate = "TIMECODE FORMAT:\t100 Frame\n\nM A R K E R S  L I S T I N G\n"
    assert where(read_pro_tools(odd_rate).problems) == [("line 1", "rate")]


def test_csv_with_header_and_kind_column() -> None:
    markers = read_csv(text("spotting.csv"), RATES["24"])
    # 01:00:15:30 has no frame 30 at 24 fps; "maybe" is no kind
    assert where(markers.problems) == [("line 6", "timecode"), ("line 11", "kind")]
    spotting = spot(markers.markers)
    assert where(spotting.problems) == [("line 9", "marker")]  # the seagull outside every cue
    c1, c2 = spotting.cues
    assert (c1.id, c1.title, c1.notes) == ("1M1", "Main Title", "waltz, slow")
    assert [(str(h.at), h.label, h.comment) for h in c1.hits] == [
        ("01:00:12:12", "door slams", ""),
        ("01:00:14:00", "the keeper, turning", 'looks "back"'),
        ("01:00:16:00", "lamp", ""),
    ]
    assert (c2.id, str(c2.start), str(c2.end), c2.hits) == ("1M2", "01:00:30:00", "01:00:40:00", ())


def test_csv_without_header() -> None:
    rows = "01:00:00:00,2M1 start,\n01:00:01:00,hit one,a comment\n01:00:02:00,2M1 stop\n"
    (cue,) = spot(read_csv(rows, RATES["25"]).markers).cues
    assert [(str(h.at), h.label, h.comment) for h in cue.hits] == [("01:00:01:00", "hit one", "a comment")]


def test_pairing_problems_name_their_lines() -> None:
    rows = (
        "01:00:00:00,1M1 start\n"  # 1: never ends
        "01:00:01:00,1M2 end\n"  # 2: ends a cue that has not started
        "01:00:02:00,1M3 start\n"  # 3: starts while 1M1 is open
        "01:00:03:00,a hit\n"  # 4: belongs to 1M1, which has no end
    )
    spotting = spot(read_csv(rows, RATES["24"]).markers)
    assert spotting.cues == ()
    assert where(spotting.problems) == [("line 1", "marker"), ("line 2", "marker"), ("line 3", "marker"),
                                        ("line 4", "marker")]
    assert "no end marker" in spotting.problems[0].message
    assert "has not started" in spotting.problems[1].message


def mk(line: int, tc: str, name: str, *, colour: str = "", duration: int = 0, comment: str = "",
       unit: str = "line") -> Marker:
    return Marker(line, Timecode.parse(tc, RATES["24"]), name, comment, colour=colour, duration=duration, unit=unit)


def test_colours_say_what_a_marker_is_when_its_name_does_not() -> None:
    markers = [
        mk(1, "01:00:10:00", "1M1 Main Title", colour="green", comment="waltz"),  # green: a start, by default
        mk(2, "01:00:12:00", "door", colour="green"),  # green but no cue id: a hit
        mk(3, "01:00:13:00", "slate", colour="magenta"),  # a colour never mapped: by its name, a hit
        mk(4, "01:00:14:00", "1M1 end", colour="green"),  # the name says end, whatever the colour
        mk(5, "01:00:16:00", "2M1", colour="green"),
        mk(6, "01:00:18:00", "2M1 tag", colour="red"),  # red: an end, by default; the rest of the name is ignored
        mk(7, "01:00:19:00", "3M1", colour="red"),  # ends a cue that never started
    ]
    spotting = spot(markers)
    assert [(c.id, c.title, str(c.start), str(c.end), c.notes) for c in spotting.cues] == [
        ("1M1", "Main Title", "01:00:10:00", "01:00:14:00", "waltz"),
        ("2M1", "", "01:00:16:00", "01:00:18:00", ""),
    ]
    assert [h.label for h in spotting.cues[0].hits] == ["door", "slate"]
    assert where(spotting.problems) == [("line 7", "marker")]
    assert "ends cue 3M1, which has not started" in spotting.problems[0].message
    # colours that say nothing: the green and red ones are hits like any other
    assert spot(markers, parse_colours("none")).cues == ()
    # a map of one's own: magenta markers left out, yellow ones hits even when named like cues
    own = parse_colours("green=start, red=end, magenta=skip, yellow=hit")
    yellow = [*markers[:4], mk(8, "01:00:12:12", "4M1 sting", colour="Yellow".lower())]
    (cue,) = spot(yellow, own).cues
    assert [h.label for h in cue.hits] == ["door", "4M1 sting"]


def test_a_colour_map_that_makes_no_sense_is_refused() -> None:
    assert parse_colours("Red = HIT ,ResolveColorGreen=start") == {"red": Role.HIT, "green": Role.START}
    with pytest.raises(StageError, match="colour map 'red': write COLOUR=ROLE"):
        parse_colours("red")
    with pytest.raises(StageError, match=r"'loud' is not a role \(start, end, hit, skip\)"):
        parse_colours("red=loud")


def test_a_marker_that_spans_a_cue_starts_and_ends_it() -> None:
    markers = [
        mk(1, "01:00:10:00", "3M1 Storm", duration=240, comment="brass", unit="event"),  # 10 s at 24 fps
        mk(2, "01:00:12:00", "lightning", unit="event"),
        mk(3, "01:00:15:00", "3M1 end", unit="event"),  # already ended by the span
        mk(4, "01:00:20:00", "after", unit="event"),  # the span's end frame is outside it
        mk(5, "01:00:30:00", "3M2", duration=1, unit="event"),  # one frame: a point, so a hit (outside every cue)
        mk(6, "01:00:40:00", "3M3 Coda", duration=48, unit="event"),  # the last marker: closed at the end
    ]
    spotting = spot(markers)
    assert [(c.id, c.title, str(c.start), str(c.end), c.notes, [h.label for h in c.hits]) for c in spotting.cues] == [
        ("3M1", "Storm", "01:00:10:00", "01:00:20:00", "brass", ["lightning"]),
        ("3M3", "Coda", "01:00:40:00", "01:00:42:00", "", []),
    ]
    assert where(spotting.problems) == [("event 3", "marker"), ("event 4", "marker"), ("event 5", "marker")]
    assert "already ends at 01:00:20:00" in spotting.problems[0].message
    assert "outside every cue" in spotting.problems[1].message


def test_names_lose_their_control_characters() -> None:
    assert clean_name(" door\tslams\n hard\x00\x1b ") == "door slams hard"
    assert clean_comment(" ring\ttwice\nand \x07again ") == "ring\ttwice\nand again"
