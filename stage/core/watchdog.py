"""Whether the engine is alive, from its heartbeat, and when to try starting it again.

The engine process sends a heartbeat carrying its cycle count every
:data:`HEARTBEAT_INTERVAL`.  Two things can go wrong without the process
exiting: it stops answering at all (hung, stopped, its sender thread dead),
or it answers but its cycles stand still (the soft-clock thread died, JACK
stopped calling the process callback).  :class:`Watchdog` tells both apart
and names them, in two steps: after :data:`HEARTBEAT_TIMEOUT` the engine is
*stalled* (everyone is told at once, nothing is done to it yet: a host too
loaded to run it for a moment must not cost the take), after
:data:`GIVE_UP_AFTER` it is *dead* and replaced.  :class:`RestartPolicy`
spaces attempts when the engine keeps dying.  Pure: every time is an argument.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stage.core.backoff import backoff

HEARTBEAT_INTERVAL = 0.05  # seconds between the engine's heartbeats
HEARTBEAT_TIMEOUT = 0.5  # seconds without a heartbeat, or without a new cycle, before the engine counts as stalled
GIVE_UP_AFTER = 2.0  # seconds of the same before a stalled engine counts as dead and is replaced
STABLE_AFTER = 10.0  # seconds an engine must run before its next death restarts it at once again


class EngineState(enum.Enum):
    """The engine as the service sees it."""

    STARTING = "starting"  # the first start, not ready yet
    RUNNING = "running"  # cycling and answering
    STALLED = "stalled"  # silent, or its clock stands still, for a moment: told, not replaced yet
    RESTARTING = "restarting"  # it died or stopped answering; a new one is on its way
    STOPPED = "stopped"  # the service closed it (shutting down)
    DISABLED = "disabled"  # this service runs without an engine


@dataclass(frozen=True)
class Verdict:
    """What is wrong with the engine: why, in words, and whether it is past saving."""

    reason: str
    dead: bool


@dataclass(frozen=True)
class Heard:
    """The last heartbeat: when it came, the cycle count, and when the count last moved."""

    at: float
    cycles: int
    moved_at: float


class Watchdog:
    """Follows one engine's heartbeats and says when it stalls or is dead (and why).

    ``timeout`` is how long a silence, or a cycle count that stands still,
    may last before the engine counts as stalled; ``give_up`` how long before
    it counts as dead.  Before the first heartbeat the silence counts from
    :meth:`started`.
    """

    def __init__(self, timeout: float = HEARTBEAT_TIMEOUT, give_up: float = GIVE_UP_AFTER) -> None:
        if not 0 < timeout <= give_up:
            raise ValueError(f"the heartbeat timeout must be positive and at most give_up ({timeout}, {give_up})")
        self.timeout = timeout
        self.give_up = give_up
        self._heard: Heard | None = None
        self._started = 0.0

    @property
    def heard(self) -> Heard | None:
        """The last heartbeat, if any."""
        return self._heard

    def started(self, now: float) -> None:
        """A new engine is running from ``now`` on: forget the old one's heartbeats."""
        self._heard = None
        self._started = now

    def beat(self, now: float, cycles: int) -> None:
        """A heartbeat arrived at ``now`` reporting ``cycles`` cycles run."""
        last = self._heard
        moved_at = now if last is None or cycles != last.cycles else last.moved_at
        self._heard = Heard(now, cycles, moved_at)

    def verdict(self, now: float) -> Verdict | None:
        """``None`` while the engine lives; otherwise what is wrong, and whether it is dead."""
        heard = self._heard
        since = self._started if heard is None else heard.at
        if now - since > self.timeout:
            silent = now - since
            return Verdict(f"the engine sent no heartbeat for {silent:.2f} s", silent > self.give_up)
        if heard is not None and now - heard.moved_at > self.timeout:
            still = now - heard.moved_at
            return Verdict(f"the engine's clock ran no cycle for {still:.2f} s (stuck at {heard.cycles})",
                           still > self.give_up)
        return None


class RestartPolicy:
    """How long to wait before starting the engine again.

    The first death after a stable run restarts at once; an engine that dies
    again within ``stable_after`` seconds of its start waits longer each time
    (:func:`~stage.core.backoff.backoff`), so a fault that kills every new
    engine does not spin.
    """

    def __init__(
        self,
        stable_after: float = STABLE_AFTER,
        delays: Callable[[], Iterator[float]] = lambda: backoff(initial=0.25, maximum=5.0, jitter=0.0),
    ) -> None:
        self.stable_after = stable_after
        self._make = delays
        self._delays: Iterator[float] | None = None

    def delay(self, started: float, died: float) -> float:
        """Seconds to wait before the next start, for an engine started at ``started`` that died at ``died``."""
        if died - started >= self.stable_after:
            self._delays = None
            return 0.0
        if self._delays is None:
            self._delays = self._make()
            return 0.0  # the first quick death: try once more at once
        return next(self._delays)

    def failed_start(self) -> float:
        """Seconds to wait after a start that did not come up."""
        if self._delays is None:
            self._delays = self._make()
        return next(self._delays)


__all__ = [
    "GIVE_UP_AFTER",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_TIMEOUT",
    "STABLE_AFTER",
    "EngineState",
    "Heard",
    "RestartPolicy",
    "Verdict",
    "Watchdog",
]
