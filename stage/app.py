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
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from stage.adapters.engine_drivers import open_driver
from stage.adapters.metrics import StageMetrics, mount_metrics
from stage.adapters.mqtt import MqttLink
from stage.adapters.osc import OscEndpoint
from stage.adapters.picture_http import PictureImports, mount_picture
from stage.adapters.pictures import PictureLibrary
from stage.adapters.reach import page_bases
from stage.adapters.server import http_server
from stage.adapters.store import open_store
from stage.adapters.takefiles import TakeFile, TakeFormat, take_file
from stage.adapters.tls import ServerTls, server_tls
from stage.adapters.trust import mount_trust, redirect_app
from stage.adapters.web import create_app
from stage.adapters.ws import WsHub, mount_ws
from stage.config import DEMO_CUES, AuthConfig, Config, HttpConfig, load_config
from stage.core.cuesheet import CueSheet, load_cue_sheet
from stage.core.cut import Picture
from stage.core.takemarks import Selection
from stage.core.timecode import Rate
from stage.errors import ConfigError, CueSheetError, StageError, StoreError
from stage.runtime.broadcast import Broadcaster
from stage.runtime.commands import Controls
from stage.runtime.mmcin import MmcEdge
from stage.runtime.service import Service, check_clock
from stage.runtime.takes import TakeLogger
from stage.runtime.tasks import stop_task
from stage.runtime.watch import file_stamp, watch_cues

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

log = logging.getLogger("stage")


def with_tokens(config: Config) -> tuple[Config, dict[str, str]]:
    """Fill in a random token for every role that has none, so control is never open."""
    made: dict[str, str] = {}
    values = config.auth.model_dump()
    for role, token in values.items():
        if not token:
            values[role] = made[role] = secrets.token_urlsafe(12)
    return config.model_copy(update={"auth": AuthConfig(**values)}), made


def tls_of(config: Config, now: datetime) -> ServerTls | None:
    """The checked certificate ``[http]`` names (None: plain HTTP); :class:`~stage.errors.TlsError` saying why it
    cannot be served."""
    http = config.http
    if http.certificate is None or http.key is None:
        return None
    announced = [urlsplit(b).hostname or "" for b in page_bases(http.host, http.port)]
    authority = Path(http.authority) if http.authority is not None else None
    return server_tls(Path(http.certificate), Path(http.key), authority, http.host, announced, now)


async def serve(
    config: Config, sheet: CueSheet, cues_path: Path | None = None, stamp: tuple[int, int] | None = None,
    tls: ServerTls | None = None,
) -> None:
    """Run until SIGINT/SIGTERM; with ``cues_path`` (read at ``stamp``) the cue sheet follows that file's edits;
    over HTTPS with ``tls``."""
    # The take log first: numbering goes on from it, and without it nothing could be recorded.
    async with await open_store(config.takes.database) as store:
        log.info("take log: %s (%s)", store.url, await store.durability())
        service = Service(config, sheet, open_driver=open_driver)
        library = PictureLibrary(Path(config.picture.dir))
        library.remove_uploads()
        service.picture = current_picture(library, sheet)
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
                await _run(config, service, takes, tls, PictureImports(service, library))
            finally:
                await stop_task(watcher, "the cue sheet watcher")
        finally:
            await takes.close()
            await service.stop()


def current_picture(library: PictureLibrary, sheet: CueSheet) -> Picture | None:
    """The picture revision ``library`` names current, if the stage can show it against ``sheet`` (else None,
    saying why in the log: the stage runs without picture rather than not at all)."""
    try:
        picture = library.current()
    except StageError as exc:
        log.error("picture: %s: running without picture until a cut is imported", exc)  # noqa: TRY400
        return None
    if picture is None:
        log.info("picture: none imported into %s", library.root)
    elif picture.rate != sheet.rate:
        log.error("picture: revision %s is at %s fps and the cue sheet at %s: running without picture until a cut "
                  "at %s is imported", picture.revision, picture.rate, sheet.rate, sheet.rate)
        return None
    else:
        log.info("picture: revision %s, %s, %d frames from %s", picture.revision, picture.name, picture.frames,
                 picture.start)
    return picture


async def _run(
    config: Config, service: Service, takes: TakeLogger, tls: ServerTls | None, pictures: PictureImports
) -> None:
    # The one way in, for REST and for /ws, OSC and MQTT; pairing codes name the pages at the stage's addresses,
    # over HTTPS only those its certificate names (a browser refuses the others).
    http = config.http
    scheme = "https" if tls is not None else "http"
    reach = page_bases(http.host, http.port, scheme)
    if tls is not None:
        reach = tuple(b for b in reach if tls.names.covers(urlsplit(b).hostname or ""))
    base = reach[0] if reach else f"{scheme}://{http.host}:{http.port}"  # 0.0.0.0 is no address to open
    trust = _trust_url(http, tls, base)
    controls = Controls(service, takes, reach=reach, trust=trust)
    app = create_app(service, takes=takes, controls=controls)
    if tls is not None and tls.root is not None:
        mount_trust(app, tls.root, base)
    mount_picture(app, pictures)
    broadcaster = await start_broadcast(service, app, takes, controls)  # /ws, OSC and MQTT
    mount_metrics(app, StageMetrics(service, broadcaster, takes))  # /metrics, for the facility's monitoring
    server = http_server(app, http.host, http.port, certificate=tls.certificate if tls else None,
                         key=tls.key if tls else None)
    servers: list[tuple[uvicorn.Server, list[socket.socket] | None]] = [(server, None)]
    log.info("screens: %s/musician (musicians), %s/conductor (the conductor's tablet), %s/engineer "
             "(the engineer's console)", base, base, base)
    if tls is not None:
        servers += _tls_started(http, tls, base, trust)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stopper([s for s, _ in servers]))
    mmc = MmcEdge(controls)  # a DAW's or a controller's transport buttons, by MMC on <client>:mmc_in
    if config.mmc.enabled:
        mmc.start()
    try:
        await asyncio.gather(*(s.serve(sockets=bound) for s, bound in servers))
    finally:
        pictures.close()  # an import under way stops and removes what it wrote
        await mmc.close()
    await broadcaster.close()


def _stopper(servers: list[uvicorn.Server]) -> Callable[[], None]:
    def stop() -> None:
        for s in servers:
            s.should_exit = True

    return stop


def _trust_url(http: HttpConfig, tls: ServerTls | None, base: str) -> str | None:
    """Where a device new to the stage fetches its authority: in the clear on the redirect port when there is one."""
    if tls is None or tls.root is None:
        return None
    if http.redirect_port is None:
        return f"{base}/tls"
    host = urlsplit(base).netloc.rpartition(":")[0]
    return f"http://{host}:{http.redirect_port}/tls"


def _tls_started(
    http: HttpConfig, tls: ServerTls, base: str, trust: str | None
) -> list[tuple[uvicorn.Server, list[socket.socket] | None]]:
    """Say what HTTPS serves, and bind the plain redirect port (none when it is not configured or cannot be had)."""
    log.info("HTTPS: certificate %s for %s, until %s", tls.certificate, tls.names, f"{tls.not_after:%Y-%m-%d}")
    for warning in tls.warnings:
        log.warning("%s", warning)
    if tls.root is not None:
        log.info("a device new to this stage trusts its authority %r (SHA-256 %s) from %s", tls.root.name,
                 tls.root.fingerprint, trust)
    if http.redirect_port is None:
        return []
    try:
        family = socket.AF_INET6 if ":" in http.host else socket.AF_INET
        sock = socket.create_server((http.host, http.redirect_port), family=family)
    except OSError as exc:  # HTTPS still serves; plain HTTP is only a signpost
        log.error("plain HTTP cannot listen on %s:%d: %s", http.host, http.redirect_port, exc.strerror or exc)  # noqa: TRY400
        return []
    fallback = urlsplit(base).hostname or http.host
    app = redirect_app(tls.names, http.port, fallback, tls.root, base)
    log.info("plain HTTP on port %d only sends browsers to %s%s", http.redirect_port, base,
             " and serves /tls" if tls.root is not None else "")
    return [(http_server(app, http.host, http.redirect_port), [sock])]


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


async def export_takes(
    url: str, fmt: TakeFormat, *, rate: Rate | None, selection: Selection | None = None, title: str = "",
    tz: tzinfo | None = None,
) -> TakeFile:
    """The take log at ``url`` as ``fmt`` (:mod:`stage.adapters.takefiles`), in the machine's local time unless
    ``tz`` is given."""
    zone = tz if tz is not None else datetime.now().astimezone().tzinfo
    async with await open_store(url, create=False) as store:
        takes = await store.list_takes()
    return take_file(takes, fmt, rate=rate, tz=zone, selection=selection, title=title)


def main(config_path: str | None, cues_path: str | None) -> int:
    """Entry point of ``stage serve``; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(config_path)
        stamp = file_stamp(Path(cues_path)) if cues_path else None  # before reading: an edit meanwhile is seen
        sheet = load_cue_sheet(cues_path or DEMO_CUES)
        check_clock(config, sheet.rate)
        tls = tls_of(config, datetime.now(UTC))
    except ConfigError as exc:  # a TlsError too: a certificate that cannot be served
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
        asyncio.run(serve(config, sheet, Path(cues_path) if cues_path else None, stamp, tls))
    except StoreError as exc:
        print(f"stage serve: {exc}", file=sys.stderr)
        return 1
    return 0
