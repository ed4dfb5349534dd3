"""Pickups: the count-in into a bar, and the schedule a pickup plays and shows."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.schedule import EventKind, Pickup, cue_schedule, first_click, pickup_schedule
from stage.core.tempo import ClickKind, Meter
from stage.errors import TempoError

SHEET = """
[picture]
rate = "24"
[defaults]
countoff = 2
streamer = "2s"
[[cue]]
id = "1M1"
start = "01:00:10:00"
tempo = "12-0"
meter = "4/4"
bars = 24
[[cue.change]]
bar = 9
tempo = 96
meter = "3/4"
[[cue.change]]
bar = 17
tempo = "14-2"
meter = "5/8"
[[cue.hit]]
bar = 12
label = "door"
[[cue.hit]]
bar = 20
label = "crash"
"""


@pytest.fixture
def cue() -> Cue:
    return parse_cue_sheet(SHEET).cue("1M1")


def test_a_count_in_into_bar_17_is_at_bar_17s_tempo_and_meter(cue: Cue) -> None:
    assert cue.clicks is not None
    bar17 = cue.clicks.time_of(17)
    length = Fraction(14 * 8 + 2, 8) / 24  # 14-2 at 24 fps
    warnings = cue.clicks.count_in(17)
    # two bars of 5/8: ten warning clicks a 14-2 apart, the last one a click length before bar 17
    assert len(warnings) == 10
    assert [c.time for c in warnings] == [bar17 - k * length for k in range(10, 0, -1)]
    assert {(c.kind, c.length, c.meter) for c in warnings} == {(ClickKind.WARNING, length, Meter(5, 8, Fraction(1, 8)))}
    assert [(c.bar, c.beat) for c in warnings] == [(15, b) for b in range(1, 6)] + [(16, b) for b in range(1, 6)]


def test_a_mid_bar_pickup_counts_back_from_its_beat(cue: Cue) -> None:
    assert cue.clicks is not None
    target = cue.clicks.time_of(10, 2)
    warnings = cue.clicks.count_in(10, 2, bars=1)
    assert [(c.bar, c.beat) for c in warnings] == [(9, 2), (9, 3), (10, 1)]
    assert [target - c.time for c in warnings] == [Fraction(60, 96) * k for k in (3, 2, 1)]


def test_count_in_refusals(cue: Cue) -> None:
    assert cue.clicks is not None
    with pytest.raises(TempoError, match="no bar 25 beat 1"):
        cue.clicks.count_in(25)
    with pytest.raises(TempoError, match="no bar 9 beat 4"):
        cue.clicks.count_in(9, 4)  # 3/4
    with pytest.raises(TempoError, match="0 to 16 bars"):
        cue.clicks.count_in(9, 1, 17)
    with pytest.raises(TempoError, match="bar 1 or later"):
        cue.clicks.count_in(0)


def test_a_pickup_plays_the_count_in_then_the_cue_from_its_bar(cue: Cue) -> None:
    assert cue.clicks is not None
    events = pickup_schedule(cue, Pickup("1M1", 17, 1, 2))
    bar17 = cue.clicks.time_of(17)
    clicks = [e for e in events if e.kind in (EventKind.WARNING, EventKind.CLICK)]
    assert [e.kind for e in clicks[:11]] == [EventKind.WARNING] * 10 + [EventKind.CLICK]
    assert clicks[10].time == bar17
    assert clicks[10].accent
    own = [e for e in cue_schedule(cue) if e.kind is EventKind.CLICK and e.time >= bar17]
    assert clicks[10:] == own
    assert first_click(events) == clicks[0].time


def test_a_pickup_shows_a_count_in_as_a_count_off_and_keeps_what_comes_after(cue: Cue) -> None:
    assert cue.clicks is not None
    events = pickup_schedule(cue, Pickup("1M1", 17, 1, 2))
    bar17 = cue.clicks.time_of(17)
    first = first_click(events)
    assert first is not None
    streamers = [(e.label, e.color, e.time, e.end) for e in events if e.kind is EventKind.STREAMER]
    assert streamers == [
        ("count-in", "yellow", first - 2, first),
        ("bar 17", "green", bar17 - 2, bar17),
        ("crash", "white", cue.clicks.time_of(20) - 2, cue.clicks.time_of(20)),
        ("end", "red", cue.end_time - 2, cue.end_time),
    ]
    punches = [(e.label, e.time) for e in events if e.kind is EventKind.PUNCH]
    assert punches == [("count-in", first), ("bar 17", bar17), ("crash", cue.clicks.time_of(20)),
                       ("end", cue.end_time)]
    # the door at bar 12, the count-off and the downbeat are before the pickup: not shown
    assert not [e for e in events if e.label in ("door", "count-off", "downbeat")]


def test_no_count_in(cue: Cue) -> None:
    assert cue.clicks is not None
    events = pickup_schedule(cue, Pickup("1M1", 17, 1, 0))
    assert first_click(events) == cue.clicks.time_of(17)
    assert not [e for e in events if e.label == "count-in"]


def test_free_cue_has_no_pickup() -> None:
    sheet = parse_cue_sheet('[picture]\nrate = "24"\n[[cue]]\nid = "F"\nstart = "01:00:00:00"\nfree = true\n'
                            'end = "01:00:10:00"')
    with pytest.raises(TempoError, match="free timing"):
        pickup_schedule(sheet.cue("F"), Pickup("F", 1))


@given(bar=st.integers(1, 24), bars=st.integers(0, 4), data=st.data())
def test_every_count_in_ends_one_click_before_its_target(bar: int, bars: int, data: st.DataObject) -> None:
    cue = parse_cue_sheet(SHEET).cue("1M1")
    assert cue.clicks is not None
    per_bar = next(c for c in cue.clicks.clicks if c.bar == bar).meter.clicks_per_bar
    beat = data.draw(st.integers(1, per_bar))
    target = cue.clicks.time_of(bar, beat)
    length = cue.clicks.clicks[cue.clicks.click_at_or_after(target)].length
    warnings = cue.clicks.count_in(bar, beat, bars)
    assert len(warnings) == bars * per_bar
    times = [c.time for c in warnings] + [target]
    assert all(b - a == length for a, b in itertools.pairwise(times))
