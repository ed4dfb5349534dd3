"""The composition root: ``stage serve`` wires core, runtime and adapters together here, and nowhere else.

It loads the config and the cue sheet, opens the take log (the store
adapter behind the runtime's :class:`~stage.runtime.ports.TakeStore`), starts
the engine, the broadcaster with its transports (``/ws``, OSC, MQTT) and the
HTTP server.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from stage.adapters.engine_drivers import open_driver
from stage.adapters.mqtt import MqttLink
from stage.adapters.osc import OscEndpoint
from stage.adapters.reach import page_bases
from stage.adapters.server import http_server
from stage.adapters.store import open_store
from stage.adapters.web import create_app
from stage.adapters.ws import WsHub, mount_ws
from stage.config import AuthConfig, Config, load_config
from stage.core.cuesheet import CueSheet, load_cue_sheet
from stage.errors import ConfigError, CueSheetError, StoreError
from stage.runtime.broadcast import Broadcaster
from stage.runtime.commands import Controls
from stage.runtime.service import Service
from stage.runtime.takes import ExportFormat, TakeLogger, sheet_text
from stage.runtime.tasks import stop_task
from stage.runtime.watch import file_stamp, watch_cues

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("stage")

DEMO_CUES = Path(__file__).resolve().parents[1] / "config" / "demo-cues.toml"


def with_tokens(config: Config) -> tuple[Config, dict[str, str]]:
    """Fill in a random token for every role that has none, so control is never open."""
    made: dict[str, str] = {}
    values = config.auth.model_dump()
    for role, token in values.items():
        if not token:
            values[role] = made[role] = secrets.token_urlsafe(12)
    return config.model_copy(update={"auth": AuthConfig(**values)}), made


async def serve(
    config: Config, sheet: CueSheet, cues_path: Path | None = None, stamp: tuple[int, int] | None = None
) -> None:
    """Run until SIGINT/SIGTERM; with ``cues_path`` (read at ``stamp``) the cue sheet follows that file's edits."""
    # The take log first: numbering goes on from it, and without it nothing could be recorded.
    async with await open_store(config.takes.database) as store:
        log.info("take log: %s (%s)", store.url, await store.durability())
        service = Service(config, sheet, open_driver=open_driver)
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
    # The one way in, for REST and for /ws, OSC and MQTT; pairing codes name the pages at the stage's addresses.
    reach = page_bases(config.http.host, config.http.port)
    controls = Controls(service, takes, reach=reach)
    app = create_app(service, takes=takes, controls=controls)
    broadcaster = await start_broadcast(service, app, takes, controls)  # /ws, OSC and MQTT
    server = http_server(app, config.http.host, config.http.port)
    base = reach[0] if reach else f"http://{config.http.host}:{config.http.port}"  # 0.0.0.0 is no address to open
    log.info("screens: %s/musician (musicians), %s/conductor (the conductor's tablet), %s/engineer "
             "(the engineer's console)", base, base, base)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    await server.serve()
    await broadcaster.close()


async def start_broadcast(
    service: Service, app: FastAPI, takes: TakeLogger | None = None, controls: Controls | None = None
) -> Broadcaster:
    """Mount ``/ws`` on ``app``, start OSC and MQTT as configured, and start broadcasting.

    ``controls`` runs their commands (made here when not given).  Call
    :meth:`Broadcaster.close` on the way out.
    """
    config = service.config
    b = Broadcaster(service, takes, controls=controls)
    hub = WsHub(b)
    mount_ws(app, hub)
    edges: list[WsHub | OscEndpoint | MqttLink] = [hub]
    if config.osc.enabled:
        try:
            edges.append(await OscEndpoint.start(b, config.osc))
        except OSError as exc:  # a port in use: the rest of the stage still runs, and says why OSC does not
            log.error("OSC cannot listen on %s:%d: %s", config.osc.host, config.osc.port, exc.strerror or exc)  # noqa: TRY400
    if config.mqtt.url:
        mqtt = MqttLink(b, config.mqtt)
        await mqtt.start()
        edges.append(mqtt)
    b.sinks += edges
    b.closers += edges
    await b.start()
    return b


async def export_sheet(url: str, fmt: ExportFormat, tz: tzinfo | None = None) -> str:
    """The take sheet of the take log at ``url``, in the machine's local time unless ``tz`` is given."""
    zone = tz if tz is not None else datetime.now().astimezone().tzinfo
    async with await open_store(url, create=False) as store:
        return sheet_text(await store.list_takes(), fmt, zone)


def main(config_path: str | None, cues_path: str | None) -> int:
    """Entry point of ``stage serve``; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(config_path)
        stamp = file_stamp(Path(cues_path)) if cues_path else None  # before reading: an edit meanwhile is seen
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
