"""How long the tempo finder takes for a 5-minute cue with 40 hits over the full range of tempos.

Each run builds a different cue at 23.976 fps (seeded): for the steady case, 40
hits on the beats of one frame click (each on the frame nearest its beat); for
the changes case, 40 hits on a tempo map of four frame clicks changing at bar
lines.  The finder searches 10-600 clicks per minute, frame clicks and
clicks per minute, within half a frame.  Prints median, p90 and max per case, and
how many changes were proposed against how many the cue was made with.
Goal: steady under 1 s, with changes a few seconds.

    python bench/tempo.py [--runs N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from fractions import Fraction

from stage.core.tempo import Meter
from stage.core.tempochanges import find_changes
from stage.core.tempofind import FindSpec, SpotHit, find_steady
from stage.core.timecode import RATES

RATE = RATES["23.976"]
FOUR = Meter.parse("4/4")
SECONDS = 300
HITS = 40


def steady_hits(rng: random.Random) -> list[SpotHit]:
    k = rng.randint(64, 160)  # 8 to 20 frames a click
    beats_in_cue = int(SECONDS * RATE.fps / Fraction(k, 8))
    beats = sorted(rng.sample(range(1, beats_in_cue), HITS))
    return [SpotHit(f"b{b}", Fraction(round(b * Fraction(k, 8)))) for b in beats]


def piecewise_hits(rng: random.Random, segments: int = 4) -> list[SpotHit]:
    end = SECONDS * RATE.fps
    anchor, hits = Fraction(0), []
    for s in range(segments):
        k = rng.randint(64, 160)
        length = Fraction(k, 8)
        bars = int(end / segments / (4 * length))
        beats = rng.sample(range(4 * bars), HITS // segments)
        hits += [SpotHit(f"s{s}b{b}", Fraction(round(anchor + b * length))) for b in beats]
        anchor += 4 * bars * length
    return sorted(hits, key=lambda h: h.frames)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def row(name: str, values: list[float]) -> None:
    print(f"{name:<26}{statistics.median(values) * 1000:>10.0f}{p90(values) * 1000:>9.0f}{max(values) * 1000:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    spec = FindSpec(RATE, FOUR, Fraction(10), Fraction(600), Fraction(1, 2))
    moved = FindSpec(RATE, FOUR, Fraction(10), Fraction(600), Fraction(1, 2), move=(-6, 6))
    halves = FindSpec(RATE, FOUR, Fraction(10), Fraction(600), Fraction(1, 2), subdivision=2)
    cases: dict[str, list[float]] = {"steady": [], "steady, downbeat ±6 f": [], "steady, on halves": [],
                                     "changes (4 tempos)": []}
    changes_found: list[int] = []
    first_caught: list[int] = []
    for run in range(args.runs):
        rng = random.Random(run)
        hits = steady_hits(rng)
        for name, s in (("steady", spec), ("steady, downbeat ±6 f", moved), ("steady, on halves", halves)):
            t0 = time.perf_counter()
            found = find_steady(hits, s)
            cases[name].append(time.perf_counter() - t0)
            if s is spec:
                first_caught.append(found[0].caught)
        hits = piecewise_hits(rng)
        t0 = time.perf_counter()
        plan = find_changes(hits, spec)
        cases["changes (4 tempos)"].append(time.perf_counter() - t0)
        changes_found.append(-1 if plan is None else plan.changes)
    print(f"{SECONDS} s cue at {RATE} fps, {HITS} hits, 10-600 clicks/min, tolerance 1/2 frame, {args.runs} runs")
    print(f"{'case':<26}{'median ms':>10}{'p90 ms':>9}{'max ms':>9}")
    for name, values in cases.items():
        row(name, values)
    print(f"steady: best candidate caught {min(first_caught)}-{max(first_caught)} of {HITS} hits")
    print(f"changes proposed (made with 3): {changes_found}")
    print("goal: steady under 1000 ms; with changes a few seconds")


if __name__ == "__main__":
    main()
