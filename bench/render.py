"""How long `stage render` takes for a 10-minute cue: WAV, MIDI and events CSV.

Builds the cue in memory (4/4 at 12-0 at 23.976 with meter and tempo changes,
a ramp, hits and flutters), then renders each output several times into a
temporary folder and prints median and p90 per output and in total.
Goal: under 1 s for all three.

    python bench/render.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from stage.adapters.midifile import write_smf
from stage.adapters.wavfile import render_click_track, write_wav
from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.eventlist import events_csv


def ten_minute_cue() -> Cue:
    """About 600 s: 300 bars, mostly 4/4 at 12-0, with a 3/4 stretch, a ramp and 40 hits."""
    changes = """
[[cue.change]]
bar = 101
tempo = 96
meter = "3/4"

[[cue.change]]
bar = 141
tempo = "12-0"
meter = "4/4"
ramp = 4

[[cue.change]]
bar = 201
meter = "7/8"
click = "8"
tempo = "6-0"

[[cue.change]]
bar = 202
meter = "4/4"
click = "4"
tempo = "12-0"
"""
    hits = "".join(
        f'\n[[cue.hit]]\nbar = {bar}\nbeat = 2\nlabel = "hit {bar}"\nflutter = {3 if bar % 20 == 0 else 0}\n'
        for bar in range(10, 300, 7)
    )
    text = f"""
[picture]
title = "Bench"
rate = "23.976"

[[cue]]
id = "9M1"
title = "Ten minutes"
start = "01:00:10:00"
tempo = "12-0"
meter = "4/4"
bars = 300
countoff = 2
{changes}{hits}"""
    return parse_cue_sheet(text).cue("9M1")


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    cue = ten_minute_cue()
    assert cue.clicks is not None
    print(
        f"cue {cue.id}: {float(cue.end_time - cue.first_time):.1f} s, {len(cue.clicks.clicks)} clicks, "
        f"{len(cue.hits)} hits, {args.runs} runs"
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)

        def wav() -> None:
            write_wav(out / "c.wav", render_click_track(cue))

        def midi() -> None:
            write_smf(out / "c.mid", cue)

        def events() -> None:
            (out / "c.csv").write_text(events_csv(cue), encoding="utf-8")

        def total() -> None:
            wav()
            midi()
            events()

        rows = [
            (name, timed(fn, args.runs))
            for name, fn in (("wav", wav), ("midi", midi), ("events", events), ("total", total))
        ]
        size = (out / "c.wav").stat().st_size

    print(f"{'output':<8}{'median ms':>12}{'p90 ms':>10}")
    for name, values in rows:
        print(f"{name:<8}{statistics.median(values) * 1000:>12.1f}{p90(values) * 1000:>10.1f}")
    print(f"wav size {size / 1e6:.1f} MB; goal: total under 1000 ms")


if __name__ == "__main__":
    main()
