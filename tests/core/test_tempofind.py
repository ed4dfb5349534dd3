"""The tempo finder: steady tempos found again from their own beats, ranked as an editor hears them; piecewise
tempos caught with no more changes."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from stage.core.tempo import ClickMap, Meter, TempoChange
from stage.core.tempochanges import find_changes
from stage.core.tempofind import Family, FindSpec, Rank, SpotHit, Tempo, TempoGrid, find_steady, fit_hits, roundness
from stage.core.timecode import RATES

F = Fraction
RATE_NAMES = ["23.976", "24", "25", "29.97", "29.97df", "30"]
FOUR = Meter.parse("4/4")


@st.composite
def steady_cues(draw: st.DrawFn) -> tuple[str, int, int, list[int], Fraction, Fraction]:
    """A frame click in eighths, a downbeat moved by whole frames, and hits on its beats that fall on frames."""
    rate = draw(st.sampled_from(RATE_NAMES))
    k = draw(st.integers(40, 240))  # 5 to 30 frames a click
    period = k // math.gcd(k, 8)  # frames between beats that fall on a frame
    move = draw(st.integers(-6, 6))
    js = draw(st.lists(st.integers(1, 40), min_size=1, max_size=10, unique=True))
    j = js[0]
    beats = sorted({*js, j + 1})  # two neighbours: no coarser grid catches them all
    hits = [move + b * period for b in beats]
    cpm = 480 * RATES[rate].fps / k
    # The hits cannot tell a tempo from its multiples and simple ratios (2:1, 9:8 …): the range excludes them.
    lowest = max(F(10), cpm * F(draw(st.integers(92, 100)), 100))
    highest = min(F(600), cpm * F(draw(st.integers(100, 108)), 100))
    return rate, k, move, hits, lowest, highest


@settings(max_examples=60, deadline=None)
@given(steady_cues(), st.sampled_from([F(1, 2), F(1), F(1, 4)]))
def test_hits_on_a_frame_click_find_it_first_with_no_error_by_error(
    cue: tuple[str, int, int, list[int], Fraction, Fraction], tolerance: Fraction
) -> None:
    rate, k, move, frames, lowest, highest = cue
    hits = [SpotHit(f"h{i}", F(x)) for i, x in enumerate(frames)]
    spec = FindSpec(RATES[rate], FOUR, lowest, highest, tolerance, move=(-6, 6))
    best = find_steady(hits, spec, top=3, rank=Rank.ERROR)[0]
    assert best.tempo == Tempo(Family.FRAME, k)
    assert all(f.error == 0 and f.caught for f in best.fits)
    # the downbeat it found puts the hits on beats: the generator's, or a whole number of beats away
    assert (best.move - move) % (k // math.gcd(k, 8)) == 0


def on_the_frame(frames: list[int], k: int, move: int) -> bool:
    """Every hit within half a frame of a click of frame click k (eighths) counted from ``move``: by brute force."""
    click = F(k, 8)
    return all(abs((x - move) - round((x - move) / click) * click) <= F(1, 2) for x in frames)


@st.composite
def rounded_cues(draw: st.DrawFn) -> tuple[str, int, list[int], Fraction, Fraction]:
    """A frame click, a downbeat moved by whole frames, and hits on its beats each rounded to the nearest frame:
    two neighbouring beats and one far out, as spotting notes of a cue would have."""
    rate = draw(st.sampled_from(RATE_NAMES))
    k = draw(st.integers(40, 240))
    move = draw(st.integers(-6, 6))
    beats = draw(st.lists(st.integers(1, 31), min_size=1, max_size=6, unique=True))
    beats = sorted({*beats, beats[0] + 1, draw(st.integers(32, 64))})
    hits = [move + math.floor(b * F(k, 8) + F(1, 2)) for b in beats]
    cpm = 480 * RATES[rate].fps / k
    lowest = max(F(10), cpm * F(draw(st.integers(92, 100)), 100))
    highest = min(F(600), cpm * F(draw(st.integers(100, 108)), 100))
    return rate, k, hits, lowest, highest


@settings(max_examples=60, deadline=None)
@given(rounded_cues(), st.sampled_from([F(1, 2), F(1)]))
def test_hits_rounded_to_whole_frames_rank_their_frame_click_first(
    cue: tuple[str, int, list[int], Fraction, Fraction], tolerance: Fraction
) -> None:
    """Quantization noise (errors up to half a frame) does not let a clicks-per-minute tempo or a finer frame
    click win: the generating frame click is first wherever it is the only one the hits put on the frame."""
    rate, k, frames, lowest, highest = cue
    spec = FindSpec(RATES[rate], FOUR, lowest, highest, tolerance, move=(-6, 6))
    lo, hi = spec.bounds(Family.FRAME)
    # A rounder frame click the hits also put on the frame would rightly come first: such cues are not this case.
    assume(not any(on_the_frame(frames, other, mv) for other in range(lo, hi + 1) if other != k
                   for mv in range(-6, 7)))
    hits = [SpotHit(f"h{i}", F(x)) for i, x in enumerate(frames)]
    best = find_steady(hits, spec, top=3)[0]
    assert best.tempo == Tempo(Family.FRAME, k)
    assert best.caught == len(hits)
    assert best.on_frame


def test_among_tempos_the_hits_cannot_tell_apart_the_round_one_is_first() -> None:
    rate = RATES["23.976"]
    # On 12-0 (119.88 clicks a minute) at 23.976, every hit on its frame: 119.88 prints alike and is listed once.
    hits = [SpotHit(str(b), F(12 * b)) for b in (3, 7, 10, 13, 22, 29)]
    spec = FindSpec(rate, FOUR, F(100), F(140))
    found = find_steady(hits, spec, top=3)
    assert [c.tempo.text for c in found[:2]] == ["12-0", "120"]
    assert [c.on_frame for c in found[:2]] == [True, True]
    assert found[1].worst == F(12, 1001) * 29  # 120 a minute drifts 0.012 f a click: 29 clicks, 0.348 f
    # 120 clicks a minute at 29.97 is 14.985 frames a click: hits rounded to whole frames.
    rate = RATES["29.97"]
    hits = [SpotHit(str(b), F(round(b * rate.fps / 2))) for b in (2, 5, 9, 14, 21, 30)]
    spec = FindSpec(rate, FOUR, F(110), F(130), families=frozenset({Family.BPM}))
    editor = find_steady(hits, spec, top=3)
    closest = find_steady(hits, spec, top=3, rank=Rank.ERROR)
    assert editor[0].tempo.text == "120"
    assert editor[0].on_frame
    assert editor[0].caught == 6
    # the old ranking lets the rounding pick: 119.88 (15 frames a click) fits the rounded frames closer
    assert closest[0].tempo.text == "119.88"
    assert sum(f.error**2 for f in closest[0].fits) < sum(f.error**2 for f in editor[0].fits)


def test_roundness_orders_as_editors_write_tempos() -> None:
    frame = [Tempo(Family.FRAME, v) for v in (96, 100, 98, 97)]  # 12-0, 12-4, 12-2, 12-1
    assert [roundness(t) for t in frame] == [0, 1, 2, 3]
    bpm = [Tempo(Family.BPM, v) for v in (12000, 12050, 12025, 12010, 12005, 11997)]
    assert [roundness(t) for t in bpm] == [0, 1, 2, 3, 4, 5]


def test_bar_and_beat_agree_with_the_click_map() -> None:
    rate = RATES["23.976"]
    tempo = Tempo(Family.FRAME, 99)  # 12-3
    spec = FindSpec(rate, Meter.parse("3/4"), subdivision=2)
    clicks = ClickMap(tempo.seconds(rate), spec.meter, bars=20, countoff=2)
    hits = [SpotHit(str(x), F(x)) for x in (-30, 0, 37, 200, 311, 500)]
    for fit in fit_hits(hits, tempo, 0, spec):
        bar, beat = clicks.position_at((fit.frames - fit.error) / rate.fps)
        assert (fit.bar, fit.beat) == (bar, beat)
        assert abs(fit.error) <= tempo.frames(rate) / 4


def test_ranked_by_hits_caught_then_closeness() -> None:
    rate = RATES["24"]
    # 12-0 (120) catches all four exactly; the finder lists it first, and tempos that miss one after it
    hits = [SpotHit(str(x), F(x)) for x in (24, 60, 96, 132)]
    found = find_steady(hits, FindSpec(rate, FOUR, F(100), F(140)), top=5)
    assert found[0].tempo.text == "12-0"
    assert found[0].caught == 4
    assert [c.caught for c in found] == sorted((c.caught for c in found), reverse=True)
    only_bpm = find_steady(hits, FindSpec(rate, FOUR, F(100), F(140), families=frozenset({Family.BPM})))
    assert only_bpm[0].tempo.text == "120"


@st.composite
def piecewise_cues(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]], list[int]]:
    """Segments of frame-click tempos changing at bar lines, hits on their beats (in the frame the beat falls in)."""
    rate = draw(st.sampled_from(["23.976", "24", "25"]))
    n = draw(st.integers(2, 3))
    segments: list[tuple[int, int]] = []
    hits: list[int] = []
    bar, anchor = 1, F(0)
    for _ in range(n):
        k = draw(st.integers(72, 150))  # 9 to 18.75 frames: inside 40-240 at these rates
        bars = draw(st.integers(3, 7))
        beats = draw(st.lists(st.integers(0, 4 * bars - 1), min_size=2, max_size=4, unique=True))
        hits.extend(math.floor(anchor + b * F(k, 8)) for b in beats)
        segments.append((bar, k))
        bar += bars
        anchor += 4 * bars * F(k, 8)
    return rate, segments, sorted(set(hits))


@settings(max_examples=12, deadline=None)
@given(piecewise_cues())
def test_hits_on_a_piecewise_tempo_are_all_caught_with_no_more_changes(
    cue: tuple[str, list[tuple[int, int]], list[int]],
) -> None:
    rate_name, segments, frames = cue
    rate = RATES[rate_name]
    hits = [SpotHit(f"h{i}", F(x)) for i, x in enumerate(frames)]
    plan = find_changes(hits, FindSpec(rate, FOUR, tolerance=F(1)))
    assert plan is not None
    assert plan.changes <= len(segments) - 1
    # Checked on the click map the sheet would build, not with the finder's own sums.
    first, *rest = plan.segments
    clicks = ClickMap(first.tempo.seconds(rate), FOUR, [TempoChange(s.bar, 1, s.tempo.seconds(rate)) for s in rest],
                      bars=max(s.bar for s in plan.segments) + 200)
    times = [c.time * rate.fps for c in clicks.clicks]
    for x in frames:
        assert min(abs(t - x) for t in times) <= 1, f"hit at frame {x} is not within a frame of a click"


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(RATE_NAMES),
    st.lists(st.integers(-30, 2000), min_size=1, max_size=8),
    st.sampled_from([F(0), F(1, 4), F(1, 2), F(1), F(5, 2)]),
    st.integers(1, 4),
    st.integers(40, 200),
)
def test_the_counts_are_the_hits_each_tempo_catches_exactly(
    rate_name: str, frames: list[int], tolerance: Fraction, subdivision: int, lowest: int
) -> None:
    """The interval counting agrees, tempo by tempo, with measuring every hit on that tempo's grid."""
    rate = RATES[rate_name]
    spec = FindSpec(rate, FOUR, F(lowest), F(lowest + 1), tolerance, subdivision)
    hits = [SpotHit(str(x), F(x)) for x in frames]
    q = tolerance.denominator
    for family in Family:
        grid = TempoGrid(family, spec, q)
        counts = grid.counts([x * q for x in frames], int(tolerance * q))
        for i, count in enumerate(counts):
            fits = fit_hits(hits, Tempo(family, grid.lo + i), 0, spec)
            assert count == sum(1 for f in fits if f.caught), (family, grid.lo + i)


@st.composite
def ramped_cues(draw: st.DrawFn) -> tuple[str, list[TempoChange], list[int]]:
    """A frame click that ramps (an even number of clicks) into another at a bar line; hits on beats outside the
    ramp, each in the frame its beat falls in."""
    rate = RATES[draw(st.sampled_from(["23.976", "24", "25"]))]
    a, b = draw(st.integers(72, 150)), draw(st.integers(72, 150))
    change = draw(st.integers(4, 7))
    ramp = draw(st.sampled_from([2, 4, 6, 8]))
    first = F(a, 8) / rate.fps
    changes = [TempoChange(change, 1, F(b, 8) / rate.fps, ramp=ramp)]
    clicks = ClickMap(first, FOUR, changes, bars=change + 5)
    ramp_start = 4 * (change - 1) - ramp  # index of the ramp's first click
    before = draw(st.lists(st.integers(0, ramp_start - 1), min_size=2, max_size=4, unique=True))
    after = draw(st.lists(st.integers(4 * (change - 1), 4 * (change + 4) - 1), min_size=2, max_size=4, unique=True))
    hits = sorted({math.floor(clicks.clicks[i].time * rate.fps) for i in before + after})
    return rate.name, changes, hits


@settings(max_examples=8, deadline=None)
@given(ramped_cues())
def test_hits_around_a_ramp_are_caught_with_no_more_changes(
    cue: tuple[str, list[TempoChange], list[int]],
) -> None:
    rate_name, changes, frames = cue
    rate = RATES[rate_name]
    hits = [SpotHit(f"h{i}", F(x)) for i, x in enumerate(frames)]
    plan = find_changes(hits, FindSpec(rate, FOUR, tolerance=F(1)), ramps=8)
    assert plan is not None
    assert plan.changes <= len(changes)
    first, *rest = plan.segments
    clicks = ClickMap(first.tempo.seconds(rate), FOUR,
                      [TempoChange(s.bar, 1, s.tempo.seconds(rate), ramp=s.ramp) for s in rest], bars=60)
    times = [c.time * rate.fps for c in clicks.clicks]
    for x in frames:
        assert min(abs(t - x) for t in times) <= 1, f"hit at frame {x} is not within a frame of a click"
    assert all(f.caught for f in plan.fits)


def test_a_ramp_is_proposed_where_a_step_cannot_catch_the_hits() -> None:
    rate = RATES["24"]
    # 12-0 for 4 bars, then a 4-click accel. into 10-0 at bar 5: the bar line comes 4 frames early
    clicks = ClickMap(F(1, 2), FOUR, [TempoChange(5, 1, F(10, 24), ramp=4)], bars=9)
    frames = [int(clicks.time_of(bar, beat) * 24) for bar, beat in ((1, 3), (2, 2), (3, 1), (5, 1), (6, 3), (8, 2))]
    hits = [SpotHit(str(x), F(x)) for x in frames]
    spec = FindSpec(rate, FOUR, F(100), F(160), tolerance=F(0), families=frozenset({Family.FRAME}))
    plan = find_changes(hits, spec, ramps=4)
    assert plan is not None
    assert [(s.bar, s.tempo.text, s.ramp) for s in plan.segments] == [(1, "12-0", 0), (5, "10-0", 4)]
    assert all(f.error == 0 for f in plan.fits)
