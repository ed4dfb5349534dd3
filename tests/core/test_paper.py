"""The printed breakdown's rows: bars with timecode and seconds, changes in bold, hits, streamers, count-off."""

from __future__ import annotations

from pathlib import Path

from stage.core.cuesheet import load_cue_sheet
from stage.core.paper import paper_cue

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo-cues.toml"


def test_demo_cue_on_paper() -> None:
    sheet = load_cue_sheet(DEMO)
    page = paper_cue(sheet, sheet.cue("1M1"))
    assert page.heading == "1M1  Main Title"
    assert page.subtitle == "The Lighthouse — 23.976 fps"
    tables = {t.title: t for t in page.tables}
    assert list(tables) == ["Tempo and meter", "Hits", "Bars", "Streamers", "Warning clicks (count-off)"]
    bars = tables["Bars"]
    assert len(bars.rows) == 40
    assert bars.rows[0][:4] == ("1", "01:00:10:00", "0.000", "0+00")
    assert bars.rows[8][:5] == ("9", "01:00:26:00", "16.016", "24+00", "96.000/min  3/4")
    assert bars.rows[16][4] == "14-2  4/4  accel."
    assert [bars.rows[i][0] for i in bars.emphasis] == ["1", "9", "17", "25", "26"]
    assert bars.rows[7][5] == "4: door slams"
    assert bars.rows[11][5] == "3: lightning"
    assert tables["Hits"].rows[0] == ("8|4", "01:00:25:12", "15.516", "23+04", "door slams", "yellow")
    assert [r[-1] for r in tables["Streamers"].rows] == [
        "count-off", "downbeat", "door slams", "lightning", "the keeper turns", "end"
    ]
    warnings = tables["Warning clicks (count-off)"].rows
    assert warnings[0] == ("-1|1", "01:00:06:00", "-4.004")
    assert len(warnings) == 8


def test_free_cue_on_paper() -> None:
    sheet = load_cue_sheet(DEMO)
    page = paper_cue(sheet, sheet.cue("1M2"))
    assert "free timing: no click" in page.lines
    hits, streamers = page.tables
    assert (hits.title, streamers.title) == ("Hits", "Streamers")
    assert hits.header == ("timecode", "seconds", "feet", "hit", "")  # no bar|beat without bars
    assert hits.rows[0] == ("01:02:20:00", "16.850", "25+04", "beam sweeps the rocks", "cyan")
    assert streamers.header == ("lands", "starts", "length", "colour", "into")
    assert streamers.rows[0] == ("01:02:03:04", "01:02:01:04", "2.002 s", "green", "start")
