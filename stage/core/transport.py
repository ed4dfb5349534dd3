"""The one shape every transport speaks: ``position(t) = p0 + speed × (t − t0)``.

``t`` is seconds on the engine's monotonic time base (the JACK frame clock
divided by the sample rate when JACK runs, ``time.monotonic()`` otherwise);
``p`` is picture time in seconds since 00:00:00:00 at the actual rate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from stage.core.limits import MAX_SPEED, MIN_SPEED, valid_speed


class TransportState(enum.Enum):
    """What the transport is doing."""

    STOPPED = "stopped"
    ROLLING = "rolling"


@dataclass(frozen=True)
class Anchor:
    """A transport anchor: picture position ``p0`` at time ``t0``, moving at ``speed``.

    ``speed`` is 1.0 for normal play, 0.0 when stopped, negative in reverse.
    """

    t0: float
    p0: float
    speed: float

    def position(self, t: float) -> float:
        """Picture position at time ``t``."""
        return self.p0 + self.speed * (t - self.t0)

    def time_of(self, p: float) -> float:
        """Time at which picture position ``p`` is (or was) reached; needs ``speed != 0``."""
        if self.speed == 0:
            raise ValueError("a stopped transport never reaches another position")
        return self.t0 + (p - self.p0) / self.speed

    @property
    def rolling(self) -> bool:
        """True when the picture is moving."""
        return self.speed != 0


class InternalClock:
    """Free-running transport driven by commands: play, stop, locate, varispeed.

    Pure: every command takes the current time ``now`` and returns the new anchor.
    """

    def __init__(self, position: float = 0.0, varispeed: float = 1.0) -> None:
        self._anchor = Anchor(0.0, position, 0.0)
        self._varispeed = varispeed

    @property
    def anchor(self) -> Anchor:
        """The current anchor."""
        return self._anchor

    @property
    def state(self) -> TransportState:
        """Rolling or stopped."""
        return TransportState.ROLLING if self._anchor.rolling else TransportState.STOPPED

    def play(self, now: float) -> Anchor:
        """Roll from the current position at the varispeed rate."""
        self._anchor = Anchor(now, self._anchor.position(now), self._varispeed)
        return self._anchor

    def stop(self, now: float) -> Anchor:
        """Stop where the picture is now."""
        self._anchor = Anchor(now, self._anchor.position(now), 0.0)
        return self._anchor

    def locate(self, position: float, now: float) -> Anchor:
        """Jump to ``position``; keeps rolling if it was rolling."""
        self._anchor = Anchor(now, position, self._anchor.speed)
        return self._anchor

    def set_varispeed(self, speed: float, now: float) -> Anchor:
        """Change the play speed (1.0 = normal, 0.9-1.1 for a ±10 % pull; 1/64 to 4 either way)."""
        if not valid_speed(speed):
            raise ValueError(f"varispeed {speed} is out of range ({MIN_SPEED:g} to {MAX_SPEED:g} either way)")
        self._varispeed = speed
        if self._anchor.rolling:
            self._anchor = Anchor(now, self._anchor.position(now), speed)
        return self._anchor
