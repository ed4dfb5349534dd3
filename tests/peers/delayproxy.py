"""A network with delay and jitter between screens and the stage: a TCP proxy of our own (the kernel here has no
``netem`` qdisc).

Every chunk read from either side is held back by ``delay`` ± ``jitter`` seconds (uniform) and written on in the
order it came, each no sooner than its own due time: what a switched stage network with some load does to a
page's packets, clock-sync exchanges included.  Bytes pass untouched, so HTTPS and ``wss`` cross it as they are;
given the stage's authority (``target_cafile``) it speaks TLS to the stage itself instead, and plain HTTP to
its clients: a page on another host then reaches an HTTPS stage over plain ``http://``, as a browser does on a
stage without a certificate.
The proxy runs in a process of its own with its own event loop (:func:`delaying_proxy`), so the browser's and
the stage's load do not add to its delays, nor it to theirs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import random
import socket
import ssl
from collections.abc import Iterator
from typing import Any


def run_proxy(listen: int, target: int, delay: float, jitter: float, ready: Any, *,
              host: str = "127.0.0.1", target_host: str = "127.0.0.1", target_cafile: str | None = None) -> None:
    """Forward TCP from ``host:listen`` to ``target_host:target`` (over TLS checked against ``target_cafile``
    when given); each chunk each way held back delay ± jitter (seconds), order kept.  Sets ``ready`` (an Event)
    once it listens; runs until killed."""
    tls = None if target_cafile is None else ssl.create_default_context(cafile=target_cafile)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Chunks leave in the order they came, each no sooner than its own delay: one timer, at the head's due.
        loop = asyncio.get_running_loop()
        queue: collections.deque[tuple[float, bytes]] = collections.deque()

        def flush() -> None:
            now = loop.time()
            while queue and queue[0][0] <= now:
                writer.write(queue.popleft()[1])
            if queue:
                loop.call_at(queue[0][0], flush)

        last = 0.0
        try:
            while data := await reader.read(65536):
                last = max(last, loop.time() + delay + random.uniform(-jitter, jitter))
                queue.append((last, data))
                if len(queue) == 1:
                    loop.call_at(last, flush)
        finally:
            loop.call_at(last + 0.001, writer.close)

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(target_host, target, ssl=tls)
        except OSError:
            client_w.close()
            return
        for sock in (client_w.get_extra_info("socket"), server_w.get_extra_info("socket")):
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w), return_exceptions=True)

    async def main() -> None:
        server = await asyncio.start_server(handle, host, listen)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


@contextlib.contextmanager
def delaying_proxy(listen: int, target: int, delay: float, jitter: float, *, host: str = "127.0.0.1",
                   target_host: str = "127.0.0.1", target_cafile: str | None = None) -> Iterator[None]:
    """:func:`run_proxy` in a process of its own while the block runs; killed after."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=run_proxy, args=(listen, target, delay, jitter, ready),
                       kwargs={"host": host, "target_host": target_host, "target_cafile": target_cafile}, daemon=True)
    proc.start()
    try:
        if not ready.wait(30):
            raise RuntimeError(f"the delaying proxy on port {listen} did not start")
        yield
    finally:
        proc.kill()
        proc.join(10)
