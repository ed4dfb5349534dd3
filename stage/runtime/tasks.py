"""Stopping background tasks without hanging the service's shutdown.

``task.cancel(); await task`` under ``suppress(CancelledError)`` has two
faults: it swallows the caller's own cancellation, and it waits forever for
a task that swallowed its cancel.  Python 3.11's ``asyncio.wait_for`` does
swallow one when the awaited operation completes in the same loop step as
the cancel (aiomqtt's publish and subscribe timeouts run on it), so a task
that was told to stop can go on waiting for its next item instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

STOP_TIMEOUT = 2.0  # seconds a cancelled task gets to end


async def stop_task(task: asyncio.Task[Any] | None, what: str, *, grace: float = STOP_TIMEOUT) -> bool:
    """Cancel ``task`` and wait up to ``grace`` seconds for it to end; True if it did.

    A task still running after that is logged and left: the caller goes on.
    The caller's own cancellation is not swallowed.  A failure of the task
    is logged rather than raised (it is being stopped anyway).
    """
    if task is None:
        return True
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.error("%s did not stop within %g s of being cancelled; left running", what, grace)
        return False
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("%s failed while stopping: %r", what, exc)
    return True


__all__ = ["STOP_TIMEOUT", "stop_task"]
