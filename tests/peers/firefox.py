"""Firefox ESR (Debian's ``firefox-esr``), driven by Puppeteer over WebDriver BiDi from a small Node script.

Puppeteer is Node; tests/peers/firefox_driver.mjs runs it and speaks JSON
lines on its stdin and stdout: :class:`Firefox` sends one request at a time
and reads its answer.  ``puppeteer-core`` comes from npm with the lock file
(``npm ci``; it downloads no browser) and drives ``/usr/bin/firefox-esr``,
headless, with ``protocol: 'webDriverBiDi'``.

What Firefox needs here, learnt by driving it (Firefox 153 ESR, Debian 12):

* **WebCodecs** is on by default (no preference), in a secure context only:
  ``http://127.0.0.1`` and ``http://localhost`` count as secure (loopback is
  potentially trustworthy), so a stage on loopback has ``VideoDecoder`` over
  plain HTTP; a page from another host needs the stage's HTTPS.
* **H.264** is decoded by the system's FFmpeg libraries (``libavcodec``,
  which Debian's ``ffmpeg`` brings); VP9 and AV1 by Firefox's own.
* it starts headless without a display; its first start on a loaded machine
  takes some 15 s (a fresh profile each time, removed after).

Everything it started stops with it, also on failure: end of stdin closes
the browser; a driver that does not leave is sent SIGTERM (Puppeteer closes
Firefox on it), then SIGKILL, and Firefox's own process (its pid was
reported) is killed if still there.  A missing package raises
:class:`peers.jackd.PeerMissing` naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from peers.engine import wrapped
from peers.jackd import PeerMissing, require
from peers.wait import SCALE
from peers.xvfb import stop

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("firefox_driver.mjs")
FIREFOX = "/usr/bin/firefox-esr"


class Firefox:
    """One headless Firefox with one page, through the Node driver."""

    name = "firefox"

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: Queue[str | None] = Queue()
        self._ids = 0
        self.version = ""
        self.pid: int | None = None
        threading.Thread(target=self._read, name="firefox-driver", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _answer(self, seconds: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=seconds * SCALE)
        except Empty:
            raise AssertionError(f"firefox: the driver did not answer within {seconds * SCALE:g} s") from None
        if line is None:
            raise AssertionError(f"firefox: the driver exited with {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def started(self) -> None:
        """Wait for the driver's ready line."""
        ready = self._answer(90)
        self.version, self.pid = ready["version"], ready["pid"]

    def request(self, op: str, seconds: float = 60, **fields: Any) -> Any:
        """Send one request and answer its value; its error is raised as an AssertionError."""
        self._ids += 1
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": self._ids, "op": op, **fields}) + "\n")
        self.process.stdin.flush()
        answer = self._answer(seconds)
        assert answer.get("id") == self._ids, answer
        if "error" in answer:
            raise AssertionError(f"firefox: {op} failed: {answer['error']}")
        return answer["value"]

    def goto(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        self.request("goto", url=url)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (a promise awaited)."""
        text = self.request("evaluate", expression=wrapped(expression))
        return None if text is None else json.loads(text)

    def resize(self, width: int, height: int) -> None:
        """The page's viewport."""
        self.request("resize", width=width, height=height)

    def click(self, selector: str) -> None:
        """Puppeteer's click on ``selector`` (input actions through WebDriver BiDi)."""
        self.request("click", selector=selector)

    def screenshot(self, path: Path) -> None:
        """The page's viewport as PNG."""
        self.request("screenshot", path=str(path))

    def errors(self) -> list[str]:
        """What the page logged as an error or threw since the last call."""
        return list(self.request("errors"))

    def close(self) -> None:
        """Close the browser, and make sure nothing it started is left."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                self.process.stdin.close()  # the driver closes the browser and exits
        stop(self.process, graceful=20 * SCALE)
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


@contextlib.contextmanager
def firefox(width: int = 1280, height: int = 800) -> Iterator[Firefox]:
    """A headless Firefox ESR whose page is ``width`` × ``height`` CSS px; closed after."""
    binary = require("firefox-esr", "firefox-esr")
    node = require("node", "nodejs")
    if not (ROOT / "node_modules" / "puppeteer-core").is_dir():
        raise PeerMissing("puppeteer-core is not installed: npm ci (from the checkout, PUPPETEER_SKIP_DOWNLOAD=1)")
    process = subprocess.Popen([node, str(SCRIPT), binary, str(width), str(height)], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                               start_new_session=True)
    peer = Firefox(process)
    try:
        peer.started()
        yield peer
    finally:
        peer.close()
