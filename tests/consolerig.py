"""The control pages' rig: the real ``stage serve`` in its own process, and Debian's Chromium through Playwright.

- :class:`StageServe`: ``python -m stage serve`` (MIDI off: the engine's soft
  clock) on a port of its own, with role tokens and a take log at the URL
  given; killed with SIGKILL and started again on the same port and database.
- :func:`scratch_postgres`: a PostgreSQL database of its own, dropped after.
- :func:`chromium`: the headless browser, with the flags the stage's kiosks use.

A missing Chromium fails the test naming the package (never a skip).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from peers.postgres import PG_ADMIN
from peers.wait import SCALE
from playwright.sync_api import Browser, Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CUES = ROOT / "config" / "demo-cues.toml"
TOKENS = {"conductor": "tok-conductor-5f2a", "engineer": "tok-engineer-91c7", "editor": "tok-editor-0d3e"}
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StageServe:
    """``stage serve`` as a subprocess: start, SIGKILL, start again on the same port and take log."""

    def __init__(self, tmp: Path, database: str, *, cues: Path = CUES, screen_latency_ms: int = 0,
                 host: str = "127.0.0.1", tls: Path | None = None, redirect_port: int | None = None,
                 jack: str | None = None, sections: str = "") -> None:
        """``tls``: serve HTTPS with what ``stage tls init --dir TLS`` wrote (and plain HTTP on ``redirect_port``);
        ``jack``: MIDI through the JACK server of that name (default: MIDI off, the engine's soft clock);
        ``sections``: more of the config (TOML); one with ``[midi]`` in it runs the engine on MIDI as it says."""
        self.port = free_port()
        self.database = database
        self.config = tmp / "stage.toml"
        self.host = host
        self.tls = tls
        self.redirect_port = redirect_port
        auth = "".join(f'{role} = "{token}"\n' for role, token in TOKENS.items())
        https = "" if tls is None else (f'certificate = "{tls / "stage.pem"}"\nkey = "{tls / "stage.key"}"\n'
                                        f'authority = "{tls / "ca.pem"}"\n')
        if redirect_port is not None:
            https += f"redirect_port = {redirect_port}\n"
        midi = "enabled = false" if jack is None else f'enabled = true\nserver = "{jack}"'
        midi = "" if "[midi]" in sections else f"[midi]\n{midi}\n"
        self.config.write_text(
            f"{midi}{sections}\n[osc]\nenabled = false\n"
            f'[http]\nhost = "{host}"\nport = {self.port}\nscreen_latency_ms = {screen_latency_ms}\n{https}'
            f'[takes]\ndatabase = "{database}"\n[auth]\n{auth}'
            f'[picture]\ndir = "{tmp / "picture"}"\n'  # its own: never the checkout's stage-picture
        )
        self.cues = cues
        self.log = tmp / "stage.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT (https:// with ``tls``; the host's own address when it listens on one)"""
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What a client checks this stage's certificate with: its own authority."""
        return True if self.tls is None else ssl.create_default_context(cafile=self.tls / "ca.pem")

    def start(self, wait: bool = True) -> None:
        """Start it and wait until it answers (``wait`` False: :meth:`answering` waits, so that several start
        together)."""
        command = [sys.executable, "-m", "stage", "serve", "--config", str(self.config), "--cues", str(self.cues)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        if wait:
            self.answering()

    def answering(self) -> None:
        """Wait until the started stage answers."""
        assert self.proc is not None
        deadline = time.monotonic() + 60 * SCALE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"stage serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/api/health", timeout=1, verify=self.verify).status_code == 200:
                    return
            time.sleep(0.05)
        raise AssertionError(f"stage serve did not answer within {60 * SCALE:g} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, as a crash or a pulled plug."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10 * SCALE)
        except subprocess.TimeoutExpired:
            self.kill()

    def get(self, path: str) -> Any:
        """GET a REST path's JSON."""
        r = httpx.get(f"{self.base}{path}", timeout=5 * SCALE, verify=self.verify)
        r.raise_for_status()
        return r.json()


def _pg(coro_fn: Any) -> Any:
    async def run() -> Any:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5 * SCALE)
        try:
            return await coro_fn(admin)
        finally:
            await admin.close()

    # Playwright's sync API runs an event loop in this thread: the database is set up from a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database on the machine's server (fails if it is not reachable); dropped after."""
    name = f"stage_pages_{secrets.token_hex(5)}"
    _pg(lambda admin: admin.execute(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        _pg(lambda admin: admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        raise AssertionError("chromium is not installed: apt-get install chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


SMALL_TARGETS = """() => [...document.querySelectorAll('button, input, select, textarea, a[href], summary, label')]
  .filter((e) => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden')
  .filter((e) => e.tagName !== 'INPUT' || !e.closest('label'))  // a box inside its label: the label is the target
  .map((e) => { const r = e.getBoundingClientRect();
    const words = (e.textContent || e.name || '').trim().slice(0, 24);
    return {what: `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} ${words}`,
            width: Math.round(r.width), height: Math.round(r.height)}; })
  .filter((t) => t.width < 48 || t.height < 48)"""


def small_targets(page: Page) -> list[dict[str, Any]]:
    """What a finger can touch on ``page`` and is under 48 CSS px either way (the screens' rule: none)."""
    return list(page.evaluate(SMALL_TARGETS))


OVERFLOWS = """() => {
  const out = [];
  const wide = document.documentElement.scrollWidth;
  if (wide > innerWidth) out.push(`page ${wide} px wide`);
  for (const e of document.querySelectorAll('#follow *, button, .panel')) {
    if (e.offsetParent === null) continue;
    const r = e.getBoundingClientRect();
    const name = `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} ${(e.textContent || '').trim().slice(0, 20)}`;
    if (r.right > innerWidth + 0.5 || r.left < -0.5) out.push(`${name}: past the screen's edge`);
    if (e.tagName === 'BUTTON' && e.scrollWidth > e.clientWidth + 1) out.push(`${name}: its words spill out`);
  }
  return out;
}"""


def overflows(page: Page) -> list[str]:
    """What does not fit on ``page`` as it is now: a page wider than the screen, a header item or panel past its
    edge, a button whose words spill out of it."""
    return list(page.evaluate(OVERFLOWS))


def open_page(browser: Browser, url: str, *, width: int = 1280, height: int = 800, token: tuple[str, str] | None = None,
              touch: bool = False, web: Callable[[Route], None] | None = None) -> Page:
    """A page in a context of its own (its own localStorage); ``token`` (role, token) kept there beforehand,
    as a sign-in on an earlier visit would have; ``web``, a handler of its requests for ``/web/…``."""
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=touch)
    if token is not None:
        role, value = token
        context.add_init_script(f"try {{ localStorage.setItem('stage.token.{role}', {value!r}); }} catch (e) {{}}")
    if web is not None:
        context.route("**/web/**", web)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(url)
    return page
