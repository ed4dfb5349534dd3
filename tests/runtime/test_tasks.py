"""Stopping background tasks: bounded, and never swallowing the caller's cancel."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from stage.runtime.tasks import stop_task


async def test_a_task_that_ends_when_cancelled_is_stopped() -> None:
    task = asyncio.create_task(asyncio.sleep(3600))
    assert await stop_task(task, "the sleeper", grace=5)
    assert task.cancelled()
    assert await stop_task(None, "nothing")


async def _stubborn(release: asyncio.Event) -> None:
    """Swallows its cancel, as a task does when asyncio.wait_for loses one, and goes on waiting."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await release.wait()


async def test_a_task_that_swallows_its_cancel_is_left_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()
    task = asyncio.create_task(_stubborn(release))
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, "stage.runtime.tasks"):
        assert not await stop_task(task, "the stubborn one", grace=0.05)
    assert caplog.messages == ["the stubborn one did not stop within 0.05 s of being cancelled; left running"]
    assert not task.done()
    release.set()
    await task


async def test_the_callers_own_cancel_is_not_swallowed() -> None:
    release = asyncio.Event()
    stubborn = asyncio.create_task(_stubborn(release))
    await asyncio.sleep(0)
    caller = asyncio.create_task(stop_task(stubborn, "the stubborn one", grace=3600))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    release.set()
    await stubborn


async def test_a_failure_while_stopping_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("boom") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, "stage.runtime.tasks"):
        assert await stop_task(task, "the failing one")
    assert caplog.messages == ["the failing one failed while stopping: RuntimeError('boom')"]

