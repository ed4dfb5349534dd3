"""The verdicts of a scoring day (``bench/soak.py``): pure arithmetic on the samples, no I/O.

- :func:`least_squares` fits ``y = intercept + slope·x`` and gives the slope's
  standard error from the residuals: the noise of the samples around the line.
- :func:`flat` says whether a series grows by less than a limit: its slope may
  exceed the limit only by :data:`NOISE_K` standard errors (samples that
  wander up and down never make a leak; a steady climb above the limit does).
- :func:`same_as` compares the end of a run with its start (the clock-sync
  error of the last ten minutes against the first ten).
- :func:`sample_offsets` measures a roll's clicks at the JACK witness: how many
  samples each note-on is off where the roll's start frame and its exact
  picture offset put it.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

NOISE_K = 3.0  # standard errors of the slope a series may stray above its limit before it is a leak
ROUNDING = 1  # samples: a click's exact sample is rounded from its picture time, each way by half a sample


@dataclass(frozen=True)
class Fit:
    """A straight line through the samples, and how far they scatter around it."""

    slope: float
    intercept: float
    stderr: float  # of the slope: inf with fewer than three samples or all at one x
    n: int

    @property
    def bound(self) -> float:
        """The noise bound: :data:`NOISE_K` standard errors of the slope."""
        return NOISE_K * self.stderr


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> Fit:
    """Ordinary least squares of ``ys`` on ``xs`` (at least two samples at two different x)."""
    n = len(xs)
    if n != len(ys) or n < 2:
        raise ValueError(f"a line needs two samples or more, of x and y alike (got {n} and {len(ys)})")
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("every sample is at the same x: no slope")
    slope = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    if n < 3:
        return Fit(slope, intercept, math.inf, n)
    residuals = math.fsum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return Fit(slope, intercept, math.sqrt(residuals / (n - 2) / sxx), n)


def flat(fit: Fit, limit: float) -> bool:
    """True when the series grows by no more than ``limit`` per unit of x, within its noise bound."""
    return fit.slope <= limit + fit.bound


def same_as(first: float, last: float, *, factor: float = 2.0, slack: float = 2.0) -> bool:
    """True when ``last`` is no worse than ``first``: at most ``factor`` times it plus ``slack`` (same unit)."""
    return last <= first * factor + slack


def p99(values: Sequence[float]) -> float:
    """The 99th percentile (nearest rank) of the sizes of ``values``; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(abs(v) for v in values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(0.99 * len(ordered)) - 1))]


def match_clicks(heard: Sequence[tuple[int, int]], clicks: Sequence[tuple[float, int]], first_guess: float,
                 rate: int, tolerance: float = 0.05) -> list[tuple[int, float]]:
    """Which click each heard note-on is: ``(frame, position)`` pairs.

    ``heard`` is (frame, note) as the witness got them, ``clicks`` (picture
    position, note) as the cue plays, sorted.  Frames are exact but say nothing
    of which click came first; a clock reading (``first_guess``, the position
    the first note-on seemed to come at) is near but may be late by a busy
    host's wake-up.  So every click with the first note's sound is tried as
    the first; the others follow from the frame distances (within
    ``tolerance`` seconds, same note), and the try that explains the most
    note-ons wins, the nearest to the guess among equals.
    """
    if not heard or not clicks:
        return []
    positions = [p for p, _ in clicks]
    f0, note0 = heard[0]
    best: list[tuple[int, float]] = []
    best_key: tuple[int, float] | None = None
    for c0, n0 in clicks:
        if n0 != note0:
            continue
        pairs = []
        for frame, note in heard:
            want = c0 + (frame - f0) / rate
            k = bisect.bisect_left(positions, want)
            near = min((i for i in (k - 1, k) if 0 <= i < len(positions)), key=lambda i: abs(positions[i] - want))
            if abs(positions[near] - want) <= tolerance and clicks[near][1] == note:
                pairs.append((frame, positions[near]))
        key = (len(pairs), -abs(c0 - first_guess))
        if best_key is None or key > best_key:
            best, best_key = pairs, key
    return best


def sample_offsets(frames: Sequence[int], positions: Sequence[float], p0: float, rate: int) -> list[int]:
    """How many samples each click of one roll is off its exact sample.

    ``frames[k]`` is where the witness heard click k, ``positions[k]`` its
    picture position and ``p0`` where picture rolled from: the click belongs
    at the roll's first frame plus ``round((positions[k] - p0)·rate)``.  The
    roll's first frame is the median of what the clicks say it is, so a click
    is off by how far it strays from the others; up to :data:`ROUNDING` is the
    rounding of an exact time to a sample.
    """
    if len(frames) != len(positions):
        raise ValueError("one position for each heard click")
    if not frames:
        return []
    starts = [f - math.floor((p - p0) * rate + 0.5) for f, p in zip(frames, positions, strict=True)]
    start = round(statistics.median_low(starts))
    return [s - start for s in starts]


def off(offsets: Sequence[int]) -> int:
    """How many clicks are off their sample by more than the rounding."""
    return sum(1 for o in offsets if abs(o) > ROUNDING)
