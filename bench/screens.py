"""Screens in step: many ``/musician`` pages in headless Chromium against one ``stage serve`` playing a cue.

Some pages reach the stage through a delaying TCP proxy
(tests/peers/delayproxy.py: the kernel here has no ``netem``): every chunk each way is held back by
``--delay-ms`` ± ``--jitter-ms`` (uniform), order kept; the others are on
loopback.  The stage plays a cue with a hit on every bar (a streamer into a
punch, every other one a flutter of 3) for ``--seconds``.

Ground truth: the browser stamps each frame (its rAF time) on the wall
clock (``performance.timeOrigin``), which this process reads too; with the
offset between the wall clock and the monotonic clock the stage runs on,
each frame's moment lands on the stage's clock.  From the pages' debug
records (``?debug=1``):

- **clock-sync error**: for every frame, the server time the page drew it
  for minus the true server time of that moment (rAF + one frame);
- **drawn vs scheduled**: for every streamer end and punch, the true moment of
  the frame that first showed it minus its scheduled time, per page, and the
  spread across pages (latest minus earliest page) per event, in ms and in
  pixels of streamer travel; a punch is on the nearest frame when that is
  within half a frame;
- **the page's cost**: script time per frame (the rAF callback, 100 µs
  resolution in Chromium) and dropped frames (rAF gaps over 1.5 periods).

    python bench/screens.py [--pages 8] [--proxied 4] [--seconds 30] [--delay-ms 2] [--jitter-ms 1]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Error, Page, async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from consolerig import FLAGS, TOKENS, StageServe, free_port  # noqa: E402
from peers.delayproxy import delaying_proxy  # noqa: E402

WIDTH, HEIGHT = 960, 540
STREAMER = 1.5  # seconds of streamer travel (px per ms = WIDTH / 1500)

SHEET = """
[picture]
rate = "24"
[defaults]
countoff = 1
streamer = "1.5s"
[[cue]]
id = "B1"
title = "Bench"
start = "00:00:10:00"
tempo = "12-0"
meter = "4/4"
bars = 40
""" + "".join(
    f'[[cue.hit]]\nbar = {bar}\nbeat = 3\nlabel = "hit {bar}"\ncolor = "yellow"\nstreamer = "1.5s"\n'
    + ("flutter = 3\n" if bar % 2 else "")
    for bar in range(2, 40)
)


def wall_minus_monotonic() -> float:
    samples = []
    for _ in range(15):
        a = time.monotonic()
        w = time.time()
        b = time.monotonic()
        samples.append(w - (a + b) / 2)
    return statistics.median(samples)


# -- the stage -----------------------------------------------------------------------------------------


# -- figures -------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def row(name: str, values: list[float], unit: float = 1.0, fmt: str = "{:7.3f}") -> str:
    """Percentiles of the sizes of ``values`` (signs dropped) times ``unit``."""
    a = [abs(v) * unit for v in values]
    if not a:
        return f"{name:<34} (none)"
    return (f"{name:<34} n={len(a):<6} p50 {fmt.format(pct(a, 50))}  p99 {fmt.format(pct(a, 99))}  "
            f"max {fmt.format(max(a))}")


def page_error(i: int) -> Callable[[Error], None]:
    def say(exc: Error) -> None:
        print(f"page {i}: {exc}", file=sys.stderr)
    return say


async def collect(page: Page, frames: dict[float, dict[str, Any]]) -> None:
    for f in await page.evaluate("stageDebug.frames"):
        frames[f["raf"]] = f


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "cues.toml").write_text(SHEET, encoding="utf-8")
        serve = StageServe(work, f"sqlite:///{work / 'takes.db'}", cues=work / "cues.toml")
        proxy_port = free_port()
        with delaying_proxy(proxy_port, serve.port, args.delay_ms / 1000, args.jitter_ms / 1000):
            serve.start()
            try:
                await run_pages(args, serve.port, proxy_port)
            finally:
                serve.stop()


async def run_pages(args: argparse.Namespace, port: int, proxy_port: int) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        pages: list[tuple[str, Page]] = []
        for i in range(args.pages):
            via = "proxy" if i < args.proxied else "loopback"
            context = await browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
            page = await context.new_page()
            at = proxy_port if via == "proxy" else port
            await page.goto(f"http://127.0.0.1:{at}/musician?debug=1&name=bench-{i}")
            page.on("pageerror", page_error(i))
            pages.append((via, page))
        for i, (_, page) in enumerate(pages):
            try:
                await page.wait_for_function("typeof stageDebug === 'object' && stageDebug.frames.length > 0"
                                             " && document.getElementById('warning').hidden", timeout=30_000)
            except Exception:
                state = await page.evaluate("[document.readyState, typeof stageDebug, location.href,"
                                            " document.getElementById('warning').innerText]")
                print(f"page {i} is not drawing: {state}", file=sys.stderr)
                raise
        # The wall clock as each browser sees it against this process's: the ground truth's own error.
        origin_check = []
        for _, page in pages:
            before = time.time()
            seen = await page.evaluate("(performance.timeOrigin + performance.now()) / 1000")
            after = time.time()
            origin_check.append((seen - (before + after) / 2, after - before))
        origins = [await page.evaluate("performance.timeOrigin") for _, page in pages]
        api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                headers={"Authorization": f"Bearer {TOKENS['conductor']}"})
        await api.post("/api/session/arm", json={"cue": "B1"})
        await api.post("/api/transport/locate", json={"bar": 1})
        await asyncio.sleep(1)
        for _, page in pages:  # frames before the roll are not part of the figures
            await page.evaluate("stageDebug.frames.length = 0; stageDebug.reports.length = 0")
        await api.post("/api/transport/play")
        frames: list[dict[float, dict[str, Any]]] = [{} for _ in pages]
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            await asyncio.sleep(min(4.0, end - time.monotonic()))
            for (_, page), store in zip(pages, frames, strict=True):
                await collect(page, store)
        await api.post("/api/transport/stop")
        reports = [await page.evaluate("stageDebug.reports") for _, page in pages]
        clients = (await api.get("/api/clients")).json()
        offset = wall_minus_monotonic()
        await api.aclose()
        await browser.close()

    def truth(i: int, raf: float) -> float:
        return float((origins[i] + raf) / 1000 - offset)

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{args.pages} pages ({args.proxied} behind a proxy of {args.delay_ms:g} ± {args.jitter_ms:g} ms each way, "
          f"{args.pages - args.proxied} on loopback), {args.seconds:g} s of cue B1, {WIDTH}x{HEIGHT}, streamers "
          f"{STREAMER:g} s = {WIDTH / STREAMER / 1000:.3f} px/ms")
    print(row("ground truth: browser wall clock (ms)", [o for o, _ in origin_check], 1000)
          + f"   (bracket {max(b for _, b in origin_check) * 1000:.2f} ms)")
    by_key: dict[str, list[float]] = defaultdict(list)
    for via in ("proxy", "loopback"):
        sync_err, drawn_streamer, drawn_punch, script, periods, dropped, on_frame, n_punch = [], [], [], [], [], 0, 0, 0
        idx = [i for i, (v, _) in enumerate(pages) if v == via]
        for i in idx:
            fs = sorted(frames[i].values(), key=lambda f: f["raf"])
            for f in fs:
                if not f["warning"]:
                    sync_err.append(f["t"] - (truth(i, f["raf"]) + f["dt"]))
                script.append(f["script"])
            gaps = [(b["raf"] - a["raf"]) for a, b in itertools.pairwise(fs)]
            if gaps:
                period = statistics.median(gaps)
                periods.append(period)
                dropped += sum(max(0, round(g / period) - 1) for g in gaps if g > 1.5 * period)
            dt = statistics.median(f["dt"] for f in fs) if fs else 1 / 60
            for r in reports[i]:
                shown = truth(i, r["raf"]) + dt
                late = shown - r["due"]
                if args.verbose and len(by_key) < 3:
                    print(f"    page {i} {r['key']}: page says {1000 * (r['shown'] - r['due']):+.2f} ms, "
                          f"truth {1000 * late:+.2f} ms (clock {1000 * (r['shown'] - shown):+.2f} ms)")
                by_key[r["key"]].append(shown)
                if r["kind"] == "streamer":
                    drawn_streamer.append(late)
                else:
                    drawn_punch.append(late)
                    n_punch += 1
                    on_frame += abs(late) <= dt / 2
        frames_total = sum(len(frames[i]) for i in idx)
        print(f"\n[{via}] {len(idx)} pages, {frames_total} frames, frame period {statistics.median(periods):.2f} ms")
        bias = statistics.median(sync_err) * 1000
        print(row("|clock-sync error| (ms)", sync_err, 1000) + f"   signed median {bias:+.3f}")
        for i in idx:
            errs = [f["t"] - (truth(i, f["raf"]) + f["dt"]) for f in frames[i].values() if not f["warning"]]
            print("  " + row(f"page {i}", errs, 1000) + f"   signed median {statistics.median(errs) * 1000:+.3f}")
            if args.verbose:
                fs = sorted((f for f in frames[i].values() if not f["warning"]), key=lambda f: f["raf"])
                t_start = fs[0]["raf"]
                worst = sorted(fs, key=lambda f: -abs(f["t"] - (truth(i, f["raf"]) + f["dt"])))[:5]
                print("     worst at", [(round((f["raf"] - t_start) / 1000, 2),
                                         round((f["t"] - truth(i, f["raf"]) - f["dt"]) * 1000, 2)) for f in worst])
        print(row("  … in px of streamer travel", sync_err, WIDTH / STREAMER))
        print(row("|streamer end shown − due| (ms)", drawn_streamer, 1000))
        print(row("|punch shown − due| (ms)", drawn_punch, 1000))
        print(f"{'punches on the nearest frame':<34} {on_frame}/{n_punch}")
        print(row("script per frame (ms)", script, 1, "{:7.2f}"))
        print(f"{'dropped frames':<34} {dropped} of {frames_total + dropped}")
    spread = [max(v) - min(v) for v in by_key.values() if len(v) == args.pages]
    print()
    print(row("spread across pages per end (ms)", spread, 1000))
    print(row("  … in px of streamer travel", spread, WIDTH / STREAMER))
    logged = sorted(((c["name"], c["draws"]) for c in clients if c.get("draws")), key=lambda x: x[0])
    print("\nas the stage logged them (GET /api/clients: the pages' own estimates):")
    for name, d in logged:
        print(f"  {name:<10} count {d['count']:<4} late p50 {d['late_p50_ms']:+7.3f} ms  "
              f"|p99| {d['abs_p99_ms']:7.3f} ms  off-frame {d['off_frame']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--proxied", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--delay-ms", type=float, default=2.0)
    ap.add_argument("--jitter-ms", type=float, default=1.0)
    ap.add_argument("--verbose", action="store_true", help="the worst clock errors of each page, and when")
    asyncio.run(bench(ap.parse_args()))


if __name__ == "__main__":
    main()
