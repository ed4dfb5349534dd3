"""MIDI timecode (MTC): the byte codec and a sans-I/O decoder.

Messages::

    quarter frame   F1 0nnn dddd                   piece nnn (0-7), data nibble dddd
    full frame      F0 7F 7F 01 01 hh mm ss ff F7  hh = 0rrhhhhh

Pieces 0-7 carry frames lo/hi, seconds lo/hi, minutes lo/hi, hours lo and
hours hi; the hours-hi piece also carries the rate code ``rr`` in bits 1-2
(0 = 24, 1 = 25, 2 = 29.97 drop, 3 = 30).  23.976 travels as code 0 and
29.97 non-drop as code 3, at their real (slower) rate: the receiver is told
the actual rate by configuration, and the code is only checked.

Quarter frames are numbered by a *global quarter-frame index* ``q``: quarter
frame ``k`` of frame ``n`` is ``q = 4 n + k``, counted from 00:00:00:00, and it
marks the picture position ``q / (4 × fps)`` seconds in either direction of
play.  Eight pieces make one *cycle*; the cycle holding ``q`` starts at
``q - q % 8``, on the even frame ``(q - q % 8) // 4``, and all eight pieces
carry that frame's timecode.  A piece's position is therefore its cycle's frame
plus ``piece`` quarter frames, which is what the decoder reports: running
forward the completing piece is 7 (the decoded time plus 7 quarter frames);
running backward it is piece 0 (the decoded time itself).

:class:`MtcDecoder` takes one complete message and its arrival time and returns
events (frozen dataclasses).  It never reads a clock and never raises on bad
input: malformed messages come back as :class:`Invalid` events.
"""

from __future__ import annotations

import contextlib
import enum
import math
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

from stage.core.timecode import Rate, Timecode, frames_to_hmsf
from stage.core.transport import Anchor
from stage.errors import TimecodeError

QUARTER_FRAMES_PER_FRAME = 4
PIECES = 8
"""Quarter-frame pieces in one complete time; a cycle spans two frames."""
CYCLE_FRAMES = PIECES // QUARTER_FRAMES_PER_FRAME

LOCK_QUARTER_FRAMES = 8
"""In-order quarter frames needed before the decoder reports a lock."""
WINDOW_FRAMES = 2
"""A decoded time further than this from the tracked one is a jump (locate)."""
FORWARD_COMPENSATION_QF = PIECES - 1
"""Running forward the time completes on piece 7, seven quarter frames into its cycle."""
BACKWARD_COMPENSATION_QF = 0
"""Running backward the time completes on piece 0, which marks the carried frame itself."""

QUARTER_FRAME_STATUS = 0xF1
SYSEX_START = 0xF0
SYSEX_END = 0xF7
ALL_CALL = 0x7F
_FULL_FRAME_LENGTH = 10

RATE_CODE_NAMES = {0: "24", 1: "25", 2: "29.97 drop", 3: "30"}


class Direction(enum.IntEnum):
    """Which way the quarter frames run."""

    FORWARD = 1
    BACKWARD = -1


def rate_code(rate: Rate) -> int:
    """The MTC rate code ``rate`` travels as; :class:`TimecodeError` if MTC cannot carry it."""
    if rate.mtc_code is None:
        raise TimecodeError(f"rate {rate} cannot travel as MTC (24, 25, 29.97 drop or 30 fps only)")
    return rate.mtc_code


def full_frame(tc: Timecode) -> bytes:
    """The full-frame SysEx message (to all devices) for ``tc``."""
    hh = rate_code(tc.rate) << 5 | tc.hours
    return bytes((SYSEX_START, ALL_CALL, 0x7F, 0x01, 0x01, hh, tc.minutes, tc.seconds, tc.frames, SYSEX_END))


def is_full_frame(data: bytes) -> bool:
    """True when ``data`` is shaped like an MTC full-frame message (any device id)."""
    return (
        len(data) == _FULL_FRAME_LENGTH
        and data[0] == SYSEX_START
        and data[1] == 0x7F
        and data[3:5] == b"\x01\x01"
        and data[-1] == SYSEX_END
    )


def _full_frame_fields(data: bytes) -> tuple[int, int, int, int, int]:
    """Rate code, hours, minutes, seconds, frames of a full frame (not validated against a rate)."""
    if not is_full_frame(data):
        raise TimecodeError(f"{data.hex(' ')} is not an MTC full frame (F0 7F dd 01 01 hh mm ss ff F7)")
    if any(b > 0x7F for b in data[1:-1]):
        raise TimecodeError(f"{data.hex(' ')}: a data byte has its top bit set")
    hh, mm, ss, ff = data[5:9]
    return hh >> 5 & 0x03, hh & 0x1F, mm, ss, ff


def parse_full_frame(data: bytes, rate: Rate) -> Timecode:
    """The timecode in a full-frame message, read at the configured ``rate``.

    The rate code in the message is not compared with ``rate`` (see
    :func:`full_frame_rate_code`): 23.976 and 24 share a code, and a mismatch is
    the receiver's to report.
    """
    _, h, m, s, f = _full_frame_fields(data)
    return Timecode(h, m, s, f, rate)


def full_frame_rate_code(data: bytes) -> int:
    """The rate code (0-3) carried by a full-frame message."""
    return _full_frame_fields(data)[0]


def _digits(frame: int, rate: Rate) -> tuple[int, int, int, int, int, int, int, int]:
    """The eight piece values of ``frame`` without rate bits (piece 7 is the hours' bit 4)."""
    h, m, s, f = frames_to_hmsf(frame, rate)
    return f & 0xF, f >> 4, s & 0xF, s >> 4, m & 0xF, m >> 4, h & 0xF, h >> 4


def quarter_frame_message(q: int, rate: Rate) -> bytes:
    """The quarter-frame message for global quarter-frame index ``q`` (wraps at 24 hours)."""
    piece = q % PIECES
    value = _digits((q - piece) // QUARTER_FRAMES_PER_FRAME, rate)[piece]
    if piece == PIECES - 1:
        value |= rate_code(rate) << 1
    return bytes((QUARTER_FRAME_STATUS, piece << 4 | value))


def quarter_frame_position(q: int, rate: Rate) -> Fraction:
    """Picture position (seconds) that quarter frame ``q`` marks: ``q / (4 × fps)``."""
    return Fraction(q, QUARTER_FRAMES_PER_FRAME) / rate.fps


def quarter_frames_between(p_a: float | Fraction, p_b: float | Fraction, rate: Rate) -> list[tuple[int, Fraction]]:
    """Every quarter frame whose position lies in ``[p_a, p_b)``: ``(q, position)`` in order.

    Positions are exact; ``q`` is not wrapped at 24 hours (so that position and
    ``q`` stay in step) and :func:`quarter_frame_message` wraps it.
    """
    scale = QUARTER_FRAMES_PER_FRAME * rate.fps
    first = math.ceil(Fraction(p_a) * scale)
    end = math.ceil(Fraction(p_b) * scale)
    return [(q, Fraction(q) / scale) for q in range(first, end)]


@dataclass(frozen=True)
class ScheduledQuarterFrame:
    """A quarter frame a master sends at time ``t``: index ``q`` and its message bytes."""

    t: float
    q: int
    message: bytes


def quarter_frames_during(anchor: Anchor, t_a: float, t_b: float, rate: Rate) -> list[ScheduledQuarterFrame]:
    """The quarter frames a master following ``anchor`` sends in ``[t_a, t_b)``, in time order.

    Running forward these are the positions in ``[p(t_a), p(t_b))``; running
    backward the positions in ``(p(t_b), p(t_a)]``, highest first.  A stopped
    anchor sends nothing.
    """
    if anchor.speed == 0 or t_b <= t_a:
        return []
    p_a, p_b = anchor.position(t_a), anchor.position(t_b)
    if anchor.speed > 0:
        marks = quarter_frames_between(p_a, p_b, rate)
    else:
        scale = QUARTER_FRAMES_PER_FRAME * rate.fps
        top = math.floor(Fraction(p_a) * scale)
        bottom = math.floor(Fraction(p_b) * scale)
        marks = [(q, Fraction(q) / scale) for q in range(top, bottom, -1)]
    return [ScheduledQuarterFrame(anchor.time_of(float(p)), q, quarter_frame_message(q, rate)) for q, p in marks]


# -- decoder events --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarterFrame:
    """One quarter frame arrived (reported for every quarter-frame message).

    ``direction`` is known once two pieces arrived in order; ``frame`` (picture
    frames since 00:00:00:00, quarter frames as fractions) once a time has been
    decoded; ``locked`` once the lock rule holds.
    """

    piece: int
    t: float
    direction: Direction | None
    frame: Fraction | None
    locked: bool


@dataclass(frozen=True)
class QuarterFrameTime:
    """A complete time arrived: ``frame`` is the picture frame position at ``t``.

    That is the carried timecode plus the compensation: 7 quarter frames
    running forward, none running backward.
    """

    frame: Fraction
    direction: Direction
    t: float


@dataclass(frozen=True)
class Locked:
    """The decoder locked: position ``frame`` at ``t``.

    ``arrivals`` are the arrival times of the in-order quarter frames that led
    to the lock, oldest first, ending with ``t``; quarter frame ``i`` of them
    marks ``frame - direction × (len(arrivals) - 1 - i) / 4``.
    """

    frame: Fraction
    direction: Direction
    t: float
    arrivals: tuple[float, ...]


@dataclass(frozen=True)
class Unlocked:
    """A locked or tracking decoder lost the stream (a piece out of order, a bad time)."""

    reason: str
    t: float


@dataclass(frozen=True)
class Discontinuity:
    """A decoded time fell outside the window around the tracked one: the master located.

    The decoder now tracks ``frame`` and is unlocked until the lock rule holds again.
    """

    expected: Fraction
    frame: Fraction
    direction: Direction
    t: float


@dataclass(frozen=True)
class FullFrame:
    """A full-frame message: the master located to ``timecode`` (it sends quarter frames again when it rolls)."""

    timecode: Timecode
    t: float


@dataclass(frozen=True)
class RateMismatch:
    """The stream's rate code differs from the configured rate's (reported once per change)."""

    received: int
    expected: int
    t: float

    def __str__(self) -> str:
        return (
            f"MTC rate code {self.received} ({RATE_CODE_NAMES[self.received]} fps) received, "
            f"configured rate travels as {self.expected} ({RATE_CODE_NAMES[self.expected]} fps)"
        )


@dataclass(frozen=True)
class Invalid:
    """A malformed MTC message, or a complete time that cannot exist at the configured rate."""

    reason: str
    t: float


MtcEvent = QuarterFrame | QuarterFrameTime | Locked | Unlocked | Discontinuity | FullFrame | RateMismatch | Invalid


# -- decoder ---------------------------------------------------------------------------------------------------------


class MtcDecoder:
    """Sans-I/O MTC decoder with the lock rules of a chasing slave.

    - direction comes from piece order: ``n + 1`` forward, ``n - 1`` backward
      (mod 8); any other piece is out of order and restarts the sequence;
    - :data:`LOCK_QUARTER_FRAMES` consecutive in-order quarter frames lock; a
      sequence that joined mid-cycle is solved from the two cycles it spans, so
      the lock does not wait for a cycle boundary (except next to a drop-frame
      minute, where both halves can fit two times: then a few more pieces, at
      most up to the first complete cycle);
    - once locked, every piece advances the tracked position by one quarter
      frame, and every complete time is compared with it: further than
      :data:`WINDOW_FRAMES` away is a :class:`Discontinuity` (a locate);
    - a full frame resets the quarter-frame state.
    """

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._code = rate_code(rate)
        self._frames_per_day = rate.frames_per_day
        self._reported_code: int | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the quarter-frame sequence (the rate-mismatch report is kept)."""
        self._last_piece: int | None = None
        self._direction: Direction | None = None
        self._run = 0
        self._current: dict[int, int] = {}
        self._previous: dict[int, int] = {}
        self._arrivals: deque[float] = deque(maxlen=LOCK_QUARTER_FRAMES)
        self._cycle: int | None = None  # frame carried by the cycle of the last piece, when tracking
        self._since_sync = 0
        self._locked = False

    @property
    def locked(self) -> bool:
        """True while the lock rule holds."""
        return self._locked

    @property
    def direction(self) -> Direction | None:
        """The direction of the current in-order sequence, if known."""
        return self._direction

    @property
    def frame(self) -> Fraction | None:
        """Picture frame position of the last piece, when a time is known."""
        if self._cycle is None or self._last_piece is None:
            return None
        return self._cycle + Fraction(self._last_piece, QUARTER_FRAMES_PER_FRAME)

    def receive(self, message: bytes, t: float) -> list[MtcEvent]:
        """Feed one complete MIDI message that arrived at time ``t``; return what it means.

        Messages other than MTC (other SysEx, channel messages) give no events.
        """
        if not message:
            return []
        if message[0] == QUARTER_FRAME_STATUS:
            if len(message) != 2 or message[1] > 0x7F:
                reason = f"malformed quarter frame {message.hex(' ')}"
                events: list[MtcEvent] = [Unlocked(reason, t)] if self._cycle is not None else []
                self.reset()
                return [*events, Invalid(reason, t)]
            return self._quarter_frame(message[1] >> 4, message[1] & 0x0F, t)
        # real-time universal SysEx, sub-IDs 01 01 (other MTC SysEx such as user bits are not ours)
        if message[0] == SYSEX_START and message[1:2] == b"\x7f" and message[3:5] == b"\x01\x01":
            return self._full_frame(message, t)
        return []

    def _full_frame(self, message: bytes, t: float) -> list[MtcEvent]:
        try:
            code, h, m, s, f = _full_frame_fields(message)
            tc = Timecode(h, m, s, f, self.rate)
        except TimecodeError as exc:
            return [Invalid(str(exc), t)]
        self.reset()
        events: list[MtcEvent] = []
        self._check_code(code, t, events)
        events.append(FullFrame(tc, t))
        return events

    def _check_code(self, code: int, t: float, events: list[MtcEvent]) -> None:
        if code == self._code:
            self._reported_code = None
        elif code != self._reported_code:
            self._reported_code = code
            events.append(RateMismatch(code, self._code, t))

    def _quarter_frame(self, piece: int, value: int, t: float) -> list[MtcEvent]:
        events: list[MtcEvent] = []
        if piece == PIECES - 1:
            self._check_code(value >> 1 & 0x03, t, events)
            value &= 0x01
        last, direction = self._last_piece, self._direction
        if not self._continues(piece):
            if self._cycle is not None and last is not None and direction is not None:
                expected = (last + direction) % PIECES
                events.append(Unlocked(f"piece {piece} after piece {last} (expected {expected})", t))
            self.reset()
        self._accept(piece, value, t)
        self._advance_tracking(piece)

        completes = self._direction is not None and piece == self._completing_piece(self._direction)
        if completes:
            self._complete(piece, t, events)
        elif self._cycle is None and self._run >= LOCK_QUARTER_FRAMES:
            self._lock_mixed()
        if self._cycle is not None and not self._locked and self._since_sync >= LOCK_QUARTER_FRAMES:
            self._lock(t, events)

        events.append(QuarterFrame(piece, t, self._direction, self.frame, self._locked))
        return events

    def _continues(self, piece: int) -> bool:
        """Does ``piece`` continue the current sequence (and set its direction)?"""
        if self._last_piece is None:
            return True
        step = (piece - self._last_piece) % PIECES
        if self._direction is None:
            if step == 1:
                self._direction = Direction.FORWARD
            elif step == PIECES - 1:
                self._direction = Direction.BACKWARD
            else:
                return False
            return True
        return step == self._direction % PIECES

    @staticmethod
    def _completing_piece(direction: Direction) -> int:
        return FORWARD_COMPENSATION_QF if direction is Direction.FORWARD else BACKWARD_COMPENSATION_QF

    @staticmethod
    def _starting_piece(direction: Direction) -> int:
        return 0 if direction is Direction.FORWARD else PIECES - 1

    def _accept(self, piece: int, value: int, t: float) -> None:
        starts_cycle = self._direction is not None and piece == self._starting_piece(self._direction)
        if starts_cycle:
            self._previous, self._current = self._current, {}
        self._current[piece] = value
        self._last_piece = piece
        self._run += 1
        self._since_sync += 1
        self._arrivals.append(t)

    def _advance_tracking(self, piece: int) -> None:
        if self._cycle is None or self._direction is None:
            return
        if piece == self._starting_piece(self._direction):
            self._cycle = (self._cycle + CYCLE_FRAMES * self._direction) % self._frames_per_day

    def _complete(self, piece: int, t: float, events: list[MtcEvent]) -> None:
        """The last piece of a cycle arrived: decode it and check it against the tracked time."""
        assert self._direction is not None
        if len(self._current) < PIECES:
            return  # the sequence started inside this cycle
        try:
            decoded = _compose(self._current, self.rate)
        except TimecodeError as exc:
            if self._cycle is not None:
                events.append(Unlocked(str(exc), t))
            events.append(Invalid(str(exc), t))
            self.reset()
            return
        offset = Fraction(piece, QUARTER_FRAMES_PER_FRAME)
        events.append(QuarterFrameTime(decoded + offset, self._direction, t))
        if self._cycle is not None:
            if abs(self._wrap(decoded - self._cycle)) > WINDOW_FRAMES:
                events.append(Discontinuity(self._cycle + offset, decoded + offset, self._direction, t))
                self._locked = False
                self._since_sync = 0
            self._cycle = decoded
        elif self._run >= LOCK_QUARTER_FRAMES:
            self._cycle = decoded
            self._since_sync = LOCK_QUARTER_FRAMES

    def _lock_mixed(self) -> None:
        """Lock on a sequence that spans the end of one cycle and the start of the next.

        The later cycle in picture time gives the low pieces, the earlier one
        the high pieces (stale pieces of the older cycle are left out).
        """
        assert self._direction is not None
        if self._direction is Direction.FORWARD:
            split = len(self._current)
            high = {k: v for k, v in self._previous.items() if k >= split}
            cycle = _solve_split(self._current, high, self.rate)
        else:
            split = min(self._current)
            low = {k: v for k, v in self._previous.items() if k < split}
            later = _solve_split(low, self._current, self.rate)
            cycle = None if later is None else (later - CYCLE_FRAMES) % self._frames_per_day
        if cycle is None:
            return  # ambiguous or inconsistent: try again with the next piece
        self._cycle = cycle
        self._since_sync = LOCK_QUARTER_FRAMES

    def _lock(self, t: float, events: list[MtcEvent]) -> None:
        assert self._direction is not None
        frame = self.frame
        assert frame is not None
        self._locked = True
        events.append(Locked(frame, self._direction, t, tuple(self._arrivals)))

    def _wrap(self, frames: int) -> int:
        """A frame difference folded into the half day either side of zero."""
        half = self._frames_per_day // 2
        return (frames + half) % self._frames_per_day - half


def _compose(pieces: dict[int, int], rate: Rate) -> int:
    """The frame the eight pieces carry (:class:`TimecodeError` when that time does not exist at ``rate``)."""
    f, s, m, h = (pieces[2 * i] | pieces[2 * i + 1] << 4 for i in range(4))
    return Timecode(h, m, s, f, rate).frame_count


def _solve_split(low: dict[int, int], high: dict[int, int], rate: Rate) -> int | None:
    """The frame ``y`` whose low pieces are ``low`` while frame ``y - 2`` has the high pieces ``high``.

    ``low`` holds pieces ``0 .. j-1`` and ``high`` pieces ``j .. 7``.  Either no
    carry crossed the split (``y`` is the two halves put together) or ``y - 2``
    is one of the last two frames that share the high pieces; the answer is the
    single candidate that fits both halves (None if there is not exactly one).
    """
    split = len(low)
    if sorted(low) != list(range(split)) or sorted(high) != list(range(split, PIECES)):
        return None
    per_day = rate.frames_per_day
    key = tuple(high[k] for k in range(PIECES - 1, split - 1, -1))

    def high_key(frame: int) -> tuple[int, ...]:
        digits = _digits(frame, rate)
        return tuple(digits[k] for k in range(PIECES - 1, split - 1, -1))

    candidates: set[int] = set()
    with contextlib.suppress(TimecodeError):
        candidates.add(_compose({**low, **high}, rate))
    # the high pieces are monotonic in the frame count: find the last frame that has them
    lo, hi = 0, per_day
    while lo < hi:
        mid = (lo + hi) // 2
        if high_key(mid) <= key:
            lo = mid + 1
        else:
            hi = mid
    last = lo - 1
    if last >= 0:
        candidates.update({(last + 1) % per_day, (last + 2) % per_day})
    fits = [
        y
        for y in candidates
        if _digits(y, rate)[:split] == tuple(low[k] for k in range(split))
        and high_key((y - CYCLE_FRAMES) % per_day) == key
    ]
    return fits[0] if len(fits) == 1 else None
