"""``/ws``: the WebSocket endpoint (FastAPI/Starlette) speaking :mod:`stage.core.protocol`.

Each event is framed once (RFC 6455, unmasked, no compression) and the same
bytes are written to every subscribed client whose connection can take them
at once, through the :class:`FrameWriter` that ``stage serve``'s uvicorn
protocol puts in the ASGI scope (:mod:`stage.adapters.server`): no coroutine,
no task switch, no copy per client.  A client with anything still waiting,
or whose transport is over its high-water mark, gets the frame in its
bounded :class:`~stage.runtime.fanout.LatestWins` outbox instead, which
its writer task drains in order.  A client whose outbox overflows with
events, or whose socket takes longer than ``send_timeout`` to take a frame,
is dropped (code 1013) without touching anyone else.  Without the extension
(another ASGI server) every frame goes through the outbox and
``websocket.send``.  Clock-sync replies jump the queue and are stamped
(``t2``) just before they are written; ``t1`` is stamped the moment a frame
is read.
Every refused frame is counted in :attr:`WsHub.stats`, logged (throttled) and
answered with an ``error``; the connection goes on.  So does a frame the hub
fails on for a reason of its own (counted as ``errors``); a failed send ends
that one connection (counted as ``send_errors``), never the hub.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import Body, FastAPI, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState
from websockets.frames import Frame, Opcode

from stage.core import protocol as p
from stage.core.protocol import Topic
from stage.errors import ErrorCode, ProtocolError, SessionError
from stage.runtime.broadcast import Broadcaster, ClientInfo
from stage.runtime.fanout import LatestWins, Outgoing, Throttle, spawn

log = logging.getLogger(__name__)

QUEUE_LIMIT = 512  # events (not state) waiting for one client before it counts as too slow
SEND_TIMEOUT = 2.0  # seconds one frame may take to be written before the client counts as dead
HELLO_TIMEOUT = 10.0  # seconds a new connection has to say hello
MAX_COMMANDS = 4  # commands one client may have running at once
CLOSE_TOO_SLOW = 1013  # "try again later"
CLOSE_POLICY = 1008
FRAMES_EXTENSION = "stage.ws.frames"  # ASGI scope extension: {"writer": FrameWriter}


class FrameWriter(Protocol):
    """Writes already framed messages to one connection without waiting (see :mod:`stage.adapters.server`)."""

    ready: bool
    """The fan-out's quick check: set by whoever just found :meth:`writable`; False again once anything
    but :meth:`write_ready` reaches the connection, it closes, or a frame is queued for it."""

    def writable(self) -> bool:
        """True when a frame may be written now, straight to the connection."""

    def write(self, frame: bytes) -> bool:
        """Write one whole frame; False once the connection is closing."""

    @staticmethod
    def write_ready(writers: Sequence[Any], frame: bytes) -> tuple[int, list[int]]:
        """Write one frame to each of ``writers`` (of this class) that is :attr:`ready`, in one pass.

        Returns how many of them could not take it whole at once (and
        buffered the rest), and the positions of those not ready, untouched.
        """

    async def drained(self) -> None:
        """Wait until the connection can take frames again."""


def wire(text: str) -> bytes:
    """``text`` as one unmasked WebSocket text frame, the bytes a server writes."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


@dataclass(frozen=True)
class _SyncReply:
    t0: float
    t1: float


Item = str | bytes | _SyncReply  # JSON text, a frame already on the wire, or a sync reply to stamp


@dataclass
class WsClient:
    """One connected client: who it is, what it wants, and its outbox."""

    info: ClientInfo
    topics: set[Topic]
    outbox: LatestWins[Item]
    gone: asyncio.Future[str]
    writer: FrameWriter | None = None  # None: every frame through ``websocket.send``
    busy: bool = False  # the writer task holds a frame it has not written yet
    commands: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def id(self) -> int:
        """The client's id."""
        return self.info.id

    def can_write_now(self) -> bool:
        """True when a frame may go straight out: nothing waits before it and the transport takes it."""
        return self.writer is not None and not self.busy and not self.outbox and self.writer.writable()

    def queue(self, item: Item, key: Hashable | None = None) -> bool:
        """Put ``item`` in the outbox (False when it is full); nothing goes straight out until it is written."""
        if self.writer is not None:
            self.writer.ready = False
        return self.outbox.put(item, key)

    def queue_first(self, item: Item) -> None:
        """Put ``item`` at the head of the outbox."""
        if self.writer is not None:
            self.writer.ready = False
        self.outbox.put_first(item)

    def drop(self, reason: str) -> None:
        """End this client's session (from anywhere on the loop)."""
        if not self.gone.done():
            self.gone.set_result(reason)


# The clients subscribed to a topic: by kind of writer, writers and clients in the same order; and those without one.
Roster = tuple[list[tuple[type[FrameWriter], list[FrameWriter], list[WsClient]]], list[WsClient]]


class WsHub:
    """Every WebSocket client; the broadcaster's WebSocket sink."""

    edge = "ws"  # its name in the metrics (stage_edge_events)

    def __init__(
        self,
        broadcaster: Broadcaster,
        *,
        queue_limit: int = QUEUE_LIMIT,
        send_timeout: float = SEND_TIMEOUT,
        hello_timeout: float = HELLO_TIMEOUT,
        max_frame: int = p.MAX_FRAME,
    ) -> None:
        self.broadcaster = broadcaster
        self.queue_limit = queue_limit
        self.send_timeout = send_timeout
        self.hello_timeout = hello_timeout
        self.max_frame = max_frame
        self.clients: dict[int, WsClient] = {}
        self.stats: collections.Counter[str] = collections.Counter()
        # Told (client id, frame) after each frame is handed to the socket: for benchmarks and metrics.
        self.on_sent: Callable[[int, str | bytes], None] | None = None
        self._throttle = Throttle()
        # Per topic, who is subscribed (see _roster); forgotten whenever a client joins, leaves or (un)subscribes.
        self._rosters: dict[Topic, Roster] = {}

    # -- the sink --------------------------------------------------------------------------------

    def offer(self, out: Outgoing) -> None:
        """Write ``out`` to every subscribed client that can take it now, queue it for the others.

        The frame is encoded once and written, in one pass, to every
        subscribed connection whose writer is :attr:`~FrameWriter.ready` (one
        attribute each).  The few that are not are then checked in full:
        written to if they can take it after all, queued otherwise.  A
        client that cannot keep up is dropped; nobody else waits for it.
        """
        roster = self._rosters.get(out.topic)
        if roster is None:
            roster = self._rosters[out.topic] = self._roster(out.topic)
        groups, plain = roster
        key = out.topic if out.coalesce else None
        for client in plain:
            self._queue(client, out.frame, key)
        if not groups:
            return
        framed = wire(out.frame)
        for kind, writers, clients in groups:
            handed, skipped = kind.write_ready(writers, framed)
            queued: set[int] = set()
            if skipped:
                for i in skipped:
                    if clients[i].can_write_now():
                        writers[i].ready = True
                    else:
                        queued.add(i)
                        self._queue(clients[i], framed, key)
                late = [writers[i] for i in skipped if i not in queued]
                if late:
                    handed += kind.write_ready(late, framed)[0]
            self.stats["direct_buffered"] += handed
            self.stats["direct"] += len(writers) - len(queued)
            if self.on_sent is not None:
                for i, client in enumerate(clients):
                    if i not in queued:
                        self.on_sent(client.id, framed)

    def _roster(self, topic: Topic) -> Roster:
        """The clients subscribed to ``topic`` (one kind of writer, unless the app is served by more than one
        kind of server at once)."""
        groups: dict[type[FrameWriter], tuple[list[FrameWriter], list[WsClient]]] = {}
        plain = []
        for client in self.clients.values():
            if topic not in client.topics:
                continue
            if client.writer is None:
                plain.append(client)
                continue
            writers, clients = groups.setdefault(type(client.writer), ([], []))
            writers.append(client.writer)
            clients.append(client)
        return [(kind, writers, clients) for kind, (writers, clients) in groups.items()], plain

    def _queue(self, client: WsClient, item: Item, key: Hashable | None) -> None:
        if not client.queue(item, key):
            self.stats["dropped_slow"] += 1
            log.warning("ws client %d (%s): %d events waiting: dropped as too slow",
                        client.id, client.info.address, self.queue_limit)
            self._forget(client)
            client.drop("too slow: its queue overflowed")

    async def close(self) -> None:
        """Disconnect every client."""
        for client in list(self.clients.values()):
            client.drop("server shutting down")

    # -- one connection --------------------------------------------------------------------------

    async def serve(self, ws: WebSocket) -> None:
        """Run one connection from accept to close."""
        await ws.accept()
        address = f"{ws.client.host}:{ws.client.port}" if ws.client else "?"
        hello = await self._hello(ws, address)
        if hello is None:
            return
        info = self.broadcaster.join("ws", hello.role, hello.name, address)
        extension = ws.scope.get("extensions", {}).get(FRAMES_EXTENSION) or {}
        client = WsClient(info, set(hello.topics), LatestWins(self.queue_limit),
                          asyncio.get_running_loop().create_future(), writer=extension.get("writer"))
        client.queue(p.encode(p.welcome(info.id, hello.role, frozenset(hello.topics), time.monotonic(),
                                        self.max_frame)))
        # Snapshot and registration in one step of the loop: no event falls between them.
        client.queue(self._snapshot(client))
        self.clients[info.id] = client
        self._rosters.clear()
        self.stats["connected"] += 1
        reader = asyncio.create_task(self._read(ws, client), name=f"ws-{info.id}-read")
        writer = asyncio.create_task(self._write(ws, client), name=f"ws-{info.id}-write")
        try:
            waiting: set[asyncio.Future[Any]] = {reader, writer, client.gone}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reason = client.gone.result() if client.gone.done() else "disconnected"
            self._forget(client)
            for task in (reader, writer, *client.commands):
                task.cancel()
            for task in (reader, writer):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if reason.startswith("too slow"):
                await self._close(ws, CLOSE_TOO_SLOW, "too slow")
            elif reason == "server shutting down":
                await self._close(ws, 1001, reason)
            log.info("ws client %d (%s, %s) left: %s", info.id, hello.role.value, address, reason)

    def _snapshot(self, client: WsClient) -> str:
        """The snapshot frame for ``client``; should it not encode (a bug), an error frame instead."""
        try:
            return p.encode(self.broadcaster.snapshot())
        except Exception as exc:
            self._failed(client.info.address, "snapshot", exc)
            return p.encode(p.error(ErrorCode.UNAVAILABLE, f"no snapshot: {exc}"))

    def _failed(self, address: str, what: str, exc: Exception) -> None:
        """Count and log (throttled) a frame the hub itself could not handle."""
        self.stats["errors"] += 1
        if self._throttle(f"{address}:error"):
            log.error("ws %s: %s failed: %r (%d so far)", address, what, exc, self.stats["errors"])

    def _forget(self, client: WsClient) -> None:
        if self.clients.pop(client.id, None) is not None:
            self._rosters.clear()
            self.broadcaster.leave(client.id)

    async def _close(self, ws: WebSocket, code: int, reason: str) -> None:
        if ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.send_timeout):
                    await ws.close(code, reason)

    async def _hello(self, ws: WebSocket, address: str) -> p.Hello | None:
        """Wait for a valid hello with a good token; answer and close otherwise."""
        try:
            async with asyncio.timeout(self.hello_timeout):
                while True:
                    message = await ws.receive()
                    if message["type"] == "websocket.disconnect":
                        return None
                    try:
                        msg = self._check_hello(_frame(message))
                    except ProtocolError as exc:
                        await ws.send_text(p.encode(self._refused(None, address, exc, exc.msg_id)))
                        if exc.code is ErrorCode.UNAUTHORIZED:
                            await self._close(ws, CLOSE_POLICY, "unauthorized")
                            return None
                        continue
                    except Exception as exc:  # the hub's own failure on one frame: refuse it, go on
                        self._failed(address, "hello", exc)
                        await ws.send_text(p.encode(p.error(ErrorCode.INVALID, f"could not read hello: {exc}")))
                        continue
                    return msg
        except TimeoutError:
            self.stats["hello_timeout"] += 1
            await self._close(ws, CLOSE_POLICY, "no hello")
        except (WebSocketDisconnect, RuntimeError):
            pass
        return None

    def _check_hello(self, frame: str | bytes) -> p.Hello:
        msg = p.parse(frame, self.max_frame)
        if not isinstance(msg, p.Hello):
            raise ProtocolError(ErrorCode.HELLO_FIRST, 'say hello first: {"type": "hello", "role": ...}')
        self.broadcaster.controls.authorize(msg.role, msg.token)
        return msg

    def _refused(
        self, client: WsClient | None, address: str, exc: ProtocolError, msg_id: str | int | None
    ) -> dict[str, Any]:
        """Count and log (throttled) a refusal; the error that answers it."""
        self.stats[exc.code.value] += 1
        who = f"ws client {client.id}" if client else f"ws {address}"
        if self._throttle(f"{address}:{exc.code.value}"):
            log.warning("%s: %s: %s", who, exc.code.value, exc)
        return p.error(exc.code, str(exc), msg_id)

    async def _read(self, ws: WebSocket, client: WsClient) -> None:
        while True:
            message = await ws.receive()
            t1 = time.monotonic()
            if message["type"] == "websocket.disconnect":
                return
            self.stats["frames"] += 1
            client.info.seen = t1
            try:
                msg = p.parse(_frame(message), self.max_frame)
            except ProtocolError as exc:
                client.queue(p.encode(self._refused(client, client.info.address, exc, exc.msg_id)))
                continue
            except Exception as exc:  # the hub's own failure on one frame: refuse it, go on
                self._failed(client.info.address, "reading a frame", exc)
                client.queue(p.encode(p.error(ErrorCode.INVALID, f"could not read the frame: {exc}")))
                continue
            try:
                self._handle(client, msg, t1)
            except Exception as exc:
                self._failed(client.info.address, f"handling {type(msg).__name__}", exc)
                client.queue(p.encode(p.error(ErrorCode.REFUSED, f"could not handle the message: {exc}")))

    def _handle(self, client: WsClient, msg: p.ClientMessage, t1: float) -> None:
        match msg:
            case p.SyncRequest(t0=t0):
                self.stats["sync"] += 1
                if client.writer is not None and client.can_write_now():
                    client.writer.write(wire(p.encode(p.sync_reply(t0, t1, time.monotonic()))))
                else:
                    client.queue_first(_SyncReply(t0, t1))
            case p.Subscribe(topics=topics, add=add):
                if add:
                    client.topics |= topics
                else:
                    client.topics -= topics
                self._rosters.clear()
            case p.SnapshotRequest():
                client.queue(self._snapshot(client))
            case p.Hello():
                client.queue(p.encode(p.error(ErrorCode.INVALID, "hello was already said")))
            case p.Drawn():
                self.broadcaster.drawn(client.id, msg)
            case p.Command():
                if len(client.commands) >= MAX_COMMANDS:
                    client.queue(p.encode(p.error(ErrorCode.REFUSED, "too many commands running", msg.id)))
                    return
                spawn(client.commands, self._command(client, msg))

    async def _command(self, client: WsClient, command: p.Command) -> None:
        self.stats["commands"] += 1
        try:
            data = await self.broadcaster.controls.run(command, client.info.role, source=("ws", client.id))
            reply = p.result(command.id, command.name, data)
        except ProtocolError as exc:
            reply = self._refused(client, client.info.address, exc, command.id)
        except Exception as exc:  # a bug in a command must not end the connection
            log.exception("ws client %d: command %s failed", client.id, command.name)
            reply = p.error(ErrorCode.REFUSED, f"command {command.name} failed: {exc!r}", command.id)
        client.queue(p.encode(reply))

    async def _write(self, ws: WebSocket, client: WsClient) -> None:
        """Drain the outbox in order (everything the fast path in :meth:`offer` could not write at once)."""
        while True:
            item = await client.outbox.get()
            client.busy = True
            try:
                async with asyncio.timeout(self.send_timeout):
                    if client.writer is not None:
                        await client.writer.drained()
                    if isinstance(item, _SyncReply):  # stamped as late as possible
                        item = p.encode(p.sync_reply(item.t0, item.t1, time.monotonic()))
                    if client.writer is None:
                        # The ASGI message itself: Starlette's send_text adds only checks made once, at accept.
                        assert isinstance(item, str)
                        await ws.send({"type": "websocket.send", "text": item})
                    elif not client.writer.write(item if isinstance(item, bytes) else wire(item)):
                        return  # closing: serve() ends the session
            except TimeoutError:
                self.stats["dropped_slow"] += 1
                log.warning("ws client %d (%s): a frame took over %g s to send: dropped as too slow",
                            client.id, client.info.address, self.send_timeout)
                client.drop("too slow: a send timed out")
                return
            except Exception as exc:  # the connection broke under the send: this client ends, nobody else
                self.stats["send_errors"] += 1
                if self._throttle(f"{client.info.address}:send"):
                    log.info("ws client %d (%s): send failed: %r", client.id, client.info.address, exc)
                client.drop(f"send failed: {exc!r}")
                return
            finally:
                client.busy = False
            if self.on_sent is not None:
                self.on_sent(client.id, item)


def _frame(message: Mapping[str, Any]) -> str | bytes:
    text = message.get("text")
    if isinstance(text, str):
        return text
    data = message.get("bytes")
    return data if isinstance(data, bytes) else b""


def mount_ws(app: FastAPI, hub: WsHub, path: str = "/ws") -> None:
    """Serve ``hub`` at ``path`` on ``app``, and the list of its clients at ``/api/clients``."""

    @app.websocket(path)
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    @app.get("/api/clients", tags=["service"])
    async def clients() -> list[dict[str, Any]]:
        """Who is connected; for screens, how late or early they draw streamer ends and punches (``draws``)."""
        return hub.broadcaster.client_report()

    @app.get("/api/status", tags=["service"])
    async def status() -> dict[str, Any]:
        """The engineer's health view: clients (how each draws, when last heard from), clients gone, the broker."""
        return hub.broadcaster.status()

    @app.post("/api/pair", tags=["service"], responses={409: {"description": "unknown, expired or spent code"}})
    async def pair(body: Annotated[dict[str, Any], Body(examples=[{"code": "048213"}])]) -> JSONResponse:
        """Exchange a pairing code (the ``pair`` command, from the engineer's console) for its role's token."""
        code = body.get("code")
        if not isinstance(code, str) or not code.strip():
            return JSONResponse({"detail": "send {\"code\": \"<the six digits>\"}"}, status_code=422)
        try:
            role, token = hub.broadcaster.controls.redeem(code)
        except SessionError as exc:
            log.warning("pairing code refused from the REST API: %s", exc)
            return JSONResponse({"detail": str(exc)}, status_code=409)
        log.info("pairing code exchanged for the %s token", role.value)
        return JSONResponse({"role": role.value, "token": token})


__all__ = ["FRAMES_EXTENSION", "HELLO_TIMEOUT", "QUEUE_LIMIT", "SEND_TIMEOUT", "FrameWriter", "WsClient", "WsHub",
           "mount_ws", "wire"]
