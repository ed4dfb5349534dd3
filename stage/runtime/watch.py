"""The cue sheet file followed while the service runs: an edit is loaded between takes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from stage.core.cuesheet import load_cue_sheet
from stage.errors import CueSheetError, StageError
from stage.runtime.service import Service

log = logging.getLogger("stage")

WATCH_INTERVAL = 1.0  # seconds between looks at the cue sheet file


async def watch_cues(
    path: Path, service: Service, interval: float = WATCH_INTERVAL, seen: tuple[int, int] | None = None
) -> None:
    """Load the cue sheet file again whenever it changes on disk, until cancelled.

    ``seen`` is the file's stamp when the running sheet was read (default:
    now).  A broken sheet is refused with every problem logged, and the
    running one stays; a change made while picture rolls waits for the stop
    (it is tried again at every look).  Reading and parsing happen off the loop.
    """
    seen = seen if seen is not None else file_stamp(path)
    while True:
        await asyncio.sleep(interval)
        stamp = file_stamp(path)
        if stamp == seen:
            continue
        if service.transport.rolling:
            continue  # a take keeps the sheet it started on: look again after the stop
        seen = stamp
        try:
            sheet = await asyncio.to_thread(load_cue_sheet, path)
        except CueSheetError as exc:
            log.error("cue sheet %s changed but is refused; the running one stays:", path)  # noqa: TRY400
            for problem in exc.problems:
                log.error("  %s", problem)  # noqa: TRY400
            continue
        try:
            changed = service.replace_sheet(sheet)
        except StageError as exc:
            log.error("cue sheet %s changed but is refused: %s", path, exc)  # noqa: TRY400
            continue
        log.info("cue sheet %s reloaded: revised cues %s", path, ", ".join(changed) or "none")


def file_stamp(path: Path) -> tuple[int, int] | None:
    """The file's modification time and size (None when it cannot be read): what tells an edit."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
