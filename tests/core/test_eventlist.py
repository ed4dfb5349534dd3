import csv
import io
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from stage.core.breakdown import decimal_text
from stage.core.cuesheet import parse_cue_sheet
from stage.core.eventlist import COLUMNS, event_rows, events_csv

SMALL = """
[picture]
rate = "24"
[defaults]
countoff = 1
streamer = "12f"
[[cue]]
id = "1M1"
start = "01:00:00:00"
tempo = "12-0"
meter = "2/4"
bars = 2
[[cue.hit]]
bar = 2
beat = 1.5
label = "door"
flutter = 3
"""

SMALL_CSV = """\
kind,bar,beat,timecode,seconds,label,color,length
streamer,-1,2,00:59:58:12,-1.500000000,count-off,yellow,0.500000000
punch,0,1,00:59:59:00,-1.000000000,count-off,yellow,
warning,0,1,00:59:59:00,-1.000000000,,,
streamer,0,2,00:59:59:12,-0.500000000,downbeat,green,0.500000000
warning,0,2,00:59:59:12,-0.500000000,,,
punch,1,1,01:00:00:00,0.000000000,downbeat,green,
click,1,1,01:00:00:00,0.000000000,,,
click,1,2,01:00:00:12,0.500000000,,,
streamer,1,2.5,01:00:00:18,0.750000000,door,white,0.500000000
click,2,1,01:00:01:00,1.000000000,,,
flutter,2,1.333,01:00:01:04,1.166666667,door,white,
flutter,2,1.5,01:00:01:06,1.250000000,door,white,
flutter,2,1.667,01:00:01:08,1.333333333,door,white,
streamer,2,2,01:00:01:12,1.500000000,end,red,0.500000000
click,2,2,01:00:01:12,1.500000000,,,
punch,3,1,01:00:02:00,2.000000000,end,red,
"""


def test_small_cue_exact_csv() -> None:
    cue = parse_cue_sheet(SMALL).cue("1M1")
    assert events_csv(cue) == SMALL_CSV


def test_columns_start_with_the_contract() -> None:
    assert COLUMNS[:5] == ("kind", "bar", "beat", "timecode", "seconds")


def test_free_cue_has_no_bar_or_beat_and_drop_frame_uses_semicolon() -> None:
    sheet = parse_cue_sheet(
        """
        [picture]
        rate = "29.97df"
        [[cue]]
        id = "2M1"
        start = "00:01:00;02"
        free = true
        end = "00:01:10;00"
        streamers = false
        """
    )
    rows = list(csv.DictReader(io.StringIO(events_csv(sheet.cue("2M1")))))
    assert [(r["kind"], r["bar"], r["beat"], r["timecode"]) for r in rows] == [
        ("punch", "", "", "00:01:00;02"),
        ("punch", "", "", "00:01:10;00"),
    ]
    # 00:01:00;02 is frame 1800; 00:01:10;00 is frame 1800 + 298 = 2098.
    assert rows[1]["seconds"] == decimal_text(Fraction(298 * 1001, 30000), 9) == "9.943266667"


def test_clicks_print_whole_beats_other_events_three_decimals() -> None:
    cue = parse_cue_sheet(SMALL).cue("1M1")
    for row in event_rows(cue):
        if row.kind in ("click", "warning"):
            assert row.beat.isdigit()
        else:
            assert len(row.beat.partition(".")[2]) <= 3


def test_rows_are_in_time_order() -> None:
    cue = parse_cue_sheet(SMALL).cue("1M1")
    seconds = [Fraction(r.seconds) for r in event_rows(cue)]
    assert seconds == sorted(seconds)


@given(st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**9), st.integers(min_value=0, max_value=12))
def test_decimal_text_rounds_half_to_even_exactly(value: Fraction, places: int) -> None:
    with localcontext(prec=80):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        expected = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = decimal_text(value, places)
    assert Decimal(text) == expected
    assert len(text.partition(".")[2]) == places


def test_decimal_text_trim_and_sign() -> None:
    assert decimal_text(Fraction(-1, 2), 3) == "-0.500"
    assert decimal_text(Fraction(-1, 10**10), 9) == "0.000000000"
    assert decimal_text(Fraction(5, 2), 3, trim=True) == "2.5"
    assert decimal_text(Fraction(3), 3, trim=True) == "3"
    assert decimal_text(Fraction(5, 2), 0) == "2"
    assert decimal_text(Fraction(7, 2), 0) == "4"
