"""An engine process for tests through jackd: started with its settings, every event it sent kept in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from peers.wait import SCALE

from stage.adapters.engine_drivers import open_driver
from stage.runtime import messages as m
from stage.runtime.engine import EngineHandle
from stage.runtime.enginecore import EngineSettings

T = TypeVar("T")


class Engine:
    """An engine process plus the events it sent."""

    def __init__(self, settings: EngineSettings) -> None:
        self.events: list[m.Event] = []
        self._lock = threading.Lock()
        self.handle = EngineHandle(settings, self._on, open_driver=open_driver)
        self.ready = self.handle.start()

    def _on(self, ev: m.Event) -> None:
        with self._lock:
            self.events.append(ev)

    def of(self, kind: type[T]) -> list[T]:
        """Every event of ``kind`` so far, oldest first."""
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def wait(self, predicate: Callable[[m.Event], bool], timeout: float = 10.0) -> m.Event:
        """The first event (of all so far) for which ``predicate`` holds, waiting up to ``timeout`` × SCALE for it."""
        deadline = time.monotonic() + timeout * SCALE
        while time.monotonic() < deadline:
            with self._lock:
                for e in self.events:
                    if predicate(e):
                        return e
            time.sleep(0.01)
        raise AssertionError("the engine sent no such event")

    def until(self, done: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        """Wait until ``done()`` holds, failing after ``timeout`` × SCALE seconds naming ``what``."""
        deadline = time.monotonic() + timeout * SCALE
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.01)
