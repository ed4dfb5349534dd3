# ruff: noqa: INP001 -- a script beside the pages it photographs, not a package
"""Screenshots of ``/musician`` in its main states, for ``docs/screens.md``.

Starts ``stage serve`` with the demo cue sheet on a free port, opens the
page in Debian's headless Chromium, drives the stage through its REST API
as a conductor would, and photographs each state when a streamer is well
under way.  ``python3 clients/screenshots.py [OUT_DIR]`` (default
``docs/screens``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from consolerig import FLAGS, TOKENS, StageServe  # noqa: E402

TOKEN = TOKENS["conductor"]


class Stage:
    """The REST API, as the conductor."""

    def __init__(self, port: int) -> None:
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"})

    def __call__(self, path: str, body: dict[str, Any] | None = None) -> None:
        r = self.http.post(path, json=body or {})
        if r.status_code != 200:
            msg = f"{path}: {r.status_code} {r.text}"
            raise RuntimeError(msg)

    def stop(self) -> None:
        """Stop if rolling."""
        if self.http.get("/api/transport").json()["rolling"]:
            self("/api/transport/stop")


def wait(page: Page, test: Callable[[Page], bool], seconds: float = 10) -> None:
    """Poll ``test`` until true."""
    deadline = time.monotonic() + seconds
    while not test(page):
        if time.monotonic() > deadline:
            msg = "the page never reached the state"
            raise TimeoutError(msg)
        time.sleep(0.01)


def streamer(label: str, low: float, high: float) -> Callable[[Page], bool]:
    """True once a streamer with ``label`` is between ``low`` and ``high`` of its way."""
    js = ("([label, low, high]) => { const f = stageDebug.frames.at(-1); const items = stageDebug.state.schedule.items;"
          " return !!f && f.heads.some((h) => { const i = items.find((x) => x.key === h.key);"
          " return i && i.label === label && h.progress >= low && h.progress <= high; }); }")
    return lambda page: bool(page.evaluate(js, [label, low, high]))


def shoot(out: Path) -> None:
    """Take every screenshot into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        serve = StageServe(Path(tmp), f"sqlite:///{Path(tmp) / 'takes.db'}")
        serve.start()
        try:
            base = serve.base
            stage = Stage(serve.port)
            pages = {size: browser.new_page(viewport={"width": size[0], "height": size[1]})
                     for size in ((1920, 1080), (1280, 720))}
            for page in pages.values():
                page.goto(f"{base}/musician?debug=1&name=violins%201%2C%20desk%202")
            big, small = pages[(1920, 1080)], pages[(1280, 720)]
            wait(big, lambda p: bool(p.evaluate(
                "stageDebug.frames.length > 0 && document.getElementById('warning').hidden")))

            def take(state: str, label: str, low: float, high: float, setup: Callable[[], None], *,
                     small_too: bool = False) -> None:
                stage.stop()
                setup()
                stage("/api/transport/play")
                wait(big, streamer(label, low, high))
                big.screenshot(path=out / f"{state}.png")
                if small_too:
                    small.screenshot(path=out / f"{state}-1280x720.png")
                stage.stop()

            stage("/api/session/arm", {"cue": "1M1"})
            take("count-off", "downbeat", 0.45, 0.6, lambda: stage("/api/transport/locate", {"bar": -1}),
                 small_too=True)
            take("hit", "door slams", 0.55, 0.7, lambda: stage("/api/transport/locate", {"bar": 7, "beat": 3}),
                 small_too=True)
            take("count-in", "bar 17", 0.45, 0.6, lambda: stage("/api/session/pickup", {"bar": 17}))
            stage("/api/session/pickup", {"bar": None})
            stage("/api/session/arm", {"cue": "1M2"})
            take("free-timing", "beam sweeps the rocks", 0.5, 0.65,
                 lambda: stage("/api/transport/locate", {"timecode": "01:02:17:00"}))
            stage("/api/session/arm", {"cue": "1M1"})
            stage("/api/session/mode", {"mode": "record"})
            take("record", "lightning", 0.5, 0.65, lambda: stage("/api/transport/locate", {"bar": 11, "beat": 2}),
                 small_too=True)
            serve.kill()
            wait(big, lambda p: p.locator("#warning").is_visible())
            big.screenshot(path=out / "lost.png")
        finally:
            serve.stop()
        browser.close()


if __name__ == "__main__":
    shoot(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screens")
