"""The engine's cycle logic: typed events, a wake-up only after cycles that have some, and a guard.

:class:`EngineCore` is driven here cycle by cycle with plain frame numbers,
as JACK's process callback or the soft clock drive it: no process, no thread,
no clock.  A nonsense value stops the transport safely, and the clock goes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from stage.core.playback import ClickNotes, TimedClick
from stage.core.tempo import ClickKind
from stage.runtime import messages as m
from stage.runtime.enginecore import AnchorOut, BeatOut, EngineCore, EngineSettings, FaultOut

SR = 48000
BLOCK = 256
NOTES = ClickNotes()
# A click every half second from picture second 10, the first of each four an accent.
CLICKS = tuple(
    TimedClick(10.0 + i / 2, ClickKind.ACCENT if i % 4 == 0 else ClickKind.NORMAL, "1M1", 1 + i // 4, 1 + i % 4)
    for i in range(40)
)
Out = Mapping[str, Sequence[tuple[int, bytes]]]


class Driver:
    """Runs cycles of ``core`` from frame ``frame`` on, and keeps what came out."""

    def __init__(self, core: EngineCore, frame: int = 1_000 * SR) -> None:
        self.core = core
        self.frame = frame
        self.clicks: list[tuple[int, bytes]] = []

    def run(self, seconds: float) -> None:
        for _ in range(math.ceil(seconds * SR / BLOCK)):
            out = self.core(self.frame, BLOCK, {})
            self.clicks += [(f, d) for f, d in out.get("click_out", ()) if d[0] & 0xF0 == 0x90]
            self.frame += BLOCK

    def anchors(self) -> list[object]:
        found: list[object] = [item.anchor for item in self.core.outbox if isinstance(item, AnchorOut)]
        self.core.outbox.clear()
        return found


def core_at(position: float = 0.0) -> EngineCore:
    core = EngineCore(EngineSettings(midi=False, rate="24", mtc_out=False, start_position=position), SR)
    core.commands.append(m.LoadClicks(CLICKS))
    return core


def test_a_restarted_engine_starts_stopped_where_it_is_told() -> None:
    d = Driver(core_at(12.25))
    d.run(0.1)
    (anchor,) = d.anchors()
    assert anchor == d.core.clock.anchor
    assert (d.core.clock.anchor.p0, d.core.clock.anchor.speed) == (12.25, 0.0)
    assert d.clicks == []


def test_a_denormal_varispeed_stops_the_transport_where_it_was_and_the_cycles_go_on() -> None:
    """Issue's crash 1 inside the engine: 5e-324 made a click's time infinite and killed the clock thread."""
    d = Driver(core_at(9.9))
    d.core.commands.append(m.Play())
    d.run(1.0)  # clicks at 10.0 and 10.5 sound
    assert len(d.clicks) == 2
    d.anchors()
    d.core.commands.append(m.Varispeed(5e-324))
    cycles = d.core.cycles
    d.run(0.5)  # no exception escapes
    assert d.core.cycles == cycles + math.ceil(0.5 * SR / BLOCK)
    assert d.core.faults == 1  # once: after it the transport is stopped, nothing fails any more
    faults = [item for item in d.core.outbox if isinstance(item, FaultOut)]
    ((exc, stopped_at, n),) = [(f.exc, f.position, f.count) for f in faults]
    assert isinstance(exc, ValueError)  # the clock refuses a speed that would overflow every deadline
    assert "out of range" in str(exc)
    assert n == 1
    rolled_to = 9.9 + (d.frame - 1_000 * SR) / SR - 0.5  # where picture was when the varispeed came
    assert stopped_at == pytest.approx(rolled_to, abs=BLOCK / SR)
    assert (d.core.clock.anchor.p0, d.core.clock.anchor.speed) == (stopped_at, 0.0)
    assert len(d.clicks) == 2  # nothing sounded meanwhile
    # Play again: normal speed (the varispeed that failed is gone), the clicks come on their exact frames.
    d.core.commands.append(m.Play())
    roll_frame = d.frame
    d.run(1.5)
    later = d.clicks[2:]
    expected = [c for c in CLICKS if c.p >= stopped_at][: len(later)]
    assert len(later) >= 2
    assert [data for _, data in later] == [NOTES.note_on(c.kind) for c in expected]
    assert [f for f, _ in later] == [roll_frame + math.floor((c.p - stopped_at) * SR + 0.5) for c in expected]


def test_a_fault_while_chasing_starts_the_chase_again() -> None:
    core = EngineCore(EngineSettings(midi=False, rate="24", source="mtc", mtc_out=False), SR)
    before = core.chase

    class Broken:
        def receive(self, *_: object) -> None:
            raise ZeroDivisionError("a broken estimator")

    core.chase = Broken()  # type: ignore[assignment]
    out = core(0, BLOCK, {"mtc_in": [(10, b"\xf1\x00")]})
    assert out == {}
    assert core.faults == 1
    assert core.chase is not None
    assert core.chase is not before
    assert not isinstance(core.chase, Broken)
    core(BLOCK, BLOCK, {})  # and it cycles on
    assert core.faults == 1


def test_each_click_is_a_typed_event_on_its_frame_and_the_sender_is_woken_once_per_cycle_that_has_some() -> None:
    core = core_at(9.75)
    woken: list[int] = []
    core.wake = lambda: woken.append(core.cycles)
    core.commands.append(m.Play())
    start = 1_000 * SR
    frames = [start + k * BLOCK for k in range(math.ceil(1.0 * SR / BLOCK))]  # one second: clicks at 10.0, 10.5
    for f in frames:
        core(f, BLOCK, {})
    beats = [e.beat for e in core.outbox if isinstance(e, BeatOut)]
    anchors = [e.anchor for e in core.outbox if isinstance(e, AnchorOut)]
    assert [(b.click.p, b.click.bar, b.click.beat) for b in beats] == [(10.0, 1, 1), (10.5, 1, 2)]
    roll = start / SR  # the play applied at the first cycle's first frame
    assert [b.t for b in beats] == [pytest.approx(roll + 0.25), pytest.approx(roll + 0.75)]
    (anchor,) = anchors  # rolling from the play, applied before the first cycle told anything
    assert anchor is not None
    assert (anchor.t0, anchor.p0, anchor.speed) == (roll, 9.75, 1.0)
    # Woken after the cycles that put something in the outbox, and only then: the first (the anchor)
    # and the two whose clicks fall inside them.
    click_cycles = [1 + math.floor((roll + d - start / SR) * SR / BLOCK) for d in (0.25, 0.75)]
    assert woken == sorted({1, *click_cycles})
    assert len(woken) < len(frames) / 10


def test_a_quiet_cycle_wakes_nobody() -> None:
    core = core_at(0.0)
    core(0, BLOCK, {})  # the first anchor goes out
    woken: list[int] = []
    core.wake = lambda: woken.append(core.cycles)
    core.outbox.clear()
    for k in range(1, 200):
        core(k * BLOCK, BLOCK, {})
    assert (woken, list(core.outbox)) == ([], [])
