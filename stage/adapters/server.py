"""The HTTP server: uvicorn, with a WebSocket protocol that lets ``/ws`` fan out a frame encoded once.

Through plain ASGI every client's copy of an event costs a ``send``
coroutine, the server's framing and a writer task waking up: about
60 µs a client, 30 ms for the 500th client of one event.  uvicorn's own
sans-I/O WebSocket protocol is kept as it is (handshake, reading, ping,
close); this subclass only adds the ASGI scope extension
:data:`~stage.adapters.ws.FRAMES_EXTENSION`, a :class:`TransportFrameWriter` that
writes an already framed message straight to the connection's transport,
without waiting.  ``/ws`` uses it when it is there and falls back to
``websocket.send`` when it is not (another ASGI server, a test client).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from stage.adapters.ws import FRAMES_EXTENSION

WS_MAX_SIZE = 1 << 20  # bytes one incoming message may have; /ws refuses frames far smaller than this


class TransportFrameWriter:
    """Writes whole, already framed server messages to one connection, never waiting.

    A frame is written in one ``transport.write``, so it never interleaves
    with what uvicorn writes (pongs, the close frame).  Nothing is written
    before the handshake is accepted or once a close has been sent.
    :meth:`write_ready` is the fan-out's path: one frame to many connections.

    :attr:`ready` is the fan-out's one-attribute check: True only while
    every byte written so far has gone to the socket and the connection is
    open.  Whoever sets it has just found :meth:`writable`; it falls back to
    False the moment anything else reaches the transport (a frame that did
    not go out whole, uvicorn's pongs and close frame, through
    :class:`_WatchedTransport`), the transport is closed or the connection is
    lost, and whoever queues a frame for the connection clears it too.
    """

    __slots__ = ("_fd", "_proto", "_transport", "ready")

    def __init__(self, proto: StageWebSocketProtocol, transport: asyncio.Transport) -> None:
        self._proto = proto
        self._transport = transport
        sock = transport.get_extra_info("socket")
        plain = sock is not None and transport.get_extra_info("sslcontext") is None
        self._fd: int = sock.fileno() if plain else -1  # -1: only the transport may write (TLS)
        self.ready = False

    def is_open(self) -> bool:
        """True while the connection is accepted and not closing."""
        p = self._proto
        return (p.handshake_complete and p.initial_response is None and not p.close_sent and not p.disconnected
                and not self._transport.is_closing())

    def writable(self) -> bool:
        """True when a frame may go straight to the socket: open, and nothing waiting in the transport."""
        return self._proto.writable.is_set() and not self._transport.get_write_buffer_size() and self.is_open()

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` (False, and nothing written, once the connection is closing)."""
        if not self.is_open():
            return False
        self.ready = False
        self._transport.write(frame)
        return True

    @staticmethod
    def write_ready(writers: Sequence[TransportFrameWriter], frame: bytes) -> tuple[int, list[int]]:
        """Write ``frame`` to each of ``writers`` that is :attr:`ready`, in one pass; skip the others.

        One attribute and one ``os.write`` a connection in a tight loop: the
        kernel's send is most of the cost, and the first client has its copy
        as soon as possible.  Ready means the transport's buffer is empty, so
        a write straight to the socket keeps the stream's order; whatever the
        socket does not take (full, or failing) goes to the transport, which
        buffers it or closes the connection as it would have, and the writer
        is no longer ready.  Nothing runs between the check and the write, so
        no socket can have been closed and its number reused.  Returns how
        many connections did not take the whole frame at once, and the
        positions in ``writers`` of those that were not ready (nothing
        written to them).
        """
        size = len(frame)
        write = os.write
        handed = 0
        skipped: list[int] = []
        for i, writer in enumerate(writers):
            if not writer.ready:
                skipped.append(i)
                continue
            fd = writer._fd  # noqa: SLF001 -- same class
            if fd < 0:
                writer.write(frame)
                continue
            try:
                n = write(fd, frame)
            except OSError:
                n = 0
            if n != size:
                writer.ready = False
                writer._transport.write(frame[n:])  # noqa: SLF001
                handed += 1
        return handed, skipped

    async def drained(self) -> None:
        """Wait until the transport is below its high-water mark again (or the connection is lost)."""
        await self._proto.writable.wait()


class _WatchedTransport:
    """The connection's transport as uvicorn's protocol sees it: any write or close also unreadies the frame writer.

    uvicorn writes pongs, close frames and its error responses with
    ``self.transport.write``; each of them may leave bytes in the transport's
    buffer, after which a frame written straight to the socket would
    overtake them.  Everything else passes through untouched.
    """

    __slots__ = ("_transport", "_writer")

    def __init__(self, transport: asyncio.Transport, writer: TransportFrameWriter) -> None:
        self._transport = transport
        self._writer = writer

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._writer.ready = False
        self._transport.write(data)

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        self._writer.ready = False
        self._transport.writelines(chunks)

    def close(self) -> None:
        self._writer.ready = False
        self._transport.close()

    def abort(self) -> None:
        self._writer.ready = False
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class StageWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, offering a :class:`TransportFrameWriter` in the ASGI scope."""

    frame_writer: TransportFrameWriter | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """As uvicorn, then watch what the protocol itself writes (see :class:`_WatchedTransport`)."""
        super().connection_made(transport)
        assert isinstance(transport, asyncio.Transport)
        self.frame_writer = TransportFrameWriter(self, transport)
        self.transport = _WatchedTransport(transport, self.frame_writer)  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is about to be closed: nothing may be written straight to it any more."""
        if self.frame_writer is not None:
            self.frame_writer.ready = False
        super().connection_lost(exc)

    def handle_connect(self, event: Any) -> None:
        """Build the scope as uvicorn does, then add the extension before the application runs."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and self.frame_writer is not None:  # a rejected handshake runs no application
            scope["extensions"][FRAMES_EXTENSION] = {"writer": self.frame_writer}


def http_server(
    app: Any, host: str, port: int, *, log_level: str = "info", certificate: Path | None = None,
    key: Path | None = None,
) -> uvicorn.Server:
    """The uvicorn server ``stage serve`` runs: REST, pages and ``/ws`` on one port; over TLS with a
    ``certificate`` and its ``key`` (PEM files, checked beforehand by :func:`stage.adapters.tls.server_tls`)."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            ssl_certfile=certificate,
            ssl_keyfile=key,
            lifespan="off",
            ws=StageWebSocketProtocol,
            ws_max_size=WS_MAX_SIZE,
            # Compression would give every client its own zlib pass per event and rule out encoding once.
            ws_per_message_deflate=False,
        )
    )


def bound_port(server: uvicorn.Server) -> int:
    """The TCP port a started server listens on (for ``port = 0``)."""
    return int(server.servers[0].sockets[0].getsockname()[1])


__all__ = ["StageWebSocketProtocol", "TransportFrameWriter", "bound_port", "http_server"]
