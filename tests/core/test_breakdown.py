import json
import math
from fractions import Fraction

import pytest

from stage.core.breakdown import (
    breakdown_dict,
    cue_breakdown,
    decimal_text,
    footage,
    format_breakdown,
    format_duration,
    format_position,
    meter_text,
    sheet_breakdown,
)
from stage.core.cuesheet import parse_cue_sheet
from stage.core.tempo import Meter

SHEET = """
[picture]
title = "Reel 2"
rate = "23.976"

[[cue]]
id = "2M1"
title = "Storm"
start = "01:00:10:00"
tempo = "12-0"
meter = "4/4"
bars = 12
countoff = 2
notes = "Brass enter at bar 5."

[[cue.change]]
bar = 5
tempo = 96
meter = "3/4"

[[cue.change]]
bar = 9
tempo = "14-2"
meter = "4/4"
ramp = 3

[[cue.hit]]
bar = 3
beat = 3
label = "door"

[[cue.hit]]
at = "01:00:25:12"
label = "lightning"
flutter = 3
color = "blue"
streamer = false

[[cue]]
id = "2M2"
title = "Drift"
start = "01:01:00:00"
free = true
end = "01:01:20:00"

[[cue.hit]]
at = "01:01:10:00"
label = "gull"
"""

FPS = Fraction(24000, 1001)
A = 12 / FPS  # 12-0
SLOW = Fraction(60, 96)
B = Fraction(57, 4) / FPS  # 14-2
BAR9 = 16 * A + 9 * SLOW + sum(SLOW + (B - SLOW) * k / 4 for k in (1, 2, 3))
END = BAR9 + 16 * B

TEXT = """\
Reel 2 — 23.976 fps, 2 cues

2M1  Storm
  01:00:10:00 → 01:00:34:22   length 0:24.972  (37+06)
  12 bars, count-off 2 bars from 01:00:06:00
  notes: Brass enter at bar 5.
  tempo
    bar  click  clicks/min  meter
    1    12-0   119.880     4/4
    5    ~15-0  96.000      3/4
    9    14-2   100.952     4/4    accel. over the 3 clicks before
  hits
    bar|beat  timecode     feet   hit
    3|3       01:00:15:00  7+08   door (white)
    9|1.09    01:00:25:12  23+04  lightning (blue, flutter 3, no streamer)

2M2  Drift
  01:01:00:00 → 01:01:20:00   length 0:20.020  (30+00)
  free timing
  hits
    timecode     feet   hit
    01:01:10:00  15+00  gull (white)
"""


def test_text_breakdown() -> None:
    sheet = parse_cue_sheet(SHEET)
    assert format_breakdown(sheet, sheet_breakdown(sheet)) == TEXT


def test_cue_length_bars_and_countoff() -> None:
    b = cue_breakdown(parse_cue_sheet(SHEET).cue("2M1"))
    assert b.length == END
    frames = math.floor(END * FPS)  # the frame the end falls in, counted from the downbeat
    assert frames == 598
    assert b.length_feet == f"{frames // 16}+{frames % 16:02d}" == "37+06"
    assert str(b.end) == "01:00:34:22"  # 01:00:10:00 + 598 frames = + 24 s 22 f
    assert b.bars == 12
    assert b.countoff == 2
    assert str(b.countoff_start) == "01:00:06:00"  # 32 clicks of 12 frames before the downbeat


def test_tempo_rows() -> None:
    b = cue_breakdown(parse_cue_sheet(SHEET).cue("2M1"))
    rows = [(t.bar, t.beat, t.frame_click, t.exact, t.meter, t.ramp, t.ramp_kind) for t in b.tempos]
    assert rows == [
        (1, 1, "12-0", True, Meter(4, 4, Fraction(1, 4)), 0, ""),
        (5, 1, "15-0", False, Meter(3, 4, Fraction(1, 4)), 0, ""),
        (9, 1, "14-2", True, Meter(4, 4, Fraction(1, 4)), 3, "accel."),
    ]
    assert [t.time for t in b.tempos] == [0, 16 * A, BAR9]
    assert [t.clicks_per_minute for t in b.tempos] == [60 / A, 96, 60 / B]
    assert decimal_text(b.tempos[0].clicks_per_minute, 3) == "119.880"


def test_hit_rows() -> None:
    b = cue_breakdown(parse_cue_sheet(SHEET).cue("2M1"))
    door, lightning = b.hits
    assert (door.bar, door.beat, door.time) == (3, Fraction(3), 10 * A)
    assert (str(door.timecode), door.feet) == ("01:00:15:00", "7+08")  # 10 clicks of 12 frames: 120 frames
    t = Fraction(15 * 24 + 12) / FPS
    assert lightning.time == t
    assert (lightning.bar, lightning.beat) == (9, 1 + (t - BAR9) / B)
    assert lightning.feet == "23+04"  # 372 frames
    assert lightning.streamer is None
    assert lightning.flutter == 3


def test_footage_counts_from_the_start_negative_in_the_countoff() -> None:
    cue = parse_cue_sheet(SHEET).cue("2M1")
    assert footage(cue, Fraction(0)) == "0+00"
    assert footage(cue, -A) == "-0+12"
    assert footage(cue, -A * 8) == "-6+00"
    assert footage(cue, Fraction(16) / FPS) == "1+00"


def test_free_cue() -> None:
    b = cue_breakdown(parse_cue_sheet(SHEET).cue("2M2"))
    assert b.free
    assert b.tempos == ()
    assert b.bars is None
    assert b.countoff_start is None
    assert (b.hits[0].bar, b.hits[0].beat) == (None, None)


def test_selected_cues_and_unknown_id() -> None:
    sheet = parse_cue_sheet(SHEET)
    assert [b.id for b in sheet_breakdown(sheet, ["2M2"])] == ["2M2"]
    with pytest.raises(KeyError, match="9M9"):
        sheet_breakdown(sheet, ["9M9"])


def test_json_form() -> None:
    sheet = parse_cue_sheet(SHEET)
    doc = breakdown_dict(cue_breakdown(sheet.cue("2M1")))
    assert json.loads(json.dumps(doc)) == doc
    assert doc["length"]["exact"] == f"{END.numerator}/{END.denominator}"
    assert doc["tempos"][2]["ramp_kind"] == "accel."
    assert doc["hits"][0]["timecode"] == "01:00:15:00"


def test_small_formatters() -> None:
    assert format_duration(Fraction(90061, 1000)) == "1:30.061"
    assert format_duration(Fraction(59_9996, 10000)) == "1:00.000"
    assert format_position(12, Fraction(3)) == "12|3"
    assert format_position(8, Fraction(9, 4)) == "8|2.25"
    assert format_position(1, Fraction(4, 3)) == "1|1.333"
    assert meter_text(Meter.parse("6/8", "4.")) == "6/8 in 4."
    assert meter_text(Meter.parse("7/8")) == "7/8"
