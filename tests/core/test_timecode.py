"""Rates, timecode and lengths: known values worked out by hand, and round trips over 24 hours."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.timecode import (
    FRAMES_PER_FOOT,
    RATES,
    Rate,
    Timecode,
    feet_frames,
    format_feet,
    format_seconds,
    frame_at,
    frames_to_hmsf,
    frames_to_seconds,
    hmsf_to_frames,
    parse_duration,
    parse_rate,
    seconds_to_frame,
)
from stage.errors import TimecodeError

R23 = RATES["23.976"]
R24 = RATES["24"]
R25 = RATES["25"]
R2997 = RATES["29.97"]
DF = RATES["29.97df"]
DF60 = RATES["59.94df"]


# -- rates -------------------------------------------------------------------------------------------------------------


def test_the_six_picture_rates_are_exact() -> None:
    assert R23.fps == Fraction(24000, 1001)
    assert R24.fps == 24
    assert R25.fps == 25
    assert R2997.fps == Fraction(30000, 1001)
    assert DF.fps == Fraction(30000, 1001)
    assert RATES["30"].fps == 30
    assert (R23.nominal, R2997.nominal, DF.nominal, DF60.nominal) == (24, 30, 30, 60)
    assert (R2997.drop, DF.drop, DF60.drop) == (False, True, True)
    assert (R2997.dropped, DF.dropped, DF60.dropped) == (0, 2, 4)


def test_mtc_codes() -> None:
    codes = {name: RATES[name].mtc_code for name in ("23.976", "24", "25", "29.97", "29.97df", "30")}
    assert codes == {"23.976": 0, "24": 0, "25": 1, "29.97": 3, "29.97df": 2, "30": 3}


def test_frames_in_a_day() -> None:
    assert R24.frames_per_day == 24 * 3600 * 24
    assert R25.frames_per_day == 25 * 3600 * 24
    # 29.97df: 2 frame numbers dropped in 54 of every 60 minutes.
    assert DF.frames_per_day == 30 * 86400 - 2 * 54 * 24
    assert DF.frames_per_10min == 17982
    assert DF60.frames_per_day == 60 * 86400 - 4 * 54 * 24


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("23.976", "23.976"),
        ("23.98", "23.976"),
        (23.976, "23.976"),
        (24, "24"),
        ("24", "24"),
        (24.0, "24"),
        (25, "25"),
        ("25.0", "25"),
        (29.97, "29.97"),
        ("29.97nd", "29.97"),
        ("29.97ndf", "29.97"),
        ("29.97df", "29.97df"),
        ("29.97DF", "29.97df"),
        ("29.97 df", "29.97df"),
        ("29.97d", "29.97df"),
        ("29.97drop", "29.97df"),
        ("29.97-df", "29.97df"),
        (" 30 ", "30"),
        (30.0, "30"),
        ("59.94df", "59.94df"),
        ("59.94drop", "59.94df"),
    ],
)
def test_parse_rate_names_and_aliases(value: str | float, name: str) -> None:
    assert parse_rate(value) is RATES[name]


@pytest.mark.parametrize("value", [24.0, 25.0, 30.0, 48.0, 50.0, 60.0])
def test_parse_rate_accepts_every_whole_rate_written_as_a_float(value: float) -> None:
    # A TOML `rate = 48.0` is as plain as `rate = 24.0`.
    assert parse_rate(value).fps == int(value)


def test_parse_rate_passes_a_rate_through() -> None:
    assert parse_rate(DF) is DF


@pytest.mark.parametrize("value", ["31", "29.97dfx", "", 23.0, 0])
def test_parse_rate_unknown(value: str | float) -> None:
    with pytest.raises(TimecodeError, match=r"unknown rate .*known: 23\.976, 24, 25, 29\.97, 29\.97df, 30"):
        parse_rate(value)


@pytest.mark.parametrize("value", [True, None, [24], Fraction(24)])
def test_parse_rate_wrong_type(value: object) -> None:
    with pytest.raises(TimecodeError, match="rate must be a string or number"):
        parse_rate(value)  # type: ignore[arg-type]


# -- known timecodes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate", "frames"),
    [
        ("00:00:00:00", R24, 0),
        ("00:00:01:00", R24, 24),
        ("01:00:00:00", R24, 86400),
        ("01:00:00:00", R23, 86400),
        ("01:00:00:00", R25, 90000),
        ("01:00:00:00", R2997, 108000),
        ("00:00:59;29", DF, 1799),
        ("00:01:00;02", DF, 1800),
        ("00:02:00;02", DF, 3598),
        ("00:09:59;29", DF, 17981),
        ("00:10:00;00", DF, 17982),
        ("00:10:00;01", DF, 17983),
        ("00:11:00;02", DF, 17982 + 1800),
        ("01:00:00;00", DF, 107892),
        ("23:59:59;29", DF, 2589407),
        ("00:00:59;59", DF60, 3599),
        ("00:01:00;04", DF60, 3600),
        ("00:10:00;00", DF60, 35964),
        ("01:00:00;00", DF60, 215784),
    ],
)
def test_known_frame_counts(text: str, rate: Rate, frames: int) -> None:
    tc = Timecode.parse(text, rate)
    assert tc.frame_count == frames
    assert Timecode.from_frames(frames, rate) == tc
    assert str(tc) == text


def test_picture_seconds_at_the_actual_rate() -> None:
    tc = Timecode.parse("01:00:00:00", "23.976")
    assert tc.frame_count == 86400
    assert tc.picture_seconds == Fraction(18018, 5)  # 3603.6 s: an hour of 23.976 runs 3.6 s long
    assert Timecode.parse("01:00:00:00", "25").picture_seconds == 3600
    assert Timecode.parse("01:00:00:00", "24").picture_seconds == 3600
    # 29.97df keeps timecode near clock time: an hour of it is 107892 × 1001 / 30000 s.
    assert Timecode.parse("01:00:00;00", DF).picture_seconds == Fraction(107892 * 1001, 30000)
    assert Timecode.parse("00:00:00:12", "24").picture_seconds == Fraction(1, 2)


def test_hmsf_helpers() -> None:
    assert hmsf_to_frames(0, 1, 0, 2, DF) == 1800
    assert frames_to_hmsf(1800, DF) == (0, 1, 0, 2)
    assert frames_to_hmsf(1799, DF) == (0, 0, 59, 29)
    assert frames_to_hmsf(90000 + 13, R25) == (1, 0, 0, 13)
    assert frames_to_seconds(24, R23) == Fraction(1001, 1000)
    assert frames_to_seconds(Fraction(1, 2), R24) == Fraction(1, 48)


# -- impossible timecodes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate", "message"),
    [
        (
            "00:01:00;00",
            DF,
            (
                "00:01:00;00: does not exist in drop-frame: frames 00-01 are skipped at the start of every minute "
                "except minutes divisible by 10"
            ),
        ),
        ("00:01:00;01", DF, "00:01:00;01: does not exist in drop-frame: frames 00-01 are skipped"),
        ("00:01:00;03", DF60, "00:01:00;03: does not exist in drop-frame: frames 00-03 are skipped"),
        ("00:00:00:24", R24, "00:00:00:24: frame 24 does not exist at 24 fps (frames 00-23)"),
        ("00:00:00:24", R23, "00:00:00:24: frame 24 does not exist at 23.976 fps (frames 00-23)"),
        ("00:00:00:25", R25, "00:00:00:25: frame 25 does not exist at 25 fps (frames 00-24)"),
        ("25:00:00:00", R24, "25:00:00:00: hours must be 00-23"),
        ("24:00:00:00", R24, "24:00:00:00: hours must be 00-23"),
        ("00:60:00:00", R24, "00:60:00:00: minutes must be 00-59"),
        ("00:00:60:00", R24, "00:00:60:00: seconds must be 00-59"),
    ],
)
def test_impossible_timecodes(text: str, rate: Rate, message: str) -> None:
    with pytest.raises(TimecodeError) as info:
        Timecode.parse(text, rate)
    assert str(info.value).startswith(message)


def test_drop_frame_minutes_divisible_by_ten_keep_frames_0_and_1() -> None:
    assert Timecode.parse("00:10:00;00", DF).frame_count == 17982
    assert Timecode.parse("00:20:00;01", DF).frame_count == 2 * 17982 + 1


def test_non_drop_29_97_has_no_dropped_frames() -> None:
    assert Timecode.parse("00:01:00:00", R2997).frame_count == 1800


@pytest.mark.parametrize("text", ["", "1:00:00", "01:00:00:00:00", "aa:bb:cc:dd", "-00:00:01:00", "01-00-00-00"])
def test_unparsable_timecodes(text: str) -> None:
    with pytest.raises(TimecodeError, match="is not a timecode"):
        Timecode.parse(text, R24)


def test_parse_rejects_a_non_string() -> None:
    with pytest.raises(TimecodeError, match="is not a timecode"):
        Timecode.parse(3600, R24)  # type: ignore[arg-type]


# -- text form ---------------------------------------------------------------------------------------------------------


def test_parse_accepts_either_separator_before_frames() -> None:
    semi = Timecode.parse("01:00:00;02", DF)
    colon = Timecode.parse("01:00:00:02", DF)
    assert semi == colon
    assert Timecode.parse("01:00:10;05", R24) == Timecode.parse("01:00:10:05", R24)
    assert Timecode.parse(" 01:00:10:05 ", R24).frame_count == 86400 + 240 + 5


def test_format_uses_semicolon_only_for_drop_rates() -> None:
    assert str(Timecode(1, 0, 0, 2, DF)) == "01:00:00;02"
    assert str(Timecode(1, 0, 0, 2, DF60)) == "01:00:00;02"
    assert str(Timecode(1, 0, 0, 2, R2997)) == "01:00:00:02"
    assert str(Timecode(1, 2, 3, 4, R23)) == "01:02:03:04"


def test_from_frames_wraps_at_24_hours() -> None:
    assert str(Timecode.from_frames(24 * 86400, R24)) == "00:00:00:00"
    assert str(Timecode.from_frames(24 * 86400 + 25, R24)) == "00:00:01:01"
    assert str(Timecode.from_frames(-1, R24)) == "23:59:59:23"
    assert str(Timecode.from_frames(-1, DF)) == "23:59:59;29"
    assert str(Timecode.from_frames(2589408, DF)) == "00:00:00;00"
    assert str(Timecode.from_frames(-1, R25)) == "23:59:59:24"


def test_adding_frames() -> None:
    assert str(Timecode.parse("00:00:59;29", DF) + 1) == "00:01:00;02"
    assert str(Timecode.parse("00:01:00;02", DF) + -1) == "00:00:59;29"
    assert str(Timecode.parse("23:59:59:23", R24) + 1) == "00:00:00:00"


def test_timecodes_order_by_time() -> None:
    assert Timecode.parse("00:59:59:23", R24) < Timecode.parse("01:00:00:00", R24)


# -- seconds ↔ frames --------------------------------------------------------------------------------------------------


def test_seconds_to_frame_is_a_floor() -> None:
    assert seconds_to_frame(Fraction(1, 24) - Fraction(1, 10**9), R24) == 0
    assert seconds_to_frame(Fraction(1, 24), R24) == 1
    assert seconds_to_frame(1, R23) == 23  # 23.976 frames in a second: still in frame 23
    assert seconds_to_frame(Fraction(1001, 1000), R23) == 24
    assert seconds_to_frame(Fraction(-1, 10**6), R24) == -1
    assert seconds_to_frame(Fraction(18018, 5), R23) == 86400


def test_timecode_at_and_format_seconds() -> None:
    assert Timecode.at(Fraction(18018, 5), R23) == Timecode.parse("01:00:00:00", R23)
    # 3600 s of 23.976 is frame 86313.6: frame 86313 is 00:59:56:09.
    assert str(Timecode.at(3600, R23)) == "00:59:56:09"
    assert format_seconds(3600, R23) == "00:59:56:09"
    # 60 s at 29.97 is frame 1798.2 → frame 1798 → 00:00:59;28 in drop-frame.
    assert format_seconds(60, DF) == "00:00:59;28"


# -- feet and lengths --------------------------------------------------------------------------------------------------


def test_feet_and_frames() -> None:
    assert FRAMES_PER_FOOT == 16
    assert feet_frames(100) == (6, 4)
    assert format_feet(100) == "6+04"
    assert feet_frames(0) == (0, 0)
    assert format_feet(16) == "1+00"
    assert format_feet(15) == "0+15"
    assert format_feet(90 * 16 + 11) == "90+11"
    assert feet_frames(-100) == (-6, 4)
    assert format_feet(-100) == "-6+04"


@pytest.mark.parametrize(
    ("text", "rate", "seconds"),
    [
        ("3ft", R24, Fraction(48, 24)),
        ("3ft", R23, Fraction(48 * 1001, 24000)),
        ("3 ft", R25, Fraction(48, 25)),
        ("1.5ft", R24, Fraction(24, 24)),
        ("2s", R24, Fraction(2)),
        ("2s", R23, Fraction(2)),
        ("0.25s", R24, Fraction(1, 4)),
        ("48f", R24, Fraction(2)),
        ("48f", R23, Fraction(48 * 1001, 24000)),
        ("2f", R2997, Fraction(2 * 1001, 30000)),
        ("500ms", R24, Fraction(1, 2)),
        ("2+08", R24, Fraction(40, 24)),
        ("0+15", R25, Fraction(15, 25)),
    ],
)
def test_parse_duration(text: str, rate: Rate, seconds: Fraction) -> None:
    assert parse_duration(text, rate) == seconds


def test_parse_duration_of_a_number_is_seconds() -> None:
    assert parse_duration(2, R24) == 2
    assert parse_duration(0.1, R24) == Fraction(1, 10)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2+16", "a foot has 16 frames"),
        ("3 feet", "is not a length"),
        ("", "is not a length"),
        ("-2s", "is not a length"),
        (-1, "is negative"),
        (True, "is not a length"),
    ],
)
def test_parse_duration_errors(value: str | float, message: str) -> None:
    with pytest.raises(TimecodeError, match=message):
        parse_duration(value, R24)


# -- properties over the whole day -------------------------------------------------------------------------------------


@st.composite
def frames_at_a_rate(draw: st.DrawFn) -> tuple[Rate, int]:
    rate = draw(st.sampled_from(list(RATES.values())))
    near_edges = st.sampled_from([0, 1, rate.frames_per_day - 1, rate.frames_per_10min - 1, rate.frames_per_10min])
    frame = draw(st.integers(0, rate.frames_per_day - 1) | near_edges)
    return rate, frame


def _next_label(tc: Timecode) -> tuple[int, int, int, int]:
    """The label after ``tc``, counted the way a timecode generator counts (dropping labels as SMPTE says)."""
    h, m, s, f, rate = tc.hours, tc.minutes, tc.seconds, tc.frames + 1, tc.rate
    if f == rate.nominal:
        f, s = 0, s + 1
    if s == 60:
        s, m = 0, m + 1
    if m == 60:
        m, h = 0, h + 1
    if h == 24:
        h = 0
    if rate.drop and s == 0 and f == 0 and m % 10 != 0:
        f = rate.nominal // 15
    return h, m, s, f


@settings(max_examples=200, deadline=None)
@given(frames_at_a_rate())
def test_frames_timecode_frames_round_trip(case: tuple[Rate, int]) -> None:
    rate, frame = case
    tc = Timecode.from_frames(frame, rate)
    assert tc.frame_count == frame
    assert Timecode.parse(str(tc), rate) == tc
    assert Timecode.parse(str(tc).replace(";", ":"), rate) == tc


@settings(max_examples=200, deadline=None)
@given(frames_at_a_rate())
def test_consecutive_frames_have_consecutive_labels(case: tuple[Rate, int]) -> None:
    rate, frame = case
    tc = Timecode.from_frames(frame, rate)
    after = Timecode.from_frames(frame + 1, rate)
    assert (after.hours, after.minutes, after.seconds, after.frames) == _next_label(tc)


@settings(max_examples=200, deadline=None)
@given(frames_at_a_rate(), st.integers(0, 10**6 - 1))
def test_seconds_of_a_frame_fall_in_that_frame(case: tuple[Rate, int], millionths: int) -> None:
    rate, frame = case
    within = Fraction(millionths, 10**6)
    start = Fraction(frame) / rate.fps  # the frame begins here, at the actual rate
    assert frames_to_seconds(frame, rate) == start
    assert seconds_to_frame(start, rate) == frame
    assert seconds_to_frame(start + within / rate.fps, rate) == frame
    assert Timecode.at(start, rate).frame_count == frame


def test_frame_at_reads_a_float_frame_boundary_as_that_frame() -> None:
    r24 = RATES["24"]
    assert Fraction(float(Fraction(1444, 24))) * 24 < 1444  # the float sits a hair below the boundary
    assert frame_at(float(Fraction(1444, 24)), r24) == 1444
    df = RATES["29.97df"]
    assert frame_at(float(Fraction(107892) / df.fps), df) == 107892
    assert frame_at(float(Fraction(107892) / df.fps) - 1e-6, df) == 107891  # a microsecond before: the frame before
