"""The fewest tempo changes, at bar lines, that put every hit of a cue on a beat.

When no steady tempo (:func:`stage.core.tempofind.find_steady`) catches every
hit, :func:`find_changes` looks for a tempo map of steady segments, each
starting on a bar line, the meter kept.  From a bar line, the tempos of a
family that catch the next hits are the intersection of each hit's intervals
(:class:`~stage.core.tempofind.TempoGrid`), so one pass tells how far every
tempo reaches; the segment then ends on a bar line before the first hit it
misses, and the next one starts there.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate

from stage.core.tempo import ClickMap, TempoChange
from stage.core.tempofind import Family, FindSpec, HitFit, SpotHit, Tempo, TempoGrid, grid_distance
from stage.errors import TempoError

__all__ = ["ChangePlan", "Segment", "find_changes", "fit_plan"]


@dataclass(frozen=True)
class Segment:
    """A steady stretch from ``bar`` on; ``ramp``: clicks before ``bar`` that ramp into its tempo (0: a step)."""

    bar: int
    tempo: Tempo
    ramp: int = 0


@dataclass(frozen=True)
class ChangePlan:
    """A tempo map (first tempo, then a change at each later segment's bar) and how the hits fall on it."""

    segments: tuple[Segment, ...]
    fits: tuple[HitFit, ...]

    @property
    def changes(self) -> int:
        """How many tempo changes it takes."""
        return len(self.segments) - 1


@dataclass(frozen=True)
class _State:
    """Where a segment starts: its bar, and the anchor its grid counts from.

    After a step change the anchor is the bar line.  After a ramp of n clicks
    from length a into b, the bar line falls at ``anchor + shift·b`` with
    ``shift = n/2`` and ``anchor`` the unramped bar line less ``a·n/2``: the
    new tempo's grid is then every multiple of b from the anchor, whatever b
    is (n is even), so the same interval search finds it.
    """

    bar: int
    anchor: Fraction  # frames from the written start
    next_hit: int  # the first hit not yet placed in a segment
    segments: tuple[Segment, ...]
    sse: float  # squared errors (frames²) of the hits placed so far
    shift: int = 0  # clicks of the new tempo from the anchor to the bar line
    ramp: int = 0  # the ramp into this segment (0: a step change)

    def line(self, tempo: Tempo, spec: FindSpec) -> Fraction:
        """The time of the segment's bar line at ``tempo``."""
        return self.anchor + self.shift * tempo.frames(spec.rate)


def _reach(
    hits: Sequence[SpotHit], state: _State, family: Family, spec: FindSpec
) -> list[list[tuple[int, int]]]:
    """``sets[j]``: the family's tempos that, from the state's bar line, catch its next ``j`` hits (j ≥ 1)."""
    current = [spec.bounds(family)]
    sets: list[list[tuple[int, int]]] = [current]
    for h in hits[state.next_hit :]:
        x = Fraction(h.frames) - state.anchor
        q = math.lcm(x.denominator, spec.tolerance.denominator)
        scaled = TempoGrid(family, spec, q)
        xq, tq = int(x * q), int(spec.tolerance * q)
        # Within each interval still open: a few grid points each, where the whole range would have thousands.
        current = [part for lo, hi in current for part in scaled.intervals(xq, tq, lo, hi)]
        if not current:
            break
        sets.append(current)
    return sets


def _representatives(intervals: list[tuple[int, int]], most: int) -> list[int]:
    out: list[int] = []
    for lo, hi in intervals:
        if hi - lo + 1 <= most:
            out.extend(range(lo, hi + 1))
        else:
            out.extend(sorted({lo + (hi - lo) * i // (most - 1) for i in range(most)}))
    return out


def find_changes(
    hits: Sequence[SpotHit],
    spec: FindSpec,
    *,
    most_changes: int = 16,
    beam: int = 48,
    most_states: int = 400,
    per_interval: int = 8,
    bars_back: int = 16,
    ramps: int = 0,
) -> ChangePlan | None:
    """The fewest tempo changes, at bar lines, that catch every hit within the tolerance (None: none found).

    A breadth-first search over segments: from a bar line, every tempo that
    catches the next hits is found by intersecting their intervals; the
    segment may end at any bar line before the first hit it misses (up to
    ``bars_back`` of them), and the next segment starts there.  Each round
    keeps, for every count of hits placed, the ``beam`` states whose hits
    fall closest (``most_states`` in all); the first round that places every
    hit gives the plan with the fewest changes found, the closest of its
    plans.  The downbeat stays where the sheet writes it.

    With ``ramps`` (an even number of clicks, 2 or more) a change may also be
    an accel. or rit. over 2, 4, … ``ramps`` clicks before its bar, where no
    hit falls in those clicks.
    """
    if not hits:
        raise TempoError("the cue has no hits to find a tempo for")
    hits = sorted(hits, key=lambda h: h.frames)
    times = [Fraction(h.frames) for h in hits]
    floats = [float(t) for t in times]
    per_bar = spec.meter.clicks_per_bar
    layer = [_State(1, Fraction(0), 0, (), 0.0)]
    for _ in range(most_changes + 1):
        finished: list[tuple[float, tuple[Segment, ...]]] = []
        successors: dict[tuple[int, float, int, int], _Next] = {}
        for state in layer:
            for family in spec.families:
                sets = _reach(hits, state, family, spec)
                reached = len(sets) - 1
                if reached == len(hits) - state.next_hit:
                    for p in _representatives(sets[-1], per_interval):
                        tempo = Tempo(family, p)
                        if not _clear_of_ramp(state, tempo, floats, spec):
                            continue
                        sse = state.sse + _sse(hits[state.next_hit :], state.anchor, tempo, spec)
                        finished.append((sse, (*state.segments, Segment(state.bar, tempo, state.ramp))))
                    continue
                _successors(floats, state, family, sets, spec, per_bar, per_interval, bars_back, ramps, successors)
        finished.sort(key=lambda f: f[0])
        for _, segments in finished:
            # Measured again on the click map the sheet would build: the answer stands on that alone.
            fits = fit_plan(hits, segments, spec)
            if all(f.caught for f in fits):
                return ChangePlan(segments, fits)
        kept = _prune(list(successors.values()), beam, most_states)
        layer = [v for n in kept for v in n.states(times, spec, per_bar, ramps)]
        if not layer:
            return None
    return None


@dataclass(frozen=True)
class _Next:
    """A segment's end before its exact time is worked out (most are pruned before they need it).

    ``next_hit`` is the first hit after the segment when the change is a step
    (None: only a ramp, which brings the bar line earlier, can end it here);
    ``running[j]`` the squared errors with the segment's first j hits placed.
    """

    parent: _State
    tempo: Tempo
    bars: int  # bars of the tempo from the parent's bar line
    next_hit: int | None
    running: tuple[float, ...]
    rank_hit: int  # hits placed, for pruning
    sse: float

    def states(self, times: list[Fraction], spec: FindSpec, per_bar: int, ramps: int) -> list[_State]:
        """The states at the segment's end: a step change, and each ramp (up to ``ramps`` clicks) that fits."""
        length = self.tempo.frames(spec.rate)
        line = self.parent.line(self.tempo, spec) + self.bars * per_bar * length
        first = self.parent.next_hit
        segments = (*self.parent.segments, Segment(self.parent.bar, self.tempo, self.parent.ramp))
        bar = self.parent.bar + self.bars
        out = []
        if self.next_hit is not None:
            k = bisect.bisect_left(times, line, lo=first)
            if first < k <= first + len(self.running) - 1:
                out.append(_State(bar, line, k, segments, self.running[k - first]))
        for n in range(2, min(ramps, self.bars * per_bar) + 1, 2):
            # The ramp's clicks end the segment: the hits before its first click are the segment's.
            k = bisect.bisect_left(times, line - n * length, lo=first)
            if first < k <= first + len(self.running) - 1:
                out.append(_State(bar, line - length * n / 2, k, segments, self.running[k - first], n // 2, n))
        return out


def _successors(
    floats: list[float],
    state: _State,
    family: Family,
    sets: list[list[tuple[int, int]]],
    spec: FindSpec,
    per_bar: int,
    per_interval: int,
    bars_back: int,
    ramps: int,
    out: dict[tuple[int, float, int, int], _Next],
) -> None:
    """Every next state: a tempo that catches the next hits, changing at a bar line before the first it misses.

    With ramps, a bar line a little after that hit may do too: an accel. brings it earlier.
    """
    reached = len(sets) - 1
    if reached == 0:
        return
    first = state.next_hit
    limit = floats[first + reached] + float(spec.tolerance)
    a = float(state.anchor)
    for p in _representatives(sets[reached], per_interval):
        tempo = Tempo(family, p)
        if not _clear_of_ramp(state, tempo, floats, spec):
            continue
        click = float(tempo.frames(spec.rate))
        bar_frames = click * per_bar
        g = click / spec.subdivision
        line = a + state.shift * click
        # squared errors of the hits this tempo places, summed hit by hit
        running = tuple(accumulate((grid_distance(t - a, g) ** 2 for t in floats[first : first + reached]),
                                   initial=state.sse))
        # From the latest bar line at or before the missed hit (plus tolerance: it may land on the new
        # downbeat; plus what a ramp can take off) back to the first that still places a hit.
        last = math.floor((limit + click * ramps / 2 - line) / bar_frames)
        lowest = max(1, math.floor((floats[first] - line) / bar_frames), last - bars_back + 1)
        for bars in range(last, lowest - 1, -1):
            anchor = line + bars * bar_frames
            k = bisect.bisect_left(floats, anchor, lo=first)
            step = first < k <= first + reached
            if not step:
                # only a ramp can end here: its first click must come after a placed hit and before the miss
                k = bisect.bisect_left(floats, anchor - min(ramps, bars * per_bar) * click, lo=first)
                if not (ramps and first < k <= first + reached):
                    continue
            key = (state.bar + bars, round(anchor, 9), k, state.ramp)
            if key not in out:
                out[key] = _Next(state, tempo, bars, k if step else None, running, k, running[k - first])


def _clear_of_ramp(state: _State, tempo: Tempo, floats: list[float], spec: FindSpec) -> bool:
    """After a rit. the bar line comes later: the segment's first hit must not fall before it, in the ramp."""
    if not state.ramp or state.next_hit >= len(floats):
        return True
    line = float(state.line(tempo, spec))
    return floats[state.next_hit] >= line - float(spec.tolerance)


def _sse(hits: Sequence[SpotHit], anchor: Fraction, tempo: Tempo, spec: FindSpec) -> float:
    g = float(tempo.frames(spec.rate) / spec.subdivision)
    a = float(anchor)
    return sum(grid_distance(float(h.frames) - a, g) ** 2 for h in hits)


def _prune(states: list[_Next], beam: int, most: int) -> list[_Next]:
    """The ``beam`` closest states for each count of hits placed, so that slow starters are not crowded out,
    and at most ``most`` in all: taken rank by rank across the counts, the furthest first."""
    groups: dict[int, list[_Next]] = {}
    for s in states:
        groups.setdefault(s.rank_hit, []).append(s)
    ranked = [sorted(groups[k], key=lambda s: (s.sse, -s.bars))[:beam] for k in sorted(groups, reverse=True)]
    out: list[_Next] = []
    for rank in range(beam):
        for group in ranked:
            if rank < len(group):
                out.append(group[rank])
                if len(out) == most:
                    return out
    return out


def fit_plan(hits: Sequence[SpotHit], segments: Sequence[Segment], spec: FindSpec) -> tuple[HitFit, ...]:
    """Exactly where each hit falls on the click map the sheet would build (meter fixed, changes at bar lines)."""
    rate, per_bar, s = spec.rate, spec.meter.clicks_per_bar, spec.subdivision
    first, *rest = segments
    changes = [TempoChange(seg.bar, 1, seg.tempo.seconds(rate), ramp=seg.ramp) for seg in rest]
    # Enough bars to pass the last hit even at the fastest of the tempos.
    fastest = min(seg.tempo.frames(rate) for seg in segments) * per_bar
    latest = max((Fraction(h.frames) for h in hits), default=Fraction(0))
    bars = max(seg.bar for seg in segments) + max(0, math.ceil(latest / fastest)) + 2
    clicks = ClickMap(first.tempo.seconds(rate), spec.meter, changes, bars=bars)
    out = []
    for h in sorted(hits, key=lambda h: h.frames):
        time = Fraction(h.frames) / rate.fps
        bar, beat = clicks.position_at(time)
        beat = Fraction(round((beat - 1) * s), s) + 1
        if beat >= per_bar + 1:  # rounded up onto the next bar's downbeat
            bar, beat = bar + 1, beat - per_bar
        error = (time - clicks.time_of(bar, beat)) * rate.fps
        out.append(HitFit(h.label, Fraction(h.frames), bar, beat, error, abs(error) <= spec.tolerance))
    return tuple(out)
