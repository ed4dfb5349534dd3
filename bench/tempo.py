"""How long the tempo finder takes for a 5-minute cue with 40 hits over the full range of tempos.

Each run builds a different cue at 23.976 fps (seeded): for the steady case, 40
hits on the beats of one frame click (each on the frame nearest its beat); for
the changes case, 40 hits on a tempo map of four frame clicks changing at bar
lines.  The finder searches 10-600 clicks per minute, frame clicks and
clicks per minute, within half a frame (and within a frame, where the
editor's ranking counts twice: at the tolerance and at half a frame).  Prints median, p90 and max per case, and
how many changes were proposed against how many the cue was made with.
Goal: steady under 1 s, with changes a few seconds.  Wall-clock and CPU time
are both shown: on a shared machine the CPU time is the finder's own cost.

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
from stage.core.tempofind import FindSpec, Rank, SpotHit, find_steady
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


def row(name: str, values: list[float], cpu: list[float]) -> None:
    ms = [statistics.median(values), p90(values), max(values), statistics.median(cpu), p90(cpu)]
    print(f"{name:<26}" + "".join(f"{v * 1000:>10.0f}" for v in ms))


class Timer:
    """Wall-clock and CPU seconds of the block, appended to the case's lists."""

    def __init__(self, wall: list[float], cpu: list[float]) -> None:
        self.wall, self.cpu = wall, cpu

    def __enter__(self) -> None:
        self.w0, self.c0 = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.wall.append(time.perf_counter() - self.w0)
        self.cpu.append(time.process_time() - self.c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    spec = FindSpec(RATE, FOUR, Fraction(10), Fraction(600), Fraction(1, 2))
    moved = FindSpec(RATE, FOUR, Fraction(10), Fraction(600), Fraction(1, 2), move=(-6, 6))
    halves = FindSpec(RATE, FOUR, Fraction(10), Fraction(600), Fraction(1, 2), subdivision=2)
    wider = FindSpec(RATE, FOUR, Fraction(10), Fraction(600), Fraction(1))
    names = ["steady", "steady, downbeat ±6 f", "steady, on halves", "steady, within 1 f", "steady, 1 f, by error",
             "changes (4 tempos)", "changes, ramps up to 4"]
    cases: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    changes_found: list[int] = []
    first_caught: list[int] = []
    for run in range(args.runs):
        rng = random.Random(run)
        hits = steady_hits(rng)
        for name, s, rank in (("steady", spec, Rank.EDITOR), ("steady, downbeat ±6 f", moved, Rank.EDITOR),
                              ("steady, on halves", halves, Rank.EDITOR), ("steady, within 1 f", wider, Rank.EDITOR),
                              ("steady, 1 f, by error", wider, Rank.ERROR)):
            with Timer(cases[name], cpus[name]):
                found = find_steady(hits, s, rank=rank)
            if s is spec:
                first_caught.append(found[0].caught)
        hits = piecewise_hits(rng)
        with Timer(cases[names[5]], cpus[names[5]]):
            plan = find_changes(hits, spec)
        changes_found.append(-1 if plan is None else plan.changes)
        with Timer(cases[names[6]], cpus[names[6]]):
            find_changes(hits, spec, ramps=4)
    print(f"{SECONDS} s cue at {RATE} fps, {HITS} hits, 10-600 clicks/min, tolerance 1/2 frame, {args.runs} runs")
    print(f"{'':<26}{'wall-clock ms':^30}{'CPU ms':^20}")
    print(f"{'case':<26}{'median':>10}{'p90':>10}{'max':>10}{'median':>10}{'p90':>10}")
    for name, values in cases.items():
        row(name, values, cpus[name])
    print(f"steady: best candidate caught {min(first_caught)}-{max(first_caught)} of {HITS} hits")
    print(f"changes proposed (made with 3): {changes_found}")
    print("goal: steady under 1000 ms; with changes a few seconds")


if __name__ == "__main__":
    main()
