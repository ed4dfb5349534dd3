"""Timecode chase: picture position and speed from incoming MTC or LTC, as a transport anchor.

Pure: every input carries its arrival time ``t`` (seconds on the engine's
monotonic time base) and :meth:`ChaseEstimator.poll` is given the time too.

Two sources feed the same estimator, each through its own decoder: MTC
quarter frames (:mod:`stage.core.mtc`) mark exact picture positions four
times a frame; LTC frames (:mod:`stage.core.ltc`) mark the frame boundary
their signal ended on, once a frame.  The marks are exact but their arrival
stamps wobble: the JACK sample they were stamped to, MIDI interface
buffering, the sample a decoder saw an edge on.  A second-order delay-locked
loop (a critically damped position/speed loop, the shape of Fons Adriaensen's
DLL for audio clocks) turns the stamped marks into a smooth
``position(t) = p0 + speed × (t - t0)``, so that the position between marks
is good to well under a millisecond.  Its bandwidth starts wide at each lock,
to pull in quickly, and narrows to :data:`BANDWIDTH_HZ` to reject jitter.

Rules (constants below; the decoders' in :mod:`stage.core.mtc` and :mod:`stage.core.ltc`):

- lock after :data:`~stage.core.mtc.LOCK_QUARTER_FRAMES` in-order quarter
  frames (MTC) or :data:`~stage.core.ltc.LOCK_FRAMES` in-order frames (LTC);
  the first speed comes from a line fitted through their arrivals;
- a full frame, or a time outside :data:`~stage.core.mtc.WINDOW_FRAMES` of the
  tracked one, is a locate: the position moves at once and the lock is rebuilt;
- no timecode for :data:`SILENCE_FRAMES` frames means stop, unless a freewheel
  is configured: then the estimate rolls on at the last speed until
  ``freewheel_frames`` frames have passed without timecode, and stops.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

from stage.core.ltc import (
    LOCK_FRAMES,
    DropFlagMismatch,
    FrameRead,
    LtcEvent,
    LtcFrame,
    LtcReader,
    format_user_bits,
)
from stage.core.mtc import (
    LOCK_QUARTER_FRAMES,
    QUARTER_FRAMES_PER_FRAME,
    WINDOW_FRAMES,
    Discontinuity,
    FullFrame,
    Invalid,
    Locked,
    MtcDecoder,
    MtcEvent,
    QuarterFrame,
    RateMismatch,
    Unlocked,
)
from stage.core.timecode import Rate
from stage.core.transport import Anchor

SILENCE_FRAMES = 2
"""Frames without timecode after which the master is taken to have stopped."""
BANDWIDTH_HZ = 0.5
"""Loop bandwidth once settled: low enough to average out arrival jitter."""
LOCK_BANDWIDTH_HZ = 2.0
"""Loop bandwidth at lock, so that a first speed error is pulled in quickly."""
SETTLE_SECONDS = 1.0
"""Time constant with which the bandwidth narrows from lock to settled."""
MIN_SPEED = 0.05
"""Slowest speed the loop's timing assumes (quarter frames arrive further apart when slower)."""


class ChaseState(enum.Enum):
    """What the chase is doing."""

    STOPPED = "stopped"  # no timecode: the anchor (if any) stands still
    LOCATING = "locating"  # timecode arrives but no lock yet (or the lock was lost)
    LOCKED = "locked"  # quarter frames in order: the loop follows them
    FREEWHEEL = "freewheel"  # timecode stopped, still rolling on the last speed


@dataclass(frozen=True)
class ChaseStats:
    """Counters for status displays and logs."""

    quarter_frames: int = 0
    full_frames: int = 0
    locks: int = 0
    locates: int = 0
    dropouts: int = 0
    invalid: int = 0
    rate_mismatches: int = 0
    frames: int = 0  # LTC frames read


ChaseSource = Literal["mtc", "ltc"]
"""Where the timecode comes from: MIDI timecode bytes, or LTC frames read from audio."""


class ChaseEstimator:
    """Follows an incoming MTC or LTC stream; :attr:`anchor` is the estimated transport.

    ``rate`` is the actual picture rate from configuration (23.976 and 24 share
    a rate code, as do 29.97 non-drop and 30).  ``source`` says which stream:
    MTC is fed with :meth:`receive`, LTC with :meth:`receive_frame`.
    ``freewheel_frames`` > 0 rolls on through that many frames of missing
    timecode.
    """

    def __init__(
        self,
        rate: Rate,
        *,
        source: ChaseSource = "mtc",
        freewheel_frames: int = 0,
        silence_frames: float = SILENCE_FRAMES,
        bandwidth_hz: float = BANDWIDTH_HZ,
        lock_bandwidth_hz: float = LOCK_BANDWIDTH_HZ,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        if freewheel_frames < 0:
            raise ValueError(f"freewheel_frames must be 0 or more, not {freewheel_frames}")
        self.rate = rate
        self.source = source
        self.freewheel_frames = freewheel_frames
        self._decoder: MtcDecoder | LtcReader = MtcDecoder(rate) if source == "mtc" else LtcReader(rate)
        # marks a frame (quarter frames or frames) and how many in order lock
        self._marks, lock = (QUARTER_FRAMES_PER_FRAME, LOCK_QUARTER_FRAMES) if source == "mtc" else (1, LOCK_FRAMES)
        self._fps = float(rate.fps)
        self._day = float(rate.frames_per_day / rate.fps)
        self._silence = silence_frames / self._fps
        self._freewheel = freewheel_frames / self._fps
        self._bandwidth = bandwidth_hz
        self._lock_bandwidth = lock_bandwidth_hz
        self._settle = settle_seconds
        self._state = ChaseState.STOPPED
        self._anchor: Anchor | None = None  # the loop's state: position and speed at its last step
        self._t_lock = 0.0  # starts the bandwidth schedule
        self._heard = 0.0  # arrival of the last timecode that confirmed the position
        self._last_message: float | None = None  # arrival of the last MTC message of any kind
        self._relock = lock / self._marks / self._fps
        self._stats = ChaseStats()
        self._error: float | None = None  # the loop's last error: where a mark said picture was, less where it said
        self._rate_mismatch: RateMismatch | DropFlagMismatch | None = None
        self._user_bits: int | None = None

    # -- public state ------------------------------------------------------------------------------------------------

    @property
    def state(self) -> ChaseState:
        """The current state (as of the last :meth:`receive` or :meth:`poll`)."""
        return self._state

    @property
    def anchor(self) -> Anchor | None:
        """The estimated transport; None until some timecode has been seen."""
        return self._anchor

    @property
    def locked(self) -> bool:
        """True while following a locked quarter-frame stream."""
        return self._state is ChaseState.LOCKED

    @property
    def speed(self) -> float:
        """The estimated speed (1.0 nominal, negative in reverse, 0.0 stopped)."""
        return self._anchor.speed if self._anchor is not None else 0.0

    @property
    def error(self) -> float | None:
        """Seconds between where the last timecode mark said picture was and where the loop had it then (None: no
        mark followed while locked yet); the loop steers it towards zero."""
        return self._error

    @property
    def stats(self) -> ChaseStats:
        """Counters: quarter frames seen, locks, locates, dropouts, …."""
        return self._stats

    @property
    def rate_mismatch(self) -> RateMismatch | DropFlagMismatch | None:
        """The last rate mismatch reported by the stream (MTC's rate code, LTC's drop-frame flag), if any."""
        return self._rate_mismatch

    @property
    def user_bits(self) -> str | None:
        """The user bits of the last LTC frame read, as eight hex digits (binary group 8 first); None before one."""
        return None if self._user_bits is None else format_user_bits(self._user_bits)

    # -- inputs ------------------------------------------------------------------------------------------------------

    def receive(self, message: bytes, t: float) -> None:
        """Feed one complete MIDI message that arrived at ``t`` (source ``mtc``)."""
        if not isinstance(self._decoder, MtcDecoder):
            raise TypeError("this chase follows LTC: feed it frames (receive_frame), not MIDI")
        self.poll(t)
        for event in self._decoder.receive(message, t):
            self._on_event(event)

    def receive_frame(self, frame: LtcFrame, samplerate: int) -> None:
        """Feed one LTC frame read from audio, its samples counted at ``samplerate`` (source ``ltc``)."""
        if not isinstance(self._decoder, LtcReader):
            raise TypeError("this chase follows MTC: feed it MIDI (receive), not LTC frames")
        events = self._decoder.receive(frame, samplerate)
        if events:
            self.poll(events[-1].t)
        for event in events:
            self._on_event(event)

    def poll(self, t: float) -> ChaseState:
        """Apply the silence rule at time ``t`` and return the state."""
        if self._state is ChaseState.STOPPED:
            return self._state
        if self._anchor is None or not self._anchor.rolling:
            if self._last_message is not None and t - self._last_message > self._silence:
                self._stop(t)
            return self._state
        quiet = t - self._heard
        # a lost lock gets the time to rebuild it before the silence counts
        limit = self._silence + self._relock if self._state is ChaseState.LOCATING else self._silence
        if quiet <= limit:
            return self._state
        if self.freewheel_frames > 0 and quiet <= self._freewheel:
            self._state = ChaseState.FREEWHEEL
        else:
            self._stop(t)
        return self._state

    # -- events ------------------------------------------------------------------------------------------------------

    def _on_event(self, event: MtcEvent | LtcEvent) -> None:
        match event:
            case QuarterFrame():
                self._count(quarter_frames=1)
                self._on_mark(event.t, event.frame, locked=event.locked)
            case FrameRead():
                self._count(frames=1)
                self._user_bits = event.user_bits
                self._on_mark(event.t, event.frame, locked=event.locked)
            case Locked():
                self._on_locked(event)
            case Discontinuity():
                self._count(locates=1)
                self._heard = event.t
                speed = self.speed if self.speed * event.direction > 0 else float(event.direction)
                self._restart(event.t, self._seconds(event.frame), speed)
                self._state = ChaseState.LOCATING
            case FullFrame():
                self._count(full_frames=1, locates=1)
                self._heard = self._last_message = event.t
                self._restart(event.t, float(event.timecode.picture_seconds), 0.0)
                self._state = ChaseState.LOCATING
            case Unlocked():
                self._count(dropouts=1)
                if self._state is ChaseState.LOCKED:
                    self._state = ChaseState.LOCATING
            case Invalid():
                self._count(invalid=1)
            case RateMismatch() | DropFlagMismatch():
                self._count(rate_mismatches=1)
                self._rate_mismatch = event
            case _:
                pass

    def _on_mark(self, t: float, frame: Fraction | None, *, locked: bool) -> None:
        """A quarter frame or an LTC frame arrived at ``t``; ``frame`` is the position it marks, once known."""
        self._last_message = t
        if self._state is ChaseState.STOPPED:
            self._state = ChaseState.LOCATING
        if not locked or frame is None:
            return
        self._heard = t
        position = self._seconds(frame)
        if self._state is ChaseState.FREEWHEEL:
            # the stream came back without losing its place
            self._state = ChaseState.LOCKED
            if abs(self._wrap(position - self._predict(t))) > WINDOW_FRAMES / self._fps:
                self._count(locates=1)
                self._restart(t, position, self.speed)
                return
        if self._state is ChaseState.LOCKED:
            self._update(t, position)

    def _on_locked(self, event: Locked) -> None:
        self._count(locks=1)
        self._heard = event.t
        position = self._seconds(event.frame)
        rolling = self.speed * event.direction > 0  # rolling the same way
        if rolling and abs(self._wrap(position - self._predict(event.t))) <= WINDOW_FRAMES / self._fps:
            # the same stream again after a glitch or a locate: keep the loop and its speed
            self._state = ChaseState.LOCKED
            return
        speed, position = self._fit(event, position)
        self._restart(event.t, position, speed)
        self._state = ChaseState.LOCKED

    def _fit(self, event: Locked, position: float) -> tuple[float, float]:
        """Speed and position at ``event.t`` from a line through the lock's arrivals.

        Arrival ``i`` marks ``position - direction × (n - 1 - i)`` marks (quarter
        frames or frames); the stamps carry the jitter, so time is fitted against position.
        """
        n = len(event.arrivals)
        step = float(event.direction) / (self._marks * self._fps)
        xs = [-(n - 1 - i) * step for i in range(n)]
        ts = event.arrivals
        x_mean, t_mean = sum(xs) / n, sum(ts) / n
        sxx = sum((x - x_mean) ** 2 for x in xs)
        sxt = sum((x - x_mean) * (t - t_mean) for x, t in zip(xs, ts, strict=True))
        if n < 2 or sxt * event.direction <= 0:
            return float(event.direction), position
        speed = sxx / sxt
        return speed, position + x_mean + speed * (event.t - t_mean)

    # -- the loop ----------------------------------------------------------------------------------------------------

    def _restart(self, t: float, position: float, speed: float) -> None:
        self._t_lock = t
        self._anchor = Anchor(t, self._fold(position), speed)

    def _predict(self, t: float) -> float:
        return self._anchor.position(t) if self._anchor is not None else 0.0

    def _update(self, t: float, measured: float) -> None:
        """One loop step: a mark of position ``measured`` arrived at ``t``."""
        predicted = self._predict(t)
        error = self._wrap(measured - predicted)
        self._error = error
        fade = math.exp(-(t - self._t_lock) / self._settle) if self._settle > 0 else 0.0
        bandwidth = self._bandwidth + (self._lock_bandwidth - self._bandwidth) * fade
        # gains per nominal period between marks at the current speed: critically damped second order
        period = 1.0 / (self._marks * self._fps * max(abs(self.speed), MIN_SPEED))
        omega = 2.0 * math.pi * bandwidth * period
        speed = self.speed + omega * omega * error / period
        self._anchor = Anchor(t, self._fold(predicted + math.sqrt(2.0) * omega * error), speed)

    def _stop(self, t: float) -> None:
        """The master stopped: stand still where the timecode was last heard."""
        if self._anchor is not None:
            self._anchor = Anchor(t, self._fold(self._anchor.position(min(t, self._heard))), 0.0)
        self._decoder.reset()
        self._state = ChaseState.STOPPED

    # -- helpers -----------------------------------------------------------------------------------------------------

    def _seconds(self, frame: Fraction) -> float:
        return float(frame) / self._fps

    def _wrap(self, seconds: float) -> float:
        """A position difference folded into the half day either side of zero (midnight wrap)."""
        half = self._day / 2
        return (seconds + half) % self._day - half

    def _fold(self, position: float) -> float:
        return position % self._day

    def _count(self, **increments: int) -> None:
        self._stats = replace(self._stats, **{name: getattr(self._stats, name) + n for name, n in increments.items()})
