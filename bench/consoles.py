"""From a touch on the conductor's page to what the engineer and the musicians see, with 8 screens connected.

The real ``stage serve`` (MIDI off: the engine's soft clock) in its own
process, Debian's Chromium headless with one conductor page, one engineer
page and N musician pages (default 8) all connected and drawing.  Every page
stamps what it sees with its own ``performance.timeOrigin + performance.now()``
(the pages of one browser read the same system clock), so:

- ``play → engineer row``: the conductor's touch on PLAY in record mode (the
  pointerdown event's time stamp) until the new take's row is in the engineer's
  take log (a MutationObserver on the table);
- ``play → musician take``: the same touch until each musician page shows the
  take number rolling in RECORD (its ``#take-no`` reads "take N");
- ``record → musician RECORD``: the moment the held press on record completes
  (the command leaves the page) until each musician page says RECORD.

Every trial is a real take in the take log (SQLite by default).  Run:
``python bench/consoles.py [--screens 8] [--takes 20] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from consolerig import TOKENS, StageServe, chromium, open_page
from playwright.sync_api import Page

WATCH = """(sel) => {
    window.seen = [];
    const node = document.querySelector(sel.root);
    new MutationObserver(() => {
        const t = performance.timeOrigin + performance.now();
        for (const el of document.querySelectorAll(sel.what)) {
            const text = (el.textContent || '').trim();
            const key = el.dataset.id ? `${el.dataset.id}:${el.dataset.state}` : text;
            if (!window.seen.some((s) => s.key === key)) window.seen.push({key, text, t});
        }
    }).observe(node, {subtree: true, childList: true, characterData: true, attributes: true});
}"""

TOUCHES = """() => {
    window.touches = [];
    window.holds = [];
    document.addEventListener('pointerdown', (ev) => window.touches.push({
        id: ev.target.closest('button')?.id ?? '', t: performance.timeOrigin + ev.timeStamp}), true);
    const rec = document.getElementById('record');
    new MutationObserver(() => {
        if (!('holding' in rec.dataset)) window.holds.push(performance.timeOrigin + performance.now());
    }).observe(rec, {attributes: true, attributeFilter: ['data-holding']});
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def report(name: str, values: list[float]) -> None:
    print(f"{name:28s} n={len(values):4d}  p50 {pct(values, 50):7.1f} ms  p99 {pct(values, 99):7.1f} ms  "
          f"max {max(values):7.1f} ms  mean {statistics.fmean(values):7.1f} ms")


def wait_for(page: Page, script: str, arg: object = None, seconds: float = 10) -> None:
    page.wait_for_function(script, arg=arg, timeout=seconds * 1000)


def run(screens: int, trials: int, database: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'takes.db'}"
        stage = StageServe(Path(tmp), url)
        stage.start()
        try:
            with chromium() as browser:
                musicians = [open_page(browser, f"{stage.base}/musician?name=desk%20{i + 1}", width=960, height=540)
                             for i in range(screens)]
                con = open_page(browser, f"{stage.base}/conductor", token=("conductor", TOKENS["conductor"]),
                                touch=True)
                eng = open_page(browser, f"{stage.base}/engineer", width=1440, height=900,
                                token=("engineer", TOKENS["engineer"]))
                for page in (con, eng):
                    wait_for(page, "document.body.dataset.signed === 'yes'")
                for m in musicians:
                    wait_for(m, "document.getElementById('link').textContent === 'connected'")
                con.evaluate(TOUCHES)
                eng.evaluate(WATCH, {"root": "#rows", "what": "tr.take"})
                for m in musicians:
                    m.evaluate(WATCH, {"root": "#take", "what": "#mode, #take-no"})
                con.locator(".cue[data-cue='1M1']").click()
                armed = "document.querySelector(\".cue[data-cue='1M1']\").getAttribute('aria-pressed') === 'true'"
                wait_for(con, armed)
                play_eng: list[float] = []
                play_mus: list[float] = []
                rec_mus: list[float] = []
                for trial in range(trials):
                    for m in musicians:
                        m.evaluate("window.seen = []")
                    con.locator("#record").hover()
                    con.mouse.down()
                    con.wait_for_timeout(1000)
                    con.mouse.up()
                    for m in musicians:
                        wait_for(m, "window.seen.some((s) => s.text === 'RECORD')")
                    held = con.evaluate("window.holds[window.holds.length - 1]")
                    rec_mus += [m.evaluate("window.seen.find((s) => s.text === 'RECORD').t") - held for m in musicians]
                    con.locator("#play").click()
                    number = trial + 1
                    wait_for(eng, "(n) => window.seen.some((s) => s.key.endsWith(':rolling'))")
                    for m in musicians:
                        wait_for(m, "(n) => window.seen.some((s) => s.text === `take ${n}`)", number)
                    touched = con.evaluate("window.touches.filter((t) => t.id === 'play').pop().t")
                    play_eng.append(eng.evaluate("window.seen.find((s) => s.key.endsWith(':rolling')).t") - touched)
                    play_mus += [m.evaluate("(n) => window.seen.find((s) => s.text === `take ${n}`).t", number)
                                 - touched for m in musicians]
                    eng.evaluate("window.seen = []")
                    con.wait_for_timeout(300)
                    con.locator("#stop").click()
                    wait_for(con, "document.body.dataset.rolling === 'no'")
                    con.locator("#rehearse").click()
                    wait_for(con, "document.body.dataset.mode === 'rehearse'")
                    con.wait_for_timeout(200)
                taken = stage.get("/api/takes")["takes"]
                print(f"{screens} musician screens + conductor + engineer; {len(taken)} takes logged on "
                      f"{url.split(':', 1)[0]}")
                report("play → engineer row", play_eng)
                report("play → musician take N", play_mus)
                report("record → musician RECORD", rec_mus)
        finally:
            stage.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=8)
    parser.add_argument("--takes", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL for the take log (default: SQLite)")
    args = parser.parse_args()
    started = time.monotonic()
    run(args.screens, args.takes, args.postgres)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
