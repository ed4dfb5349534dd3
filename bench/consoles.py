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

``--trace FILE`` records a Chromium trace of the trials into FILE (open it in Perfetto) and prints, per page,
the time its renderer's main thread spent in the steps of its frames and in scripts, and its longest tasks (a
message waits behind the task running when it arrives).

``--before REF`` opens every page (the musicians', the conductor's, the
engineer's) as git revision REF has it for a quarter of the trials, then as the
work tree has it for the next quarter, and so on by turns, on the one stage:
a change's before and after in one run, each figure with its ratio.

``--hide SELECTORS`` opens a second engineer's page with the parts those CSS
selectors name hidden (``display: none``): what those parts cost the take
log, measured beside the whole page at the same moment.

Every trial is a real take in the take log (SQLite by default).  Run:
``python bench/consoles.py [--screens 8] [--takes 20] [--postgres URL] [--compare REF | --hide SELECTORS]
[--before REF] [--trace FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
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


# The engineer's page's own stamps of the messages it handled: when its handler began and how long it took, with
# the take a message names (the session and the take event carry it).
STAMPS = """() => {
    window.stamps = [];
    const conn = window.stagePage.conn;
    const handle = conn.onmessage;
    conn.onmessage = (msg) => {
        const t0 = performance.timeOrigin + performance.now();
        handle(msg);
        const t1 = performance.timeOrigin + performance.now();
        const topic = msg.type === 'event' ? msg.topic : msg.type;
        const take = msg.type !== 'event' ? null : msg.topic === 'take' ? msg.data.take
            : msg.topic === 'session' ? msg.data.take : null;
        window.stamps.push({topic, id: take?.id ?? null, take: take?.take ?? null, t0, t1});
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


def open_screen(browser: Browser, url: str, web: Path | None, width: int, height: int, *,
                token: tuple[str, str] | None = None, touch: bool = False) -> Page:
    """A page of the stage; with ``web``, its scripts and styles from there."""
    return open_page(browser, url, width=width, height=height, token=token, touch=touch,
                     web=serve_from(web) if web is not None else None)


def open_engineer(browser: Browser, base: str, web: Path | None, hide: str | None = None) -> Page:
    """The engineer's page at a desk's size, signed in; with ``web``, its files from there; with ``hide``, the
    parts those selectors name hidden."""
    page = open_screen(browser, f"{base}/engineer", web, 1440, 900, token=("engineer", TOKENS["engineer"]))
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
        # every message handled within a second of the touch: topic → [(handled from the touch, handling took)]
        self.messages: dict[str, list[tuple[float, float]]] = {}

    def watch(self) -> None:
        wait_for(self.page, "document.body.dataset.signed === 'yes'")
        self.page.evaluate(WATCH, {"root": "#rows", "what": "#rows > .take"})
        self.page.evaluate(STAMPS)

    def trial(self, touched: float, number: int) -> None:
        wait_for(self.page, ROW_KEPT, number)
        self.shown.append(self.page.evaluate(f"(n) => ({ROW_SHOWN})(n).t", number) - touched)
        self.kept.append(self.page.evaluate(f"(n) => ({ROW_KEPT})(n).t", number) - touched)
        # A page that lost its link (a loaded host can keep its sync replies away for 3 s) reads the log again
        # when it is back, and handles no take event for that take: its breakdown then skips the take.
        with contextlib.suppress(PlaywrightTimeout):
            wait_for(self.page, "(n) => window.stamps.some((s) => s.topic === 'take' && s.take === n)", number, 2)
        every = self.page.evaluate("() => window.stamps")
        for s in every:
            if 0 <= s["t0"] - touched < 1000:
                self.messages.setdefault(s["topic"], []).append((s["t0"] - touched, s["t1"] - s["t0"]))
        stamps = [s for s in every if s["take"] == number]
        for topic, into in (("session", self.session_at), ("take", self.take_at)):
            got = next((s for s in stamps if s["topic"] == topic), None)
            if got is not None:
                into.append(got["t0"] - touched)
                self.handling.append(got["t1"] - got["t0"])
        self.page.evaluate("window.seen = []; window.stamps = []")


# The steps of a renderer's main thread summed per page in a trace: each step's own name in Chromium's trace.
STEPS = ("FunctionCall", "FireAnimationFrame", "UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize",
         "Commit", "HitTest", "EventDispatch", "GCEvent", "MinorGC", "MajorGC")


def trace_summary(path: Path) -> None:
    """Per page of the trace (named by its page's script): seconds its main thread spent in each step, and its
    longest tasks."""
    events = json.loads(path.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    titles: dict[int, str] = {}
    mains: set[tuple[int, int]] = set()
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain":
            mains.add((e["pid"], e["tid"]))
        elif e.get("name") == "FunctionCall" and e["pid"] not in titles:
            script = str(e.get("args", {}).get("data", {}).get("url", ""))
            if "/web/" in script and script.endswith(".js") and "/lib/" not in script:
                titles[e["pid"]] = f"{script.rsplit('/', 1)[1][:-3]} ({e['pid']})"
    steps: dict[int, dict[str, float]] = {}
    tasks: dict[int, list[float]] = {}
    for e in events:
        if e.get("ph") != "X" or (e.get("pid"), e.get("tid")) not in mains:
            continue
        pid = e["pid"]
        ms = e.get("dur", 0) / 1000
        if e.get("name") == "ThreadControllerImpl::RunTask":
            tasks.setdefault(pid, []).append(ms)
        elif e.get("name") in STEPS:
            into = steps.setdefault(pid, {})
            into[e["name"]] = into.get(e["name"], 0.0) + ms / 1000
    print("each page's renderer main thread in the trace (s per step; tasks: count, p99 and longest ms):")
    for pid in sorted(tasks, key=lambda p: -sum(tasks[p])):
        longest = sorted(tasks[pid])
        name = titles.get(pid, str(pid))[:28]
        busy = " ".join(f"{k} {v:.2f}" for k, v in sorted(steps.get(pid, {}).items(), key=lambda kv: -kv[1])[:6])
        print(f"  {name:28s} tasks {len(longest):6d} busy {sum(longest) / 1000:6.2f} s  p99 {pct(longest, 99):6.1f}  "
              f"max {longest[-1]:6.1f}   {busy}")


TRACE_CATEGORIES = ["toplevel", "blink", "devtools.timeline", "v8", "disabled-by-default-devtools.timeline",
                    "__metadata"]


class Block:
    """What one set of pages saw over its trials (with ``--before``, one set per side, pages opened afresh)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.engineers: list[Engineer] = []
        self.play_mus: list[float] = []
        self.rec_mus: list[float] = []

    def absorb(self, other: Block) -> None:
        """Add another block's figures (of the same side) to these."""
        self.play_mus += other.play_mus
        self.rec_mus += other.rec_mus
        if not self.engineers:
            self.engineers = other.engineers
            return
        for mine, theirs in zip(self.engineers, other.engineers, strict=True):
            for field in ("shown", "kept", "session_at", "take_at", "handling"):
                getattr(mine, field).extend(getattr(theirs, field))
            for topic, got in theirs.messages.items():
                mine.messages.setdefault(topic, []).extend(got)


def block(browser: Browser, stage: StageServe, web: Path | None, label: str, screens: int, trials: int, taken: int,
          second: tuple[str, Path | None, str | None] | None) -> Block:
    """``trials`` takes (the first numbered ``taken + 1``) with every page's files from ``web`` (None: the work tree);
    ``second``, a second engineer's page beside the first: its name, its files and the parts it hides."""
    got = Block(label)
    musicians = [open_screen(browser, f"{stage.base}/musician?name=desk%20{i + 1}", web, 960, 540)
                 for i in range(screens)]
    con = open_screen(browser, f"{stage.base}/conductor", web, 1280, 800, token=("conductor", TOKENS["conductor"]),
                      touch=True)
    got.engineers = [Engineer("engineer", open_engineer(browser, stage.base, web))]
    if second is not None:
        name, files, hide = second
        got.engineers.append(Engineer(name, open_engineer(browser, stage.base, files, hide)))
    try:
        wait_for(con, "document.body.dataset.signed === 'yes'")
        for m in musicians:
            wait_for(m, "document.getElementById('link').textContent === 'connected'")
        con.evaluate(TOUCHES)
        for e in got.engineers:
            e.watch()
        for m in musicians:
            m.evaluate(WATCH, {"root": "#take", "what": "#mode, #take-no"})
        armed = "document.querySelector(\".cue[data-cue='1M1']\").getAttribute('aria-pressed') === 'true'"
        if not con.evaluate(armed):
            con.locator(".cue[data-cue='1M1']").click()
        wait_for(con, armed)
        for trial in range(trials):
            for m in musicians:
                m.evaluate("window.seen = []")
            hold(con)
            for m in musicians:
                wait_for(m, "window.seen.some((s) => s.text === 'RECORD')")
            held = con.evaluate("window.holds[window.holds.length - 1]")
            got.rec_mus += [m.evaluate("window.seen.find((s) => s.text === 'RECORD').t") - held for m in musicians]
            con.locator("#play").click()
            number = taken + trial + 1
            for m in musicians:
                wait_for(m, "(n) => window.seen.some((s) => s.text === `take ${n}`)", number)
            touched = con.evaluate("window.touches.filter((t) => t.id === 'play').pop().t")
            for e in got.engineers:
                e.trial(touched, number)
            got.play_mus += [m.evaluate("(n) => window.seen.find((s) => s.text === `take ${n}`).t", number)
                             - touched for m in musicians]
            con.wait_for_timeout(300)
            con.locator("#stop").click()
            wait_for(con, "document.body.dataset.rolling === 'no'")
            con.locator("#rehearse").click()
            wait_for(con, "document.body.dataset.mode === 'rehearse'")
            con.wait_for_timeout(200)
    finally:
        for page in [*musicians, con, *(e.page for e in got.engineers)]:
            page.context.close()
    return got


def show(got: Block, against: Block | None) -> None:
    """The figures of one side (with ``against``: each with its ratio to that side's)."""
    print(f"{got.label}: ms from the touch on PLAY (record → RECORD: from the held press)")
    reference = got.engineers[1] if len(got.engineers) > 1 else None
    for i, e in enumerate(got.engineers):
        other = against.engineers[i] if against is not None else reference if e is not reference else None
        report(f"play → {e.name} row", e.shown, other.shown if other else None)
        report(f"play → {e.name} row kept", e.kept, other.kept if other else None)
    report("play → musician take N", got.play_mus, against.play_mus if against else None)
    report("record → musician RECORD", got.rec_mus, against.rec_mus if against else None)
    print("where the engineer's row goes (each page's own stamps of the messages it handled):")
    for e in got.engineers:
        report(f"  {e.name}: session (take N)", e.session_at)
        report(f"  {e.name}: take event (kept)", e.take_at)
        report(f"  {e.name}: handling one", e.handling)
        for topic, seen in sorted(e.messages.items(), key=lambda kv: statistics.median(t for t, _ in kv[1])):
            report(f"    {topic} handled", [t for t, _ in seen])
            report(f"    {topic} handling took", [d for _, d in seen])


def run(screens: int, trials: int, database: str | None, compare: str | None, hide: str | None,
        trace: Path | None = None, before: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'takes.db'}"
        stage = StageServe(Path(tmp), url)
        stage.start()
        try:
            with chromium() as browser:
                second: tuple[str, Path | None, str | None] | None = None
                if compare is not None:
                    second = (f"engineer {compare}", reference_files(compare, Path(tmp) / "compare"), None)
                elif hide is not None:
                    second = (f"engineer, {hide} hidden", None, hide)
                # With --before, every page from REF and from the work tree by turns, in blocks of a quarter of
                # the trials each (the machine's drift over the run falls on both sides alike).
                plan: list[tuple[Path | None, str]] = [(None, "work tree")]
                per = trials
                if before is not None:
                    plan = [(reference_files(before, Path(tmp) / "before"), before), (None, "work tree")] * 2
                    per = max(1, trials // len(plan))
                done = commits(stage)
                if trace is not None:
                    browser.start_tracing(categories=TRACE_CATEGORIES)
                results: dict[str, Block] = {}
                for turn, (web, label) in enumerate(plan):
                    got = block(browser, stage, web, label, screens, per, turn * per, second)
                    results.setdefault(label, Block(label)).absorb(got)
                if trace is not None:
                    trace.write_bytes(browser.stop_tracing())
                logged = stage.get("/api/takes")["takes"]
                after = commits(stage)
                writes = after[1] - done[1]
                pages = f"{screens} musician screens + conductor + {1 + (second is not None)} engineer page(s)"
                print(f"{pages}; {len(logged)} takes logged on {url.split(':', 1)[0]}; "
                      f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
                reference_side = results.get(before) if before is not None else None
                for got in results.values():
                    show(got, reference_side if got is not reference_side else None)
                mean = 1000 * (after[0] - done[0]) / writes if writes else float("nan")
                print(f"the store's commit (stage_store_commit_seconds): mean {mean:.1f} ms over {writes:.0f} writes")
                if trace is not None:
                    trace_summary(trace)
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
    parser.add_argument("--before", default=None, metavar="REF",
                        help="every page as git revision REF has it, then as the work tree has it, by turns: the "
                             "change's before and after in one run")
    parser.add_argument("--trace", type=Path, default=None, metavar="FILE",
                        help="a Chromium trace of the trials into FILE, and each page's main thread summed from it")
    args = parser.parse_args()
    if args.compare is not None and args.hide is not None:
        parser.error("--compare and --hide each open the second engineer's page: give one")
    started = time.monotonic()
    run(args.screens, args.takes, args.postgres, args.compare, args.hide, args.trace, args.before)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
