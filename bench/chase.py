"""How well the MTC chase follows a stream: position error, lock time, speed after a pull.

Run: ``python bench/chase.py [--seconds 180] [--jitter-ms 0.5] [--seed 1]``

For each rate a master plays three minutes from a random mid-cycle position:
one minute at speed 1, one at +0.1 % (pull up), one at -0.1 % (pull down).
Each quarter frame's arrival is stamped as JACK would, to the 48 kHz sample,
after a uniform jitter of ± ``--jitter-ms``.  Position error is sampled at a
random instant between every two arrivals, against the true stream, from one
second after lock (the loop's settling) to the end.  Speed error is the mean
|estimated - true speed| over the last 20 s of each pull, in ppm.  The naive
estimator is the textbook slave: last complete time + 7 quarter frames, speed 1.
Lock is counted from the first quarter frame to the first rolling estimate.
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stage.core.chase import ChaseEstimator
from stage.core.mtc import MtcDecoder, QuarterFrameTime, quarter_frames_during
from stage.core.timecode import RATES, Rate
from stage.core.transport import Anchor

SAMPLE_RATE = 48000
SETTLE_S = 1.0
T_START = 1000.0


@dataclass
class Stream:
    segments: list[Anchor]  # true transport, each valid from its t0 to the next one's
    arrivals: list[tuple[float, bytes]]  # stamped arrival, message

    def position(self, t: float) -> float:
        i = bisect.bisect_right([a.t0 for a in self.segments], t) - 1
        return self.segments[max(i, 0)].position(t)

    def speed(self, t: float) -> float:
        i = bisect.bisect_right([a.t0 for a in self.segments], t) - 1
        return self.segments[max(i, 0)].speed


def make_stream(rate: Rate, seconds: float, jitter_s: float, rng: random.Random) -> Stream:
    start = 3600.0 + rng.uniform(0.0, 600.0)  # somewhere after 01:00:00:00, any piece of a cycle
    third = seconds / 3
    segments: list[Anchor] = []
    p, t = start, T_START
    for speed in (1.0, 1.001, 0.999):
        segments.append(Anchor(t, p, speed))
        p, t = segments[-1].position(t + third), t + third
    return Stream(segments, stamped_quarter_frames(rate, segments, t, jitter_s, rng))


def stamped_quarter_frames(
    rate: Rate, segments: list[Anchor], end: float, jitter_s: float, rng: random.Random
) -> list[tuple[float, bytes]]:
    """Every quarter frame a master following ``segments`` sends until ``end``, stamped as JACK would, in order."""
    arrivals = []
    for k, seg in enumerate(segments):
        until = segments[k + 1].t0 if k + 1 < len(segments) else end
        for qf in quarter_frames_during(seg, seg.t0, until, rate):
            stamped = math.floor((qf.t + rng.uniform(-jitter_s, jitter_s)) * SAMPLE_RATE) / SAMPLE_RATE
            arrivals.append((stamped, qf.message))
    arrivals.sort(key=lambda a: a[0])
    return arrivals


class Naive:
    """Last complete time + 7 quarter frames (the decoder's compensation), speed 1."""

    def __init__(self, rate: Rate) -> None:
        self.decoder = MtcDecoder(rate)
        self.fps = float(rate.fps)
        self.anchor: Anchor | None = None

    def receive(self, message: bytes, t: float) -> None:
        for event in self.decoder.receive(message, t):
            if isinstance(event, QuarterFrameTime):
                self.anchor = Anchor(t, float(event.frame) / self.fps, float(event.direction))

    @property
    def speed(self) -> float:
        return self.anchor.speed if self.anchor else 0.0


@dataclass
class Result:
    lock_qf: int
    lock_ms: float
    errors_ms: list[float]
    speed_ppm: dict[float, float]


def run(estimator: ChaseEstimator | Naive, stream: Stream, rng: random.Random) -> Result:
    arrivals = stream.arrivals
    t_first = arrivals[0][0]
    lock_index: int | None = None
    errors: list[float] = []
    speed_errors: dict[float, list[float]] = {1.001: [], 0.999: []}
    ends = {
        seg.speed: (stream.segments[i + 1].t0 if i + 1 < len(stream.segments) else arrivals[-1][0])
        for i, seg in enumerate(stream.segments)
    }
    for i, (t, message) in enumerate(arrivals):
        estimator.receive(message, t)
        anchor = estimator.anchor
        if anchor is None or not anchor.rolling:
            continue
        if lock_index is None:
            lock_index = i
        if i + 1 == len(arrivals):
            break
        u = rng.uniform(t, arrivals[i + 1][0])
        if u - arrivals[lock_index][0] >= SETTLE_S:
            errors.append((anchor.position(u) - stream.position(u)) * 1000.0)
        true_speed = stream.speed(u)
        if true_speed in speed_errors and ends[true_speed] - 20.0 <= u:
            speed_errors[true_speed].append(abs(estimator.speed - true_speed) * 1e6)
    assert lock_index is not None, "never locked"
    return Result(
        lock_qf=lock_index + 1,
        lock_ms=(arrivals[lock_index][0] - t_first) * 1000.0,
        errors_ms=errors,
        speed_ppm={v: statistics.fmean(e) for v, e in speed_errors.items()},
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(abs(v) for v in values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="stream length per rate (default 180)")
    parser.add_argument("--jitter-ms", type=float, default=0.5, help="uniform arrival jitter ± (default 0.5)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    began = time.perf_counter()
    print(
        f"MTC chase: {args.seconds:.0f} s per rate (1/3 at speed 1, +0.1 %, -0.1 %), "
        f"stamps to 1/{SAMPLE_RATE} s, jitter ±{args.jitter_ms} ms; |error| from {SETTLE_S:.0f} s after lock"
    )
    header = (
        f"{'rate':>8} {'estimator':>9} {'lock QF':>7} {'lock ms':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'+0.1% ppm':>9} {'-0.1% ppm':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in ("24", "25", "29.97df", "30"):
        rate = RATES[name]
        rng = random.Random(f"{args.seed}-{name}")
        stream = make_stream(rate, args.seconds, args.jitter_ms / 1000.0, rng)
        for label, estimator in (("dll", ChaseEstimator(rate)), ("naive", Naive(rate))):
            r = run(estimator, stream, random.Random(args.seed))
            print(
                f"{name:>8} {label:>9} {r.lock_qf:>7d} {r.lock_ms:>7.1f} {percentile(r.errors_ms, 50):>7.3f} "
                f"{percentile(r.errors_ms, 99):>7.3f} {percentile(r.errors_ms, 100):>7.3f} "
                f"{r.speed_ppm[1.001]:>9.1f} {r.speed_ppm[0.999]:>9.1f}"
            )
    print(f"({time.perf_counter() - began:.1f} s)")


if __name__ == "__main__":
    main()
