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

On the engineer's page the row comes in two steps: shown (``play → engineer
row``: the take being recorded, from the session the moment picture rolls) and
kept (``play → engineer row kept``: its ``take`` event, once the take log has
committed it).  Where each goes is broken down from the page's own stamps of
the session and take messages it handled, and the store's commit time
(``/metrics``).

``--compare REF`` opens a second engineer's page whose scripts and styles
(``/web/…``) are those of git revision REF, served to that page alone by the
browser from the repository: the same stage, the same takes, the same moment,
so both pages see every trial and the figures are side by side with their
ratio.

``--hide SELECTORS`` opens a second engineer's page with the parts those CSS
selectors name hidden (``display: none``): what those parts cost the take
log, measured beside the whole page at the same moment.

Every trial is a real take in the take log (SQLite by default).  Run:
``python bench/consoles.py [--screens 8] [--takes 20] [--postgres URL] [--compare REF | --hide SELECTORS]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import mimetypes
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import httpx
from consolerig import ROOT, TOKENS, StageServe, chromium, open_page
from playwright.sync_api import Browser, Page, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeout

WATCH = """(sel) => {
    window.seen = [];
    const node = document.querySelector(sel.root);
    new MutationObserver(() => {
        const t = performance.timeOrigin + performance.now();
        for (const el of document.querySelectorAll(sel.what)) {
            const text = (el.textContent || '').trim();
            // a take's row: its take, state, and whether it is in the take log (a page without the word: always)
            const row = el.dataset;
            const take = `${el.querySelector('.cue')?.textContent}-${el.querySelector('.no')?.textContent}`;
            const key = 'state' in row ? `${take}:${row.state}:${row.kept ?? 'yes'}` : text;
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


# The engineer's page's own stamps of the messages that carry a take: when its handler began and how long it took.
STAMPS = """() => {
    window.stamps = [];
    const conn = window.stagePage.conn;
    const handle = conn.onmessage;
    conn.onmessage = (msg) => {
        const t0 = performance.timeOrigin + performance.now();
        handle(msg);
        const t1 = performance.timeOrigin + performance.now();
        const take = msg.type !== 'event' ? null : msg.topic === 'take' ? msg.data.take
            : msg.topic === 'session' ? msg.data.take : null;
        if (take) window.stamps.push({topic: msg.topic, id: take.id ?? null, take: take.take, t0, t1});
    };
}"""

# Take n's row: first on show (whatever it says), first shown as in the take log.
ROW_SHOWN = "(n) => window.seen.find((s) => s.key.startsWith(`1M1-${n}:`))"
ROW_KEPT = "(n) => window.seen.find((s) => s.key.startsWith(`1M1-${n}:`) && s.key.endsWith(':yes'))"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def report(name: str, values: list[float], against: list[float] | None = None) -> None:
    if not values:
        print(f"{name:40s} n=   0")
        return
    line = (f"{name:40s} n={len(values):4d}  p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}  "
            f"p99 {pct(values, 99):7.1f}  max {max(values):7.1f}  mean {statistics.fmean(values):7.1f} ms")
    if against:
        ratios = " ".join(f"{pct(values, q) / pct(against, q):.2f}" for q in (50, 95, 99))
        line += f"   (× {ratios} of the reference)"
    print(line)


def reference_files(ref: str, into: Path) -> Path:
    """``clients/web`` as git revision ``ref`` has it, written under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "clients/web"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "clients" / "web"


def serve_from(web: Path) -> Callable[[Route], None]:
    """A route handler giving a page ``/web/…`` from ``web`` (what is not there: the stage's).

    The page itself still comes from the stage: Chromium lets a page it was handed by a route handler open no
    WebSocket to a loopback address (its local network access checks)."""
    def handle(route: Route) -> None:
        path = route.request.url.split("//", 1)[1].split("/", 1)[1].split("?", 1)[0]
        file = web / path[4:] if path.startswith("web/") else None
        if file is None or not file.is_file():
            route.continue_()
            return
        kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file.name)[0] or "text/plain"
        route.fulfill(status=200, body=file.read_bytes(), headers={"Content-Type": kind, "Cache-Control": "no-cache"})
    return handle


def open_engineer(browser: Browser, base: str, web: Path | None, hide: str | None = None) -> Page:
    """The engineer's page at a desk's size, signed in; with ``web``, its files from there; with ``hide``, the
    parts those selectors name hidden."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    token = TOKENS["engineer"]
    context.add_init_script(f"try {{ localStorage.setItem('stage.token.engineer', {token!r}); }} catch (e) {{}}")
    if web is not None:
        context.route("**/web/**", serve_from(web))
    page = context.new_page()
    page.goto(f"{base}/engineer")
    if hide is not None:
        page.add_style_tag(content=f"{hide} {{ display: none !important; }}")
    return page


def commits(stage: StageServe) -> tuple[float, float]:
    """The store's commits so far (``stage_store_commit_seconds``): seconds in all, and how many."""
    got = {"sum": 0.0, "count": 0.0}
    for line in httpx.get(f"{stage.base}/metrics", timeout=10).text.splitlines():
        for part in got:
            if line.startswith(f'stage_store_commit_seconds_{part}{{outcome="ok"}}'):
                got[part] = float(line.rsplit(" ", 1)[1])
    return got["sum"], got["count"]


def wait_for(page: Page, script: str, arg: object = None, seconds: float = 30) -> None:
    page.wait_for_function(script, arg=arg, timeout=seconds * 1000)


def hold(con: Page) -> None:
    """Hold record on the conductor's page until it arms (on a loaded host a hold can come up short: again)."""
    for _ in range(3):
        con.locator("#record").hover()
        con.mouse.down()
        con.wait_for_timeout(1200)
        con.mouse.up()
        with contextlib.suppress(PlaywrightTimeout):
            wait_for(con, "document.body.dataset.mode === 'record'", seconds=10)
            return
    raise AssertionError("record did not arm after three holds")


class Engineer:
    """One engineer's page and what it saw, trial by trial."""

    def __init__(self, name: str, page: Page) -> None:
        self.name = name
        self.page = page
        self.shown: list[float] = []
        self.kept: list[float] = []
        self.session_at: list[float] = []  # the session naming the new take, handled (from the touch)
        self.take_at: list[float] = []  # its take event (committed), handled
        self.handling: list[float] = []  # how long the page's handler of those two took

    def watch(self) -> None:
        wait_for(self.page, "document.body.dataset.signed === 'yes'")
        self.page.evaluate(WATCH, {"root": "#rows", "what": "tr.take"})
        self.page.evaluate(STAMPS)

    def trial(self, touched: float, number: int) -> None:
        wait_for(self.page, ROW_KEPT, number)
        self.shown.append(self.page.evaluate(f"(n) => ({ROW_SHOWN})(n).t", number) - touched)
        self.kept.append(self.page.evaluate(f"(n) => ({ROW_KEPT})(n).t", number) - touched)
        # A page that lost its link (a loaded host can keep its sync replies away for 3 s) reads the log again
        # when it is back, and handles no take event for that take: its breakdown then skips the take.
        with contextlib.suppress(PlaywrightTimeout):
            wait_for(self.page, "(n) => window.stamps.some((s) => s.topic === 'take' && s.take === n)", number, 2)
        stamps = self.page.evaluate("(n) => window.stamps.filter((s) => s.take === n)", number)
        for topic, into in (("session", self.session_at), ("take", self.take_at)):
            got = next((s for s in stamps if s["topic"] == topic), None)
            if got is not None:
                into.append(got["t0"] - touched)
                self.handling.append(got["t1"] - got["t0"])
        self.page.evaluate("window.seen = []; window.stamps = []")


def run(screens: int, trials: int, database: str | None, compare: str | None, hide: str | None) -> None:
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
                engineers = [Engineer("engineer", open_engineer(browser, stage.base, None))]
                if compare is not None:
                    web = reference_files(compare, Path(tmp) / "reference")
                    engineers.append(Engineer(f"engineer {compare}", open_engineer(browser, stage.base, web)))
                elif hide is not None:
                    bare = open_engineer(browser, stage.base, None, hide)
                    engineers.append(Engineer(f"engineer, {hide} hidden", bare))
                wait_for(con, "document.body.dataset.signed === 'yes'")
                for m in musicians:
                    wait_for(m, "document.getElementById('link').textContent === 'connected'")
                con.evaluate(TOUCHES)
                for e in engineers:
                    e.watch()
                for m in musicians:
                    m.evaluate(WATCH, {"root": "#take", "what": "#mode, #take-no"})
                con.locator(".cue[data-cue='1M1']").click()
                armed = "document.querySelector(\".cue[data-cue='1M1']\").getAttribute('aria-pressed') === 'true'"
                wait_for(con, armed)
                play_mus: list[float] = []
                rec_mus: list[float] = []
                before = commits(stage)
                for trial in range(trials):
                    for m in musicians:
                        m.evaluate("window.seen = []")
                    hold(con)
                    for m in musicians:
                        wait_for(m, "window.seen.some((s) => s.text === 'RECORD')")
                    held = con.evaluate("window.holds[window.holds.length - 1]")
                    rec_mus += [m.evaluate("window.seen.find((s) => s.text === 'RECORD').t") - held for m in musicians]
                    con.locator("#play").click()
                    number = trial + 1
                    for m in musicians:
                        wait_for(m, "(n) => window.seen.some((s) => s.text === `take ${n}`)", number)
                    touched = con.evaluate("window.touches.filter((t) => t.id === 'play').pop().t")
                    for e in engineers:
                        e.trial(touched, number)
                    play_mus += [m.evaluate("(n) => window.seen.find((s) => s.text === `take ${n}`).t", number)
                                 - touched for m in musicians]
                    con.wait_for_timeout(300)
                    con.locator("#stop").click()
                    wait_for(con, "document.body.dataset.rolling === 'no'")
                    con.locator("#rehearse").click()
                    wait_for(con, "document.body.dataset.mode === 'rehearse'")
                    con.wait_for_timeout(200)
                taken = stage.get("/api/takes")["takes"]
                after = commits(stage)
                writes = after[1] - before[1]
                print(f"{screens} musician screens + conductor + {len(engineers)} engineer page(s); {len(taken)} takes "
                      f"logged on {url.split(':', 1)[0]}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
                print("ms from the touch on PLAY (record → RECORD: from the held press)")
                reference = engineers[1] if len(engineers) > 1 else None
                for e in engineers:
                    against = reference if e is not reference else None
                    report(f"play → {e.name} row", e.shown, against.shown if against else None)
                    report(f"play → {e.name} row kept", e.kept, against.kept if against else None)
                report("play → musician take N", play_mus)
                report("record → musician RECORD", rec_mus)
                print("where the engineer's row goes (each page's own stamps of the messages it handled):")
                for e in engineers:
                    report(f"  {e.name}: session (take N)", e.session_at)
                    report(f"  {e.name}: take event (kept)", e.take_at)
                    report(f"  {e.name}: handling one", e.handling)
                mean = 1000 * (after[0] - before[0]) / writes if writes else float("nan")
                print(f"  the store's commit (stage_store_commit_seconds): mean {mean:.1f} ms over {writes:.0f} writes")
        finally:
            stage.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=8)
    parser.add_argument("--takes", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL for the take log (default: SQLite)")
    parser.add_argument("--compare", default=None, metavar="REF",
                        help="also an engineer's page as git revision REF has it, on the same stage at the same time")
    parser.add_argument("--hide", default=None, metavar="SELECTORS",
                        help="also an engineer's page with the parts these CSS selectors name hidden")
    args = parser.parse_args()
    if args.compare is not None and args.hide is not None:
        parser.error("--compare and --hide each open the second engineer's page: give one")
    started = time.monotonic()
    run(args.screens, args.takes, args.postgres, args.compare, args.hide)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
