"""A running stage for the broadcast adapters' tests, and the real peers they talk to.

- :func:`stage_rig`: the service (soft clock, no JACK), the take logger on a
  SQLite file, the broadcaster with ``/ws`` on a real uvicorn, OSC and MQTT
  as asked; every port picked by the OS.
- :class:`OscDump`: liblo's ``oscdump -L PORT``, one line per message.
- :class:`Mosquitto`: a broker of the test's own, on a free port, that the
  test may stop and start again.
- :class:`MqttSub`: ``mosquitto_sub -v``, one line per message.

A missing peer program fails the test with how to install it (never skips).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent

import uvicorn
from fastapi import FastAPI
from peers.wait import SCALE, until

from stage.adapters.engine_drivers import open_driver
from stage.adapters.mqtt import MqttLink
from stage.adapters.osc import OscEndpoint
from stage.adapters.picture_http import PictureImports, mount_picture
from stage.adapters.pictures import PictureLibrary
from stage.adapters.server import bound_port, http_server
from stage.adapters.store import TakeStore, open_store
from stage.adapters.web import create_app
from stage.adapters.ws import WsHub
from stage.app import start_broadcast
from stage.config import parse_config
from stage.core.cuesheet import parse_cue_sheet
from stage.runtime.broadcast import Broadcaster
from stage.runtime.commands import Controls
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger

UNIT = SCALE  # every wait here stretches with STAGE_TEST_TIMEOUT_SCALE
TOKENS = {"conductor": "tok-conductor", "engineer": "tok-engineer", "editor": "tok-editor"}

# 24 fps, half a second a click, 4/4, one bar of count-off, 1 s streamers; 1M1 at 00:00:10:00.
SHEET = """
[picture]
rate = "24"
[defaults]
countoff = 1
streamer = "1s"
[[cue]]
id = "1M1"
start = "00:00:10:00"
tempo = "12-0"
meter = "4/4"
bars = 16
[[cue.hit]]
bar = 3
label = "door"
[[cue]]
id = "1M2"
start = "00:01:00:00"
tempo = 90
meter = "3/4"
bars = 8
"""


def require(binary: str, package: str) -> str:
    """Path of a peer program; fails (not skips) naming the Debian package."""
    path = shutil.which(binary)
    if path is None:
        msg = f"{binary!r} is not installed: apt-get install {package}"
        raise AssertionError(msg)
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unique(prefix: str) -> str:
    """A name no other test run will use."""
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class Rig:
    """A running stage."""

    service: Service
    broadcaster: Broadcaster
    takes: TakeLogger | None
    http_port: int
    tls: bool = False

    @property
    def ws_url(self) -> str:
        """The WebSocket URL."""
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.http_port}/ws"

    @property
    def hub(self) -> WsHub:
        """The WebSocket hub."""
        return next(s for s in self.broadcaster.sinks if isinstance(s, WsHub))

    @property
    def osc(self) -> OscEndpoint:
        """The OSC endpoint."""
        return next(s for s in self.broadcaster.sinks if isinstance(s, OscEndpoint))

    @property
    def mqtt(self) -> MqttLink:
        """The MQTT link."""
        return next(s for s in self.broadcaster.sinks if isinstance(s, MqttLink))


@contextlib.asynccontextmanager
async def stage_rig(
    tmp_path: Path,
    *,
    osc: bool = False,
    destinations: Sequence[str] = (),
    mqtt_url: str | None = None,
    mqtt_name: str = "test",
    takes: bool = False,
    sheet: str = SHEET,
    plain_asgi: bool = False,
    tls: tuple[Path, Path] | None = None,
    rest: bool = False,
    pictures: Path | None = None,
) -> AsyncIterator[Rig]:
    """Start a stage; stop it on the way out.

    ``plain_asgi`` serves it with uvicorn's stock WebSocket protocol, as
    another ASGI server would: no frame writer, every frame through ``websocket.send``.
    ``tls`` (certificate, key) serves it over TLS, as uvicorn does when given them.
    ``rest`` serves the REST API and the pages too, as ``stage serve`` does;
    with ``pictures`` (a picture directory) the picture's routes as well.
    """
    config = parse_config({
        "midi": {"enabled": False},
        "osc": {"enabled": osc, "port": 0, "destinations": list(destinations)},
        "mqtt": {"url": mqtt_url, "name": mqtt_name},
        "auth": TOKENS,
    })
    service = Service(config, parse_cue_sheet(dedent(sheet)), open_driver=open_driver)
    await service.start()
    logger: TakeLogger | None = None
    store: TakeStore | None = None
    if takes:
        store = await open_store(f"sqlite:///{tmp_path / 'takes.db'}")
        logger = TakeLogger(service, store)
        await logger.start()
    controls = Controls(service, logger)  # one way in for every transport, as `stage serve` wires it
    app = create_app(service, takes=logger, controls=controls) if rest else FastAPI()
    if pictures is not None:
        mount_picture(app, PictureImports(service, PictureLibrary(pictures)))
    broadcaster = await start_broadcast(service, app, logger, controls)
    server = http_server(app, "127.0.0.1", 0, log_level="warning")  # as `stage serve` runs it
    if plain_asgi:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"))
    if tls is not None:  # uvicorn builds its SSL context from these when it starts
        server.config.ssl_certfile, server.config.ssl_keyfile = str(tls[0]), str(tls[1])
    serving = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started, "uvicorn to start", 10)
        port = bound_port(server)
        yield Rig(service, broadcaster, logger, port, tls=tls is not None)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 5)
        await broadcaster.close()
        if logger is not None:
            await logger.close()
        if store is not None:
            await store.close()
        await service.stop()


@dataclass
class LinePeer:
    """A peer program that prints one line per message; lines are collected on a thread-free reader task."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                return
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    def start_reading(self) -> None:
        """Collect lines from now on."""
        self._reader = asyncio.create_task(self._read())

    def matching(self, text: str) -> list[str]:
        """Lines containing ``text``."""
        return [line for line in self.lines if text in line]

    async def stop(self) -> None:
        """End the program."""
        if self.process.returncode is None:
            self.process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 5)
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def osc_dump(port: int) -> LinePeer:
    """``oscdump -L PORT`` running, with its lines collected."""
    exe = require("oscdump", "liblo-tools")
    proc = await asyncio.create_subprocess_exec(exe, "-L", str(port), stdout=subprocess.PIPE,
                                                stderr=subprocess.DEVNULL)
    peer = LinePeer(proc)
    peer.start_reading()
    await asyncio.sleep(0.2 * UNIT)  # oscdump binds its port as it starts
    return peer


async def osc_send(port: int, address: str, types: str = "", *args: object) -> None:
    """``oscsend 127.0.0.1 PORT ADDRESS TYPES ARGS…``."""
    exe = require("oscsend", "liblo-tools")
    argv = [exe, "127.0.0.1", str(port), address]
    if types:
        argv += [types, *(str(a) for a in args)]
    proc = await asyncio.create_subprocess_exec(*argv)
    assert await proc.wait() == 0, argv


async def mqtt_sub(port: int, topic: str) -> LinePeer:
    """``mosquitto_sub -v -t TOPIC`` on ``port``, its lines collected."""
    exe = require("mosquitto_sub", "mosquitto-clients")
    proc = await asyncio.create_subprocess_exec(exe, "-h", "127.0.0.1", "-p", str(port), "-v", "-t", topic,
                                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peer = LinePeer(proc)
    peer.start_reading()
    await asyncio.sleep(0.2 * UNIT)
    return peer


async def mqtt_pub(port: int, topic: str, payload: bytes | str) -> None:
    """``mosquitto_pub -t TOPIC -s`` with ``payload`` on its standard input."""
    exe = require("mosquitto_pub", "mosquitto-clients")
    proc = await asyncio.create_subprocess_exec(exe, "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-s",
                                                stdin=subprocess.PIPE)
    await proc.communicate(payload.encode() if isinstance(payload, str) else payload)
    assert proc.returncode == 0


@dataclass
class Mosquitto:
    """A broker of the test's own on ``port``, which the test may stop and start again."""

    port: int
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start ``mosquitto -p PORT`` and wait until it accepts connections."""
        exe = require("mosquitto", "mosquitto")
        self.process = await asyncio.create_subprocess_exec(exe, "-p", str(self.port), stdout=subprocess.DEVNULL,
                                                            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5 * UNIT
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)
            else:
                writer.close()
                return

    async def stop(self) -> None:
        """Stop it."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        self.process = None


async def clear_retained(port: int, root: str) -> None:
    """Remove what a test left retained under ``root`` on a shared broker."""
    exe = require("mosquitto_pub", "mosquitto-clients")
    for topic in ("online", "transport", "sync", "cue", "session", "take", "clients", "picture"):
        proc = await asyncio.create_subprocess_exec(exe, "-h", "127.0.0.1", "-p", str(port), "-r", "-n",
                                                    "-t", f"{root}/state/{topic}")
        await proc.wait()
