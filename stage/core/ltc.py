"""Linear timecode (LTC): what a frame read from audio means, and which frames a master writes when.

LTC is SMPTE 12M timecode as an audio signal: 80 bits a frame, biphase-mark
coded (every bit cell starts with a transition, a one has another in its
middle), the frame's timecode and 32 user bits in binary groups, the
drop-frame and colour-frame flags, and a 16-bit sync word (``0x3FFD``) at its
end that tells a reader where a frame stops and which way the signal runs.
The bits themselves are libltc's business (:mod:`stage.adapters.libltc`); this
module holds the pure rules on either side of it:

- :class:`LtcReader` turns the frames a decoder read, each with the sample
  its signal ended on, into the events the chase
  (:class:`~stage.core.chase.ChaseEstimator`) follows, with the lock rules of
  the MTC decoder (:mod:`stage.core.mtc`) counted in frames instead of
  quarter frames;
- :class:`LtcGenerator` says which frames a master starts in a cycle, on
  which sample each one's first bit edge falls and how many samples it lasts.

A frame's *boundaries* are picture positions: frame ``n`` spans
``[n, n + 1)`` frames.  Read forwards its signal ends at boundary ``n + 1``;
read backwards (the tape running in reverse) its bits come last to first and
it ends at boundary ``n``.  Either way the reader marks the boundary where the
signal ended at the sample it ended on: that sample is exact once a decoder
is in step, where a frame's start can only be inferred.

Pure: sample numbers and times are arguments, nothing reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

from stage.core.limits import MIN_SPEED
from stage.core.mtc import WINDOW_FRAMES, Direction, Discontinuity, Invalid, Locked, Unlocked
from stage.core.playback import frame_of
from stage.core.timecode import Rate, Timecode
from stage.core.transport import Anchor
from stage.errors import TimecodeError

BITS_PER_FRAME = 80
SYNC_WORD = 0x3FFD
"""Bits 64-79 of every frame, bit 64 first: where a frame ends, and which way it runs."""
LOCK_FRAMES = 2
"""In-order frames before the reader reports a lock: two frames of timecode, as MTC's eight quarter frames are."""
MAX_NOMINAL = 30
"""LTC's frame number has two BCD tens bits: 24, 25 and 30 fps (and their NTSC rates), no more."""
USER_BITS_MAX = 0xFFFF_FFFF


def ltc_rate(rate: Rate) -> Rate:
    """``rate`` if LTC can carry it, else :class:`TimecodeError`."""
    if rate.nominal > MAX_NOMINAL:
        raise TimecodeError(f"rate {rate} cannot travel as LTC (23.976, 24, 25, 29.97, 29.97df or 30 fps only)")
    return rate


def format_user_bits(value: int) -> str:
    """The 32 user bits as eight hex digits, binary group 8 first (as libltc and ``ltcdump`` print them)."""
    return f"{value:08X}"


def parse_user_bits(text: str) -> int:
    """Eight hex digits (binary group 8 first) as the 32 user bits; :class:`TimecodeError` otherwise."""
    digits = text.strip().replace(" ", "")
    if len(digits) != 8 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise TimecodeError(f"user bits {text!r}: expected eight hex digits, binary group 8 first (e.g. \"00000000\")")
    return int(digits, 16)


@dataclass(frozen=True)
class LtcFrame:
    """One frame a decoder read from audio.

    ``start`` and ``end`` are the samples (on the decoder's own count, the
    engine's JACK frames) its signal began and ended on, earliest first
    whichever way it ran; ``reverse`` says it ran backwards.  ``user_bits`` is
    binary group 1 in the low four bits up to group 8 in the high four.
    """

    hours: int
    minutes: int
    seconds: int
    frames: int
    drop: bool = False
    colour: bool = False
    user_bits: int = 0
    start: int = 0
    end: int = 0
    reverse: bool = False
    volume_db: float = 0.0

    def timecode(self, rate: Rate) -> Timecode:
        """The timecode it carries at ``rate``; :class:`TimecodeError` when that time does not exist there."""
        return Timecode(self.hours, self.minutes, self.seconds, self.frames, rate)

    def __str__(self) -> str:
        tc = f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{';' if self.drop else ':'}{self.frames:02d}"
        return f"{tc} (samples {self.start}-{self.end}{', reversed' if self.reverse else ''})"


# -- reader events ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameRead:
    """A frame was read: its signal ended on boundary ``frame`` (picture frames) at ``t``.

    ``locked`` once the lock rule holds; ``timecode`` and ``user_bits`` are
    what the frame carried.
    """

    frame: Fraction
    t: float
    direction: Direction
    locked: bool
    timecode: Timecode
    user_bits: int


@dataclass(frozen=True)
class DropFlagMismatch:
    """The frames' drop-frame flag differs from the configured rate's (reported once per change)."""

    received: bool
    expected: bool
    t: float

    def __str__(self) -> str:
        def say(drop: bool) -> str:
            return "drop-frame" if drop else "non-drop"

        return f"LTC is flagged {say(self.received)}, the configured rate is {say(self.expected)}"


LtcEvent = FrameRead | Locked | Unlocked | Discontinuity | DropFlagMismatch | Invalid


class LtcReader:
    """Sans-I/O lock rules for frames read from LTC, in the MTC decoder's terms.

    - a frame continues the sequence when it runs the same way as the one
      before and is the next one that way (``n + 1`` forwards, ``n - 1``
      backwards, modulo a day);
    - :data:`LOCK_FRAMES` in order lock (:class:`~stage.core.mtc.Locked`, with
      the arrivals that made it, one frame apart);
    - once locked, a frame out of order is a lost lock
      (:class:`~stage.core.mtc.Unlocked`) when it is within
      :data:`~stage.core.mtc.WINDOW_FRAMES` of where the stream was expected,
      and a locate (:class:`~stage.core.mtc.Discontinuity`) further away; it
      starts the next sequence either way;
    - a time that cannot exist at the rate is :class:`~stage.core.mtc.Invalid`.

    ``receive`` never raises on what it is given.
    """

    def __init__(self, rate: Rate) -> None:
        self.rate = ltc_rate(rate)
        self._per_day = rate.frames_per_day
        self._reported_drop: bool | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the sequence (the drop-flag report is kept)."""
        self._last: int | None = None  # frame count of the last frame read
        self._direction: Direction | None = None
        self._arrivals: deque[float] = deque(maxlen=LOCK_FRAMES)
        self._locked = False

    @property
    def locked(self) -> bool:
        """True while the lock rule holds."""
        return self._locked

    def receive(self, frame: LtcFrame, samplerate: int) -> list[LtcEvent]:
        """One frame read, its samples counted at ``samplerate``: what it means."""
        t = (frame.end + 1) / samplerate  # the sample after its last is the boundary it ended on
        events: list[LtcEvent] = []
        if frame.drop not in (self.rate.drop, self._reported_drop):
            events.append(DropFlagMismatch(frame.drop, self.rate.drop, t))
        self._reported_drop = frame.drop if frame.drop != self.rate.drop else None
        try:
            tc = frame.timecode(self.rate)
        except TimecodeError as exc:
            if self._locked:
                events.append(Unlocked(str(exc), t))
            self.reset()
            events.append(Invalid(f"LTC frame {frame}: {exc}", t))
            return events
        count = tc.frame_count
        direction = Direction.BACKWARD if frame.reverse else Direction.FORWARD
        boundary = count if frame.reverse else (count + 1) % self._per_day
        if not self._continues(count, direction):
            if self._locked and self._last is not None and self._direction is not None:
                expected = (self._last + self._direction) % self._per_day
                ended = expected if self._direction is Direction.BACKWARD else (expected + 1) % self._per_day
                if abs(self._wrap(boundary - ended)) > WINDOW_FRAMES:
                    events.append(Discontinuity(Fraction(ended), Fraction(boundary), direction, t))
                else:
                    events.append(Unlocked(f"frame {tc} after {Timecode.from_frames(self._last, self.rate)}", t))
            self.reset()
        self._last, self._direction = count, direction
        self._arrivals.append(t)
        if not self._locked and len(self._arrivals) == LOCK_FRAMES:
            self._locked = True
            events.append(Locked(Fraction(boundary), direction, t, tuple(self._arrivals)))
        events.append(FrameRead(Fraction(boundary), t, direction, self._locked, tc, frame.user_bits))
        return events

    def _continues(self, count: int, direction: Direction) -> bool:
        if self._last is None:
            return True
        return direction == self._direction and count == (self._last + direction) % self._per_day

    def _wrap(self, frames: int) -> int:
        half = self._per_day // 2
        return (frames + half) % self._per_day - half


# -- the master's side -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LtcOut:
    """A frame a master writes: frame count ``frame`` (within a day), its first edge on sample ``start``.

    ``samples`` is how long it lasts, to the sample the next frame starts on
    (its bits spread evenly over them: the bit rate follows the speed);
    ``reverse``: written last bit first, for picture running backwards.
    """

    frame: int
    start: int
    samples: int
    reverse: bool


@dataclass(frozen=True)
class LtcCycle:
    """What a master does in one cycle: frames to start, and the sample from which it falls silent (if it does)."""

    frames: tuple[LtcOut, ...] = ()
    silence_from: int | None = None


class LtcGenerator:
    """Which LTC frames a master starts in each cycle, on their exact samples.

    Frame ``n``'s first edge is written on the sample where the transport
    (``latency`` seconds early) reaches boundary ``n`` running forwards, or
    boundary ``n + 1`` running backwards; it lasts until the next boundary's
    sample, so at varispeed the bit rate follows the speed.  A cursor (the
    next boundary's index) makes every frame start once whatever small
    changes the anchor makes.  A stop, a locate (:meth:`locate`) or a change
    of direction silences the frame being written from the cycle's first
    sample; writing starts again at the next boundary.  A frame that would
    last longer than :data:`~stage.core.limits.MIN_SPEED` allows (or no time
    at all: a speed that makes no sense) is not written.
    """

    def __init__(self, rate: Rate, samplerate: int, *, latency: float = 0.0) -> None:
        self.rate = ltc_rate(rate)
        self.samplerate = samplerate
        self.latency = latency
        self.max_samples = math.ceil(samplerate / rate.fps / Fraction(MIN_SPEED))
        self._fps = rate.fps
        self._per_day = rate.frames_per_day
        self._next: int | None = None  # the next boundary, counted from 00:00:00:00 (not wrapped)
        self._sign = 0  # which way frames are being written: 1, -1, 0 (not writing)
        self._cut = False  # a locate: the frame being written is no longer picture's

    def locate(self) -> None:
        """Picture jumped: fall silent now and start again at the next boundary."""
        self._next = None
        self._cut = True

    def cycle(self, anchor: Anchor | None, t_a: float, t_b: float) -> LtcCycle:
        """The frames that start in ``[t_a, t_b)`` for ``anchor`` (None or stopped: none)."""
        sr = self.samplerate
        first = frame_of(t_a, sr)
        sign = 0 if anchor is None or anchor.speed == 0 else (1 if anchor.speed > 0 else -1)
        silence = first if self._sign and (sign != self._sign or self._cut) else None
        if sign != self._sign:
            self._next = None
        self._sign, self._cut = sign, False
        if anchor is None or sign == 0:
            return LtcCycle((), silence)
        if self._next is None:
            p = Fraction(anchor.position(max(t_a, anchor.t0) + self.latency)) * self._fps
            self._next = math.ceil(p) if sign > 0 else math.floor(p)
        end = frame_of(t_b, sr)
        frames: list[LtcOut] = []
        k = self._next
        at = self._sample_of(anchor, k)
        while at < end:
            after = self._sample_of(anchor, k + sign)
            begin = max(at, first)  # a boundary the anchor moved behind this cycle starts late, on its first sample
            if 0 < after - begin <= self.max_samples:
                frames.append(LtcOut((k if sign > 0 else k - 1) % self._per_day, begin, after - begin, sign < 0))
            elif silence is None:
                silence = begin
            k += sign
            at = after
        self._next = k
        return LtcCycle(tuple(frames), silence)

    def _sample_of(self, anchor: Anchor, boundary: int) -> int:
        """The sample on which picture reaches ``boundary`` (frames), ``latency`` early."""
        return frame_of(anchor.time_of(float(Fraction(boundary) / self._fps)) - self.latency, self.samplerate)
