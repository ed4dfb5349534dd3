"""MQTT (aiomqtt 2.x): retained state, events, commands, an online flag, and reconnect with back-off.

Topics under ``stage/<name>/`` (``[mqtt] name``):

- ``state/<topic>`` — the latest event of each state topic (transport, sync,
  cue, session, take, clients), retained; ``state/online`` is ``online`` or
  ``offline`` (the last will: the broker says ``offline`` if we vanish);
- ``event/<topic>`` — every event (beat, schedule, take, cue, …), not
  retained; ``event/result`` and ``event/error`` answer commands;
- ``cmd/<command>`` — control in: a JSON object with the role's ``token``,
  an optional ``id`` and the command's arguments (as on the WebSocket).

The broker never holds anything up: :meth:`MqttLink.offer` only queues (a
bounded :class:`~stage.runtime.fanout.LatestWins`: a newer state replaces
the one waiting, the oldest event goes when full), and one task publishes.
When the broker goes away the link retries with back-off
(:func:`stage.core.backoff.backoff`) and, once back, publishes ``online``
and every retained state again (a restarted broker may have lost them).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import random
import ssl
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt

from stage.config import MqttConfig
from stage.core import protocol as p
from stage.core.backoff import backoff
from stage.core.protocol import COMMANDS
from stage.core.session import Role
from stage.errors import ConfigError, ErrorCode, ProtocolError
from stage.runtime.broadcast import Broadcaster
from stage.runtime.fanout import STATE, LatestWins, Outgoing, Throttle, spawn
from stage.runtime.tasks import stop_task

log = logging.getLogger(__name__)

QUEUE_LIMIT = 2048  # events waiting for the broker; the oldest goes when full
PUBLISH_TIMEOUT = 5.0  # seconds a QoS 1 publish may wait for the broker's answer
KEEPALIVE = 10  # seconds; the broker declares us gone (last will) after 1.5 of these
MAX_PAYLOAD = 16 * 1024  # bytes: the largest command accepted


@dataclass(frozen=True)
class Broker:
    """Where the broker is, from ``[mqtt] url`` (``mqtt://[user:pass@]host[:port]``, ``mqtts://`` for TLS)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Broker:
        """Read a broker URL; :class:`ConfigError` when it is not one."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in {"mqtt", "tcp", "mqtts", "ssl"} or not parts.hostname:
            raise ConfigError(f"[mqtt] url {url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
        tls = parts.scheme in {"mqtts", "ssl"}
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ConfigError(f"[mqtt] url {url!r}: bad port") from None
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, port, tls, user, password)


@dataclass(frozen=True)
class _Pub:
    topic: str
    payload: bytes
    retain: bool  # retained state goes at QoS 1, events at QoS 0


class MqttLink:
    """The service's MQTT client: the broadcaster's MQTT sink, and commands in."""

    edge = "mqtt"  # its name in the metrics (stage_edge_events)

    def __init__(
        self,
        broadcaster: Broadcaster,
        config: MqttConfig,
        *,
        delays: Callable[[], Iterator[float]] | None = None,
        queue_limit: int = QUEUE_LIMIT,
        publish_timeout: float = PUBLISH_TIMEOUT,
        keepalive: int = KEEPALIVE,
    ) -> None:
        if not config.url:
            raise ConfigError("[mqtt] url is not set")
        self.broadcaster = broadcaster
        self.broker = Broker.parse(config.url)
        self.root = f"stage/{config.name}"
        self.online_topic = f"{self.root}/state/online"
        self.publish_timeout = publish_timeout
        self.keepalive = keepalive
        self.connected = False
        self.stats: collections.Counter[str] = collections.Counter()
        self._delays = delays or (lambda: backoff(0.1, 2.0, 2.0, 0.2, random.random))
        self._out: LatestWins[_Pub] = LatestWins(queue_limit)
        self._retained: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None
        self._commands: set[asyncio.Task[None]] = set()
        self._throttle = Throttle()
        self._closing = False
        self._id = f"stage-{config.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    async def start(self) -> None:
        """Start connecting (in the background: a broker that is down delays nothing)."""
        self._task = asyncio.create_task(self._run(), name="stage-mqtt")

    async def close(self) -> None:
        """Say ``offline`` (if connected) and disconnect."""
        self._closing = True
        client = self._client
        if client is not None and self.connected:
            with contextlib.suppress(Exception):
                await client.publish(self.online_topic, b"offline", qos=1, retain=True, timeout=1.0)
        await stop_task(self._task, "the MQTT link")
        for task in list(self._commands):
            task.cancel()

    # -- out -------------------------------------------------------------------------------------

    def offer(self, out: Outgoing) -> None:
        """Queue one event: retained state (a newer one replaces the one waiting) and the event itself."""
        try:
            payload = json.dumps(out.data, separators=(",", ":"), allow_nan=False).encode()
        except ValueError:  # NaN or infinity: JSON cannot carry it; the other events still go
            self.stats["unencodable"] += 1
            if self._throttle(f"unencodable:{out.topic.value}"):
                log.exception("MQTT: %s #%d cannot be sent", out.topic.value, out.seq)
            return
        if out.topic in STATE:
            topic = f"{self.root}/state/{out.topic.value}"
            self._retained[topic] = payload
            self._out.put(_Pub(topic, payload, retain=True), key=topic)
        self._event(f"{self.root}/event/{out.topic.value}", payload)

    def _event(self, topic: str, payload: bytes) -> None:
        pub = _Pub(topic, payload, retain=False)
        if not self._out.put(pub):
            self._out.drop_oldest()
            self.stats["dropped"] += 1
            self._out.put(pub)

    # -- the connection --------------------------------------------------------------------------

    async def _run(self) -> None:
        delays = self._delays()
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                if self._throttle("connect"):
                    log.warning("MQTT %s:%d: %s", self.broker.host, self.broker.port, exc)
            except Exception:  # never let the link die: log it and try again
                log.exception("MQTT link failed")
            else:
                delays = self._delays()
            if self.connected:
                self.connected = False
                delays = self._delays()  # it was up: start the back-off afresh
            await asyncio.sleep(next(delays))

    async def _session(self) -> None:
        b = self.broker
        client = aiomqtt.Client(
            b.host, b.port, identifier=self._id, username=b.username, password=b.password,
            will=aiomqtt.Will(self.online_topic, b"offline", qos=1, retain=True),
            tls_context=ssl.create_default_context() if b.tls else None,
            timeout=self.publish_timeout, keepalive=self.keepalive, clean_session=True,
        )
        async with client:
            self._stop_if_closing()
            self._client = client
            self.connected = True
            self.stats["connects"] += 1
            log.info("MQTT connected to %s:%d as %s", b.host, b.port, self.root)
            await client.publish(self.online_topic, b"online", qos=1, retain=True)
            for topic, payload in list(self._retained.items()):
                await client.publish(topic, payload, qos=1, retain=True)
                self._stop_if_closing()
            await client.subscribe(f"{self.root}/cmd/#", qos=1)
            self._stop_if_closing()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._send(client), name="stage-mqtt-send")
                tasks.create_task(self._receive(client), name="stage-mqtt-receive")

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            pub = await self._out.get()
            try:
                await client.publish(pub.topic, pub.payload, qos=1 if pub.retain else 0, retain=pub.retain)
            except aiomqtt.MqttError:
                if not pub.retain:  # retained state is republished on reconnect anyway
                    self._out.put_first(pub)
                raise
            self.stats["published"] += 1
            self._stop_if_closing()

    def _stop_if_closing(self) -> None:
        """After each acknowledged operation: end here if close() has begun.

        aiomqtt waits for acknowledgements with ``asyncio.wait_for``, which on
        Python 3.11 swallows a cancel that lands as the acknowledgement does
        (see :mod:`stage.runtime.tasks`); without this check the sender would
        go back to waiting for its next message and never end.
        """
        if self._closing:
            raise asyncio.CancelledError

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.stats["commands_in"] += 1
            raw = message.payload
            data = raw if isinstance(raw, bytes | bytearray) else str(raw).encode()
            spawn(self._commands, self._command(str(message.topic), bytes(data)))

    # -- commands --------------------------------------------------------------------------------

    async def _command(self, topic: str, payload: bytes) -> None:
        name = topic.rsplit("/", 1)[-1]
        reply: dict[str, Any] = {"command": name}
        try:
            command, role = self._authorized(name, payload)
            if command.id is not None:
                reply["id"] = command.id
            reply["data"] = await self.broadcaster.controls.run(command, role, source="mqtt")
        except ProtocolError as exc:
            self.stats[f"refused.{exc.code.value}"] += 1
            if self._throttle(f"refused:{exc.code.value}"):
                log.warning("MQTT %s refused: %s", topic, exc)
            reply |= {"code": exc.code.value, "message": str(exc)}
            if exc.msg_id is not None:
                reply["id"] = exc.msg_id
        except Exception as exc:  # a failure of ours on one command: answered and counted, the link goes on
            self.stats["errors"] += 1
            if self._throttle("error"):
                log.exception("MQTT %s failed", topic)
            reply |= {"code": ErrorCode.REFUSED.value, "message": f"command {name} failed: {exc!r}"}
        answer = "error" if "code" in reply else "result"
        self._event(f"{self.root}/event/{answer}", json.dumps(reply, default=str).encode())

    def _authorized(self, name: str, payload: bytes) -> tuple[p.Command, Role]:
        command, token = self.parse_command(name, payload)
        role = self.broadcaster.controls.role_of_token(token)
        if role is None:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "unknown token", command.id)
        return command, role

    @staticmethod
    def parse_command(name: str, payload: bytes) -> tuple[p.Command, str]:
        """A command topic's last segment and payload → the command and the token; :class:`ProtocolError`."""
        if name not in COMMANDS:
            raise ProtocolError(ErrorCode.INVALID, f"unknown command {name!r} (known: {', '.join(COMMANDS)})")
        if len(payload) > MAX_PAYLOAD:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
        try:
            text = payload.decode("utf-8")
            raw = json.loads(text) if text.strip() else {}
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ProtocolError(ErrorCode.INVALID_JSON, f"payload is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ProtocolError(ErrorCode.INVALID, "payload must be a JSON object with the token")
        token = raw.pop("token", None)
        msg_id = raw.pop("id", None)
        if not isinstance(token, str) or not token:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "payload needs \"token\": the role's token from [auth]")
        message: dict[str, Any] = {"type": "command", "command": name, "args": raw}
        if msg_id is not None:
            message["id"] = msg_id
        command = p.parse_value(message)
        assert isinstance(command, p.Command)
        return command, token


__all__ = ["Broker", "MqttLink"]
