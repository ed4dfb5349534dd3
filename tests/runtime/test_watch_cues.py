"""``stage serve`` follows its cue sheet file: an edit is loaded, a broken one refused with its problems."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from peers.wait import until

from stage.config import Config
from stage.core.cuesheet import load_cue_sheet
from stage.core.schedule import cue_revision
from stage.runtime.service import Service
from stage.runtime.watch import watch_cues

SHEET = """
[picture]
rate = "24"
[[cue]]
id = "1M1"
start = "00:00:10:00"
tempo = {tempo}
meter = "4/4"
bars = 8
"""


async def test_an_edited_sheet_is_loaded_and_a_broken_one_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cues.toml"
    path.write_text(SHEET.format(tempo=120))
    service = Service(Config(), load_cue_sheet(path), open_driver=None)
    service.arm("1M1")
    task = asyncio.create_task(watch_cues(path, service, interval=0.02))
    await asyncio.sleep(0.05)  # the watcher has taken its first look
    try:
        path.write_text(SHEET.format(tempo=132))
        revised = cue_revision(load_cue_sheet(path).cue("1M1"))
        await until(lambda: service.revisions["1M1"] == revised, "the edit to be loaded")
        assert service.armed is not None
        assert service.armed.id == "1M1"  # still armed, on the new version
        assert service.armed is service.sheet.cue("1M1")
        with caplog.at_level(logging.ERROR, "stage"):
            path.write_text(SHEET.format(tempo='"brisk"').replace('"4/4"', '"4/3"'))
            await until(lambda: "refused" in caplog.text, "the refusal")
        assert service.revisions["1M1"] == revised  # the running sheet stays
        assert "tempo" in caplog.text
        assert "meter" in caplog.text  # every problem, not the first
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
