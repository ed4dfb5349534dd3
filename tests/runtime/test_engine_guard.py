"""The engine's cycle logic guarded: a nonsense value stops the transport safely, and the clock goes on.

:class:`EngineCore` is driven here cycle by cycle with plain frame numbers,
as JACK's process callback or the soft clock drive it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from stage.core.playback import ClickNotes, TimedClick
from stage.core.tempo import ClickKind
from stage.runtime import messages as m
from stage.runtime.engine import EngineCore, EngineSettings

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
        found = [item for kind, item in self.core.outbox if kind == "anchor"]
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
    faults = [item for kind, item in d.core.outbox if kind == "fault"]
    (exc, stopped_at, n), = faults
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
