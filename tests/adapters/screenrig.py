"""Screens under test: Debian's Chromium through Playwright, pointed at a running stage, and what it drew.

- :func:`chromium`: a headless browser with the flags the design names; each
  page it opens records its console, its errors and every request it makes.
- :class:`Screen`: one page at ``/musician`` with its debug hook on
  (``?debug=1``): the frames it drew, the reports it sent.
- :func:`lane_head`: where a streamer's head is in a screenshot, from pixels.
- :func:`wall_minus_monotonic`: the offset between the wall clock and the
  monotonic clock the stage runs on, so a page's frame (stamped by the
  browser on the wall clock) can be placed on the stage's clock: the ground
  truth against which the page's own estimate is judged.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from PIL import Image
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright
from stagerig import require

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
LIGHTS_SHARE = 0.3  # clients/web/lib/stage-lane.js: the beat lights' share of the lane's height


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Debian Chromium (its own download cannot work here)."""
    exe = require("chromium", "chromium")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=exe, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


def wall_minus_monotonic() -> float:
    """``time.time() - time.monotonic()``, the median of a few tight readings."""
    samples = []
    for _ in range(9):
        a = time.monotonic()
        w = time.time()
        b = time.monotonic()
        samples.append(w - (a + b) / 2)
    return statistics.median(samples)


@dataclass
class Screen:
    """One page of a stage's screen, and everything it logged and asked for."""

    page: Page
    base: str
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    time_origin: float = 0.0  # ms since the epoch at the page's performance.now() zero

    @classmethod
    async def open(cls, browser: Browser, base: str, query: str = "", size: tuple[int, int] = (1280, 720),
                   scale: float = 1) -> Screen:
        """Open ``/musician?debug=1&…`` in a fresh context (``scale``: device pixels per CSS pixel)."""
        context = await browser.new_context(viewport={"width": size[0], "height": size[1]}, device_scale_factor=scale)
        page = await context.new_page()
        screen = cls(page, base)
        page.on("console", screen._console)
        page.on("pageerror", lambda exc: screen.errors.append(str(exc)))
        page.on("request", screen._request)
        await page.goto(f"{base}/musician?debug=1{'&' + query if query else ''}")
        screen.time_origin = await page.evaluate("performance.timeOrigin")
        return screen

    def _console(self, msg: ConsoleMessage) -> None:
        self.console.append((msg.type, msg.text))

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the stage itself."""
        stage = urlsplit(self.base).netloc
        return [u for u in self.requests if not u.startswith("data:") and urlsplit(u).netloc != stage]

    def console_errors(self) -> list[str]:
        """Errors and warnings the page logged."""
        return [text for kind, text in self.console if kind in {"error", "warning"}]

    def page_errors(self) -> list[str]:
        """Errors and warnings the page's own code logged: not the browser's word on a connection the network lost
        (a refused or reset WebSocket or fetch, which it logs itself while the stage is down)."""
        network = ("Failed to load resource: net::", "WebSocket connection to ")
        return [text for text in self.console_errors() if not text.startswith(network)]

    async def frames(self, since: float = 0.0) -> list[dict[str, Any]]:
        """The frames the page drew with a rAF time after ``since`` (ms, page clock); ``warning`` ones drew nothing."""
        return list(await self.page.evaluate("(s) => stageDebug.frames.filter((f) => f.raf > s)", since))

    async def reports(self) -> list[dict[str, Any]]:
        """The ``drawn`` reports the page sent."""
        return list(await self.page.evaluate("stageDebug.reports"))

    async def page_now(self) -> float:
        """The page's performance.now() (ms)."""
        return float(await self.page.evaluate("performance.now()"))

    async def text(self, element_id: str) -> str:
        """The text of one element."""
        return str(await self.page.locator(f"#{element_id}").inner_text())

    def truth(self, raf_ms: float, offset: float) -> float:
        """The stage's clock (monotonic seconds) at page time ``raf_ms``, from the wall clock both can read."""
        return (self.time_origin + raf_ms) / 1000 - offset


def lane_head(png: bytes, color: tuple[int, int, int], row: float = 0.8) -> float | None:
    """The leading edge (CSS px from the left, at DPR 1) of a left-to-right streamer in a screenshot of the lane.

    Reads one row of the streamer band (``row`` of the way down it, below the
    label and the trail) and finds the rightmost pixels of ``color``; the
    partly covered column at the edge counts by its coverage.
    """
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    lights = height * LIGHTS_SHARE
    y = int(lights + (height - lights) * row)
    channel = max(range(3), key=lambda i: color[i])  # the streamer's strongest channel
    full = color[channel]
    coverage = [image.getpixel((x, y))[channel] / full for x in range(width)]  # type: ignore[index]
    solid = [x for x, c in enumerate(coverage) if c > 0.9]
    if not solid:
        return None
    edge = max(solid) + 1
    return edge + (coverage[edge] if edge < width else 0.0)


def lane_pixel(png: bytes, x: float, y: float) -> tuple[int, int, int]:
    """The pixel of a screenshot at fractions ``x``, ``y`` of its width and height, as RGB."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    r, g, b = image.getpixel((int(x * image.width), int(y * image.height)))  # type: ignore[misc]
    return int(r), int(g), int(b)
