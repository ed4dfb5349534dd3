"""Marker lists as text: Avid's and Premiere's exports and spreadsheets' CSV, each as the program writes it;
what a file is, told by its content."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from stage.core.markerformats import Format, decode_text, sniff
from stage.core.markertables import read_avid, read_csv, read_premiere
from stage.core.spotting import spot
from stage.core.timecode import RATES
from stage.errors import StageError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spotting"


def fixture_text(name: str) -> str:
    return decode_text((FIXTURES / name).read_bytes())


def where(problems: object) -> list[tuple[str, str]]:
    return [(p.where, p.field) for p in problems]  # type: ignore[attr-defined]


def cues_of(spotting: object) -> list[tuple[str, str, str, str, str]]:
    return [(c.id, c.title, str(c.start), str(c.end), c.notes) for c in spotting.cues]  # type: ignore[attr-defined]


def test_avid_marker_export_at_drop_frame() -> None:
    markers = read_avid(fixture_text("avid-markers-2997df.txt"), RATES["29.97"])
    assert markers.rate is RATES["29.97df"]  # its timecodes are written with ';'
    # 01:02:00;00 does not exist in drop-frame; the last line was cut short
    assert where(markers.problems) == [("line 6", "timecode"), ("line 11", "marker")]
    assert "does not exist in drop-frame" in markers.problems[0].message
    by_line = {m.line: m for m in markers.markers}
    # the comment names the marker: a carriage return in it (a line break typed in Avid) starts its comment
    assert (by_line[2].name, by_line[2].comment, by_line[2].colour) == ("6M1 Tide Turns", "slow strings, low", "green")
    assert (by_line[4].name, by_line[4].colour) == ('the "Mary Rose" sails', "magenta")  # the quote is text
    assert by_line[5].name == "rope snaps"  # a tab typed into the comment
    assert (by_line[8].duration, by_line[3].duration) == (480, 1)

    spotting = spot(markers.markers)
    assert cues_of(spotting) == [
        ("6M1", "Tide Turns", "01:00:59;28", "01:01:12;15", "slow strings, low"),  # green starts it, red ends it
        ("6M2", "Night", "01:01:20;00", "01:01:36;00", ""),  # one blue marker 480 frames long spans it
    ]
    assert [(str(h.at), h.label) for h in spotting.cues[0].hits] == [
        ("01:01:00;02", "gull cries"),  # the first frame of minute 1 in drop-frame
        ("01:01:04;10", 'the "Mary Rose" sails'),  # magenta, a colour never mapped: a hit, by its name
        ("01:01:06;00", "rope snaps"),
    ]
    assert [h.label for h in spotting.cues[1].hits] == ["door"]
    assert where(spotting.problems) == [("line 1", "marker"), ("line 10", "marker")]
    assert all("outside every cue" in p.message for p in spotting.problems)


def test_avid_marker_export_of_older_versions_has_no_duration() -> None:
    text = "ed\t01:00:00:00\tV1\tred\t9M1 start\nx\t01:00:01:00\tV1\tred\tbang 2\nx\t01:00:02:00\tV1\tred\t9M1 end\n"
    (cue,) = spot(read_avid(text, RATES["25"]).markers).cues
    assert [h.label for h in cue.hits] == ["bang 2"]


def test_premiere_marker_export_in_utf16() -> None:
    text = fixture_text("premiere-markers-24.csv")
    markers = read_premiere(text, RATES["24"])
    assert where(markers.problems) == [("line 10", "timecode")]  # 01:00:61:00
    by_line = {m.line: m for m in markers.markers}
    assert (by_line[3].name, by_line[3].comment) == ("ferry horn", "")  # no name: its description names it
    assert (by_line[4].name, by_line[4].comment) == ("splash", '"big" one')
    assert (by_line[8].name, by_line[8].comment) == ("boom", "wide\tand loud")  # a tab in the description
    assert by_line[6].duration == 15 * 24
    spotting = spot(markers.markers)
    assert cues_of(spotting) == [
        ("7M1", "Harbour", "01:00:10:00", "01:00:20:00", "strings enter"),
        ("7M2", "Chase", "01:00:30:00", "01:00:45:00", "drums"),  # in and out: one marker spans the cue
    ]
    assert [h.label for h in spotting.cues[0].hits] == ["ferry horn", "splash"]
    assert [h.label for h in spotting.cues[1].hits] == ["crash", "boom"]
    assert where(spotting.problems) == [("line 9", "marker")]


def test_premiere_header_is_required() -> None:
    markers = read_premiere("Name\tIn\n", RATES["24"])
    assert where(markers.problems) == [("line 1", "columns")]
    assert "Marker Name, Description, In, Out, Duration, Marker Type" in markers.problems[0].message


def test_a_spreadsheet_csv_with_semicolons_and_its_header_below_a_title() -> None:
    markers = read_csv(fixture_text("spreadsheet-semicolon.csv"), RATES["24"])
    assert where(markers.problems) == [("line 1", "header")]  # the title line above the column titles
    assert markers.problems[0].message == "above the column titles (line 2): not a marker"
    spotting = spot(markers.markers)
    assert cues_of(spotting) == [("8M1", "Opening", "01:00:05:00", "01:00:12:00", "harp; then flute")]
    assert [h.label for h in spotting.cues[0].hits] == ["wind", 'the "lighthouse"']
    assert where(spotting.problems) == [("line 7", "marker")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_columns_in_any_order(delimiter: str) -> None:
    rows = [["name", "comment", "timecode"], ["3M1 start", "low", "01:00:00:00"], ["hit", "", "01:00:01:00"],
            ["3M1 end", "", "01:00:02:00"]]
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    markers = read_csv(text, RATES["25"])
    assert markers.problems == ()
    assert cues_of(spot(markers.markers)) == [("3M1", "", "01:00:00:00", "01:00:02:00", "low")]


def test_csv_with_in_and_out_and_colour_columns() -> None:
    text = "Marker,In,Out,Colour,Notes\n4M1 Rain,01:00:00:00,01:00:10:00,Blue,soft\ndrop,01:00:02:00,,red,\n"
    spotting = spot(read_csv(text, RATES["24"]).markers)
    assert cues_of(spotting) == [("4M1", "Rain", "01:00:00:00", "01:00:10:00", "soft")]
    assert [h.label for h in spotting.cues[0].hits] == ["drop"]  # red, but its name is no cue's


def test_csv_quote_left_open_is_named_and_the_rows_before_it_kept() -> None:
    text = "timecode,name\n01:00:00:00,5M1 start\n01:00:01:00,\"open quote\n01:00:02:00,5M1 end\n"
    markers = read_csv(text, RATES["24"])
    assert [m.name for m in markers.markers] == ["5M1 start"]
    assert where(markers.problems) == [("line 3", "csv")]
    assert "quote left open" in markers.problems[0].message


def test_text_is_decoded_whatever_it_was_written_in() -> None:
    text = "timecode,name\n01:00:00:00,café\n"
    for data in (text.encode("utf-8"), codecs.BOM_UTF8 + text.encode("utf-8"), text.encode("utf-16"),
                 text.encode("utf-16-le"), text.encode("utf-16-be"), text.encode("mac_roman")):
        assert decode_text(data) == text, data[:8]
    assert decode_text(text.encode("utf-16")[:-1]).startswith("timecode,name")  # cut in half a character


@pytest.mark.parametrize(("name", "expected"), [
    ("protools-2997df.txt", Format.PROTOOLS),
    ("protools-tracks-24.txt", Format.PROTOOLS),
    ("spotting.csv", Format.CSV),
    ("spreadsheet-semicolon.csv", Format.CSV),
    ("avid-markers-2997df.txt", Format.AVID),
    ("premiere-markers-24.csv", Format.PREMIERE),
])
def test_the_format_is_told_by_the_content(name: str, expected: Format) -> None:
    assert sniff((FIXTURES / name).read_bytes()) is expected


def test_formats_of_interchange_files_by_their_content() -> None:
    assert sniff(b"TITLE: Timeline 1\nFCM: NON-DROP FRAME\n") is Format.EDL
    event = b"001  001      V     C        01:00:10:00 01:00:10:01 01:00:10:00 01:00:10:01  \n"
    assert sniff(event) is Format.EDL
    assert sniff(b'<?xml version="1.0"?>\n<!DOCTYPE fcpxml>\n<fcpxml version="1.9">') is Format.FCPXML
    assert sniff(b'<?xml version="1.0" encoding="UTF-8"?>\n<xmeml version="5">') is Format.FCP7
    assert sniff(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)) is Format.AAF
    with pytest.raises(StageError, match="neither FCPXML"):
        sniff(b"<html><body>spotting</body></html>")
