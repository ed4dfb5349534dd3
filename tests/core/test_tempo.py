"""Tempos, meters and click maps: every expected time is worked out by hand as an exact fraction."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.tempo import (
    ClickKind,
    ClickMap,
    Meter,
    TempoChange,
    clicks_per_minute,
    format_click_unit,
    frame_click,
    parse_click_unit,
    parse_tempo,
)
from stage.core.timecode import RATES
from stage.errors import TempoError

R23 = RATES["23.976"]
R24 = RATES["24"]
R25 = RATES["25"]

F = Fraction
W, A, N = ClickKind.WARNING, ClickKind.ACCENT, ClickKind.NORMAL
M44 = Meter.parse("4/4")
M34 = Meter.parse("3/4")
M78 = Meter.parse("7/8", "8")


def rows(cmap: ClickMap) -> list[tuple[int, int, Fraction, Fraction, ClickKind]]:
    return [(c.bar, c.beat, c.time, c.length, c.kind) for c in cmap.clicks]


# -- tempo -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rate", "length"),
    [
        ("12-0", R24, F(1, 2)),  # 120 clicks a minute
        ("12-0", R23, F(5005, 10000)),  # 0.5005 s: the picture runs 1000/1001 slow
        ("14-2", R24, F(57, 4) / 24),  # 14.25 frames
        ("14-2", R23, F(57, 4) * F(1001, 24000)),
        ("8-4", R25, F(17, 2) / 25),
        (" 10-7 ", R24, F(87, 8) / 24),
        (120, R24, F(1, 2)),
        (120, R23, F(1, 2)),  # clicks per minute are real time whatever the picture rate
        ("120", R24, F(1, 2)),
        (117.55, R24, 60 / F("117.55")),
        ("117.55", R24, F(1200, 2351)),
        ("96bpm", R24, F(5, 8)),
        ("96 BPM", R24, F(5, 8)),
        (60.0, R24, F(1)),
        (10, R24, F(6)),
        (600, R24, F(1, 10)),
    ],
)
def test_parse_tempo(value: str | float, rate: object, length: Fraction) -> None:
    assert parse_tempo(value, rate) == length  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12-8", "is not a tempo"),  # eighths run 0-7
        ("0-0", "has no length"),
        (5, r"outside 10-600"),
        (1000, r"outside 10-600"),
        ("9.99", r"outside 10-600"),
        ("1-0", r"1440\.000 clicks per minute, outside 10-600"),  # a frame a click at 24 fps
        ("fast", "is not a tempo"),
        ("", "is not a tempo"),
        ("-120", "is not a tempo"),
        (True, "is not a tempo"),
        (None, "is not a tempo"),
    ],
)
def test_parse_tempo_errors(value: object, message: str) -> None:
    with pytest.raises(TempoError, match=message):
        parse_tempo(value, R24)  # type: ignore[arg-type]


def test_frame_click_and_clicks_per_minute() -> None:
    assert frame_click(F(5005, 10000), R23) == "12-0"
    assert frame_click(F(57057, 96000), R23) == "14-2"
    assert frame_click(F(1, 2), R24) == "12-0"
    assert clicks_per_minute(F(1, 2)) == 120
    assert clicks_per_minute(F(5005, 10000)) == F(120000, 1001)  # 119.88


# -- meters ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meter", "click", "per_bar", "unit"),
    [
        ("4/4", None, 4, F(1, 4)),
        ("3/4", None, 3, F(1, 4)),
        ("5/8", None, 5, F(1, 8)),
        ("7/8", "8", 7, F(1, 8)),
        ("6/8", "4.", 2, F(3, 8)),
        ("6/8", "8", 6, F(1, 8)),
        ("6/8", None, 6, F(1, 8)),
        ("12/8", "4.", 4, F(3, 8)),
        ("2/2", None, 2, F(1, 2)),
        ("4/4", "8", 8, F(1, 8)),
        ("4/4", 8, 8, F(1, 8)),
        (" 3 / 4 ", None, 3, F(1, 4)),
    ],
)
def test_meter_parse(meter: str, click: str | int | None, per_bar: int, unit: Fraction) -> None:
    m = Meter.parse(meter, click)
    assert m.clicks_per_bar == per_bar
    assert m.click == unit
    assert str(m) == meter.replace(" ", "")


@pytest.mark.parametrize(
    ("meter", "click", "message"),
    [
        ("5/4", "4.", "a bar does not hold a whole number of 4. clicks"),
        ("7/8", "4", "a bar does not hold a whole number of 4 clicks"),
        ("4/3", None, "the denominator must be 1, 2, 4, 8, 16 or 32"),
        ("4/0", None, "the denominator must be 1, 2, 4, 8, 16 or 32"),
        ("0/4", None, "the numerator must be 1-32"),
        ("33/4", None, "the numerator must be 1-32"),
        ("x", None, "is not a meter"),
        ("4-4", None, "is not a meter"),
        ("4/4", "3", "is not a note value"),
    ],
)
def test_meter_errors(meter: str, click: str | None, message: str) -> None:
    with pytest.raises(TempoError, match=message):
        Meter.parse(meter, click)


def test_click_units() -> None:
    assert parse_click_unit("4.") == F(3, 8)
    assert parse_click_unit("8.") == F(3, 16)
    assert parse_click_unit(2) == F(1, 2)
    assert format_click_unit(F(3, 8)) == "4."
    assert format_click_unit(F(1, 8)) == "8"


# -- click maps: constant tempo, meters, changes -----------------------------------------------------------------------


def test_constant_tempo_with_count_off() -> None:
    cmap = ClickMap(F(1, 2), M44, bars=2, countoff=2)
    h = F(1, 2)
    assert rows(cmap) == [
        (-1, 1, F(-4), h, W),
        (-1, 2, F(-7, 2), h, W),
        (-1, 3, F(-3), h, W),
        (-1, 4, F(-5, 2), h, W),
        (0, 1, F(-2), h, W),
        (0, 2, F(-3, 2), h, W),
        (0, 3, F(-1), h, W),
        (0, 4, F(-1, 2), h, W),  # the last warning click lies one click before the downbeat
        (1, 1, F(0), h, A),
        (1, 2, F(1, 2), h, N),
        (1, 3, F(1), h, N),
        (1, 4, F(3, 2), h, N),
        (2, 1, F(2), h, A),
        (2, 2, F(5, 2), h, N),
        (2, 3, F(3), h, N),
        (2, 4, F(7, 2), h, N),
    ]
    assert cmap.end == 4
    assert cmap.bars == 2
    assert cmap.countoff == 2
    assert cmap.downbeat_index == 8
    assert cmap.clicks[cmap.downbeat_index].time == 0


def test_count_off_at_the_first_tempo_and_meter() -> None:
    cmap = ClickMap(F(1, 2), M34, [TempoChange(2, length=F(1, 4), meter=M44)], bars=2, countoff=1)
    assert rows(cmap)[:3] == [(0, 1, F(-3, 2), F(1, 2), W), (0, 2, F(-1), F(1, 2), W), (0, 3, F(-1, 2), F(1, 2), W)]


def test_no_count_off() -> None:
    cmap = ClickMap(F(1, 2), M34, bars=1)
    assert rows(cmap) == [(1, 1, F(0), F(1, 2), A), (1, 2, F(1, 2), F(1, 2), N), (1, 3, F(1), F(1, 2), N)]
    assert cmap.downbeat_index == 0
    assert cmap.end == F(3, 2)


def test_meter_changes_number_the_bars() -> None:
    cmap = ClickMap(
        F(1, 2),
        M44,
        [TempoChange(3, meter=M34), TempoChange(5, meter=M78, length=F(1, 4))],
        bars=6,
    )
    q, e = F(1, 2), F(1, 4)
    expected = (
        [(1, b, (b - 1) * q, q) for b in range(1, 5)]
        + [(2, b, 2 + (b - 1) * q, q) for b in range(1, 5)]
        + [(3, b, 4 + (b - 1) * q, q) for b in range(1, 4)]
        + [(4, b, F(11, 2) + (b - 1) * q, q) for b in range(1, 4)]
        + [(5, b, 7 + (b - 1) * e, e) for b in range(1, 8)]
        + [(6, b, F(35, 4) + (b - 1) * e, e) for b in range(1, 8)]
    )
    assert [(c.bar, c.beat, c.time, c.length) for c in cmap.clicks] == expected
    assert [c.kind for c in cmap.clicks] == [A if beat == 1 else N for _, beat, _, _ in expected]
    assert [c.meter for c in cmap.clicks] == [M44] * 8 + [M34] * 6 + [M78] * 14
    assert cmap.end == F(21, 2)
    assert [(s.bar, s.time, s.meter) for s in cmap.segments] == [(1, F(0), M44), (3, F(4), M34), (5, F(7), M78)]


def test_tempo_change_at_a_bar() -> None:
    cmap = ClickMap(F(1, 2), M34, [TempoChange(2, length=F(1))], bars=2)
    assert [(c.bar, c.beat, c.time, c.length) for c in cmap.clicks] == [
        (1, 1, 0, F(1, 2)),
        (1, 2, F(1, 2), F(1, 2)),
        (1, 3, F(1), F(1, 2)),
        (2, 1, F(3, 2), F(1)),
        (2, 2, F(5, 2), F(1)),
        (2, 3, F(7, 2), F(1)),
    ]
    assert cmap.end == F(9, 2)


def test_tempo_change_on_a_beat() -> None:
    cmap = ClickMap(F(1, 2), M44, [TempoChange(2, 3, length=F(1, 4))], bars=3)
    assert [(c.bar, c.beat, c.time, c.length) for c in cmap.clicks] == [
        (1, 1, 0, F(1, 2)),
        (1, 2, F(1, 2), F(1, 2)),
        (1, 3, F(1), F(1, 2)),
        (1, 4, F(3, 2), F(1, 2)),
        (2, 1, F(2), F(1, 2)),
        (2, 2, F(5, 2), F(1, 2)),
        (2, 3, F(3), F(1, 4)),
        (2, 4, F(13, 4), F(1, 4)),
        (3, 1, F(7, 2), F(1, 4)),
        (3, 2, F(15, 4), F(1, 4)),
        (3, 3, F(4), F(1, 4)),
        (3, 4, F(17, 4), F(1, 4)),
    ]
    assert cmap.end == F(9, 2)


def test_meter_change_off_the_downbeat_is_refused() -> None:
    with pytest.raises(TempoError, match="bar 2 beat 3: a meter changes only on beat 1"):
        ClickMap(F(1, 2), M44, [TempoChange(2, 3, meter=M34)], bars=3)


def test_two_changes_at_the_same_place_are_refused() -> None:
    with pytest.raises(TempoError, match="two changes at the same bar and beat"):
        ClickMap(F(1, 2), M44, [TempoChange(2, length=F(1)), TempoChange(2, meter=M34)], bars=3)


def test_changes_are_taken_in_musical_order_whatever_order_they_come_in() -> None:
    changes = [TempoChange(3, length=F(1, 4)), TempoChange(2, length=F(1))]
    cmap = ClickMap(F(1, 2), M34, changes, bars=3)
    assert [c.time for c in cmap.clicks] == [0, F(1, 2), 1, F(3, 2), F(5, 2), F(7, 2), F(9, 2), F(19, 4), 5]


# -- ramps -------------------------------------------------------------------------------------------------------------


def test_ritardando_ramp() -> None:
    # a = 1/2, b = 1, n = 3: the k-th of the 3 clicks before bar 3 lasts 1/2 + (1/2)·k/4.
    cmap = ClickMap(F(1, 2), M44, [TempoChange(3, length=F(1), ramp=3)], bars=3)
    assert [(c.bar, c.beat, c.time, c.length) for c in cmap.clicks] == [
        (1, 1, 0, F(1, 2)),
        (1, 2, F(1, 2), F(1, 2)),
        (1, 3, F(1), F(1, 2)),
        (1, 4, F(3, 2), F(1, 2)),
        (2, 1, F(2), F(1, 2)),
        (2, 2, F(5, 2), F(5, 8)),
        (2, 3, F(25, 8), F(6, 8)),
        (2, 4, F(31, 8), F(7, 8)),
        (3, 1, F(19, 4), F(1)),
        (3, 2, F(23, 4), F(1)),
        (3, 3, F(27, 4), F(1)),
        (3, 4, F(31, 4), F(1)),
    ]
    assert cmap.end == F(35, 4)
    assert [c.kind for c in cmap.clicks] == [A, N, N, N, A, N, N, N, A, N, N, N]


def test_accelerando_ramp_across_a_meter_change() -> None:
    # a = 1/2, b = 1/4, n = 2: 1/2 − (1/4)·1/3 = 5/12, then 1/2 − (1/4)·2/3 = 1/3.
    cmap = ClickMap(F(1, 2), M34, [TempoChange(2, length=F(1, 4), meter=M44, ramp=2)], bars=2)
    assert [(c.bar, c.beat, c.time, c.length) for c in cmap.clicks] == [
        (1, 1, 0, F(1, 2)),
        (1, 2, F(1, 2), F(5, 12)),
        (1, 3, F(11, 12), F(1, 3)),
        (2, 1, F(5, 4), F(1, 4)),
        (2, 2, F(3, 2), F(1, 4)),
        (2, 3, F(7, 4), F(1, 4)),
        (2, 4, F(2), F(1, 4)),
    ]
    assert cmap.end == F(9, 4)


def test_ramp_may_use_every_click_since_the_start() -> None:
    # n = 4 uses bar 1 beat 1 too: its length becomes a + (b − a)/5, its time stays 0.
    cmap = ClickMap(F(1, 2), M44, [TempoChange(2, length=F(1), ramp=4)], bars=2, countoff=1)
    body = cmap.clicks[cmap.downbeat_index :]
    assert [c.length for c in body[:4]] == [F(6, 10), F(7, 10), F(8, 10), F(9, 10)]
    assert [c.time for c in body[:5]] == [0, F(6, 10), F(13, 10), F(21, 10), F(3)]
    assert [c.length for c in cmap.clicks[:4]] == [F(1, 2)] * 4  # the count-off is not ramped
    assert cmap.clicks[0].time == -2


def test_ramp_after_a_mid_bar_change() -> None:
    # Change at bar 2 beat 3 to 1/4, then a ramp of 2 into bar 3 (to 1/2): 1/4 + (1/4)·k/3.
    changes = [TempoChange(2, 3, length=F(1, 4)), TempoChange(3, length=F(1, 2), ramp=2)]
    cmap = ClickMap(F(1, 2), M44, changes, bars=3)
    assert [(c.bar, c.beat, c.time, c.length) for c in cmap.clicks[4:10]] == [
        (2, 1, F(2), F(1, 2)),
        (2, 2, F(5, 2), F(1, 2)),
        (2, 3, F(3), F(1, 3)),
        (2, 4, F(10, 3), F(5, 12)),
        (3, 1, F(15, 4), F(1, 2)),
        (3, 2, F(17, 4), F(1, 2)),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ([TempoChange(2, length=F(1), ramp=5)], "bar 2: a ramp over 5 clicks needs 5 clicks before it, only 4"),
        (
            [TempoChange(2, meter=M34), TempoChange(3, length=F(1), ramp=4)],
            "bar 3: a ramp over 4 clicks needs 4 clicks before it, only 3 since the previous change",
        ),
        (
            [TempoChange(2, 3, length=F(1, 4)), TempoChange(3, length=F(1), ramp=3)],
            "only 2 since the previous change",
        ),
    ],
)
def test_ramp_longer_than_the_clicks_available(changes: list[TempoChange], message: str) -> None:
    with pytest.raises(TempoError, match=message):
        ClickMap(F(1, 2), M44, changes, bars=4)


# -- bars or end -------------------------------------------------------------------------------------------------------


def test_end_keeps_the_clicks_strictly_before_it() -> None:
    cmap = ClickMap(F(1, 2), M44, end=F(9, 4))
    assert [(c.bar, c.beat, c.time) for c in cmap.clicks] == [
        (1, 1, 0),
        (1, 2, F(1, 2)),
        (1, 3, 1),
        (1, 4, F(3, 2)),
        (2, 1, 2),
    ]
    assert cmap.end == F(9, 4)
    assert cmap.bars == 2
    on_a_click = ClickMap(F(1, 2), M44, end=F(2))
    assert [c.time for c in on_a_click.clicks] == [0, F(1, 2), 1, F(3, 2)]
    assert on_a_click.bars == 1
    assert on_a_click.end == 2


def test_bars_and_end_agree() -> None:
    by_bars = ClickMap(F(1, 2), M34, [TempoChange(2, length=F(1, 4))], bars=3)
    by_end = ClickMap(F(1, 2), M34, [TempoChange(2, length=F(1, 4))], end=F(3))
    assert rows(by_bars) == rows(by_end)
    assert by_bars.end == by_end.end == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of bars or end"),
        ({"bars": 2, "end": F(4)}, "exactly one of bars or end"),
        ({"bars": 0}, "bars must be at least 1, not 0"),
        ({"end": F(0)}, "the end must come after the downbeat"),
        ({"end": F(-1)}, "the end must come after the downbeat"),
        ({"bars": 2, "countoff": -1}, "countoff must be 0 or more bars, not -1"),
    ],
)
def test_click_map_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TempoError, match=message):
        ClickMap(F(1, 2), M44, **kwargs)  # type: ignore[arg-type]


def test_change_beyond_the_end_of_the_bars() -> None:
    with pytest.raises(TempoError, match="a change at bar 5 beat 1 lies beyond the end of the cue"):
        ClickMap(F(1, 2), M44, [TempoChange(5, length=F(1))], bars=4)


@pytest.mark.parametrize("bar", [2, 3])
def test_change_beyond_the_end_time(bar: int) -> None:
    # end = 1.8 s falls in bar 1 (bar 2 would begin at 2 s): a change at bar 2 or later is outside the cue.
    with pytest.raises(TempoError, match=f"a change at bar {bar} beat 1 lies beyond the end of the cue"):
        ClickMap(F(1, 2), M44, [TempoChange(bar, length=F(1))], end=F(9, 5))


def test_ramp_into_a_change_beyond_the_end_time() -> None:
    # Unramped, bar 2 would begin at 2 s, after the end (1.8 s); the ramp would also push bar 1 beat 4 to
    # 15/8 s, past the end.  Either way the change lies outside the cue.
    with pytest.raises(TempoError, match="lies beyond the end of the cue"):
        ClickMap(F(1, 2), M44, [TempoChange(2, length=F(1), ramp=3)], end=F(9, 5))


# -- time_of / position_at ---------------------------------------------------------------------------------------------


@pytest.fixture
def two_bars() -> ClickMap:
    return ClickMap(F(1, 2), M44, bars=2, countoff=2)


@pytest.mark.parametrize(
    ("bar", "beat", "time"),
    [
        (1, 1, F(0)),
        (1, F(5, 2), F(3, 4)),
        (2, 3, F(3)),
        (2, F(9, 2), F(15, 4)),
        (-1, 1, F(-4)),  # count-off bars
        (0, 4, F(-1, 2)),
        (0, F(5, 2), F(-5, 4)),
        (-2, 4, F(-9, 2)),  # before the first warning click
        (-2, F(7, 2), F(-19, 4)),
        (-3, 1, F(-8)),
        (3, 1, F(4)),  # beyond the end
        (3, 2, F(9, 2)),
        (5, F(3, 2), F(33, 4)),
    ],
)
def test_time_of(two_bars: ClickMap, bar: int, beat: Fraction, time: Fraction) -> None:
    assert two_bars.time_of(bar, beat) == time
    assert two_bars.position_at(time) == (bar, beat)


def test_time_of_defaults_to_beat_1(two_bars: ClickMap) -> None:
    assert two_bars.time_of(2) == 2


@pytest.mark.parametrize(
    ("bar", "beat", "message"),
    [
        (1, 5, "bar 1 has no beat 5"),
        (1, 0, "beat 0 does not exist"),
        (1, F(1, 2), "beat 1/2 does not exist"),
        (3, 5, "bar 3 has 4 beats, not 5"),
        (-5, 5, "bar -5 has 4 beats, not 5"),
    ],
)
def test_time_of_errors(two_bars: ClickMap, bar: int, beat: Fraction, message: str) -> None:
    with pytest.raises(TempoError, match=message):
        two_bars.time_of(bar, beat)


def test_time_of_inside_a_ramp_and_after_a_meter_change() -> None:
    ramp = ClickMap(F(1, 2), M44, [TempoChange(3, length=F(1), ramp=3)], bars=3)
    assert ramp.time_of(2, F(5, 2)) == F(5, 2) + F(1, 2) * F(5, 8)
    assert ramp.position_at(F(45, 16)) == (2, F(5, 2))
    meters = ClickMap(F(1, 2), M44, [TempoChange(3, meter=M34), TempoChange(5, meter=M78, length=F(1, 4))], bars=6)
    assert meters.time_of(4, 3) == F(13, 2)
    assert meters.time_of(6, 7) == F(41, 4)
    assert meters.time_of(7, 1) == F(21, 2)  # beyond the end, in the last meter: 7 eighths a bar
    assert meters.time_of(8, 3) == F(21, 2) + F(7, 4) + F(2, 4)
    assert meters.position_at(F(51, 4)) == (8, F(3))


def test_end_in_the_middle_of_a_bar() -> None:
    cmap = ClickMap(F(1, 2), M44, end=F(6, 5))  # clicks on bar 1 beats 1-3; beat 4 (1.5 s) lies past the end
    assert cmap.position_at(F(3, 2)) == (1, F(4))
    assert cmap.time_of(2, 1) == 2
    assert cmap.time_of(1, 4) == F(3, 2)


@pytest.mark.parametrize(
    ("time", "bar", "beat"),
    [
        (F(0), 1, F(1)),
        (F(1, 4), 1, F(3, 2)),
        (F(-4), -1, F(1)),
        (F(-1, 4), 0, F(9, 2)),
        (F(-5), -2, F(3)),  # before the first click
        (F(-17, 4), -2, F(9, 2)),
        (F(-8), -3, F(1)),
        (F(-100), -49, F(1)),  # 96 s = 48 bars before bar -1
        (F(7, 2), 2, F(4)),  # the last click
        (F(4), 3, F(1)),  # after it
        (F(41, 4), 6, F(3, 2)),
    ],
)
def test_position_at(two_bars: ClickMap, time: Fraction, bar: int, beat: Fraction) -> None:
    assert two_bars.position_at(time) == (bar, beat)


def test_click_at_or_after(two_bars: ClickMap) -> None:
    assert two_bars.click_at_or_after(F(-100)) == 0
    assert two_bars.click_at_or_after(F(0)) == 8
    assert two_bars.click_at_or_after(F(1, 100)) == 9
    assert two_bars.click_at_or_after(F(4)) == 16


# -- properties: random tempo maps against a reference built from the definitions --------------------------------------

METERS = [M44, M34, M78, Meter.parse("6/8", "4."), Meter.parse("5/8"), Meter.parse("2/2")]
LENGTHS = [F(1, 2), F(5, 8), F(5005, 10000), F(57057, 96000), F(1200, 2351), F(2, 5), F(1)]


@dataclass(frozen=True)
class TempoMapCase:
    length: Fraction
    meter: Meter
    changes: tuple[TempoChange, ...]
    bars: int
    countoff: int


@st.composite
def tempo_maps(draw: st.DrawFn) -> TempoMapCase:
    length = draw(st.sampled_from(LENGTHS))
    meter = current = draw(st.sampled_from(METERS))
    bars = draw(st.integers(1, 10))
    countoff = draw(st.integers(0, 2))
    changes: list[TempoChange] = []
    since = 0  # clicks since the previous change: what a ramp may use
    for bar in range(1, bars + 1):
        if bar > 1 and draw(st.booleans()):
            new_meter = draw(st.none() | st.sampled_from(METERS))
            new_length = draw(st.none() | st.sampled_from(LENGTHS))
            if new_meter is None and new_length is None:
                new_length = draw(st.sampled_from(LENGTHS))
            ramp = draw(st.integers(0, min(since, 6))) if new_length is not None else 0
            changes.append(TempoChange(bar, 1, new_length, new_meter, ramp))
            current = new_meter or current
            since = 0
        per_bar = current.clicks_per_bar
        if per_bar > 1 and draw(st.integers(0, 3)) == 0:
            beat = draw(st.integers(2, per_bar))
            since += beat - 1
            ramp = draw(st.integers(0, min(since, 6)))
            changes.append(TempoChange(bar, beat, draw(st.sampled_from(LENGTHS)), None, ramp))
            since = per_bar - beat + 1
        else:
            since += per_bar
    return TempoMapCase(length, meter, tuple(changes), bars, countoff)


def reference_clicks(case: TempoMapCase) -> list[tuple[int, int, Fraction, Fraction, ClickKind]]:
    """Every click from DESIGN's definitions: bars counted click by click, ramps as a + (b − a)·k/(n + 1)."""
    at = {(c.bar, c.beat): c for c in case.changes}
    places: list[tuple[int, int]] = []
    lengths: list[Fraction] = []
    length, meter = case.length, case.meter
    bar, beat = 1, 1
    while bar <= case.bars:
        change = at.get((bar, beat))
        if change is not None:
            meter = change.meter or meter
            if change.length is not None:
                a, b, n = length, change.length, change.ramp
                for k in range(1, n + 1):
                    lengths[len(lengths) - n + k - 1] = a + (b - a) * F(k, n + 1)
                length = change.length
        places.append((bar, beat))
        lengths.append(length)
        beat += 1
        if beat > meter.clicks_per_bar:
            bar, beat = bar + 1, 1
    per_bar = case.meter.clicks_per_bar
    count = case.countoff * per_bar
    out: list[tuple[int, int, Fraction, Fraction, ClickKind]] = [
        (1 - case.countoff + i // per_bar, 1 + i % per_bar, -case.length * (count - i), case.length, W)
        for i in range(count)
    ]
    t = F(0)
    for (bar_, beat_), length_ in zip(places, lengths, strict=True):
        out.append((bar_, beat_, t, length_, A if beat_ == 1 else N))
        t += length_
    return out


def build(case: TempoMapCase) -> ClickMap:
    return ClickMap(case.length, case.meter, case.changes, bars=case.bars, countoff=case.countoff)


@settings(max_examples=80, deadline=None)
@given(tempo_maps())
def test_random_maps_match_the_definitions(case: TempoMapCase) -> None:
    cmap = build(case)
    expected = reference_clicks(case)
    assert rows(cmap) == expected
    last = expected[-1]
    assert cmap.end == last[2] + last[3]
    assert cmap.bars == case.bars


@settings(max_examples=80, deadline=None)
@given(tempo_maps())
def test_every_click_time_round_trips(case: TempoMapCase) -> None:
    cmap = build(case)
    for c in cmap.clicks:
        assert cmap.time_of(c.bar, c.beat) == c.time
        assert cmap.position_at(c.time) == (c.bar, F(c.beat))


@settings(max_examples=80, deadline=None)
@given(tempo_maps(), st.integers(0, 9999))
def test_every_time_in_the_cue_round_trips(case: TempoMapCase, ten_thousandths: int) -> None:
    cmap = build(case)
    start = cmap.clicks[0].time
    t = start + (cmap.end - start) * F(ten_thousandths, 10000)
    bar, beat = cmap.position_at(t)
    assert beat >= 1
    assert cmap.time_of(bar, beat) == t


@settings(max_examples=60, deadline=None)
@given(tempo_maps(), st.integers(0, 4000), st.booleans())
def test_times_outside_the_clicks_round_trip(case: TempoMapCase, hundredths: int, before: bool) -> None:
    cmap = build(case)
    t = cmap.clicks[0].time - F(hundredths, 100) if before else cmap.end + F(hundredths, 100)
    bar, beat = cmap.position_at(t)
    assert beat >= 1
    assert cmap.time_of(bar, beat) == t
