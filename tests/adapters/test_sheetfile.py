"""Sheet text made with tomlkit: spotted cues, and the tempo finder's edit that keeps every comment."""

from __future__ import annotations

from fractions import Fraction

from stage.adapters.sheetfile import TempoEdit, apply_tempo_edit, spotted_sheet
from stage.core.cuesheet import parse_cue_sheet
from stage.core.spotting import SpottedCue, SpottedHit
from stage.core.timecode import RATES, Timecode

R24 = RATES["24"]

SHEET = """\
# Reel 5, as spotted on Monday
[picture]
rate = "24"   # the cut plays at 24

[[cue]]
id = "5M1"    # keep this id
start = "01:00:00:00"
free = true # no tempo yet
end = "01:00:20:00"

# the first hit
[[cue.hit]]
at = "01:00:02:00"
label = "bang"

[[cue]]
id = "5M2"
start = "01:01:00:00"
tempo = 100   # leave me alone
end = "01:01:10:00"
"""


def test_the_edit_keeps_comments_and_other_cues() -> None:
    changes = ((5, "10-4", 0), (9, 96.5, 4))
    edit = TempoEdit(Timecode.parse("01:00:00:01", R24), "12-0", "3/4", changes, "from the finder")
    text = apply_tempo_edit(SHEET, "5M1", edit)
    for comment in ("# Reel 5, as spotted on Monday", "# the cut plays at 24", "# keep this id", "# the first hit",
                    "# leave me alone"):
        assert comment in text
    assert "free" not in text
    assert 'tempo = "12-0" # from the finder\nmeter = "3/4"\nend = "01:00:20:00"' in text
    # the changes come before the hits, as a sheet is read
    assert text.index("[[cue.change]]") < text.index("[[cue.hit]]")
    sheet = parse_cue_sheet(text)
    cue = sheet.cue("5M1")
    assert str(cue.start) == "01:00:00:01"
    assert cue.clicks is not None
    frames = [(s.bar, s.length * 24) for s in cue.clicks.segments]
    assert frames == [(1, Fraction(12)), (5, Fraction(21, 2)), (9, Fraction(24 * 60 * 2, 193))]  # 96.5 a minute
    assert [s.ramp for s in cue.clicks.segments] == [0, 0, 4]
    assert sheet.cue("5M2").clicks is not None


def test_the_edit_replaces_old_changes() -> None:
    once = apply_tempo_edit(SHEET, "5M2", TempoEdit(Timecode.parse("01:01:00:00", R24), 90, "4/4", ((3, 80, 0),)))
    twice = apply_tempo_edit(once, "5M2", TempoEdit(Timecode.parse("01:01:00:00", R24), 90, "4/4", ((4, 70, 0),)))
    assert twice.count("[[cue.change]]") == 1
    assert "bar = 4" in twice
    assert parse_cue_sheet(twice).cue("5M2").clicks is not None


def test_spotted_sheet_is_valid_and_free_until_a_tempo_is_found() -> None:
    cue = SpottedCue("6M1", "Tide", Timecode.parse("01:00:00:00", R24), Timecode.parse("01:00:30:00", R24),
                     'notes with "quotes"', (SpottedHit(Timecode.parse("01:00:05:00", R24), "wave", "big\none", 3),), 2)
    text = spotted_sheet([cue], R24, title="Tide", source="tide.txt")
    assert text.startswith("# spotted from tide.txt\n")
    assert "# big one\n" in text
    sheet = parse_cue_sheet(text)
    assert sheet.cue("6M1").free
    assert sheet.cue("6M1").notes == 'notes with "quotes"'
    clicked = parse_cue_sheet(spotted_sheet([cue], R24, tempo=117.5, meter="6/8"))
    assert clicked.cue("6M1").clicks is not None
