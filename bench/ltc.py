"""How well the chase follows LTC, beside MTC over the same picture: lock time and position error.

Run: ``python bench/ltc.py [--seconds 90] [--jitter-ms 0.5] [--level-db -18] [--seed 1]``

For each rate a master plays from a random position after 01:00:00:00: a
third of the time at speed 1, a third at +0.1 % (pull up), a third at -0.1 %
(pull down).  The same picture reaches the chase three ways:

- **LTC**: the reference encoder of ``tests/peers/smpte_ltc.py`` (SMPTE 12M,
  not libltc) lays it out as audio at ``--level-db``; libltc
  (``stage.adapters.libltc``, as the engine uses it) reads it in 256-sample
  cycles stamped with their first sample, and each frame it reads goes to the
  chase with the sample its signal ended on;
- **MTC ±j**: quarter frames stamped to the 48 kHz sample after a uniform
  jitter of ± ``--jitter-ms`` (``bench/chase.py``'s model of MIDI arriving
  through an interface);
- **MTC exact**: the same quarter frames stamped to the sample, no jitter (a
  master inside the JACK graph).

Lock: from the first sample of signal (LTC) or the first quarter frame (MTC)
to the first rolling estimate, over ``--starts`` starts at random places in
a frame (median and worst, and the marks it took: LTC frames read, quarter
frames).  Error: |estimate − true position| at a
random instant in every 256-sample cycle (LTC) or between every two quarter
frames (MTC), from one second after lock to the end, p50/p99/max in ms.

Then what LTC costs the engine's cycle (JACK's callback): the CPU time of
``EngineCore``'s cycle (reading the input port, the cycle, filling the
output port) over ``--cycles`` 256-sample cycles at 25 fps with neither, as
master writing LTC, and chasing LTC read from the input.
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import numpy as np  # noqa: E402
from chase import Stream, percentile, stamped_quarter_frames  # noqa: E402
from chase import run as run_mtc  # noqa: E402
from peers.smpte_ltc import Segment, Tape  # noqa: E402

from stage.adapters.libltc import LtcDecoder, LtcEncoder  # noqa: E402
from stage.core.chase import ChaseEstimator  # noqa: E402
from stage.core.timecode import RATES, Rate  # noqa: E402
from stage.core.transport import Anchor  # noqa: E402
from stage.runtime.enginecore import EngineCore, EngineSettings  # noqa: E402
from stage.runtime.ltcio import LTC_IN_PORT, LTC_OUT_PORT  # noqa: E402

SR = 48000
BLOCK = 256
SETTLE_S = 1.0
T_START = 1000.0  # engine seconds at the first sample (sample T_START × SR)
SPEEDS = (1.0, 1.001, 0.999)


@dataclass
class Figures:
    lock_ms: float
    lock_marks: int  # LTC frames read, or quarter frames, up to the lock
    errors_ms: list[float]


def truth(seconds: float, rng: random.Random) -> list[Anchor]:
    """The master's transport, in thirds at 1, +0.1 % and -0.1 %, from a random place past 01:00:00:00."""
    p, t = 3600.0 + rng.uniform(0.0, 600.0), T_START
    segments = []
    for speed in SPEEDS:
        segments.append(Anchor(t, p, speed))
        p, t = segments[-1].position(t + seconds / 3), t + seconds / 3
    return segments


def ltc_run(rate: Rate, segments: list[Anchor], seconds: float, level: float, rng: random.Random) -> Figures:
    fps = float(rate.fps)
    tape = Tape(fps, rate.nominal, rate.drop)
    start = round(T_START * SR)
    parts = []
    for i, a in enumerate(segments):
        first = round(a.t0 * SR)
        end = round(segments[i + 1].t0 * SR) if i + 1 < len(segments) else start + round(seconds * SR)
        parts.append(Segment(first, end - first, p0=a.position(first / SR) * fps, speed=a.speed, level=level))
    first, signal = tape.render(parts, SR)
    samples = signal.astype(np.float32)
    decoder = LtcDecoder(SR, rate)
    chase = ChaseEstimator(rate, source="ltc")
    starts = [a.t0 for a in segments]
    locked_at: float | None = None
    frames_read = 0
    errors: list[float] = []
    for k in range(0, len(samples) - BLOCK + 1, BLOCK):
        frame0 = first + k
        for f in decoder.decode(samples[k : k + BLOCK].data.cast("B").cast("f"), frame0):
            chase.receive_frame(f, SR)
            frames_read += 1
        t_a, t_b = frame0 / SR, (frame0 + BLOCK) / SR
        chase.poll(t_a)
        anchor = chase.anchor
        if anchor is None or not anchor.rolling:
            continue
        if locked_at is None:
            locked_at, lock_frames = t_a, frames_read
        if t_a - locked_at >= SETTLE_S:
            u = rng.uniform(t_a, t_b)
            true = segments[bisect.bisect_right(starts, u) - 1].position(u)
            errors.append((anchor.position(u) - true) * 1000.0)
    assert locked_at is not None, "never locked"
    return Figures((locked_at - T_START) * 1000.0, lock_frames, errors)


def lock_times(rate: Rate, starts: int, level: float, jitter: float, rng: random.Random) -> dict[str, list[Figures]]:
    """Lock from ``starts`` random places: a second of picture at speed 1 each, by LTC, MTC ±jitter and exact MTC."""
    out: dict[str, list[Figures]] = {"ltc": [], "mtc": [], "exact": []}
    for _ in range(starts):
        segments = [Anchor(T_START, 3600.0 + rng.uniform(0.0, 600.0), 1.0)]
        out["ltc"].append(ltc_run(rate, segments, 1.0, level, rng))
        out["mtc"].append(mtc_lock(rate, segments[0], jitter, rng))
        out["exact"].append(mtc_lock(rate, segments[0], 0.0, rng))
    return out


def mtc_lock(rate: Rate, anchor: Anchor, jitter: float, rng: random.Random) -> Figures:
    """Quarter frames from ``anchor`` until the chase rolls."""
    chase = ChaseEstimator(rate)
    arrivals = stamped_quarter_frames(rate, [anchor], anchor.t0 + 1.0, jitter, rng)
    for i, (t, message) in enumerate(arrivals):
        chase.receive(message, t)
        if chase.anchor is not None and chase.anchor.rolling:
            return Figures((t - arrivals[0][0]) * 1000.0, i + 1, [])
    raise AssertionError("never locked")


def mtc_run(rate: Rate, segments: list[Anchor], seconds: float, jitter: float, rng: random.Random) -> Figures:
    arrivals = stamped_quarter_frames(rate, segments, T_START + seconds, jitter, rng)
    r = run_mtc(ChaseEstimator(rate), Stream(segments, arrivals), rng)
    return Figures(r.lock_ms, r.lock_qf, r.errors_ms)


def cycle_cost(cycles: int, level: float) -> dict[str, list[float]]:
    """CPU µs per engine cycle: the internal clock alone, writing LTC as master, chasing LTC."""
    rate = RATES["25"]
    first, signal = Tape(25.0, 25).render([Segment(0, cycles * BLOCK, p0=90_000.3, level=level)], SR)
    samples = signal.astype(np.float32)
    plain = EngineCore(EngineSettings(midi=False, rate="25", mtc_out=False), SR)
    master = EngineCore(EngineSettings(midi=False, rate="25", mtc_out=False, ltc_out=True), SR)
    master.attach_ltc(None, LtcEncoder(SR, rate))
    chasing = EngineCore(EngineSettings(midi=False, rate="25", source="ltc"), SR)
    chasing.attach_ltc(LtcDecoder(SR, rate), None)
    for core in (plain, master):
        core.clock.locate(3600.0, 0.0)
        core.clock.play(0.0)
    out: dict[str, list[float]] = {"no LTC": [], "LTC out": [], "LTC in": []}
    buffer = memoryview(bytearray(4 * BLOCK)).cast("f")
    for label, core in (("no LTC", plain), ("LTC out", master), ("LTC in", chasing)):
        for c in range(cycles):
            block = samples[c * BLOCK : (c + 1) * BLOCK].data.cast("B").cast("f")
            began = time.thread_time()
            core.read_audio(LTC_IN_PORT, first + c * BLOCK, block)
            core(first + c * BLOCK, BLOCK, {})
            core.render_audio(LTC_OUT_PORT, first + c * BLOCK, buffer)
            out[label].append((time.thread_time() - began) * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="picture per rate (default 90)")
    parser.add_argument("--jitter-ms", type=float, default=0.5, help="MTC arrival jitter ± (default 0.5)")
    parser.add_argument("--level-db", type=float, default=-18.0, help="LTC level, dBFS (default -18)")
    parser.add_argument("--starts", type=int, default=20, help="starts the lock time is measured over (default 20)")
    parser.add_argument("--cycles", type=int, default=20_000, help="engine cycles the cost is measured over")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    began = time.perf_counter()
    level = 10 ** (args.level_db / 20)
    print(f"LTC and MTC chase: {args.seconds:.0f} s per rate (1/3 at speed 1, +0.1 %, -0.1 %); LTC at "
          f"{args.level_db:g} dBFS read by libltc in {BLOCK}-sample cycles; MTC stamped to 1/{SR} s "
          f"(±{args.jitter_ms} ms jitter, and none); |error| from {SETTLE_S:.0f} s after lock")
    header = (f"{'rate':>8} {'source':>12} {'lock':>9} {'lock ms p50':>11} {'max':>6} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    print(header)
    print("-" * len(header))
    for name in ("24", "25", "29.97df", "30"):
        rate = RATES[name]
        rng = random.Random(f"{args.seed}-{name}")
        segments = truth(args.seconds, rng)
        locks = lock_times(rate, args.starts, level, args.jitter_ms / 1000, random.Random(f"{args.seed}-lock-{name}"))
        rows = [
            ("LTC", "frames", locks["ltc"], ltc_run(rate, segments, args.seconds, level, random.Random(args.seed))),
            (f"MTC ±{args.jitter_ms:g} ms", "QF", locks["mtc"],
             mtc_run(rate, segments, args.seconds, args.jitter_ms / 1000, random.Random(args.seed))),
            ("MTC exact", "QF", locks["exact"], mtc_run(rate, segments, args.seconds, 0.0, random.Random(args.seed))),
        ]
        for label, unit, starts, f in rows:
            ms = sorted(x.lock_ms for x in starts)
            lock = f"{statistics.median_low(x.lock_marks for x in starts)} {unit}"
            print(f"{name:>8} {label:>12} {lock:>9} {statistics.median(ms):>11.1f} {ms[-1]:>6.1f} "
                  f"{percentile(f.errors_ms, 50):>7.3f} {percentile(f.errors_ms, 99):>7.3f} "
                  f"{percentile(f.errors_ms, 100):>7.3f}")
    print(f"\nCPU time of one engine cycle ({BLOCK} samples, {BLOCK / SR * 1000:.2f} ms), 25 fps, "
          f"{args.cycles} cycles:")
    for label, costs in cycle_cost(args.cycles, level).items():
        print(f"{label:>10}: p50 {percentile(costs, 50):6.1f} µs  p99 {percentile(costs, 99):6.1f} µs  "
              f"max {percentile(costs, 100):6.1f} µs")
    print(f"({time.perf_counter() - began:.1f} s)")


if __name__ == "__main__":
    main()
