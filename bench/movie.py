"""How fast `stage render --movie` makes a streamer movie at 1280×720, against the cut's own rate.

A ProRes cut at 23.976 (tests/peers/cuts.py: every frame numbered, a moving
background; made once and kept in bench/results/) and a busy cue on it: a
count-off, 1 s streamers into the count-off, the downbeat and the end, a hit
every bar with a streamer and a flutter every fourth; timecode, bar|beat and
the cue burnt in.  Each run renders the whole movie through the code
`stage render` runs (plan_movie, make_movie), and in the same run the floor:
ffmpeg alone transcoding the same frames of the cut at the same size with the
same encoder settings and the same click track, with no overlay and no Python.

Printed, medians (and p10 or p90) over the runs: frames per second and times
real time (the cut's rate is 23.976) by the wall clock; the split per frame,
wall clock and CPU: decoding (the PyAV thread), painting, handing frames to
ffmpeg (waiting when it is behind), this process in all, the encoding ffmpeg;
and the frames per second the CPU spent per frame allows on the machine's
cores when nothing else runs (a bound worked out, not measured).  The load
average is printed too: the machine is shared, and wall-clock figures depend
on what else runs.  Goal: faster than real time (× > 1) at 1280×720.

    python bench/movie.py [--runs N] [--seconds S] [--cut FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from stage.adapters.media import AUDIO, MOVIE_X264, ffmpeg
from stage.adapters.wavfile import write_wav
from stage.cli_movie import make_movie, plan_movie
from stage.core.cuesheet import parse_cue_sheet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test cuts
from peers.cuts import make_cut

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = (1280, 720)
FPS = Fraction(24000, 1001)


def sheet_text(bars: int) -> str:
    """A cue from 00:59:59:00 + its count-off, 12-0 in 4/4, a hit on beat 3 of every bar."""
    hits = "".join(f'\n[[cue.hit]]\nbar = {b}\nbeat = 3\nlabel = "hit {b}"\ncolor = "blue"\n'
                   f'flutter = {3 if b % 4 == 0 else 0}\n' for b in range(1, bars))
    return f"""
[picture]
rate = "23.976"
[defaults]
countoff = 1
streamer = "1s"
[[cue]]
id = "9M1"
title = "Bench"
start = "01:00:01:00"
tempo = "12-0"
meter = "4/4"
bars = {bars}
{hits}"""


def cut_of(seconds: float) -> Path:
    """The bench's cut, made once: 1280×720 ProRes at 23.976 from 00:59:58:00."""
    path = RESULTS / f"movie-cut-1280x720-{seconds:g}s.mov"
    if not path.exists():
        RESULTS.mkdir(exist_ok=True)
        print(f"making the cut {path.name} (once) …", flush=True)
        partial = path.with_suffix(".partial.mov")
        make_cut(partial, "23.976", "00:59:58:00", seconds, size=SIZE)
        partial.replace(path)
    return path


def floor_run(cut: Path, start: float, frames: int, audio: Path, out: Path) -> tuple[float, float]:
    """ffmpeg alone: the same frames, size, encoder and sound, nothing drawn. (wall s, CPU s)"""
    command = [ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{start:.6f}", "-i", str(cut),
               "-i", str(audio), "-map", "0:v", "-map", "1:a", "-frames:v", str(frames),
               "-vf", f"scale={SIZE[0]}:{SIZE[1]},scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
               *MOVIE_X264, *AUDIO["mp4"], "-movflags", "+faststart", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=12.0, help="the cut's length (the movie is ~2 s shorter)")
    parser.add_argument("--cut", type=Path, help="a 23.976 cut from 00:59:58:00 instead of the bench's own")
    args = parser.parse_args()

    cut = args.cut or cut_of(args.seconds)
    # The cue fills the cut from 00:59:58:00: a 1 s pre-roll (24 frames) before the count-off bar (4 clicks of 12
    # frames), bars of 48 frames, half a second (12 frames) of tail.
    bars = (round(args.seconds * FPS) - 24 - 48 - 12) // 48
    sheet = parse_cue_sheet(sheet_text(bars))
    cue = sheet.cue("9M1")
    plan = plan_movie(sheet, cue, cut, preroll=Fraction(1), size=SIZE)
    frames = plan.span.frames
    seconds = float(plan.span.duration)
    print(f"cue {cue.id}: {bars} bars, {len(cue.hits)} hits; movie {frames} frames ({seconds:.2f} s) at 23.976, "
          f"{SIZE[0]}×{SIZE[1]}, from {plan.span.start}; {args.runs} runs; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    keys = ("wall", "decode", "paint", "write", "decode_cpu", "paint_cpu", "cpu", "encode_cpu")
    ours: dict[str, list[float]] = {k: [] for k in keys}
    floor: dict[str, list[float]] = {"wall": [], "cpu": []}
    with tempfile.TemporaryDirectory(prefix="bench-movie-") as folder:
        out = Path(folder)
        assert plan.track is not None
        audio = out / "click.wav"
        write_wav(audio, plan.track)
        start = float(plan.span.origin - plan.cut.start_frame / FPS)  # seconds into the cut
        for _ in range(args.runs):  # interleaved, so that the load falls on both alike
            t = make_movie(plan, out / "movie.mp4")
            for key in keys:
                ours[key].append(getattr(t, key))
            wall, cpu = floor_run(cut, start, frames, audio, out / "floor.mp4")
            floor["wall"].append(wall)
            floor["cpu"].append(cpu)
    total = [a + b for a, b in zip(ours["cpu"], ours["encode_cpu"], strict=True)]
    cores = os.cpu_count() or 1

    def speed(walls: list[float]) -> str:
        fps = sorted(frames / w for w in walls)
        median = statistics.median(fps)
        return f"{median:7.1f} fps  (p10 {fps[len(fps) // 10]:6.1f})  ×{median / float(FPS):5.2f} real time"

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) / frames * 1000:7.2f} ms  (p90 {p90(values) / frames * 1000:7.2f})"

    def bound(cpu: list[float]) -> str:
        fps = cores * frames / statistics.median(cpu)
        return f"{fps:7.1f} fps   ×{fps / float(FPS):5.2f} real time"

    print("\nwall clock, medians                      frames per second")
    print(f"  stage render --movie   {speed(ours['wall'])}")
    print(f"  ffmpeg alone (floor)   {speed(floor['wall'])}")
    print("\nper frame, medians          wall                       CPU")
    print(f"  decode (PyAV thread)   {ms(ours['decode'])}   {ms(ours['decode_cpu'])}  (FFmpeg's threads apart)")
    print(f"  paint                  {ms(ours['paint'])}   {ms(ours['paint_cpu'])}")
    print(f"  hand to ffmpeg         {ms(ours['write'])}")
    print(f"  this process           {ms(ours['wall'])}   {ms(ours['cpu'])}")
    print(f"  encode (ffmpeg)        {'':26}   {ms(ours['encode_cpu'])}")
    print(f"  all of it              {'':26}   {ms(total)}")
    print(f"  the floor              {ms(floor['wall'])}   {ms(floor['cpu'])}")
    print(f"\nwhat the CPU allows on {cores} idle cores (CPU per frame, not measured wall clock)")
    print(f"  stage render --movie   {bound(total)}")
    print(f"  ffmpeg alone (floor)   {bound(floor['cpu'])}")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
