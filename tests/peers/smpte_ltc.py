"""A reference LTC codec written from the SMPTE 12M bit layout, to witness libltc and the engine.

Nothing here comes from libltc or from `stage`: the bit layout, the
biphase-mark code, drop-frame numbering and the polarity bit are written
from the standard, so an error in the code under test cannot cancel out
against the same error here.

The layout, bit 0 first on the wire::

    0-3 frame units   4-7 group 1   8-9 frame tens  10 drop frame  11 colour frame  12-15 group 2
    16-19 sec units   20-23 group 3 24-26 sec tens  27 polarity (25 fps: BGF0)        28-31 group 4
    32-35 min units   36-39 group 5 40-42 min tens  43 BGF0 (25 fps: BGF2)            44-47 group 6
    48-51 hour units  52-55 group 7 56-57 hour tens 58 BGF1  59 BGF2 (25 fps: polarity) 60-63 group 8
    64-79 sync word 0011 1111 1111 1101

The polarity bit makes the number of zeros in a frame even, so every frame
starts on the same edge.  Biphase mark: a transition at the start of every
bit cell, and one more in the middle of a one.

:func:`render` lays LTC along picture position, as on a tape, and plays it
through a transport (any speed, either way): a frame's first edge falls on
the first sample at which picture reaches its boundary.  :func:`decode`
reads frames back from samples with the sample each starts and ends on.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BITS = 80
SYNC = (0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1)  # bits 64-79
Samples = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Frame:
    """What one LTC frame carries; ``user_bits`` has binary group 1 in its low four bits."""

    hours: int
    minutes: int
    seconds: int
    frames: int
    drop: bool = False
    colour: bool = False
    user_bits: int = 0

    def count(self, nominal: int) -> int:
        """Frames since 00:00:00:00 (drop-frame numbering when ``drop``)."""
        minutes = 60 * self.hours + self.minutes
        n = (3600 * self.hours + 60 * self.minutes + self.seconds) * nominal + self.frames
        return n - (2 * (minutes - minutes // 10) if self.drop else 0)


def frame_of_count(count: int, nominal: int, *, drop: bool = False, user_bits: int = 0) -> Frame:
    """The frame number ``count`` counts to (drop-frame: 00 and 01 skipped each minute but every tenth)."""
    if drop:
        tens, rest = divmod(count, 17982)  # frames in ten minutes of 29.97 drop-frame
        count += 18 * tens + (2 * ((rest - 2) // 1798) if rest >= 2 else 0)
    s = count // nominal
    return Frame(s // 3600 % 24, s // 60 % 60, s % 60, count % nominal, drop=drop, user_bits=user_bits)


def frame_bits(frame: Frame, nominal: int) -> list[int]:
    """The 80 bits of ``frame``, bit 0 first, with the polarity bit set."""
    bits = [0] * BITS

    def put(first: int, width: int, value: int) -> None:
        for i in range(width):
            bits[first + i] = value >> i & 1

    for i, (first, width, value) in enumerate((
        (0, 4, frame.frames % 10), (8, 2, frame.frames // 10), (16, 4, frame.seconds % 10),
        (24, 3, frame.seconds // 10), (32, 4, frame.minutes % 10), (40, 3, frame.minutes // 10),
        (48, 4, frame.hours % 10), (56, 2, frame.hours // 10),
    )):
        put(first, width, value)
        put(4 + 8 * i, 4, frame.user_bits >> 4 * i & 0xF)
    bits[10], bits[11] = int(frame.drop), int(frame.colour)
    bits[64:80] = SYNC
    polarity = 59 if nominal == 25 else 27
    bits[polarity] = sum(bits) % 2  # an even number of ones in 80 bits: an even number of zeros
    return bits


def read_bits(bits: list[int], nominal: int) -> Frame | None:
    """The frame 80 bits carry (bit 0 first); None when the sync word, a BCD digit or the polarity is wrong."""
    if len(bits) != BITS or tuple(bits[64:80]) != SYNC or sum(bits) % 2:
        return None

    def get(first: int, width: int) -> int:
        return sum(bits[first + i] << i for i in range(width))

    units = [get(f, 4) for f in (0, 16, 32, 48)]
    if max(units) > 9:
        return None
    frames, seconds = units[0] + 10 * get(8, 2), units[1] + 10 * get(24, 3)
    minutes, hours = units[2] + 10 * get(40, 3), units[3] + 10 * get(56, 2)
    if frames >= nominal or seconds > 59 or minutes > 59 or hours > 23:
        return None
    user = sum(get(4 + 8 * i, 4) << 4 * i for i in range(8))
    return Frame(hours, minutes, seconds, frames, bool(bits[10]), bool(bits[11]), user)


# -- the tape: LTC as a function of picture position -----------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """``length`` samples from sample ``start``: picture at ``p0`` frames there, moving ``speed`` × nominal.

    ``level`` is the peak (0: silence), ``noise`` the standard deviation of
    Gaussian noise added; ``seed`` makes the noise repeatable.
    """

    start: int
    length: int
    p0: float = 0.0
    speed: float = 1.0
    level: float = 0.5
    noise: float = 0.0
    seed: int = 0

    def position(self, sample: float, fps: float, samplerate: int) -> float:
        """Picture (frames) at ``sample``."""
        return self.p0 + (sample - self.start) * self.speed * fps / samplerate


@dataclass(frozen=True)
class Tape:
    """LTC along picture: frame ``n`` occupies positions ``[n, n + 1)``, its bits at ``n + i / 80``."""

    fps: float  # the actual rate (29.97 is 30000/1001)
    nominal: int
    drop: bool = False
    user_bits: int = 0

    def frame(self, count: int) -> Frame:
        """What frame ``count`` carries on this tape."""
        per_day = (17982 * 144) if self.drop else self.nominal * 86400
        return frame_of_count(count % per_day, self.nominal, drop=self.drop, user_bits=self.user_bits)

    def levels(self, positions: Samples) -> Samples:
        """+1 or -1 at each picture position (frames): +1 just after every frame's first edge."""
        k = np.floor(positions).astype(np.int64)
        within = (positions - k) * BITS
        cell = np.minimum(np.floor(within).astype(np.int64), BITS - 1)
        second_half = (within - cell) >= 0.5
        frames, index = np.unique(k, return_inverse=True)
        ones = np.array([frame_bits(self.frame(int(n)), self.nominal) for n in frames], dtype=np.int64)
        before = np.concatenate([np.zeros((len(frames), 1), dtype=np.int64), np.cumsum(ones, axis=1)], axis=1)
        # transitions after the frame's first edge up to here: one at each later cell's start, one mid-one
        count = cell + before[index, cell] + ones[index, cell] * second_half
        return np.where(count % 2 == 0, 1.0, -1.0)

    def render(self, segments: list[Segment], samplerate: int) -> tuple[int, Samples]:
        """Samples of the segments played in order (gaps between them silent): (first sample, samples)."""
        first = min(s.start for s in segments)
        end = max(s.start + s.length for s in segments)
        out = np.zeros(end - first)
        for seg in segments:
            n = np.arange(seg.start, seg.start + seg.length, dtype=np.float64)
            if seg.level > 0:
                out[seg.start - first : seg.start - first + seg.length] = seg.level * self.levels(
                    seg.position(n, self.fps, samplerate)  # type: ignore[arg-type]
                )
            if seg.noise > 0:
                rng = np.random.default_rng(seg.seed)
                out[seg.start - first : seg.start - first + seg.length] += rng.normal(0.0, seg.noise, seg.length)
        return first, out

    def first_edge(self, seg: Segment, boundary: int, samplerate: int) -> int:
        """The sample on which ``seg`` reaches frame boundary ``boundary`` (its first at or past it)."""
        exact = seg.start + (boundary - seg.p0) * samplerate / (seg.speed * self.fps)
        return math.ceil(exact - 1e-9)


# -- reading it back -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A frame read from samples: the first and last sample of its signal, and which way it ran."""

    frame: Frame
    start: int
    end: int
    reverse: bool


def edges(samples: Samples, first: int = 0, threshold: float = 0.03, gap: int = 200) -> list[int | None]:
    """Samples on which the signal changes sides, with hysteresis; None where it went quiet for ``gap`` samples.

    Leaving silence counts as an edge: a generator starts on one.
    """
    side = np.where(samples > threshold, 1, np.where(samples < -threshold, -1, 0))
    loud = np.flatnonzero(side)
    out: list[int | None] = []
    previous, previous_at = 0, -(10**9)
    for i in loud:
        s = int(side[i])
        if i - previous_at > gap:
            out.append(None)
            previous = 0
        if s != previous:
            out.append(first + int(i))
            previous = s
        previous_at = int(i)
    return out


def decode(samples: Samples, cell: float, nominal: int, first: int = 0, threshold: float = 0.03) -> list[Read]:
    """Every frame in ``samples`` (sample ``first`` on), either way round, at any speed.

    ``cell`` is the bit cell's length in samples where nothing says better:
    each interval between edges is measured against the longest of the next
    :data:`WINDOW` intervals (a whole cell, a zero: a frame has no more than
    12 ones in a row), so a change of speed is followed at once.  Out of step
    (noise, a cut), reading starts again where the next whole cell fixes the
    phase (:func:`_resync`).
    """
    reads: list[Read] = []
    marks = edges(samples, first, threshold, gap=int(3 * cell))
    cells_at = _cells(marks, cell)
    cells: list[tuple[int, int, int]] = []  # (bit, first sample, the sample after it)
    i = 0
    while i + 1 < len(marks):
        a, b = marks[i], marks[i + 1]
        if a is None or b is None:
            reads += _frames(cells, nominal)
            cells, i = [], i + 1
            continue
        c = marks[i + 2] if i + 2 < len(marks) else None
        here = cells_at[i]
        if _whole(b - a, here):  # a zero
            cells.append((0, a, b))
            i += 1
        elif _half(b - a, here) and c is not None and _half(c - b, here):  # two halves: a one
            cells.append((1, a, c))
            i += 2
        else:
            reads += _frames(cells, nominal)
            i, cells = _resync(marks, cells_at, i + 1)
    reads += _frames(cells, nominal)
    return reads


WINDOW = 26
"""Intervals looked ahead for a whole cell: more than a frame's longest run of ones (12 ones, 24 halves)."""


def _cells(marks: list[int | None], default: float) -> list[float]:
    """For each mark, the cell length there: the longest of the next :data:`WINDOW` intervals (until a gap)."""
    out: list[float] = []
    for i in range(len(marks)):
        ahead = []
        for x, y in itertools.pairwise(marks[i : i + WINDOW + 1]):
            if x is None or y is None:
                break
            ahead.append(y - x)
        out.append(float(max(ahead)) if len(ahead) == WINDOW else default)
    return out


def _whole(d: int, cell: float) -> bool:
    return 0.75 * cell <= d <= 1.5 * cell


def _half(d: int, cell: float) -> bool:
    return 0.25 * cell <= d < 0.75 * cell


def _resync(marks: list[int | None], cells_at: list[float], i: int) -> tuple[int, list[tuple[int, int, int]]]:
    """Where to read on after falling out of step before mark ``i``: (mark, the cells already read).

    A whole cell fixes the phase: reading starts at the first one, with the
    ones just before it taken back in pairs of halves (so a frame that starts
    with ones keeps them).
    """
    for j in range(i, min(len(marks) - 1, i + WINDOW)):
        x, y = marks[j], marks[j + 1]
        if x is None or y is None:
            return j, []
        if _whole(y - x, cells_at[j]):
            ones: list[tuple[int, int, int]] = []
            k = j
            while k - 2 >= i:
                p, q, r = marks[k - 2], marks[k - 1], marks[k]
                if p is None or q is None or r is None:
                    break
                if not (_half(q - p, cells_at[j]) and _half(r - q, cells_at[j])):
                    break
                ones.insert(0, (1, p, r))
                k -= 2
            return j, ones
    return i, []


def _frames(cells: list[tuple[int, int, int]], nominal: int) -> list[Read]:
    """Frames in a run of cells: a sync word after 64 bits forwards, or before them backwards."""
    bits = [c[0] for c in cells]
    out: list[Read] = []
    reverse_sync = SYNC[::-1]
    i = 0
    while i + BITS <= len(bits):
        window = bits[i : i + BITS]
        forward = read_bits(window, nominal) if tuple(window[64:]) == SYNC else None
        backward = read_bits(window[::-1], nominal) if tuple(window[:16]) == reverse_sync else None
        if forward is not None or backward is not None:
            frame = forward or backward
            assert frame is not None
            out.append(Read(frame, cells[i][1], cells[i + BITS - 1][2] - 1, forward is None))
            i += BITS
        else:
            i += 1
    return out
