"""The tempo finder: steady tempos that put a cue's hits on beats, and the fewest changes when none does.

Everything is counted in picture frames from the cue's start.  A hit is
*caught* when it lies within the tolerance of a grid point: a click, or a
subdivision of it.  Its *error* is the hit's time minus that grid point's
(positive: the hit comes after the beat).  Tempos come in two families, as
music editors quote them: frame clicks in eighth-frame steps (``"12-3"``) and
clicks per minute to 0.01 (``117.55``).

How it stays fast.  For a hit ``x`` frames after the downbeat, the grid
catches it with the n-th grid point when ``|x − n·g| ≤ tol``: for each n that
is one interval of the family's integer parameter (eighths of a frame, or
hundredths of a click per minute).  Adding those intervals into a difference
array counts, for every tempo of the range at once, how many hits it
catches; only the best few are then measured exactly (:class:`Fraction`).
The changes search (:mod:`stage.core.tempochanges`) intersects the same
intervals hit by hit to learn how far each tempo reaches from a bar line.

How it ranks (:class:`Rank`).  Hits are spotted to whole frames, so a hit
within half a frame of its beat is as close as a spotting note can say: among
tempos that catch the same hits *on the frame* the hits cannot choose, and the
editor's ranking puts the frame click and the round tempo first (12-0 before
119.88, 120 before 119.97).  The same counting at half a frame tells, for every
tempo, whether all the hits it catches are on the frame.  ``Rank.ERROR`` ranks
by the squared errors alone, as a measuring instrument would.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import accumulate

from stage.core.tempo import MAX_CLICKS_PER_MINUTE, MIN_CLICKS_PER_MINUTE, Meter
from stage.core.timecode import Rate
from stage.errors import TempoError

__all__ = [
    "Candidate",
    "Family",
    "FindSpec",
    "HitFit",
    "Rank",
    "SpotHit",
    "Tempo",
    "TempoGrid",
    "find_steady",
    "fit_hits",
    "grid_distance",
    "roundness",
]

ON_FRAME = Fraction(1, 2)  # frames: a hit this close to its beat is on it, as far as whole-frame spotting can say


class Family(enum.Enum):
    """How a tempo is quoted."""

    FRAME = "frame"  # a frame click in eighths of a frame
    BPM = "bpm"  # clicks per minute in hundredths


class Rank(enum.Enum):
    """How candidates that catch as many hits are ordered."""

    EDITOR = "editor"  # on the frame first, then frame clicks and round tempos, then closeness
    ERROR = "error"  # closeness alone (the sum of squared errors), then frame clicks


@dataclass(frozen=True, order=True)
class Tempo:
    """A tempo of one family: ``value`` is eighths of a frame (FRAME) or hundredths of a click per minute (BPM)."""

    family: Family = field(compare=False)
    value: int

    def frames(self, rate: Rate) -> Fraction:
        """Click length in picture frames."""
        if self.family is Family.FRAME:
            return Fraction(self.value, 8)
        return 6000 * rate.fps / self.value

    def seconds(self, rate: Rate) -> Fraction:
        """Click length in seconds."""
        return self.frames(rate) / rate.fps

    def clicks_per_minute(self, rate: Rate) -> Fraction:
        """Real-time clicks per minute."""
        return 60 / self.seconds(rate)

    @property
    def text(self) -> str:
        """``"12-3"`` or ``"117.55"``."""
        if self.family is Family.FRAME:
            return f"{self.value // 8}-{self.value % 8}"
        whole, cents = divmod(self.value, 100)
        return f"{whole}" if cents == 0 else f"{whole}.{cents:02d}".rstrip("0")

    @property
    def toml(self) -> str | float | int:
        """The value a cue sheet's ``tempo`` key takes."""
        if self.family is Family.FRAME:
            return self.text
        return self.value // 100 if self.value % 100 == 0 else float(self.text)


@dataclass(frozen=True)
class SpotHit:
    """A hit to catch: its label and its time in frames from the cue's start (the written downbeat)."""

    label: str
    frames: Fraction


@dataclass(frozen=True)
class FindSpec:
    """What the finder may try."""

    rate: Rate
    meter: Meter
    lowest: Fraction = Fraction(40)  # clicks per minute
    highest: Fraction = Fraction(240)
    tolerance: Fraction = Fraction(1)  # frames either way
    subdivision: int = 1  # grid points per click: 1 the clicks, 2 their halves …
    move: tuple[int, int] = (0, 0)  # whole frames the downbeat may move (earliest, latest)
    families: frozenset[Family] = frozenset(Family)

    def __post_init__(self) -> None:
        if not MIN_CLICKS_PER_MINUTE <= self.lowest <= self.highest <= MAX_CLICKS_PER_MINUTE:
            raise TempoError(
                f"tempo range {float(self.lowest):g}-{float(self.highest):g}: give a range within "
                f"{MIN_CLICKS_PER_MINUTE}-{MAX_CLICKS_PER_MINUTE} clicks per minute, lowest first"
            )
        if self.tolerance < 0:
            raise TempoError("the tolerance must be 0 frames or more")
        if not 1 <= self.subdivision <= 16:
            raise TempoError(f"subdivision {self.subdivision}: 1 (clicks) to 16")
        if self.move[0] > self.move[1]:
            raise TempoError("the downbeat's move range must be earliest first")
        if not self.families:
            raise TempoError("try at least one family of tempos")

    def bounds(self, family: Family) -> tuple[int, int]:
        """The family's parameter range for the tempo range."""
        if family is Family.BPM:
            return math.ceil(self.lowest * 100), math.floor(self.highest * 100)
        return math.ceil(480 * self.rate.fps / self.highest), math.floor(480 * self.rate.fps / self.lowest)


@dataclass(frozen=True)
class HitFit:
    """Where one hit falls on a candidate's grid."""

    label: str
    frames: Fraction  # from the written start
    bar: int
    beat: Fraction  # 1-based, fractional on a subdivision
    error: Fraction  # frames: the hit minus its grid point
    caught: bool

    def error_ms(self, rate: Rate) -> Fraction:
        """The error in milliseconds."""
        return self.error / rate.fps * 1000


@dataclass(frozen=True)
class Candidate:
    """A steady tempo, the downbeat's move (frames) and how the hits fall on it."""

    tempo: Tempo
    move: int
    fits: tuple[HitFit, ...]

    @property
    def caught(self) -> int:
        """How many hits it catches."""
        return sum(1 for f in self.fits if f.caught)

    @property
    def worst(self) -> Fraction:
        """The largest error of a caught hit, in frames (0 when none is caught)."""
        return max((abs(f.error) for f in self.fits if f.caught), default=Fraction(0))

    @property
    def on_frame(self) -> bool:
        """Every hit it catches lies within half a frame of its beat: as close as whole-frame spotting can tell."""
        return self.worst <= ON_FRAME


_ROUND_STEPS = {Family.FRAME: (8, 4, 2, 1), Family.BPM: (100, 50, 25, 10, 5, 1)}


def roundness(tempo: Tempo) -> int:
    """0 for the roundest tempos (a whole frame click, a whole number of clicks per minute), more for finer ones.

    Frame clicks: whole frames, then halves, quarters, eighths.  Clicks per
    minute: whole, then .5, .25 and .75, tenths, twentieths, hundredths.
    """
    return next(i for i, step in enumerate(_ROUND_STEPS[tempo.family]) if tempo.value % step == 0)


# -- the intervals of tempos that catch one hit ---------------------------------------------------


class TempoGrid:
    """Interval arithmetic of one family, in integers: frames are scaled by ``q`` so every input is whole.

    ``lo``..``hi`` is the family's parameter range for the spec's tempo range.
    """

    def __init__(self, family: Family, spec: FindSpec, q: int) -> None:
        self.family = family
        self.lo, self.hi = spec.bounds(family)
        self.q = q
        s = spec.subdivision
        if family is Family.BPM:
            # n·g = n·6000·fps/(s·p) frames: p = n·a/(b·x) for a hit x·q.
            self.a = 6000 * spec.rate.fps.numerator * q
            self.b = spec.rate.fps.denominator * s
        else:
            # n·g = n·p/(8·s) frames: p = 8·s·x/(n·q).
            self.a = 8 * s
            self.b = q

    def _spans(self, x: int, t: int, lo: int, hi: int) -> tuple[list[int], list[int]]:
        """For each grid point that may catch a hit ``x`` > ``t`` (scaled frames): the first and last parameter
        in [lo, hi] that it catches, unclipped, rising with the parameter."""
        a, b = self.a, self.b
        if self.family is Family.BPM:
            # p in [n·a/(b·(x+t)), n·a/(b·(x−t))]; n from lo·b·(x−t)/a to hi·b·(x+t)/a, p falling as n falls
            ns = range(max(1, -(-lo * b * (x - t) // a)), hi * b * (x + t) // a + 1)
            d1, d2 = b * (x + t), b * (x - t)
            return [-(-n * a // d1) for n in ns], [n * a // d2 for n in ns]
        # p in [a·(x−t)/(n·b), a·(x+t)/(n·b)], p falling as n rises: walk n downwards
        ns = range(a * (x + t) // (lo * b), max(1, -(-a * (x - t) // (hi * b))) - 1, -1)
        u1, u2 = a * (x - t), a * (x + t)
        return [-(-u1 // (n * b)) for n in ns], [u2 // (n * b) for n in ns]

    def intervals(self, x: int, t: int, lo: int | None = None, hi: int | None = None) -> list[tuple[int, int]]:
        """The parameters in [lo, hi] whose grid catches a hit ``x`` (scaled frames from the anchor), merged."""
        lo = self.lo if lo is None else lo
        hi = self.hi if hi is None else hi
        x = abs(x)  # the grid is the same either side of its anchor (count-off hits)
        if x <= t:
            return [(lo, hi)]
        out: list[tuple[int, int]] = []
        for start, end in zip(*self._spans(x, t, lo, hi), strict=True):
            p1, p2 = max(lo, start), min(hi, end)
            if p1 <= p2:
                if out and p1 <= out[-1][1] + 1:
                    out[-1] = (out[-1][0], max(out[-1][1], p2))
                else:
                    out.append((p1, p2))
        return out

    def counts(self, xs: Sequence[int], t: int) -> list[int]:
        """For every parameter of the range, how many of the hits ``xs`` it catches."""
        lo, hi = self.lo, self.hi
        diff = [0] * (hi - lo + 2)
        for x in map(abs, xs):
            if x <= t:
                diff[0] += 1
                diff[-1] -= 1
                continue
            # Built by comprehensions: this is the finder's inner loop.
            starts, ends = self._spans(x, t, lo, hi)
            if not ends:
                continue
            # Clip to the range; neighbouring intervals of one hit may overlap: count each tempo once.
            ends = [min(e, hi) for e in ends]
            starts = [max(s, e + 1, lo) for s, e in zip(starts, [lo - 1, *ends[:-1]], strict=True)]
            for s, e in zip(starts, ends, strict=True):
                if s <= e:
                    diff[s - lo] += 1
                    diff[e - lo + 1] -= 1
        return list(accumulate(diff[:-1]))


def grid_distance(x: float, g: float) -> float:
    """How far ``x`` lies from the nearest multiple of ``g`` (floats: for ranking, never for the answer)."""
    r = math.fmod(abs(x), g)
    return min(r, g - r)


# -- one steady tempo -----------------------------------------------------------------------------


def fit_hits(hits: Sequence[SpotHit], tempo: Tempo, move: int, spec: FindSpec) -> tuple[HitFit, ...]:
    """Exactly where each hit falls on ``tempo``'s grid with the downbeat moved by ``move`` frames."""
    g = tempo.frames(spec.rate) / spec.subdivision
    per_bar = spec.meter.clicks_per_bar
    out = []
    for h in hits:
        x = Fraction(h.frames) - move
        n = round(x / g)
        beats = Fraction(n, spec.subdivision)
        bar = math.floor(beats / per_bar) + 1
        error = x - n * g
        out.append(HitFit(h.label, Fraction(h.frames), bar, beats - (bar - 1) * per_bar + 1, error,
                          abs(error) <= spec.tolerance))
    return tuple(out)


def find_steady(hits: Sequence[SpotHit], spec: FindSpec, top: int = 10, rank: Rank = Rank.EDITOR) -> list[Candidate]:
    """The ``top`` steady tempos (and downbeat moves), most hits caught first.

    Among candidates that catch as many hits, ``Rank.EDITOR`` puts first those
    whose caught hits all lie on the frame (within half a frame), and among
    those the frame clicks, then the roundest tempo (:func:`roundness`), the
    smaller move, the closest; the others follow by closeness.  ``Rank.ERROR``
    orders by closeness (the sum of squared errors), then frame clicks first,
    the smaller move, the slower tempo.  Tempos within 0.005 clicks per minute
    of one already listed (a frame click and its rounded clicks per minute) are
    listed once.
    """
    if not hits:
        raise TempoError("the cue has no hits to find a tempo for")
    q = math.lcm(spec.tolerance.denominator, ON_FRAME.denominator, *(Fraction(h.frames).denominator for h in hits))
    t = int(spec.tolerance * q)
    near = int(min(spec.tolerance, ON_FRAME) * q)
    xs0 = [int(Fraction(h.frames) * q) for h in hits]
    floats = [float(h.frames) for h in hits]
    ranked: list[tuple[tuple[float, ...], Tempo, int]] = []
    for family in sorted(spec.families, key=lambda f: f.value, reverse=True):  # frame clicks first
        grid = TempoGrid(family, spec, q)
        for move in range(spec.move[0], spec.move[1] + 1):
            xs = [x - move * q for x in xs0]
            counts = grid.counts(xs, t)
            on = counts if rank is Rank.ERROR or near == t else grid.counts(xs, near)
            ranked.extend(_Runs(grid, move, floats, spec, rank).best(counts, on, top))
    ranked.sort(key=lambda r: r[0])
    out: list[Candidate] = []
    seen: set[tuple[int, int]] = set()
    for _, tempo, move in ranked:
        # Tempos that print alike (12-0 at 23.976 and 119.88) are one candidate: the better ranked is kept.
        key = (round(tempo.clicks_per_minute(spec.rate) * 100), move)
        if key in seen:
            continue
        seen.add(key)
        out.append(Candidate(tempo, move, fit_hits(hits, tempo, move, spec)))
        if len(out) == top:
            break
    return out


_RUN_SAMPLES = 24

_Ranked = tuple[tuple[float, ...], Tempo, int]


class _Runs:
    """The best members of the runs of equal counts, for one family and downbeat move."""

    def __init__(self, grid: TempoGrid, move: int, floats: list[float], spec: FindSpec, rank: Rank) -> None:
        self.grid, self.move, self.floats, self.spec, self.rank = grid, move, floats, spec, rank
        self.tol = float(spec.tolerance)

    def best(self, counts: list[int], on: list[int], top: int) -> list[_Ranked]:
        """Among the highest counts, enough to fill ``top``: the closest member of each run, and under
        ``Rank.EDITOR`` the roundest member of each stretch of it whose caught hits are all on the frame
        (``on[i] == counts[i]``).  A level with very many runs (a low count) is sampled: its widest runs only."""
        if not counts:
            return []
        out: list[_Ranked] = []
        for level in sorted(set(counts), reverse=True):
            if level == 0 or len(out) >= top:
                break
            for p, end in _runs([i for i, c in enumerate(counts) if c == level]):
                out.append(self._closest(level, range(p, end + 1), on))
                if self.rank is Rank.EDITOR:
                    for a, b in _runs([i for i in range(p, end + 1) if on[i] == level]):
                        out.append(self._roundest(level, a, b, on))
        return out

    def _closeness(self, i: int) -> tuple[float, float]:
        """The squared errors of the hits caught at index i, and (for ties) minus the grid's length: slower first."""
        g = float(Tempo(self.grid.family, self.grid.lo + i).frames(self.spec.rate) / self.spec.subdivision)
        errors = [grid_distance(x - self.move, g) for x in self.floats]
        return round(sum(e * e for e in errors if e <= self.tol + 1e-9), 9), -g

    def _ranked(self, level: int, i: int, on: list[int]) -> _Ranked:
        tempo = Tempo(self.grid.family, self.grid.lo + i)
        (sse, g), frame = self._closeness(i), 0 if self.grid.family is Family.FRAME else 1
        if self.rank is Rank.ERROR:
            return (-level, sse, frame, abs(self.move), g), tempo, self.move
        if on[i] == level:  # the hits cannot tell these apart: the tempo an editor would write first
            return (-level, 0, frame, roundness(tempo), abs(self.move), sse, g), tempo, self.move
        return (-level, 1, sse, frame, abs(self.move), g), tempo, self.move

    def _closest(self, level: int, members: range, on: list[int]) -> _Ranked:
        """The member with the smallest squared errors: a long run sampled, then looked at around its best sample."""
        step = max(1, len(members) // _RUN_SAMPLES)
        best = min(members[::step], key=self._closeness)
        k = (best - members.start) // members.step
        return self._ranked(level, min(members[max(0, k - step) : k + step + 1], key=self._closeness), on)

    def _roundest(self, level: int, a: int, b: int, on: list[int]) -> _Ranked:
        """The closest of the roundest tempos of indices a..b (equally round: no rounder one is in the stretch)."""
        lo = self.grid.lo
        for step in _ROUND_STEPS[self.grid.family]:
            first = -(-(lo + a) // step) * step
            if first <= lo + b:
                return self._closest(level, range(first - lo, b + 1, step), on)
        raise AssertionError("the last step is 1: every stretch has a member")  # pragma: no cover


_MOST_RUNS = 64


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive indices as (first, last); of many, the widest (they leave the hits most room)."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    if len(runs) > _MOST_RUNS:
        runs = sorted(sorted(runs, key=lambda r: r[0] - r[1])[:_MOST_RUNS])
    return runs
