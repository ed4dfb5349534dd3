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
from stage.errors import ConfigError, CueSheetError, StoreError
from stage.runtime.broadcast import start_broadcast
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger

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


async def serve(config: Config, sheet: CueSheet) -> None:
    """Run until SIGINT/SIGTERM."""
    # The take log first: numbering goes on from it, and without it nothing could be recorded.
    async with await open_store(config.takes.database) as store:
        log.info("take log: %s (%s)", store.url, await store.durability())
        service = Service(config, sheet)
        takes = TakeLogger(service, store)
        try:
            await service.start()
            await takes.start()
            await _run(config, service, takes)
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
        asyncio.run(serve(config, sheet))
    except StoreError as exc:
        print(f"stage serve: {exc}", file=sys.stderr)
        return 1
    return 0
