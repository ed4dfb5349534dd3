"""``stage serve``: load the config and the cue sheet, open the take log, start the engine and the servers."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys
from pathlib import Path

from stage.adapters.server import http_server
from stage.adapters.store import open_store
from stage.adapters.web import create_app
from stage.config import AuthConfig, Config, load_config
from stage.core.cuesheet import CueSheet, load_cue_sheet
from stage.errors import ConfigError, CueSheetError, StageError, StoreError
from stage.runtime.broadcast import start_broadcast
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger
from stage.runtime.tasks import stop_task

log = logging.getLogger("stage")

DEMO_CUES = Path(__file__).resolve().parents[2] / "config" / "demo-cues.toml"


def with_tokens(config: Config) -> tuple[Config, dict[str, str]]:
    """Fill in a random token for every role that has none, so control is never open."""
    made: dict[str, str] = {}
    values = config.auth.model_dump()
    for role, token in values.items():
        if not token:
            values[role] = made[role] = secrets.token_urlsafe(12)
    return config.model_copy(update={"auth": AuthConfig(**values)}), made


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
    seen = seen if seen is not None else _stamp(path)
    while True:
        await asyncio.sleep(interval)
        stamp = _stamp(path)
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


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


async def serve(
    config: Config, sheet: CueSheet, cues_path: Path | None = None, stamp: tuple[int, int] | None = None
) -> None:
    """Run until SIGINT/SIGTERM; with ``cues_path`` (read at ``stamp``) the cue sheet follows that file's edits."""
    # The take log first: numbering goes on from it, and without it nothing could be recorded.
    async with await open_store(config.takes.database) as store:
        log.info("take log: %s (%s)", store.url, await store.durability())
        service = Service(config, sheet)
        takes = TakeLogger(service, store)
        try:
            await service.start()
            await takes.start()
            watcher = (
                asyncio.create_task(watch_cues(cues_path, service, seen=stamp), name="stage-cue-watch")
                if cues_path
                else None
            )
            try:
                await _run(config, service, takes)
            finally:
                await stop_task(watcher, "the cue sheet watcher")
        finally:
            await takes.close()
            await service.stop()


async def _run(config: Config, service: Service, takes: TakeLogger) -> None:
    app = create_app(service, takes=takes)
    broadcaster = await start_broadcast(service, app, takes)  # /ws, OSC and MQTT
    server = http_server(app, config.http.host, config.http.port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    await server.serve()
    await broadcaster.close()


def main(config_path: str | None, cues_path: str | None) -> int:
    """Entry point of ``stage serve``; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(config_path)
        stamp = _stamp(Path(cues_path)) if cues_path else None  # before reading: an edit meanwhile is seen
        sheet = load_cue_sheet(cues_path or DEMO_CUES)
    except ConfigError as exc:
        print(f"stage serve: {exc}", file=sys.stderr)
        return 1
    except CueSheetError as exc:
        for problem in exc.problems:
            print(f"{exc.source}: {problem}", file=sys.stderr)
        return 1
    config, made = with_tokens(config)
    for role, token in made.items():
        log.info("no [auth] %s token configured: this run's is %s", role, token)
    log.info("cue sheet %r: %d cues at %s fps", sheet.title, len(sheet.cues), sheet.rate)
    try:
        asyncio.run(serve(config, sheet, Path(cues_path) if cues_path else None, stamp))
    except StoreError as exc:
        print(f"stage serve: {exc}", file=sys.stderr)
        return 1
    return 0
