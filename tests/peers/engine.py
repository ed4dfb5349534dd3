"""What the browser-engine peers (tests/peers/webkit.py, tests/peers/firefox.py) have in common: one page each,
driven the same way, so a test runs unchanged in either.

An expression given to :meth:`Engine.evaluate` is JavaScript run in the page;
when it is a promise its value is awaited; the value comes back through
``JSON.stringify`` (so a ``Map``, a typed array or ``undefined`` come back as
JSON makes them).  :func:`wait_for` polls an expression until it is truthy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Protocol

from peers.wait import SCALE


class Evaluates(Protocol):
    """A page that runs an expression and answers its value: an :class:`Engine`, or Playwright's ``Page``."""

    def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` run in the page (a promise awaited)."""


class Engine(Evaluates, Protocol):
    """A browser engine with one page open."""

    name: str

    def goto(self, url: str) -> None:
        """Load ``url`` in the page and wait until it has loaded."""

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` run in the page (a promise awaited)."""

    def resize(self, width: int, height: int) -> None:
        """Make the page ``width`` × ``height`` CSS px (the window's outer size in WebKit: its toolbar takes some)."""

    def click(self, selector: str) -> None:
        """Click the element ``selector`` finds as a pointer would (the driver's own click: pointer events, then
        ``click``), scrolled into view first."""

    def screenshot(self, path: Path) -> None:
        """A PNG of what the page shows now, written to ``path``."""


def wrapped(expression: str) -> str:
    """``expression`` as an async function's body that answers its JSON text or raises: both drivers run this."""
    return f"(async () => JSON.stringify(await ({expression})))()"


def wait_for(engine: Engine, expression: str, what: str, seconds: float = 15.0) -> Any:
    """Poll ``expression`` every 100 ms until its value is truthy, and answer that value; fail naming ``what`` and
    the last value after ``seconds`` × SCALE."""
    deadline = time.monotonic() + seconds * SCALE
    while True:
        value = engine.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{engine.name}: timed out waiting for {what} (last: {value!r})")
        time.sleep(0.1)


def set_storage(engine: Engine, url: str, items: dict[str, str]) -> None:
    """Open ``url`` with ``items`` already in its origin's localStorage (as an earlier visit would have left
    them): load it, write them, load it again."""
    engine.goto(url)
    writes = [f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)})" for k, v in items.items()]
    engine.evaluate(" , ".join(writes) or "0")
    engine.goto(url)
