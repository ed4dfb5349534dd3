"""Take logging latency: from "recording rolled" to "the take is durable and may be acknowledged".

Times ``TakeStore.insert_take`` (insert + commit) for N takes, one after the
other as a stage logs them, and then ``end_take`` for each, on:

- SQLite in WAL mode with ``synchronous=FULL`` (the default store),
- the same inserts with ``synchronous=OFF`` (not durable; the reference for
  what durability costs),
- PostgreSQL (default ``synchronous_commit=on``) in a scratch database.

Run: ``python bench/takes.py [--takes 500] [--dir DIR] [--postgres URL]``.
SQLite files go to a scratch folder under DIR (default: the working
directory; a tmpfs would make fsync free and the figures meaningless).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from peers.postgres import PostgresUnavailable, scratch_database

from stage.adapters import store as store_module
from stage.adapters.store import TakeStore
from stage.core.session import Take


@dataclass
class Result:
    name: str
    settings: str
    start_ms: list[float]
    end_ms: list[float]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(name: str, store: TakeStore, count: int) -> Result:
    settings = await store.durability()
    for n in range(1, 11):  # warm the pool and the caches
        await store.insert_take(Take("0M0", n, "00:59:50:00", datetime.now(UTC)))
    start_ms: list[float] = []
    end_ms: list[float] = []
    for n in range(1, count + 1):
        take = Take("1M1", n, "01:00:10:00", datetime.now(UTC))
        t0 = time.perf_counter_ns()
        stored = await store.insert_take(take)
        start_ms.append((time.perf_counter_ns() - t0) / 1e6)
        ended = replace(stored, tc_out="01:00:52:12", ended_at=datetime.now(UTC), duration=42.5)
        t0 = time.perf_counter_ns()
        await store.end_take(ended)
        end_ms.append((time.perf_counter_ns() - t0) / 1e6)
    await store.close()
    return Result(name, settings, start_ms, end_ms)


async def _postgres(admin_url: str, count: int) -> Result | str:
    try:
        async with scratch_database(admin_url, prefix="stage_bench") as url:
            return await _run("PostgreSQL", await store_module.open_store(url), count)
    except PostgresUnavailable as exc:
        return f"unavailable: {exc}"


def _row(label: str, values: list[float]) -> str:
    rate = 1000 / statistics.fmean(values)
    return (
        f"{label:<30} {len(values):>5} {statistics.median(values):>8.3f} {_pct(values, 0.99):>8.3f} "
        f"{max(values):>8.3f} {rate:>8.0f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument(
        "--postgres", default=os.environ.get("STAGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stage-bench-", dir=args.dir))
    try:
        full = await store_module._open(f"sqlite:///{scratch / 'full.db'}", sqlite_synchronous="FULL")
        results = [await _run("SQLite WAL, synchronous=FULL", full, args.takes)]
        off = await store_module._open(f"sqlite:///{scratch / 'off.db'}", sqlite_synchronous="OFF")
        reference = await _run("SQLite WAL, synchronous=OFF", off, args.takes)
        results.append(reference)
    finally:
        shutil.rmtree(scratch)
    postgres = await _postgres(args.postgres, args.takes)
    if isinstance(postgres, Result):
        results.append(postgres)

    print(f"take log latency, {args.takes} takes each, one at a time (ms; rate = calls/s)")
    print(f"{'insert_take (start → durable)':<30} {'n':>5} {'p50':>8} {'p99':>8} {'max':>8} {'rate':>8}")
    for r in results:
        print(_row(f"{r.name}", r.start_ms))
    print(f"{'end_take (stop → durable)':<30}")
    for r in results:
        print(_row(r.name, r.end_ms))
    print()
    ref = statistics.median(reference.start_ms)
    for r in results:
        print(
            f"{r.name:<30} insert p50 = {statistics.median(r.start_ms) / ref:5.1f} x unsynced SQLite   [{r.settings}]"
        )
    if not isinstance(postgres, Result):
        print(f"PostgreSQL: {postgres}")


if __name__ == "__main__":
    asyncio.run(main())
