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

import os
from collections.abc import Sequence
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
    :meth:`write_many` is the fan-out's path: one frame to many connections.
    """

    __slots__ = ("_fd", "_proto")

    def __init__(self, proto: StageWebSocketProtocol) -> None:
        self._proto = proto
        sock = proto.transport.get_extra_info("socket")
        plain = sock is not None and proto.transport.get_extra_info("sslcontext") is None
        self._fd: int = sock.fileno() if plain else -1  # -1: only the transport may write (TLS)

    def is_open(self) -> bool:
        """True while the connection is accepted and not closing."""
        p = self._proto
        return (p.handshake_complete and p.initial_response is None and not p.close_sent and not p.disconnected
                and not p.transport.is_closing())

    def writable(self) -> bool:
        """True when a frame may go straight to the socket: open, and nothing waiting in the transport."""
        return self._proto.writable.is_set() and not self._proto.transport.get_write_buffer_size() and self.is_open()

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` (False, and nothing written, once the connection is closing)."""
        if not self.is_open():
            return False
        self._proto.transport.write(frame)
        return True

    @staticmethod
    def write_many(writers: Sequence[TransportFrameWriter], frame: bytes) -> int:
        """Write ``frame`` to each of ``writers``, every one :meth:`writable` in this same step of the loop.

        One ``os.write`` a connection in a tight loop: the kernel's send is
        most of the cost and nothing else is touched between two of them, so
        every connection's Python objects were visited before the first
        send, not evicted by the sends in between.  The transport's buffer
        is empty (that is what writable means), so a write straight to the
        socket keeps the stream's order; whatever the socket does not take
        (full, or failing) goes to the transport, which buffers it or closes
        the connection as it would have.  Nothing runs between the check and
        the write, so no socket can have been closed and its number reused.
        Returns how many connections did not take the whole frame at once.
        """
        size = len(frame)
        write = os.write
        handed = 0
        for writer in writers:
            if writer._fd < 0:  # noqa: SLF001 -- same class
                writer._proto.transport.write(frame)  # noqa: SLF001
                continue
            try:
                n = write(writer._fd, frame)  # noqa: SLF001
            except OSError:
                n = 0
            if n != size:
                writer._proto.transport.write(frame[n:])  # noqa: SLF001
                handed += 1
        return handed

    async def drained(self) -> None:
        """Wait until the transport is below its high-water mark again (or the connection is lost)."""
        await self._proto.writable.wait()

    def buffered(self) -> int:
        """Bytes waiting in the transport."""
        return int(self._proto.transport.get_write_buffer_size())


class StageWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, offering a :class:`TransportFrameWriter` in the ASGI scope."""

    def handle_connect(self, event: Any) -> None:
        """Build the scope as uvicorn does, then add the extension before the application runs."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # a rejected handshake has no scope and runs no application
            scope["extensions"][FRAMES_EXTENSION] = {"writer": TransportFrameWriter(self)}


def http_server(app: Any, host: str, port: int, *, log_level: str = "info") -> uvicorn.Server:
    """The uvicorn server ``stage serve`` runs: REST, pages and ``/ws`` on one port."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
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
