"""What an upload of a cut costs the service's event loop, and how fast the import goes.

The service's loop fans every event out to the screens while a cut is
imported (``PUT /api/picture``): the body is written and hashed in worker
threads, the cut read with PyAV in one, the proxy made by ffmpeg in a process
of its own.  This benchmark runs the service in this process (no engine: the
engine runs in a process of its own anyway), a probe on its loop that asks to
wake every 5 ms and records how late it woke, and an import of a cut made for
the run (ProRes in a QuickTime, 1280×720 at 23.976, as a cutting room sends
it) streamed in 64 KiB chunks as uvicorn hands them over.

It prints the loop's lateness idle and during each step of the import
(median, p99, max), and each step's time and speed.

Run: ``python bench/picture_import.py [--seconds 20] [--size 1280x720] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test cuts
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's stage
from peers.cuts import make_cut

from stage.adapters.picture_http import PictureImports
from stage.adapters.pictures import PictureLibrary
from stage.config import parse_config
from stage.core.cuesheet import parse_cue_sheet
from stage.core.protocol import Topic
from stage.runtime.service import Service

SHEET = '[picture]\nrate = "23.976"\n[[cue]]\nid = "1M1"\nstart = "01:00:00:00"\nfree = true\nend = "01:00:05:00"\n'
TICK = 0.005  # the probe's period


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def chunks(path: Path, size: int = 65536) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while data := await asyncio.to_thread(f.read, size):
            yield data


async def run(seconds: float, size: tuple[int, int], work: Path) -> None:
    print(f"making a {seconds:g} s cut at {size[0]}×{size[1]} (ProRes, 23.976) …", flush=True)
    cut = await asyncio.to_thread(make_cut, work / "reel.mov", "23.976", "00:59:58:00", seconds, size=size)
    print(f"  {cut.frames} frames, {cut.path.stat().st_size / 1e6:.1f} MB")
    service = Service(parse_config({"midi": {"enabled": False}}), parse_cue_sheet(SHEET), open_driver=None)
    imports = PictureImports(service, PictureLibrary(work / "picture"))
    step = ["idle"]
    starts: dict[str, float] = {}
    sub = service.bus.subscribe([Topic.PICTURE])
    late: defaultdict[str, list[float]] = defaultdict(list)
    stop = asyncio.Event()

    async def follow() -> None:
        async for ev in sub:
            state = ev.data["state"]
            if state != step[0]:
                step[0] = state
                starts.setdefault(state, time.monotonic())

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + TICK
        while not stop.is_set():
            await asyncio.sleep(max(0.0, due - loop.time()))
            late[step[0]].append((loop.time() - due) * 1000)
            due += TICK
            due = max(due, loop.time())  # a late wake does not pile up a backlog of wakes

    followers = [asyncio.create_task(follow()), asyncio.create_task(probe())]
    await asyncio.sleep(3)  # idle
    begun = time.monotonic()
    starts["receiving"] = begun
    result = await imports.upload(chunks(cut.path), name=cut.path.name, length=cut.path.stat().st_size)
    ended = time.monotonic()
    step[0] = "after"
    await asyncio.sleep(1)
    stop.set()
    for task in followers:
        task.cancel()
    print(f"imported as {result['picture']['revision']} in {ended - begun:.2f} s "
          f"({cut.frames / (ended - begun):.1f} frames/s overall); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    order = ["idle", "receiving", "reading", "encoding", "indexing", "done", "after"]
    bounds = [starts.get(s) for s in order[1:5]] + [ended]
    print("\nstep        time s   speed           loop late ms: median     p99     max   wakes")
    for i, name in enumerate(order):
        values = late.get(name, [])
        if not values:
            continue
        span = ""
        if 1 <= i <= 4 and bounds[i - 1] is not None:
            nxt = next((b for b in bounds[i:] if b is not None), ended)
            took = nxt - bounds[i - 1]  # type: ignore[operator]
            rate = (f"{cut.path.stat().st_size / 1e6 / took:7.1f} MB/s" if name in ("receiving", "reading")
                    else f"{cut.frames / took:7.1f} frames/s")
            span = f"{took:7.2f}  {rate}"
        print(f"{name:<10} {span:<26} {statistics.median(values):14.3f} {percentile(values, 99):7.3f} "
              f"{max(values):7.3f} {len(values):7d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the cut (default 20 s)")
    parser.add_argument("--size", default="1280x720", help="the cut's picture size (default 1280x720)")
    parser.add_argument("--dir", type=Path, help="where to work (default: a temp folder)")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        asyncio.run(run(args.seconds, (width, height), Path(work)))


if __name__ == "__main__":
    main()
