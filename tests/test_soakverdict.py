"""The scoring day's verdicts (bench/soakverdict.py, bench/soak.py's ``verdicts``): pure arithmetic, no peers."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import soak
from soakverdict import (
    NOISE_K,
    flat,
    least_squares,
    match_clicks,
    off,
    p99,
    same_as,
    sample_offsets,
)

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
SR = 48000


def xs_of(n: int, step: float) -> list[float]:
    return [k * step for k in range(n)]


@given(slope=finite, intercept=finite, n=st.integers(3, 200), step=st.floats(0.01, 10))
def test_a_line_is_found_exactly_with_no_noise(slope: float, intercept: float, n: int, step: float) -> None:
    xs = xs_of(n, step)
    fit = least_squares(xs, [intercept + slope * x for x in xs])
    scale = 1 + abs(slope) + abs(intercept)
    assert fit.slope == pytest.approx(slope, abs=1e-9 * scale)
    assert fit.intercept == pytest.approx(intercept, abs=1e-7 * scale * (1 + n * step))
    assert fit.stderr == pytest.approx(0, abs=1e-6 * scale)
    assert fit.n == n


@given(slope=finite, shift=finite, factor=st.floats(0.1, 100), seed=st.integers(0, 2**32 - 1))
def test_the_slope_and_its_noise_follow_the_units_and_ignore_an_offset(
    slope: float, shift: float, factor: float, seed: int
) -> None:
    rng = random.Random(seed)
    xs = xs_of(30, 1 / 60)
    ys = [slope * x + rng.gauss(0, 1) for x in xs]
    fit = least_squares(xs, ys)
    shifted = least_squares(xs, [y + shift for y in ys])
    scaled = least_squares(xs, [y * factor for y in ys])
    assert shifted.slope == pytest.approx(fit.slope, rel=1e-6, abs=1e-6)
    assert shifted.stderr == pytest.approx(fit.stderr, rel=1e-6, abs=1e-6)
    assert scaled.slope == pytest.approx(fit.slope * factor, rel=1e-6, abs=1e-6)
    assert scaled.stderr == pytest.approx(fit.stderr * factor, rel=1e-6, abs=1e-6)


def test_the_standard_error_is_the_textbook_one() -> None:
    # y = 1, 3, 2, 5, 4 at x = 0..4: slope 0.8, residuals sum of squares 3.6, sxx 10 → se = sqrt(3.6 / 3 / 10)
    fit = least_squares([0, 1, 2, 3, 4], [1, 3, 2, 5, 4])
    assert fit.slope == pytest.approx(0.8)
    assert fit.intercept == pytest.approx(1.4)
    assert fit.stderr == pytest.approx(math.sqrt(0.12))
    assert fit.bound == pytest.approx(NOISE_K * math.sqrt(0.12))


def test_too_few_samples_have_no_noise_bound_and_none_have_no_slope() -> None:
    assert least_squares([0, 1], [0, 5]).stderr == math.inf
    with pytest.raises(ValueError, match="two samples"):
        least_squares([1], [1])
    with pytest.raises(ValueError, match="same x"):
        least_squares([2, 2, 2], [1, 2, 3])


@given(limit=st.floats(0.1, 100), seed=st.integers(0, 2**32 - 1))
def test_a_steady_climb_well_above_the_limit_is_a_leak_and_noise_around_a_flat_line_is_not(
    limit: float, seed: int
) -> None:
    rng = random.Random(seed)
    xs = xs_of(60, 1 / 60)  # an hour of minutes
    noise = limit / 10
    flat_line = least_squares(xs, [100 + rng.gauss(0, noise) for _ in xs])
    climbing = least_squares(xs, [100 + 3 * limit * x + rng.gauss(0, noise) for x in xs])
    assert flat(flat_line, limit)
    assert not flat(climbing, limit)


@given(slope=st.floats(-10, 10), limit=st.floats(0, 10))
def test_without_noise_the_limit_is_the_line(slope: float, limit: float) -> None:
    assume(abs(slope - limit) > 1e-6)
    xs = xs_of(10, 0.1)
    assert flat(least_squares(xs, [slope * x for x in xs]), limit) == (slope < limit)


def test_the_end_is_the_start_within_twice_it_and_two_ms() -> None:
    assert same_as(0.5, 3.0)
    assert not same_as(0.5, 3.01)
    assert same_as(4.0, 10.0)
    assert not same_as(4.0, 10.5)


def test_p99_is_the_nearest_rank_of_the_sizes() -> None:
    assert p99([float(-k) for k in range(1, 101)]) == 99.0
    assert p99([3.0]) == 3.0
    assert math.isnan(p99([]))


@given(p0=st.floats(0, 3600), start=st.integers(0, 2**40), tempo=st.floats(0.2, 2.0), n=st.integers(1, 60),
       bad=st.integers(0, 59), by=st.sampled_from([-300, -2, 2, 256]))
def test_clicks_on_their_samples_are_none_off_and_one_moved_is_one_off(
    p0: float, start: int, tempo: float, n: int, bad: int, by: int
) -> None:
    positions = [p0 + 0.1 + k * tempo for k in range(n)]
    frames = [start + math.floor((p - p0) * SR + 0.5) for p in positions]
    assert sample_offsets(frames, positions, p0, SR) == [0] * n
    assert off(sample_offsets(frames, positions, p0, SR)) == 0
    assume(n >= 3)
    bad %= n
    moved = [f + (by if k == bad else 0) for k, f in enumerate(frames)]
    offsets = sample_offsets(moved, positions, p0, SR)
    assert off(offsets) == 1
    assert offsets[bad] == by


def clicks_of(bars: int, countoff: int = 1, length: float = 0.5, at: float = 10.0) -> list[tuple[float, int]]:
    """Warning clicks (75), then 4/4 with the accent (76) on beat 1 and the others (77)."""
    out = [(at - (countoff * 4 - k) * length, 75) for k in range(countoff * 4)]
    out += [(at + k * length, 76 if k % 4 == 0 else 77) for k in range(bars * 4)]
    return out


@given(first=st.integers(0, 30), heard_n=st.integers(2, 30), late=st.floats(-0.4, 0.4),
       skip=st.integers(0, 29), start=st.integers(0, 2**40))
def test_heard_clicks_are_matched_to_theirs_from_frame_distances(
    first: int, heard_n: int, late: float, skip: int, start: int
) -> None:
    clicks = clicks_of(12)
    p0 = clicks[first][0] - 0.3
    heard_clicks = clicks[first:first + heard_n]
    assume(len(heard_clicks) >= 3)
    skip = 1 + skip % (len(heard_clicks) - 2)  # one skipped inside the roll
    kept = [c for k, c in enumerate(heard_clicks) if k != skip]
    heard = [(start + math.floor((p - p0) * SR + 0.5), note) for p, note in kept]
    pairs = match_clicks(heard, clicks, heard_clicks[0][0] + late, SR)
    assert pairs == [(f, p) for (f, _), (p, _) in zip(heard, kept, strict=True)]


def test_a_note_that_is_no_click_is_left_unmatched() -> None:
    clicks = clicks_of(4)
    p0 = clicks[0][0]
    heard = [(math.floor((p - p0) * SR + 0.5), note) for p, note in clicks[:6]]
    heard.insert(3, (heard[2][0] + 100, 77))
    pairs = match_clicks(heard, clicks, clicks[0][0], SR)
    assert len(pairs) == 6
    assert (heard[3][0], clicks[3][0]) not in pairs


# -- the day's verdicts on made-up samples: what the smoke run's threshold catches -------------------------------


def day_of(minutes: float, rss: list[float], seed: int = 1) -> soak.Day:
    """A made-up day: samples every 10 s with the given service RSS, everything else as a good day has it."""
    plan = soak.Plan.of(minutes)
    rng = random.Random(seed)
    day = soak.Day(plan, 0.0)
    n = len(rss)
    for k, mb in enumerate(rss):
        minute = k * plan.seconds / 60 / (n - 1)
        day.rows.append(soak.Row(minute=minute, service_rss=mb, service_fds=30, engine_rss=130.0, engine_fds=21,
                                 clients=10, db_mb=8.0, heaps=[2.0 + rng.gauss(0, 0.03) for _ in range(10)],
                                 sync_p99=[0.5] * 8, heard=10 * k, off=0, acked=k, kept=k, mqtt_published=100 + k))
    day.sync = [[(t, rng.gauss(0, 0.3)) for t in range(0, int(plan.seconds), 2)] for _ in range(8)]
    day.passes = [soak.Pass(1, "record", 30, heard=20), soak.Pass(2, "rehearse", 60, heard=20, killed=True)]
    day.events = [(80.0, "broker back (the stage had published 50 messages)")]
    return day


PAGES = [(f"desk {i}", True) for i in range(1, 9)] + [("conductor", False), ("engineer", False)]


def verdict(day: soak.Day, what: str) -> soak.Verdict:
    (found,) = [v for v in soak.verdicts(day, PAGES, 1.0) if v.what == what]
    return found


@pytest.mark.parametrize("seed", range(5))
def test_a_short_run_fails_on_the_growth_an_hour_would_show_and_passes_flat_noise(seed: int) -> None:
    rng = random.Random(seed)
    n = 19  # a 3-minute run: a sample every 10 s
    noise = [rng.gauss(0, 0.15) for _ in range(n)]  # the service's RSS wanders this much between samples
    flat_day = day_of(3, [118 + e for e in noise], seed)
    # Twice what fails an hour (1 MB), squeezed into three minutes: 2 MB more from start to end.
    leaking = day_of(3, [118 + 2.0 * k / (n - 1) + e for k, e in enumerate(noise)], seed)
    assert verdict(flat_day, "service RSS flat").ok, verdict(flat_day, "service RSS flat").detail
    assert not verdict(leaking, "service RSS flat").ok, verdict(leaking, "service RSS flat").detail
    assert all(v.ok for v in soak.verdicts(flat_day, PAGES, 1.0)), [v for v in soak.verdicts(flat_day, PAGES, 1.0)
                                                                  if not v.ok]


def test_an_hour_fails_on_more_than_a_megabyte_an_hour() -> None:
    rng = random.Random(7)
    n = 61
    noise = [rng.gauss(0, 0.1) for _ in range(n)]
    assert verdict(day_of(60, [118 + 0.2 * k / (n - 1) + e for k, e in enumerate(noise)]), "service RSS flat").ok
    assert not verdict(day_of(60, [118 + 3.0 * k / (n - 1) + e for k, e in enumerate(noise)]),
                       "service RSS flat").ok


def test_a_lost_take_a_click_off_and_a_drifting_clock_fail_the_day() -> None:
    day = day_of(3, [118.0] * 19)
    day.rows[-1].kept -= 1
    day.passes[0].off = 1
    day.sync[0] = [(t, 0.3 if t < 150 else 5.0) for t in range(0, 180, 2)]
    failed = {v.what for v in soak.verdicts(day, PAGES, 1.0) if not v.ok}
    assert failed == {"every acknowledged take kept", "no click off its sample (the killed roll aside)",
                      "sync p99 steady: desk 1"}
