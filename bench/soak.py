"""A scoring day: a real ``stage serve`` with its screens, takes and troubles for ``--minutes``, watched for leaks.

What runs, all real:

- ``jackd -S -d dummy -r 48000 -p 256`` (synchronous: a client late on a busy
  host delays the cycle rather than lose its MIDI; ``--asynchronous`` without
  ``-S``) and ``stage serve`` on it (MIDI through JACK, the engine in its own
  process), the take log on a PostgreSQL database of its own, MQTT to a
  mosquitto of its own;
- a JACK witness (``tests/peers/recorder.py``, written apart from the stage's
  JACK code, in a process of its own) connected to ``<client>:click_out``:
  every click's sample;
- Chromium with 8 ``/musician`` pages (``?debug=1``: two behind a TCP proxy
  that holds each chunk back 2 ± 1 ms, one behind a proxy that cuts its link
  for 20 s every 10 minutes, refusing it meanwhile, five on loopback), a
  conductor's page and an engineer's page, all signed in and drawing.

The day (one hour by default; the schedule shrinks with the run, so that in
``--minutes 3`` every kind of event happens at least once):

- a pass every 30 s: record and rehearse alternating, every fifth a pickup into
  bar 9, the others from the top; picture rolls 18 s and stops;
- a new cue sheet (``PUT /api/cues``) between passes every 15 minutes;
- the broker stopped for 30 s once, and the engine SIGKILLed once mid-roll (the
  service restarts it);
- every minute (every 10 s in runs under half an hour) a row: the service's and
  the engine's RSS and open files (``/metrics``), each page's JS heap after a
  garbage collection (Chrome DevTools Protocol), clients connected, the take
  log's size (``pg_database_size``), each musician page's clock-sync error p99
  (its drawn frames against the true server time, as ``bench/screens.py``
  measures it), clicks heard and clicks off their sample at the witness, takes
  acknowledged and takes kept in the database.

Verdicts (exit 1 when one fails): the service's RSS grows less than
``--leak-mb`` MB an hour (scaled to the same growth over a shorter run) within
its noise bound, and so does every page's heap; the clock-sync error p99 of the
last sixth of the run (a minute at least) is the first sixth's (at most twice
it plus 2 ms); no
click off its sample outside the roll the engine was killed in; every
acknowledged take is in the take log; the stage published on MQTT again after
the broker came back; every page connected at the end.

    python bench/soak.py [--minutes 60] [--out DIR (bench/results/soak)] [--leak-mb 1.0] [--asynchronous]

Writes DIR/soak.txt (the tables and verdicts, also printed), DIR/soak.csv,
DIR/soak.png and DIR/stage.log.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import csv
import math
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

import asyncpg  # type: ignore[import-untyped]  # noqa: E402
import httpx  # noqa: E402
from consolerig import FLAGS, TOKENS, StageServe, free_port  # noqa: E402
from peers.jackd import jack_server, require, unique_name  # noqa: E402
from peers.postgres import scratch_database  # noqa: E402
from playwright.async_api import BrowserContext, CDPSession, Page, async_playwright  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from screens import wall_minus_monotonic  # noqa: E402
from soakverdict import Fit, flat, least_squares, match_clicks, off, p99, same_as, sample_offsets  # noqa: E402

SR = 48000
PERIOD = 256
CUE = "S1"
DOWNBEAT = 10.0  # the cue's start, 00:00:10:00 at 24 fps, in picture seconds
PICKUP_BAR = 9
ROLL = 18.0  # seconds each pass rolls
WIDTH, HEIGHT = 960, 540
DRAWING = "document.getElementById('link').textContent === 'connected' && typeof stageDebug === 'object'"
SIGNED = "document.body.dataset.signed === 'yes'"
NOTES = {"accent": 76, "normal": 77, "warning": 75}  # [midi] accent, click and warning notes by default


def sheet(revision: int) -> str:
    """The day's cue sheet; each revision moves a hit and retitles the cue, as a music editor's would."""
    hits = "".join(
        f'[[cue.hit]]\nbar = {bar}\nbeat = {1 + (bar + revision) % 4}\nlabel = "hit {bar}"\ncolor = "yellow"\n'
        f'streamer = "1.5s"\n' + ("flutter = 3\n" if bar % 3 == 0 else "")
        for bar in range(2, 60, 2)
    )
    return (f'[picture]\ntitle = "Soak"\nrate = "24"\n[defaults]\ncountoff = 1\nstreamer = "3ft"\n'
            f'[[cue]]\nid = "{CUE}"\ntitle = "A scoring day, revision {revision}"\nstart = "00:00:10:00"\n'
            f'tempo = "12-0"\nmeter = "4/4"\nbars = 80\n' + hits)


@dataclass(frozen=True)
class Plan:
    """When things happen, in seconds from the start of the run."""

    seconds: float
    sample_every: float
    take_every: float = 30.0
    pickup_every: int = 5
    revise_every: float = 900.0
    cut_every: float = 600.0
    cut_for: float = 20.0
    broker_at: float = 0.0
    broker_for: float = 30.0
    kill_at: float = 0.0

    @classmethod
    def of(cls, minutes: float) -> Plan:
        """The hour's schedule, shrunk proportionally for a shorter run (never below what makes each event real)."""
        seconds = minutes * 60
        scale = min(1.0, minutes / 60)
        return cls(
            seconds=seconds,
            sample_every=60.0 if minutes >= 30 else 10.0,
            revise_every=max(45.0, 900.0 * scale),
            cut_every=max(60.0, 600.0 * scale),
            cut_for=max(8.0, 20.0 * scale),
            broker_at=seconds * 0.4,
            broker_for=max(10.0, 30.0 * scale),
            # Halfway: the restart's stir is over before the last sixth, which the sync verdict compares with the
            # first (at 70 %, a 3-minute run's kill fell in a pass inside its last 30 s).
            kill_at=seconds * 0.5,
        )

    def cuts(self) -> list[float]:
        """When the link is cut: every ``cut_every``, the first one ``cut_every`` / 2 in."""
        at, out = self.cut_every / 2, []
        while at + self.cut_for + 30 < self.seconds:  # the page has time to come back before the day ends
            out.append(at)
            at += self.cut_every
        return out


# -- the proxies (a process of their own, so that the bench's own work never delays a chunk) ------------------


def run_proxies(routes: list[tuple[int, int, float, float]], cut: Any, ready: Any) -> None:
    """Forward each (listen, target, delay, jitter): every chunk each way held back delay ± jitter, order kept.
    While ``cut`` is set the cuttable routes (delay < 0) drop every connection and refuse new ones."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, jitter: float,
                   live: set[asyncio.StreamWriter]) -> None:
        loop = asyncio.get_running_loop()
        queue: list[tuple[float, bytes]] = []

        def flush() -> None:
            now = loop.time()
            while queue and queue[0][0] <= now:
                writer.write(queue.pop(0)[1])
            if queue:
                loop.call_at(queue[0][0], flush)

        last = 0.0
        try:
            while data := await reader.read(65536):
                if delay <= 0:
                    writer.write(data)
                    continue
                last = max(last, loop.time() + delay + random.uniform(-jitter, jitter))
                queue.append((last, data))
                if len(queue) == 1:
                    loop.call_at(last, flush)
        finally:
            loop.call_at(last + 0.001, writer.close)
            live.discard(writer)

    async def serve(listen: int, target: int, delay: float, jitter: float) -> asyncio.Server:
        live: set[asyncio.StreamWriter] = set()
        cuttable = delay < 0

        async def watch() -> None:
            while True:
                await asyncio.sleep(0.05)
                if cuttable and cut.is_set():
                    for w in list(live):
                        w.transport.abort()
                    live.clear()

        async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            if cuttable and cut.is_set():
                client_w.transport.abort()
                return
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
            for sock in (client_w.get_extra_info("socket"), server_w.get_extra_info("socket")):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            live.update((client_w, server_w))
            await asyncio.gather(pipe(client_r, server_w, delay, jitter, live),
                                 pipe(server_r, client_w, delay, jitter, live), return_exceptions=True)

        watcher = asyncio.create_task(watch())
        server = await asyncio.start_server(handle, "127.0.0.1", listen)
        server.watcher = watcher  # type: ignore[attr-defined]  # kept alive with its server
        return server

    async def main() -> None:
        servers = [await serve(*route) for route in routes]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


# -- the witness (a process of its own: its JACK callback never waits for this bench's interpreter) ----------------


def run_witness(name: str, server: str, conn: Any) -> None:
    """A JACK MIDI recorder with one input, ``click``; answers ``k`` on ``conn`` with every event from the k-th on:
    (frame, bytes, when on the monotonic clock).  Its main thread only waits on the pipe, so the callback's thread
    has the interpreter whenever JACK calls it (in a synchronous server a late client holds up every other one)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from peers.recorder import MidiPeer  # noqa: PLC0415 -- in the witness's own process

    with MidiPeer(name, servername=server, inputs=("click",), outputs=()) as peer:
        conn.send(peer.port("click"))
        while (k := conn.recv()) is not None:
            frames, at = peer.events("click")[k:], peer.events_at("click")[k:]
            conn.send([(f, d, w) for (f, d), (w, _) in zip(frames, at, strict=False)])


class Witness:
    """The witness's process, and what it heard so far."""

    def __init__(self, server: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=run_witness, args=(unique_name("witness"), server, child), daemon=True)
        self.proc.start()
        if not self.conn.poll(30):
            raise RuntimeError("the JACK witness did not start")
        self.port: str = self.conn.recv()
        self.heard: list[tuple[int, bytes, float]] = []

    def events(self) -> list[tuple[int, bytes, float]]:
        """Every MIDI event heard so far: (frame, bytes, when)."""
        self.conn.send(len(self.heard))
        self.heard += self.conn.recv()
        return self.heard

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


# -- the broker -------------------------------------------------------------------------------------------------


class Broker:
    """mosquitto on a port of its own, stopped and started again on it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([require("mosquitto", "mosquitto"), "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


# -- what is measured ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One sample of the day."""

    minute: float
    service_rss: float  # MB
    service_fds: int
    engine_rss: float  # MB (NaN while no engine runs)
    engine_fds: int
    clients: int
    db_mb: float
    heaps: list[float]  # MB, one per page (musicians, conductor, engineer)
    sync_p99: list[float]  # ms, one per musician page, since the last row
    heard: int  # clicks heard so far
    off: int  # of those, off their sample (the killed roll's excluded)
    acked: int
    kept: int
    mqtt_published: int
    late: int = 0  # events the engine sent late or dropped (since its process started), xruns
    xruns: int = 0
    load: float = 0.0  # the host's load average over the last minute


@dataclass
class Pass:
    """One roll: what it was and what the witness heard."""

    number: int
    kind: str  # record, rehearse, pickup record, pickup rehearse
    at: float  # seconds into the run
    heard: int = 0
    missing: int = 0
    off: int = 0
    worst: int = 0  # samples
    unmatched: int = 0  # note-ons heard that are no click of the roll (counted in ``off``)
    killed: bool = False
    restarted: bool = False  # the engine restarted during the roll by itself (a host that starved it)
    failed: str = ""


@dataclass
class Day:
    """Everything the run learned."""

    plan: Plan
    started: float
    rows: list[Row] = field(default_factory=list)
    passes: list[Pass] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)  # (seconds into the run, what)
    acked: dict[int, str] = field(default_factory=dict)  # take id → label, as the stage acknowledged it
    sync: list[list[tuple[float, float]]] = field(default_factory=list)  # per musician page: (seconds, error ms)

    def now(self) -> float:
        return time.monotonic() - self.started

    def say(self, what: str) -> None:
        at = self.now()
        self.events.append((at, what))
        print(f"[{at / 60:6.2f} min] {what}", flush=True)


@dataclass
class Screen:
    """One page and its DevTools session."""

    name: str
    page: Page
    cdp: CDPSession
    musician: bool
    last_raf: float = 0.0


FRAMES = """(after) => {
    const out = [];
    for (const f of stageDebug.frames) if (f.raf > after && !f.warning) out.push([f.raf, f.t, f.dt]);
    // The hook's other records grow with every report: kept short, so the heap measures the page, not the hook.
    stageDebug.reports.length = 0;
    stageDebug.transports.length = 0;
    return [performance.timeOrigin, out];
}"""


async def sync_errors(screen: Screen) -> list[float]:
    """The clock-sync error (ms) of each frame the page drew since the last look: the server time it drew for, less
    the true server time of that moment (its rAF on the wall clock, on the monotonic clock the stage runs on)."""
    origin, frames = await screen.page.evaluate(FRAMES, screen.last_raf)
    offset = wall_minus_monotonic()
    if frames:
        screen.last_raf = frames[-1][0]
    return [(t - ((origin + raf) / 1000 - offset + dt)) * 1000 for raf, t, dt in frames]


async def heap_mb(screen: Screen) -> float:
    """The page's JS heap in use after a full garbage collection (what stays is what a leak would grow)."""
    await screen.cdp.send("HeapProfiler.collectGarbage")
    usage = await screen.cdp.send("Runtime.getHeapUsage")
    return float(usage["usedSize"]) / 1e6


def scrape(text: str) -> dict[str, float]:
    """The figures of ``/metrics`` this bench reads, by name (and by edge event for MQTT)."""
    out: dict[str, float] = {"clients": 0.0}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in {"process_resident_memory_bytes", "process_open_fds",
                          "stage_engine_process_resident_memory_bytes", "stage_engine_process_open_fds"}:
                out[s.name] = s.value
            elif s.name in {"stage_engine_late_events_total", "stage_engine_dropped_events_total",
                            "stage_engine_xruns_total"}:
                out[s.name.removeprefix("stage_engine_").removesuffix("_total")] = s.value
            elif s.name == "stage_clients":
                out["clients"] += s.value
            elif s.name == "stage_edge_events_total" and s.labels.get("edge") == "mqtt":
                out[f"mqtt_{s.labels.get('event')}"] = s.value
    return out


# -- the day ------------------------------------------------------------------------------------------------------


class Soak:
    """The stage, its peers and its screens for one run."""

    def __init__(self, args: argparse.Namespace, work: Path, database: str, jack: str) -> None:
        self.args = args
        self.plan = Plan.of(args.minutes)
        self.work = work
        self.database = database
        self.jack = jack
        self.client = unique_name("soak")
        self.broker = Broker()
        self.witness = Witness(jack)
        (work / "cues.toml").write_text(sheet(0), encoding="utf-8")
        sections = (
            f'[midi]\nenabled = true\nserver = "{jack}"\nclient = "{self.client}"\nmtc_out = false\n'
            f'mtc_in = false\nconnect_click_out = ["{self.witness.port}"]\n[click]\naudio = false\n'
            f'[mqtt]\nurl = "mqtt://127.0.0.1:{self.broker.port}"\nname = "{self.client}"\n'
        )
        self.serve = StageServe(work, database, cues=work / "cues.toml", sections=sections)
        self.base = self.serve.base
        self.day = Day(self.plan, time.monotonic())
        self.screens: list[Screen] = []
        self.cut = multiprocessing.get_context("spawn").Event()
        self.revision = 0
        self.killed = False
        self.heard_mark = 0
        self.published_at_return = math.nan
        self.db: Any = None

    # -- the run

    async def run(self) -> Day:
        ctx = multiprocessing.get_context("spawn")
        delayed, cuttable = free_port(), free_port()
        ready = ctx.Event()
        routes = [(delayed, self.serve.port, 0.002, 0.001), (cuttable, self.serve.port, -1.0, 0.0)]
        proxies = ctx.Process(target=run_proxies, args=(routes, self.cut, ready), daemon=True)
        proxies.start()
        ready.wait(20)
        try:
            self.broker.start()
            self.serve.start()
            self.db = await asyncpg.connect(self.database.replace("+asyncpg", ""))
            async with httpx.AsyncClient(base_url=self.base, timeout=30) as self.http, \
                    self.browser_pages(delayed, cuttable):
                self.day = Day(self.plan, time.monotonic())
                self.day.sync = [[] for s in self.screens if s.musician]
                self.day.say(f"{len(self.screens)} pages up; the day begins ({self.plan.seconds / 60:g} min)")
                (await self.post("/api/session/arm", {"cue": CUE})).raise_for_status()
                print(header(self.screens), flush=True)
                await self.sample()
                tasks = [asyncio.create_task(self.takes()), asyncio.create_task(self.troubles()),
                         asyncio.create_task(self.sampler())]
                try:
                    await tasks[0]
                finally:
                    for t in tasks:
                        t.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                # Pages that lost the stage a moment ago (a host too busy to answer for 3 s) come back by themselves:
                # the last row waits up to a minute for them.
                await self.all_connected(60)
                await self.sample()
                self.day.say("the day ends")
        finally:
            if self.db is not None:
                await self.db.close()
            self.serve.stop()
            self.broker.stop()
            proxies.kill()
            self.witness.close()
            if self.serve.log.exists():
                shutil.copy(self.serve.log, self.args.out / "stage.log")
        return self.day

    async def all_connected(self, seconds: float) -> None:
        """Wait until every page is connected, or ``seconds`` have passed."""
        for _ in range(int(seconds)):
            if (await self.metrics())["clients"] >= len(self.screens):
                return
            await asyncio.sleep(1)

    @contextlib.asynccontextmanager
    async def browser_pages(self, delayed: int, cuttable: int) -> AsyncIterator[None]:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            try:
                for i in range(8):
                    port = delayed if i < 2 else cuttable if i == 2 else self.serve.port
                    via = "delayed" if i < 2 else "cut" if i == 2 else "loopback"
                    await self.open(browser, f"desk {i + 1} ({via})",
                                    f"http://127.0.0.1:{port}/musician?debug=1&name=desk%20{i + 1}", None)
                await self.open(browser, "conductor", f"{self.base}/conductor", "conductor")
                await self.open(browser, "engineer", f"{self.base}/engineer", "engineer")
                for s in self.screens:
                    await s.page.wait_for_function(DRAWING if s.musician else SIGNED, timeout=60_000)
                yield
            finally:
                await browser.close()

    async def open(self, browser: Any, name: str, url: str, role: str | None) -> None:
        context: BrowserContext = await browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        if role is not None:
            await context.add_init_script(f"try {{ localStorage.setItem('stage.token.{role}', "
                                          f"{TOKENS[role]!r}); }} catch (e) {{}}")
        page = await context.new_page()
        page.on("pageerror", lambda exc: print(f"{name}: {exc}", file=sys.stderr))
        await page.goto(url)
        self.screens.append(Screen(name, page, await context.new_cdp_session(page), role is None))

    # -- the takes

    async def post(self, path: str, body: Any = None, role: str = "conductor") -> httpx.Response:
        return await self.http.post(path, json=body, headers={"Authorization": f"Bearer {TOKENS[role]}"})

    async def takes(self) -> None:
        plan, day = self.plan, self.day
        n = 0
        last_revision = 0.0
        while (n + 1) * plan.take_every <= plan.seconds:
            await asyncio.sleep(max(0.0, n * plan.take_every + 1.0 - day.now()))
            n += 1
            if day.now() - last_revision >= plan.revise_every:
                last_revision = day.now()
                await self.revise()
            record = n % 2 == 1
            pickup = n % plan.pickup_every == 0
            kill = not self.killed and day.now() >= plan.kill_at
            kind = ("pickup " if pickup else "") + ("record" if record else "rehearse")
            one = Pass(n, kind, day.now())
            day.passes.append(one)
            try:
                await self.roll(one, record, pickup, kill)
            except httpx.HTTPStatusError as exc:  # a pass that fails is a finding: said, counted, the day goes on
                answer = exc.response
                one.failed = f"{exc.request.method} {exc.request.url.path}: {answer.status_code} {answer.text}"
                day.say(f"pass {n} ({kind}) failed: {one.failed}")
            except Exception as exc:  # as above, whatever went wrong
                one.failed = f"{type(exc).__name__}: {exc}"
                day.say(f"pass {n} ({kind}) failed: {one.failed}")
                with contextlib.suppress(httpx.HTTPError):
                    await self.post("/api/transport/stop")
        await asyncio.sleep(max(0.0, plan.seconds - day.now()))

    async def revise(self) -> None:
        self.revision += 1
        answer = await self.http.put("/api/cues", content=sheet(self.revision).encode(),
                                     headers={"Authorization": f"Bearer {TOKENS['editor']}",
                                              "content-type": "application/toml"})
        self.day.say(f"cue sheet revision {self.revision}: {answer.status_code} changed {answer.json().get('changed')}")
        answer.raise_for_status()

    async def health(self) -> dict[str, Any]:
        engine: dict[str, Any] = (await self.http.get("/api/health")).json()["engine"]
        return engine

    async def asked(self, one: Pass, path: str, body: Any = None) -> httpx.Response:
        """POST a transport command; while the engine is not answering (a host too busy to run it: 503), wait until
        it runs again and ask again, saying so."""
        for _ in range(3):
            answer = await self.post(path, body)
            if answer.status_code != 503:
                break
            self.day.say(f"pass {one.number}: {path} answered 503 ({answer.json().get('detail')}); "
                         "waiting for the engine")
            await self.engine_running(-1)
        return answer

    async def roll(self, one: Pass, record: bool, pickup: bool, kill: bool) -> None:
        answer = await self.post("/api/session/mode", {"mode": "record" if record else "rehearse"})
        answer.raise_for_status()
        restarts = (await self.health())["restarts"]
        mark = len(await asyncio.to_thread(self.witness.events))
        if pickup:
            answer = await self.asked(one, "/api/transport/play", {"pickup_bar": PICKUP_BAR})
        else:
            answer = await self.asked(one, "/api/transport/from_top")
        answer.raise_for_status()
        body = answer.json()
        if record:
            take = body["take"]
            self.day.acked[int(take["id"])] = str(take["label"])
        anchor = body["transport"]["anchor"]
        clicks = (await self.http.get(f"/api/cues/{CUE}/clicks")).json()
        if kill:
            await asyncio.sleep(ROLL / 2)
            await self.kill_engine(one)
        else:
            await asyncio.sleep(ROLL)
        stopped = await self.asked(one, "/api/transport/stop")
        if stopped.status_code == 200:
            end = float(stopped.json()["transport"]["position"])
        else:
            end = float((await self.http.get("/api/transport")).json()["position"])
        await asyncio.sleep(0.3)
        heard = (await asyncio.to_thread(self.witness.events))[mark:]
        engine = await self.health()
        if engine["restarts"] != restarts and not kill:
            one.restarted = True
            self.day.say(f"pass {one.number}: the engine was restarted during the roll without being killed "
                         f"({engine['reason']})")
        self.check_clicks(one, heard, anchor, [(DOWNBEAT + float(c["time"]), NOTES[c["kind"]]) for c in clicks], end)

    async def kill_engine(self, one: Pass) -> None:
        pid = int((await self.health())["pid"])
        os.kill(pid, signal.SIGKILL)
        self.killed = one.killed = True
        self.day.say(f"engine (pid {pid}) SIGKILLed mid-roll in pass {one.number}")
        back = await self.engine_running(pid)
        self.day.say(f"engine running again (pid {back['pid']}, restarts {back['restarts']})")

    async def engine_running(self, old: int) -> dict[str, Any]:
        """Wait until an engine other than pid ``old`` runs; its health."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                engine = await self.health()
                if engine["state"] == "running" and engine["pid"] not in (None, old):
                    return engine
            await asyncio.sleep(0.05)
        raise RuntimeError("the engine did not run again within 60 s")

    def check_clicks(self, one: Pass, heard: list[tuple[int, bytes, float]], anchor: dict[str, float],
                     clicks: list[tuple[float, int]], end: float) -> None:
        """Match each note-on heard in this roll to its click, then count samples off and clicks skipped."""
        t0, p0, speed = float(anchor["t0"]), float(anchor["p0"]), float(anchor["speed"]) or 1.0
        ons = [(frame, data[1], when) for frame, data, when in heard if data[0] & 0xF0 == 0x90]
        guess = p0 + speed * (ons[0][2] - t0) if ons else math.nan
        pairs = match_clicks([(f, n) for f, n, _ in ons], clicks, guess, SR)
        heard_f, heard_p = [f for f, _ in pairs], [p for _, p in pairs]
        positions = [p for p, _ in clicks]
        offsets = sample_offsets(heard_f, heard_p, p0, SR)
        # Skipped clicks: between the first and the last heard, every click must be (the roll's two ends depend on
        # when the engine took the roll and the stop, which no clock here reads to the sample).
        inside = [c for c in positions if heard_p and heard_p[0] < c < heard_p[-1]]
        skipped = sorted(set(inside) - set(heard_p))
        one.heard = len(ons)
        one.unmatched = len(ons) - len(pairs)
        one.missing = len(skipped) if not (one.killed or one.restarted) else 0
        one.off = off(offsets) + one.unmatched
        one.worst = max((abs(o) for o in offsets), default=0)
        if one.off or one.missing:
            self.day.say(f"pass {one.number}: {one.off} clicks off their sample (worst {one.worst}; "
                         f"{one.unmatched} heard that are no click), {one.missing} skipped "
                         f"({', '.join(f'{c - p0:.3f}' for c in skipped[:6])} s into the roll; rolled at {p0:.3f}, "
                         f"heard {heard_p[0] - p0 if heard_p else math.nan:.3f} to "
                         f"{heard_p[-1] - p0 if heard_p else math.nan:.3f} s, stopped at {end - p0:.3f} s)"
                         f"{' (the engine was killed in it)' if one.killed else ''}")

    # -- the troubles

    async def troubles(self) -> None:
        plan, day = self.plan, self.day
        todo: list[tuple[float, str]] = [(at, "cut") for at in plan.cuts()] + [(plan.broker_at, "broker")]
        for at, what in sorted(todo):
            await asyncio.sleep(max(0.0, at - day.now()))
            if what == "cut":
                self.cut.set()
                day.say(f"desk 3's link cut for {plan.cut_for:g} s")
                await asyncio.sleep(plan.cut_for)
                self.cut.clear()
                day.say("desk 3's link back")
            else:
                await asyncio.to_thread(self.broker.stop)
                day.say(f"broker stopped for {plan.broker_for:g} s")
                await asyncio.sleep(plan.broker_for)
                await asyncio.to_thread(self.broker.start)
                self.published_at_return = (await self.metrics()).get("mqtt_published", 0.0)
                day.say(f"broker back (the stage had published {self.published_at_return:g} messages)")

    # -- the samples

    async def metrics(self) -> dict[str, float]:
        return scrape((await self.http.get("/metrics")).text)

    async def sampler(self) -> None:
        """Frames every 10 s (a page keeps its last 2000); a row every ``sample_every``, by the clock."""
        tick = 10.0
        rows = 1
        while True:
            await asyncio.sleep(max(0.0, tick - self.day.now() % tick))
            if self.day.now() >= rows * self.plan.sample_every - tick / 2:
                rows += 1
                await self.sample()
            else:
                await self.collect()

    async def collect(self) -> None:
        at = self.day.now()
        for i, s in enumerate(x for x in self.screens if x.musician):
            with contextlib.suppress(Exception):
                self.day.sync[i].extend((at, e) for e in await sync_errors(s))

    async def sample(self) -> None:
        await self.collect()
        day = self.day
        m = await self.metrics()
        heaps = list(await asyncio.gather(*(heap_mb(s) for s in self.screens)))
        since = day.rows[-1].minute * 60 if day.rows else -1.0
        sync = [p99([e for t, e in errs if t > since]) for errs in day.sync]
        rows = await self.db.fetch("SELECT id FROM takes")
        kept = {int(r["id"]) for r in rows}
        size = await self.db.fetchval("SELECT pg_database_size(current_database())")
        checked = [p for p in day.passes if not (p.killed or p.restarted)]
        row = Row(
            minute=day.now() / 60,
            service_rss=m.get("process_resident_memory_bytes", math.nan) / 1e6,
            service_fds=int(m.get("process_open_fds", -1)),
            engine_rss=m.get("stage_engine_process_resident_memory_bytes", math.nan) / 1e6,
            engine_fds=int(m.get("stage_engine_process_open_fds", -1)),
            clients=int(m["clients"]),
            db_mb=float(size) / 1e6,
            heaps=heaps,
            sync_p99=sync,
            heard=sum(p.heard for p in day.passes),
            off=sum(p.off + p.missing for p in checked),
            acked=len(day.acked),
            kept=len(kept & set(day.acked)),
            mqtt_published=int(m.get("mqtt_published", 0)),
            late=int(m.get("late_events", 0) + m.get("dropped_events", 0)),
            xruns=int(m.get("xruns", 0)),
            load=os.getloadavg()[0],
        )
        day.rows.append(row)
        print(line(row), flush=True)


# -- the report ---------------------------------------------------------------------------------------------------


def header(screens: list[Screen]) -> str:
    heaps = " ".join(f"{short(s.name):>5}" for s in screens)
    syncs = " ".join(f"{short(s.name):>5}" for s in screens if s.musician)
    return (f"{'min':>6} {'load':>4} {'svcMB':>6} {'fd':>4} {'engMB':>6} {'fd':>3} {'cli':>3} {'dbMB':>6} | "
            f"heap MB: {heaps} | "
            f"sync p99 ms: {syncs} | {'click':>5} {'off':>3} {'late':>4} {'xrun':>4} | {'ack':>4} {'kept':>4} | "
            f"{'mqtt':>5}")


def short(name: str) -> str:
    return name.split(" (", 1)[0].replace("desk ", "m").replace("conductor", "con").replace("engineer", "eng")


def line(r: Row) -> str:
    heaps = " ".join(f"{h:5.2f}" for h in r.heaps)
    syncs = " ".join(f"{s:5.2f}" for s in r.sync_p99)
    return (f"{r.minute:6.2f} {r.load:4.0f} {r.service_rss:6.1f} {r.service_fds:4d} {r.engine_rss:6.1f} "
            f"{r.engine_fds:3d} {r.clients:3d} {r.db_mb:6.2f} | heap MB: {heaps} | sync p99 ms: {syncs} | "
            f"{r.heard:5d} {r.off:3d} {r.late:4d} {r.xruns:4d} | "
            f"{r.acked:4d} {r.kept:4d} | {r.mqtt_published:5d}")


@dataclass
class Verdict:
    what: str
    ok: bool
    detail: str


def verdicts(day: Day, pages: list[tuple[str, bool]], leak_mb_per_hour: float) -> list[Verdict]:
    """The day's verdicts (see the module's docstring); ``pages`` names each page and says if it is a musician's."""
    plan = day.plan
    hours = plan.seconds / 3600
    # The same growth over a shorter run as over an hour: a 3-minute run allows 1 MB in 3 minutes.
    limit = leak_mb_per_hour / min(1.0, hours)
    warm = max(plan.sample_every, plan.seconds * 0.1) / 60  # minutes of warm-up left out of the slopes
    rows = [r for r in day.rows if r.minute >= warm]
    out: list[Verdict] = []

    def slope(values: Callable[[Row], float]) -> Fit:
        pts = [(r.minute / 60, values(r)) for r in rows if not math.isnan(values(r))]
        return least_squares([x for x, _ in pts], [y for _, y in pts])

    fit = slope(lambda r: r.service_rss)
    out.append(Verdict("service RSS flat", flat(fit, limit), f"{fit.slope:+.2f} MB/h ± {fit.bound:.2f} "
                       f"(limit {limit:g} MB/h)"))
    engine = [r for r in rows if r.minute * 60 > plan.kill_at + 30 and not math.isnan(r.engine_rss)]
    if len(engine) >= 3:
        efit = least_squares([r.minute / 60 for r in engine], [r.engine_rss for r in engine])
        out.append(Verdict("engine RSS flat (after its restart)", flat(efit, limit),
                           f"{efit.slope:+.2f} MB/h ± {efit.bound:.2f}"))
    ffit = slope(lambda r: float(r.service_fds))
    out.append(Verdict("service open files flat", flat(ffit, max(1.0, limit)),
                       f"{ffit.slope:+.2f}/h ± {ffit.bound:.2f}"))
    for i, (name, _) in enumerate(pages):
        hfit = slope(lambda r, i=i: r.heaps[i])  # type: ignore[misc]
        out.append(Verdict(f"heap flat: {name}", flat(hfit, limit), f"{hfit.slope:+.3f} MB/h ± {hfit.bound:.3f}"))
    # A sixth of the run (ten minutes of the hour), but a minute at least: in a 3-minute run a sixth is 30 s, too
    # few samples for a p99 that one late frame on a loaded host does not decide.
    window = min(plan.seconds / 3, max(plan.seconds / 6, 60.0))
    for i, name in enumerate(name for name, musician in pages if musician):
        errs = day.sync[i]
        first = p99([e for t, e in errs if t < window])
        last = p99([e for t, e in errs if t > plan.seconds - window])
        out.append(Verdict(f"sync p99 steady: {name}", same_as(first, last) if not math.isnan(first + last)
                           else False, f"first {first:.2f} ms, last {last:.2f} ms"))
    checked = [p for p in day.passes if not (p.killed or p.restarted or p.failed)]
    bad = sum(p.off + p.missing for p in checked)
    heard = sum(p.heard for p in checked)
    restarted = [p.number for p in day.passes if p.restarted]
    out.append(Verdict("no click off its sample (the killed roll aside)", bad == 0 and heard > 0,
                       f"{heard} heard in {len(checked)} rolls, {bad} off or missing, worst "
                       f"{max((p.worst for p in checked), default=0)} samples"
                       + (f"; rolls {restarted} left out: the engine restarted in them unkilled" if restarted else "")))
    failed = [p for p in day.passes if p.failed]
    out.append(Verdict("every pass rolled and stopped", not failed, "; ".join(f"{p.number}: {p.failed}" for p in failed)
                       or f"{len(day.passes)} passes"))
    final = day.rows[-1]
    out.append(Verdict("every acknowledged take kept", final.kept == final.acked and final.acked > 0,
                       f"{final.acked} acknowledged, {final.kept} in the take log"))
    killed = [p for p in day.passes if p.killed]
    out.append(Verdict("the engine was killed and came back", bool(killed) and not killed[0].failed,
                       f"in pass {killed[0].number}" if killed else "never killed"))
    out.append(Verdict("MQTT published again after the broker's return",
                       final.mqtt_published > day_published_at_return(day), f"{final.mqtt_published} published"))
    out.append(Verdict("every page connected at the end", final.clients >= len(pages),
                       f"{final.clients} clients for {len(pages)} pages"))
    return out


def day_published_at_return(day: Day) -> float:
    for _, what in day.events:
        if what.startswith("broker back (the stage had published "):
            return float(what.split("published ")[1].split()[0])
    return math.inf


def plot(day: Day, screens: list[Screen], path: Path) -> None:
    import matplotlib as mpl  # noqa: PLC0415 -- only when a plot is written

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = day.rows
    x = [r.minute for r in rows]
    fig, axes = plt.subplots(5, 1, figsize=(11, 14), sharex=True)
    a = axes[0]
    a.plot(x, [r.service_rss for r in rows], "o-", label="service RSS (left)")
    engine = a.twinx()  # each on its own scale: a slope of a megabyte an hour is visible on neither otherwise
    engine.plot(x, [r.engine_rss for r in rows], "s-", color="tab:orange", label="engine RSS (right)")
    engine.set_ylabel("engine MB")
    engine.legend(fontsize=7, loc="upper right")
    a.set_ylabel("service MB")
    a.set_title("Memory of the stage's two processes")
    a = axes[1]
    a.plot(x, [r.service_fds for r in rows], "o-", label="service open files")
    a.plot(x, [r.engine_fds if r.engine_fds >= 0 else math.nan for r in rows], "s-", label="engine open files")
    a.plot(x, [r.clients for r in rows], "^-", label="clients connected")
    a.set_ylabel("count")
    a.set_title("Open files and clients")
    a = axes[2]
    for i, s in enumerate(screens):
        a.plot(x, [r.heaps[i] for r in rows], ".-", label=short(s.name))
    a.set_ylabel("MB")
    a.set_title("Each page's JS heap after a garbage collection")
    a = axes[3]
    for i, s in enumerate(page for page in screens if page.musician):
        a.plot(x, [r.sync_p99[i] for r in rows], ".-", label=short(s.name))
    a.set_ylabel("ms")
    a.set_title("Clock-sync error p99 per musician page (since the previous sample)")
    a = axes[4]
    a.plot(x, [r.acked for r in rows], "o-", label="takes acknowledged")
    a.plot(x, [r.kept for r in rows], "x--", label="takes kept")
    a.plot(x, [r.off for r in rows], "r^-", label="clicks off their sample")
    b = a.twinx()
    b.plot(x, [r.db_mb for r in rows], "k:", label="database MB")
    b.set_ylabel("database MB")
    a.set_ylabel("count")
    a.set_xlabel("minutes")
    a.set_title("Takes, clicks and the take log's size")
    for a in axes:
        for at, what in day.events:
            if "SIGKILL" in what or "broker stopped" in what:
                a.axvline(at / 60, color="red", alpha=0.4)
            elif "revision" in what:
                a.axvline(at / 60, color="green", alpha=0.3)
            elif "link cut" in what:
                a.axvline(at / 60, color="grey", alpha=0.3, linestyle="--")
        a.legend(fontsize=7, loc="upper left", ncol=5)
        a.grid(alpha=0.3)
    fig.suptitle(f"stage: a scoring day of {day.plan.seconds / 60:g} minutes (red: engine killed, broker stopped; "
                 "green: new cue sheet; grey: a link cut)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(day: Day, screens: list[Screen], args: argparse.Namespace) -> list[Verdict]:
    judged = verdicts(day, [(s.name, s.musician) for s in screens], args.leak_mb)
    title = (f"A scoring day: {day.plan.seconds / 60:g} min, {len(day.passes)} passes, load average "
             f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    kinds = collections.Counter(p.kind for p in day.passes)
    lines = [title, "passes: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())), header(screens)]
    lines += [line(r) for r in day.rows]
    lines += ["", "events:"] + [f"  {at / 60:6.2f} min  {what}" for at, what in day.events]
    lines += ["", "verdicts:"] + [f"  {'PASS' if v.ok else 'FAIL'}  {v.what}: {v.detail}" for v in judged]
    text = "\n".join(lines)
    print("\n" + text, flush=True)
    (args.out / "soak.txt").write_text(text + "\n", encoding="utf-8")
    with (args.out / "soak.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["minute", "load", "service_rss_mb", "service_fds", "engine_rss_mb", "engine_fds", "clients",
                    "db_mb",
                    *[f"heap_mb {s.name}" for s in screens], *[f"sync_p99_ms {s.name}" for s in screens if s.musician],
                    "clicks_heard", "clicks_off", "engine_late", "xruns", "takes_acked", "takes_kept",
                    "mqtt_published"])
        for r in day.rows:
            w.writerow([f"{r.minute:.3f}", f"{r.load:.1f}", f"{r.service_rss:.3f}", r.service_fds,
                        f"{r.engine_rss:.3f}", r.engine_fds, r.clients, f"{r.db_mb:.3f}",
                        *[f"{h:.4f}" for h in r.heaps],
                        *[f"{s:.3f}" for s in r.sync_p99], r.heard, r.off, r.late, r.xruns, r.acked, r.kept,
                        r.mqtt_published])
    plot(day, screens, args.out / "soak.png")
    return judged


async def soak(args: argparse.Namespace) -> list[Verdict]:
    os.environ.setdefault("JACK_NO_AUDIO_RESERVATION", "1")
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, jack_server(
            samplerate=SR, period=PERIOD, synchronous=not args.asynchronous) as jack:
        async with scratch_database(prefix="stage_soak") as url:
            run = Soak(args, Path(tmp), url, jack.name)
            day = await run.run()
            return report(day, run.screens, args)


def main(argv: list[str] | None = None) -> int:
    """Run the day; 0 when every verdict holds."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak")
    ap.add_argument("--leak-mb", type=float, default=1.0, help="MB an hour the service's RSS and a heap may grow")
    ap.add_argument("--asynchronous", action="store_true",
                    help="jackd without -S: a client late on a busy host misses its cycle (see docs/ops.md)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        judged = asyncio.run(stoppable(soak(args)))
    except asyncio.CancelledError:
        print("stopped: what was started is stopped, the scratch database dropped", file=sys.stderr)
        return 2
    return 0 if all(v.ok for v in judged) else 1


async def stoppable(day: Coroutine[Any, Any, list[Verdict]]) -> list[Verdict]:
    """Run the day so that SIGINT or SIGTERM (a background job ignores SIGINT) ends it with everything cleaned up."""
    task = asyncio.ensure_future(day)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    return await task


if __name__ == "__main__":
    sys.exit(main())
