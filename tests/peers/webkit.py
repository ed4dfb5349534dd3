"""Safari's engine: Debian's WebKitGTK (``webkit2gtk-driver``), its MiniBrowser driven by Selenium under Xvfb.

WebKitGTK is the WebKit of every iPad's browser, built for Linux: the same
JavaScriptCore, the same WebCodecs, with GStreamer behind its media.  What it
needs here, learnt by driving it (WebKitGTK 2.50, Debian 12):

* **a display**: MiniBrowser is a GTK program; it runs on an `Xvfb`
  (tests/peers/xvfb.py) of its own, sized for the window.
* **the browser to drive**: ``WebKitWebDriver`` (``/usr/bin/WebKitWebDriver``)
  launches whatever ``webkitgtk:browserOptions`` names, with ``--automation``
  among its arguments; Debian ships MiniBrowser beside the library
  (``/usr/lib/<arch>/webkit2gtk-4.1/MiniBrowser``, package
  ``libwebkit2gtk-4.1-0``).  Without ``--automation`` the session is refused
  ("Failed to match capabilities").
* **WebCodecs**: ``VideoDecoder`` is on by default, no setting or capability
  needed.  ``http://127.0.0.1`` and ``http://localhost`` are secure contexts
  (WebKit counts loopback as potentially trustworthy), so a stage on loopback
  has it over plain HTTP; a page from another host needs the stage's HTTPS.
* **H.264**: WebKitGTK decodes through GStreamer, with ``gstreamer1.0-libav``
  (avdec_h264) and ``gstreamer1.0-plugins-good``/``-bad`` (parsers) installed
  by scripts/setup.sh; ``VideoDecoder.isConfigSupported`` then says yes to
  H.264 (``avc1.64001f``, ``avc1.42E01E``), VP9 and AV1.
* **a flush before a jump back**: fed a keyframe earlier than what it decoded
  last with no ``flush()`` between, its decoder stamps every frame after it
  with the last timestamp it gave (the pictures are right).
* **CPU**: its 2D canvas is drawn in software here; a page-sized canvas
  redrawn every refresh keeps it at a few refreshes a second on a loaded
  host, so the picture's frame check runs at 640 × 400.
* **no console**: WebDriver classic has no standard way to read the page's
  console and this peer reads none; a test checks what the page shows.

A missing package raises :class:`peers.jackd.PeerMissing` naming it; a test
turns that into a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from peers.engine import wrapped
from peers.jackd import PeerMissing, require
from peers.wait import SCALE
from peers.xvfb import xvfb

DRIVER = "/usr/bin/WebKitWebDriver"
MINIBROWSER = "*/webkit2gtk-4.1/MiniBrowser"  # under /usr/lib


def minibrowser() -> str:
    """The path of Debian's MiniBrowser, or PeerMissing naming the package."""
    found = sorted(Path("/usr/lib").glob(MINIBROWSER))
    if not found:
        raise PeerMissing("WebKitGTK's MiniBrowser is not installed: apt-get install libwebkit2gtk-4.1-0")
    return str(found[0])


class WebKit:
    """MiniBrowser under WebKitWebDriver: one window, one page."""

    name = "webkit"

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def goto(self, url: str) -> None:
        """Load ``url`` (WebDriver waits for the load event)."""
        self.driver.get(url)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page; a JavaScript exception is raised as an AssertionError."""
        script = ("const done = arguments[arguments.length - 1];"
                  f"{wrapped(expression)}.then((text) => done({{text}}),"
                  " (e) => done({error: `${e} ${e && e.stack}`}));")
        answer = self.driver.execute_async_script(script)
        if "error" in answer:
            raise AssertionError(f"webkit: {expression[:80]!r} threw {answer['error']}")
        text = answer.get("text")
        return None if text is None else json.loads(text)

    def resize(self, width: int, height: int) -> None:
        """The window's size (MiniBrowser's toolbar takes some 40 px of its height)."""
        self.driver.set_window_rect(0, 0, width, height)

    def click(self, selector: str) -> None:
        """WebDriver's element click on ``selector``."""
        from selenium.webdriver.common.by import By  # noqa: PLC0415

        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def screenshot(self, path: Path) -> None:
        """What the window's page shows, as PNG."""
        path.write_bytes(self.driver.get_screenshot_as_png())


@contextlib.contextmanager
def webkit(width: int = 1280, height: int = 800) -> Iterator[WebKit]:
    """MiniBrowser on an Xvfb of its own, its page ``width`` × ``height`` CSS px; everything stopped after."""
    require("WebKitWebDriver", "webkit2gtk-driver")
    browser = minibrowser()
    try:
        from selenium import webdriver  # noqa: PLC0415 -- only the engine tests need it
        from selenium.webdriver.webkitgtk.options import Options  # noqa: PLC0415
        from selenium.webdriver.webkitgtk.service import Service  # noqa: PLC0415
    except ImportError as exc:
        raise PeerMissing("the Python package 'selenium' is not installed: pip install -e '.[dev]'") from exc
    with xvfb(f"{width + 200}x{height + 200}x24") as display:
        options = Options()
        options.binary_location = browser
        options.add_argument("--automation")
        options.add_argument("--ignore-tls-errors")  # the tests' stage on loopback serves plain HTTP anyway
        service = Service(executable_path=DRIVER, env={**os.environ, "DISPLAY": display})
        driver = webdriver.WebKitGTK(options=options, service=service)
        try:
            driver.set_script_timeout(60 * SCALE)
            driver.set_page_load_timeout(60 * SCALE)
            peer = WebKit(driver)
            peer.resize(width, height)
            yield peer
        finally:
            driver.quit()  # ends the session, MiniBrowser with it, then the driver's process
