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
from itertools import accumulate, pairwise

from stage.core.tempofind import Family, FindSpec, HitFit, SpotHit, Tempo, TempoGrid, grid_distance
from stage.errors import TempoError

__all__ = ["ChangePlan", "Segment", "find_changes", "fit_plan"]


@dataclass(frozen=True)
class Segment:
    """A steady stretch from ``bar`` on."""

    bar: int
    tempo: Tempo


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
    bar: int  # the bar line the current segment starts on
    anchor: Fraction  # its time, frames from the written start
    next_hit: int  # the first hit not yet placed in a segment
    segments: tuple[Segment, ...]
    sse: float  # squared errors (frames²) of the hits placed so far


def _reach(
    hits: Sequence[SpotHit], state: _State, family: Family, spec: FindSpec
) -> list[list[tuple[int, int]]]:
    """``sets[j]``: the family's tempos that, from the state's bar line, catch its next ``j`` hits (j ≥ 1)."""
    grid = TempoGrid(family, spec, 1)
    current = [(grid.lo, grid.hi)]
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
) -> ChangePlan | None:
    """The fewest tempo changes, at bar lines, that catch every hit within the tolerance (None: none found).

    A breadth-first search over segments: from a bar line, every tempo that
    catches the next hits is found by intersecting their intervals; the
    segment may end at any bar line before the first hit it misses (up to
    ``bars_back`` of them), and the next segment starts there.  Each round
    keeps, for every count of hits placed, the ``beam`` states whose hits
    fall closest (``most_states`` in all); the first round that places every hit gives the plan with
    the fewest changes found, the closest of its plans.  The downbeat stays
    where the sheet writes it.
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
        successors: dict[tuple[int, float, int], _Next] = {}
        for state in layer:
            for family in spec.families:
                sets = _reach(hits, state, family, spec)
                reached = len(sets) - 1
                if reached == len(hits) - state.next_hit:
                    for p in _representatives(sets[-1], per_interval):
                        tempo = Tempo(family, p)
                        sse = state.sse + _sse(hits[state.next_hit :], state.anchor, tempo, spec)
                        finished.append((sse, (*state.segments, Segment(state.bar, tempo))))
                    continue
                _successors(floats, state, family, sets, spec, per_bar, per_interval, bars_back, successors)
        if finished:
            finished.sort(key=lambda f: f[0])
            segments = finished[0][1]
            return ChangePlan(segments, fit_plan(hits, segments, spec))
        layer = [n.state(times, spec, per_bar) for n in _prune(list(successors.values()), beam, most_states)]
        if not layer:
            return None
    return None


@dataclass(frozen=True)
class _Next:
    """A next state before its exact anchor is worked out (most are pruned before they need it)."""

    parent: _State
    tempo: Tempo
    bars: int  # bars of the tempo from the parent's bar line
    next_hit: int
    sse: float

    def state(self, times: list[Fraction], spec: FindSpec, per_bar: int) -> _State:
        anchor = self.parent.anchor + self.bars * per_bar * self.tempo.frames(spec.rate)
        # The float search placed the hits; the exact anchor has the last word on a hit right at the bar line.
        k = self.next_hit
        while k > self.parent.next_hit and times[k - 1] >= anchor:
            k -= 1
        while k < len(times) and times[k] < anchor:
            k += 1
        segments = (*self.parent.segments, Segment(self.parent.bar, self.tempo))
        return _State(self.parent.bar + self.bars, anchor, k, segments, self.sse)


def _successors(
    floats: list[float],
    state: _State,
    family: Family,
    sets: list[list[tuple[int, int]]],
    spec: FindSpec,
    per_bar: int,
    per_interval: int,
    bars_back: int,
    out: dict[tuple[int, float, int], _Next],
) -> None:
    """Every next state: a tempo that catches the next hits, changing at a bar line before the first it misses."""
    reached = len(sets) - 1
    if reached == 0:
        return
    first = state.next_hit
    limit = floats[first + reached] + float(spec.tolerance)
    a = float(state.anchor)
    for p in _representatives(sets[reached], per_interval):
        tempo = Tempo(family, p)
        bar_frames = float(tempo.frames(spec.rate)) * per_bar
        g = bar_frames / per_bar / spec.subdivision
        # squared errors of the hits this tempo places, summed hit by hit
        running = list(accumulate((grid_distance(t - a, g) ** 2 for t in floats[first : first + reached]),
                                  initial=state.sse))
        # From the latest bar line at or before the missed hit (plus tolerance: it may land on the new
        # downbeat) back to the first that still places a hit.
        last = math.floor((limit - a) / bar_frames)
        lowest = max(1, math.floor((floats[first] - a) / bar_frames), last - bars_back + 1)
        for bars in range(last, lowest - 1, -1):
            anchor = a + bars * bar_frames
            k = bisect.bisect_left(floats, anchor, lo=first)
            if k == first or k > first + reached:
                continue  # a segment must place a hit, and only hits its tempo catches
            key = (state.bar + bars, round(anchor, 9), k)
            if key not in out:
                out[key] = _Next(state, tempo, bars, k, running[k - first])


def _sse(hits: Sequence[SpotHit], anchor: Fraction, tempo: Tempo, spec: FindSpec) -> float:
    g = float(tempo.frames(spec.rate) / spec.subdivision)
    a = float(anchor)
    return sum(grid_distance(float(h.frames) - a, g) ** 2 for h in hits)


def _prune(states: list[_Next], beam: int, most: int) -> list[_Next]:
    """The ``beam`` closest states for each count of hits placed, so that slow starters are not crowded out,
    and at most ``most`` in all: taken rank by rank across the counts, the furthest first."""
    groups: dict[int, list[_Next]] = {}
    for s in states:
        groups.setdefault(s.next_hit, []).append(s)
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
    """Exactly where each hit falls on a piecewise-steady tempo map (meter fixed, changes at bar lines)."""
    per_bar = spec.meter.clicks_per_bar
    anchors: list[Fraction] = [Fraction(0)]
    for a, b in pairwise(segments):
        anchors.append(anchors[-1] + (b.bar - a.bar) * per_bar * a.tempo.frames(spec.rate))
    out = []
    for h in sorted(hits, key=lambda h: h.frames):
        i = max((k for k, a in enumerate(anchors) if a <= h.frames), default=0)
        seg, anchor = segments[i], anchors[i]
        g = seg.tempo.frames(spec.rate) / spec.subdivision
        x = Fraction(h.frames) - anchor
        n = round(x / g)
        beats = Fraction(n, spec.subdivision)
        bar_offset = math.floor(beats / per_bar)
        bar = seg.bar + bar_offset
        error = x - n * g
        out.append(HitFit(h.label, Fraction(h.frames), bar, beats - bar_offset * per_bar + 1, error,
                          abs(error) <= spec.tolerance))
    return tuple(out)
