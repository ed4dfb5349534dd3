"""Waiting in tests: one poll loop, one time scale.

``STAGE_TEST_TIMEOUT_SCALE`` stretches every wait on a slow machine.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

SCALE = float(os.environ.get("STAGE_TEST_TIMEOUT_SCALE", "1"))


async def until(done: Callable[[], object], what: str = "condition", seconds: float = 5.0) -> None:
    """Wait until ``done()`` is true, checking every 2 ms; fail naming ``what`` after ``seconds`` × SCALE."""
    deadline = time.monotonic() + seconds * SCALE
    while not done():
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise AssertionError(msg)
        await asyncio.sleep(0.002)
