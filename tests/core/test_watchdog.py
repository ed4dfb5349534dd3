"""The engine's watchdog and restart policy, on a clock of plain numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.watchdog import (
    GIVE_UP_AFTER,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TIMEOUT,
    RestartPolicy,
    Verdict,
    Watchdog,
)


def beating(until: float, *, start: float = 0.0, cycles_per_beat: int = 10) -> Watchdog:
    """A watchdog fed a healthy heartbeat from ``start`` to ``until``."""
    w = Watchdog()
    w.started(start)
    for i in range(round((until - start) / HEARTBEAT_INTERVAL) + 1):
        w.beat(start + i * HEARTBEAT_INTERVAL, i * cycles_per_beat)
    return w


def test_an_engine_that_beats_and_cycles_is_alive() -> None:
    w = beating(10.0)
    assert w.verdict(10.0 + HEARTBEAT_TIMEOUT - 0.001) is None


def test_silence_is_a_stall_after_the_timeout_and_death_after_giving_up() -> None:
    w = beating(10.0)
    assert w.verdict(10.0 + HEARTBEAT_TIMEOUT - 0.001) is None
    silence = HEARTBEAT_TIMEOUT + 0.01
    assert w.verdict(10.0 + silence) == Verdict(f"the engine sent no heartbeat for {silence:.2f} s", dead=False)
    assert w.verdict(10.0 + GIVE_UP_AFTER - 0.001) == Verdict(
        f"the engine sent no heartbeat for {GIVE_UP_AFTER - 0.001:.2f} s", dead=False)
    assert w.verdict(10.0 + GIVE_UP_AFTER + 0.01) == Verdict(
        f"the engine sent no heartbeat for {GIVE_UP_AFTER + 0.01:.2f} s", dead=True)


def test_a_stalled_engine_that_beats_again_is_alive() -> None:
    w = beating(10.0, cycles_per_beat=10)
    verdict = w.verdict(11.0)
    assert verdict is not None
    assert not verdict.dead
    w.beat(11.0, 10_000)
    assert w.verdict(11.0) is None


def test_heartbeats_whose_cycles_stand_still_are_a_dead_clock() -> None:
    """The sender thread still answers, but the clock thread (or JACK's callback) stopped."""
    w = beating(5.0)
    stuck = w.heard
    assert stuck is not None
    for i in range(1, 20):
        t = stuck.at + i * HEARTBEAT_INTERVAL
        w.beat(t, stuck.cycles)
        if t - stuck.at < HEARTBEAT_TIMEOUT - 0.001:
            assert w.verdict(t) is None, t
    assert w.verdict(t) == Verdict(
        f"the engine's clock ran no cycle for {t - stuck.at:.2f} s (stuck at {stuck.cycles})", dead=False)
    assert stuck.at == pytest.approx(5.0)
    later = stuck.at + GIVE_UP_AFTER + 0.05
    w.beat(later, stuck.cycles)  # it still answers …
    verdict = w.verdict(later)
    assert verdict is not None
    assert verdict.dead  # … but its clock is dead


def test_before_the_first_heartbeat_the_silence_counts_from_the_start() -> None:
    w = Watchdog()
    w.started(100.0)
    assert w.verdict(100.0 + HEARTBEAT_TIMEOUT - 0.001) is None
    assert w.verdict(100.6) == Verdict("the engine sent no heartbeat for 0.60 s", dead=False)


def test_a_new_engine_forgets_the_old_ones_heartbeats() -> None:
    w = beating(3.0)
    w.started(20.0)
    assert w.heard is None
    w.beat(20.05, 0)  # a new process counts from zero: that is the first beat, not a standstill
    assert w.verdict(20.3) is None


@settings(deadline=None)  # pure and quick, but a loaded host must not fail it on time
@given(st.lists(st.floats(0.001, HEARTBEAT_TIMEOUT * 0.99), min_size=1, max_size=50))
def test_any_gaps_within_the_timeout_never_count_as_death(gaps: list[float]) -> None:
    w = Watchdog()
    w.started(0.0)
    t = 0.0
    for i, gap in enumerate(gaps):
        t += gap
        assert w.verdict(t) is None
        w.beat(t, i + 1)


def test_a_timeout_must_be_positive_and_within_giving_up() -> None:
    with pytest.raises(ValueError, match="positive"):
        Watchdog(0)
    with pytest.raises(ValueError, match="at most give_up"):
        Watchdog(3.0, give_up=2.0)


def test_restart_at_once_after_a_stable_run_and_back_off_when_it_keeps_dying() -> None:
    policy = RestartPolicy(stable_after=10.0)
    assert policy.delay(started=0.0, died=60.0) == 0.0  # ran a minute: restart at once
    assert policy.delay(started=60.2, died=61.0) == 0.0  # died quickly: one more try at once
    assert policy.delay(started=61.2, died=62.0) == 0.25  # and again: wait, longer each time
    assert policy.delay(started=62.5, died=63.0) == 0.5
    assert policy.failed_start() == 1.0
    assert policy.delay(started=64.0, died=80.0) == 0.0  # a stable run forgives
    assert policy.delay(started=80.1, died=81.0) == 0.0
