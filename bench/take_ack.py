"""Take acknowledgement latency over REST: POST /api/transport/play in record mode until its 200.

That answer comes after the engine reported the roll (timecode in), the take
was committed to the take log, and the HTTP round trip: this is what the
conductor's tablet waits for.  For each database the benchmark runs the real
``stage serve`` (MIDI off: the engine's soft clock, 256 frames at 48 kHz) in
its own process and, from this process, times N takes one after the other.
A tap on the tablet comes at any point of the engine's cycle: each timed
request waits a random fraction of a second cycle first (requests sent back
to back would lock to the cycle, each waiting a whole period).


- ``record play`` — POST play in record mode → 200 (start → durable → acknowledged);
- ``record stop`` — POST stop → 200 (the take's end committed);
- ``rehearse play`` — POST play in rehearse mode → 200: the same path without
  the store (HTTP + the engine's roll), the baseline the store adds to;
- ``http floor`` — POST varispeed (speed 1) → 200: a command through the same
  HTTP stack and ``Controls.run`` that waits for nothing, the floor this
  machine puts under every answer; rehearse play over it is the engine's
  part (the wait for its next cycle, at most one period, and the hand-offs);
- ``insert_take`` — the store alone, in the same run on the same database
  (``TakeStore.insert_take`` from this process): what durability costs.

Run: ``python bench/take_ack.py [--takes 300] [--dir DIR] [--postgres URL] [--against CHECKOUT]``.
SQLite files go to a scratch folder under DIR (default: the working directory;
a tmpfs would make fsync free and the figures meaningless).  ``--against``
measures another checkout's ``stage serve`` in the same run (an older commit,
say, from ``git worktree add``), the two taking turns on each database, and
prints this one's figures as ratios of that one's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from peers.postgres import PostgresUnavailable, scratch_database

from stage.adapters.store import open_store
from stage.core.session import Take

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-conductor"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
CYCLE = 256 / 48000  # the soft clock's period (seconds)
SHEET = """
[picture]
rate = "24"

[[cue]]
id = "1M1"
start = "01:00:00:00"
tempo = "12-0"
meter = "4/4"
bars = 40
"""


@dataclass
class Result:
    name: str
    settings: str
    figures: dict[str, list[float]] = field(default_factory=dict)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _timed(call: Callable[[], Awaitable[httpx.Response]]) -> float:
    t0 = time.perf_counter_ns()
    answer = await call()
    elapsed = (time.perf_counter_ns() - t0) / 1e6
    if answer.status_code != 200:
        raise SystemExit(f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}")
    return elapsed


async def _serve(url: str, scratch: Path, http: httpx.AsyncClient, root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    config = scratch / f"stage-{port}.toml"
    config.write_text(
        f"[midi]\nenabled = false\n[osc]\nenabled = false\n[http]\nport = {port}\n"
        f'[takes]\ndatabase = "{url}"\n[auth]\nconductor = "{TOKEN}"\n',
        encoding="utf-8",
    )
    cues = scratch / "cues.toml"
    cues.write_text(SHEET, encoding="utf-8")
    log = scratch / f"serve-{port}.log"
    command = [sys.executable, "-m", "stage", "serve", "--config", str(config), "--cues", str(cues)]
    with log.open("wb") as out:
        proc = await asyncio.to_thread(subprocess.Popen, command, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1500):
        with contextlib.suppress(httpx.TransportError):
            if (await http.get(f"{base}/api/health")).status_code == 200:
                return proc, base
        if proc.poll() is not None:
            break
        await asyncio.sleep(0.02)
    proc.kill()
    raise SystemExit(f"stage serve did not come up for {url}:\n{log.read_text(errors='replace')[-2000:]}")


async def _run(name: str, url: str, scratch: Path, count: int, root: Path = ROOT) -> Result:
    phase = random.Random(count)  # the same pauses for every checkout measured
    async with httpx.AsyncClient(timeout=30) as http:
        proc, base = await _serve(url, scratch, http, root)
        try:
            result = Result(name, "")
            await http.post(f"{base}/api/session/arm", json={"cue": "1M1"}, headers=HEADERS)
            play = lambda: http.post(f"{base}/api/transport/play", headers=HEADERS)  # noqa: E731
            stop = lambda: http.post(f"{base}/api/transport/stop", headers=HEADERS)  # noqa: E731

            async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> float:
                await asyncio.sleep(phase.uniform(0, 2 * CYCLE))  # the tap lands anywhere in the engine's cycle
                return await _timed(call)

            floor = lambda: http.post(f"{base}/api/transport/varispeed", json={"speed": 1.0},  # noqa: E731
                                      headers=HEADERS)
            rehearse: list[float] = []
            floors: list[float] = []
            for n in range(count + 10):
                elapsed = await timed(play)
                await timed(stop)
                least = await timed(floor)
                if n >= 10:  # the first ones warm the pool and the caches
                    rehearse.append(elapsed)
                    floors.append(least)
            await http.post(f"{base}/api/session/mode", json={"mode": "record"}, headers=HEADERS)
            starts: list[float] = []
            ends: list[float] = []
            for n in range(count + 10):
                started = await timed(play)
                ended = await timed(stop)
                if n >= 10:
                    starts.append(started)
                    ends.append(ended)
            result.figures = {"record play": starts, "record stop": ends, "rehearse play": rehearse,
                              "http floor": floors}
            # The store alone, on the same database, while the service idles.
            async with await open_store(url) as store:
                result.settings = await store.durability()
                inserts: list[float] = []
                for n in range(1, count + 11):
                    take = Take("0M0", n, "00:59:50:00", datetime.now(UTC))
                    t0 = time.perf_counter_ns()
                    await store.insert_take(take)
                    if n > 10:
                        inserts.append((time.perf_counter_ns() - t0) / 1e6)
            result.figures["insert_take"] = inserts
            return result
        finally:
            proc.terminate()
            proc.wait(15)


async def _postgres(admin_url: str, scratch: Path, count: int, root: Path = ROOT) -> Result | str:
    try:
        async with scratch_database(admin_url, prefix="stage_bench") as url:
            return await _run("PostgreSQL", url, scratch, count, root)
    except PostgresUnavailable as exc:
        return f"unavailable: {exc}"


def _row(label: str, values: list[float], reference: list[float] | None = None) -> str:
    figures = (statistics.median(values), _pct(values, 0.95), _pct(values, 0.99), max(values))
    line = f"  {label:<16} {len(values):>5}" + "".join(f" {v:>8.2f}" for v in figures)
    if reference:  # the same figures of the checkout measured against, as ratios
        ratios = (figures[0] / statistics.median(reference), figures[2] / _pct(reference, 0.99))
        line += f"   p50 x{ratios[0]:.2f}  p99 x{ratios[1]:.2f}"
    return line


def _report(r: Result | str, reference: Result | str | None = None) -> None:
    if isinstance(r, str):
        print(f"PostgreSQL: {r}")
        return
    print(f"{r.name} [{r.settings}]")
    for label, values in r.figures.items():
        ref = reference.figures.get(label) if isinstance(reference, Result) and label != "insert_take" else None
        print(_row(label, values, ref))
    store = statistics.median(r.figures["insert_take"])
    rest = statistics.median(r.figures["record play"]) - statistics.median(r.figures["rehearse play"])
    print(f"  store's share of record play (p50): {rest:.2f} ms by difference, {store:.2f} ms insert_take alone")
    floor, goal = _pct(r.figures["http floor"], 0.99), CYCLE * 1000 + 2  # one cycle plus 2 ms
    engine = [_pct(r.figures["rehearse play"], q) - _pct(r.figures["http floor"], q) for q in (0.5, 0.99)]
    print(f"  rehearse play over the floor: p50 {engine[0]:.2f} ms, p99 {engine[1]:.2f} ms "
          f"(goal at p99: one cycle + 2 ms = {goal:.2f} ms)")
    record, commit = _pct(r.figures["record play"], 0.99) - floor, _pct(r.figures["insert_take"], 0.99)
    print(f"  record play over the floor: p99 {record:.2f} ms (goal: that + insert_take's p99 = "
          f"{goal + commit:.2f} ms)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument(
        "--postgres", default=os.environ.get("STAGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--against", type=Path, metavar="CHECKOUT",
                        help="another checkout whose stage serve is measured in the same run, for comparison")
    args = parser.parse_args()
    roots = [args.against.resolve(), ROOT] if args.against else [ROOT]
    scratch = Path(tempfile.mkdtemp(prefix="stage-bench-", dir=args.dir))
    results: dict[Path, list[Result | str]] = {root: [] for root in roots}
    try:
        for root in roots:  # the two checkouts take turns on each database
            db = scratch / f"takes-{roots.index(root)}.db"
            results[root].append(await _run("SQLite", f"sqlite:///{db}", scratch, args.takes, root))
        for root in roots:
            results[root].append(await _postgres(args.postgres, scratch, args.takes, root))
    finally:
        shutil.rmtree(scratch)

    print(f"take acknowledgement over REST, {args.takes} takes one after the other, each request at a random point "
          "of the engine's cycle (ms)")
    print(f"  {'':<16} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    if args.against:
        print(f"-- {roots[0]} (against)")
        for r in results[roots[0]]:
            _report(r)
        print(f"-- {ROOT} (this checkout; ratios to the one against)")
    for k, r in enumerate(results[ROOT]):
        _report(r, results[roots[0]][k] if args.against else None)


if __name__ == "__main__":
    asyncio.run(main())
