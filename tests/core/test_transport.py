"""The transport form position(t) = p0 + speed × (t − t0), and the internal clock built on it.

Times and speeds are binary fractions so that float results are exact.
"""

from __future__ import annotations

import pytest

from stage.core.transport import Anchor, InternalClock, TransportState


def state(clock: InternalClock) -> TransportState:
    """The clock's state, read afresh (commands change it)."""
    return clock.state


def test_anchor_position_and_time_of() -> None:
    a = Anchor(t0=10.0, p0=3600.0, speed=1.0)
    assert a.position(10.0) == 3600.0
    assert a.position(12.5) == 3602.5
    assert a.position(9.0) == 3599.0
    assert a.time_of(3601.25) == 11.25
    assert a.rolling


def test_anchor_at_varispeed_and_in_reverse() -> None:
    half = Anchor(t0=2.0, p0=100.0, speed=0.5)
    assert half.position(6.0) == 102.0
    assert half.time_of(101.0) == 4.0
    back = Anchor(t0=0.0, p0=100.0, speed=-2.0)
    assert back.position(1.5) == 97.0
    assert back.time_of(96.0) == 2.0
    assert back.time_of(104.0) == -2.0  # reached in the past


def test_stopped_anchor() -> None:
    a = Anchor(t0=5.0, p0=42.0, speed=0.0)
    assert a.position(1000.0) == 42.0
    assert not a.rolling
    with pytest.raises(ValueError, match="a stopped transport never reaches another position"):
        a.time_of(43.0)


def test_anchor_is_a_frozen_value() -> None:
    a = Anchor(1.0, 2.0, 1.0)
    assert a == Anchor(1.0, 2.0, 1.0)
    with pytest.raises(AttributeError):
        a.p0 = 3.0  # type: ignore[misc]


def test_internal_clock_starts_stopped() -> None:
    clock = InternalClock(position=3600.0)
    assert state(clock) is TransportState.STOPPED
    assert clock.anchor.position(123.0) == 3600.0
    assert InternalClock().anchor.position(5.0) == 0.0


def test_play_stop_locate() -> None:
    clock = InternalClock(position=3600.0)
    assert clock.play(10.0) == Anchor(10.0, 3600.0, 1.0)
    assert state(clock) is TransportState.ROLLING
    assert clock.anchor.position(12.5) == 3602.5

    assert clock.stop(12.5) == Anchor(12.5, 3602.5, 0.0)
    assert state(clock) is TransportState.STOPPED
    assert clock.anchor.position(20.0) == 3602.5

    assert clock.locate(3700.0, 21.0) == Anchor(21.0, 3700.0, 0.0)  # stays stopped
    assert state(clock) is TransportState.STOPPED

    clock.play(22.0)
    assert clock.locate(3500.0, 23.0) == Anchor(23.0, 3500.0, 1.0)  # keeps rolling
    assert clock.anchor.position(24.0) == 3501.0


def test_play_while_rolling_keeps_the_position() -> None:
    clock = InternalClock(position=0.0)
    clock.play(1.0)
    assert clock.play(3.0) == Anchor(3.0, 2.0, 1.0)


def test_varispeed_while_rolling_and_while_stopped() -> None:
    clock = InternalClock(position=100.0)
    clock.play(0.0)
    assert clock.set_varispeed(0.5, 4.0) == Anchor(4.0, 104.0, 0.5)
    assert clock.anchor.position(8.0) == 106.0
    stopped = clock.stop(8.0)
    assert stopped == Anchor(8.0, 106.0, 0.0)
    assert clock.set_varispeed(1.25, 9.0) == stopped  # remembered, not started
    assert state(clock) is TransportState.STOPPED
    assert clock.play(10.0) == Anchor(10.0, 106.0, 1.25)
    assert clock.anchor.position(14.0) == 111.0


def test_varispeed_given_at_construction_and_reverse_play() -> None:
    clock = InternalClock(position=50.0, varispeed=-1.0)
    clock.play(0.0)
    assert clock.anchor.position(2.0) == 48.0
    assert clock.anchor.time_of(45.0) == 5.0


@pytest.mark.parametrize("speed", [0.0, 4.5, -4.5, 100.0, 5e-324, -0.015, 1 / 65, float("nan"), float("inf")])
def test_varispeed_out_of_range(speed: float) -> None:
    clock = InternalClock()
    with pytest.raises(ValueError, match=f"varispeed {speed} is out of range"):
        clock.set_varispeed(speed, 0.0)
    assert clock.anchor == Anchor(0.0, 0.0, 0.0)


@pytest.mark.parametrize("speed", [4.0, -4.0, 0.9, 1.1, 1 / 64, -1 / 64])
def test_varispeed_limits(speed: float) -> None:
    clock = InternalClock()
    clock.set_varispeed(speed, 0.0)
    assert clock.play(0.0).speed == speed
