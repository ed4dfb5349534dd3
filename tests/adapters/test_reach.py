"""Where a tablet reaches the stage: the addresses a pairing code's page is named at, from ``[http] host``."""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

from stagerig import free_port

from stage.adapters.reach import page_bases


def test_a_loopback_stage_has_no_address_for_a_tablet_and_a_named_one_is_its_own() -> None:
    for host in ("127.0.0.1", "127.0.1.1", "::1", "localhost"):
        assert page_bases(host, 8000) == (), host
    assert page_bases("192.168.1.20", 8000) == ("http://192.168.1.20:8000",)
    assert page_bases("fd00::2", 8000) == ("http://[fd00::2]:8000",)
    assert page_bases("stage.local", 8080) == ("http://stage.local:8080",)
    assert page_bases("fd00::2", 8443, "https") == ("https://[fd00::2]:8443",)  # served over TLS
    assert page_bases("127.0.0.1", 8443, "https") == ()


async def test_a_stage_on_every_interface_is_named_at_this_machines_addresses_and_answers_there() -> None:
    port = free_port()
    bases = page_bases("0.0.0.0", port)
    assert bases, "this machine has no address but loopback: the stage network is missing"
    for base in bases:
        parts = urlsplit(base)
        assert parts.port == port
        assert parts.hostname is not None
        assert not ipaddress.ip_address(parts.hostname).is_loopback

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"stage")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hello, "0.0.0.0", port)
    try:
        for base in bases:
            host = urlsplit(base).hostname
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
            assert await reader.read() == b"stage", base
            writer.close()
    finally:
        server.close()
        await server.wait_closed()
