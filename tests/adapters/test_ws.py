"""``/ws`` with real websockets clients against a real uvicorn: hello, snapshot, sync, subscriptions, control,
garbage, and a client too slow to keep up."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from peers.wait import until
from stagerig import TOKENS, UNIT, Rig, stage_rig
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame
from websockets.uri import parse_uri

from stage.adapters.server import WS_MAX_SIZE
from stage.core import protocol as p
from stage.core.transport import Anchor
from stage.runtime.service import TransportView


async def recv(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), within * UNIT)
    assert isinstance(raw, str)
    msg = json.loads(raw)
    assert isinstance(msg, dict)
    p.validate_server(msg)  # every frame the server sends fits its schema
    return msg


_pending: dict[int, list[dict[str, Any]]] = {}


async def recv_until(ws: ClientConnection, pred: Any, within: float = 5.0) -> dict[str, Any]:
    """The first message (kept aside earlier, or new) that matches; the others are kept for later calls."""
    kept = _pending.setdefault(id(ws), [])
    for i, msg in enumerate(kept):
        if pred(msg):
            return kept.pop(i)
    deadline = time.monotonic() + within * UNIT
    while True:
        msg = await recv(ws, max(deadline - time.monotonic(), 0.01))
        if pred(msg):
            return msg
        kept.append(msg)


async def stalled_client(rig: Rig, topics: list[str]) -> socket.socket:
    """A client that says hello and then never reads again."""
    return (await stalled_protocol(rig, topics))[0]


async def stalled_protocol(rig: Rig, topics: list[str]) -> tuple[socket.socket, ClientProtocol]:
    """A client that says hello and then does not read, with its protocol to read with later.

    websockets' sans-I/O client on a plain socket with a small receive buffer
    (no autotuning up to 32 MB), so TCP backs up at once.
    """
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", rig.http_port))
    client = ClientProtocol(parse_uri(rig.ws_url))
    client.send_request(client.connect())
    slow.sendall(b"".join(client.data_to_send()))
    head = b""
    while b"\r\n\r\n" not in head:
        head += await asyncio.to_thread(slow.recv, 1)
    assert head.startswith(b"HTTP/1.1 101")
    client.receive_data(head)
    client.events_received()  # the 101 response
    client.send_text(json.dumps({"type": "hello", "role": "musician", "topics": topics}).encode())
    slow.sendall(b"".join(client.data_to_send()))
    return slow, client


Hello = tuple[ClientConnection, dict[str, Any], dict[str, Any]]


async def hello(rig: Rig, role: str = "musician", **extra: Any) -> Hello:
    ws = await connect(rig.ws_url)
    await ws.send(json.dumps({"type": "hello", "role": role, **extra}))
    welcome = await recv(ws)
    snapshot = await recv(ws)
    return ws, welcome, snapshot


async def test_hello_welcome_and_snapshot(tmp_path: Path) -> None:
    async with stage_rig(tmp_path) as rig:
        rig.service.arm("1M1")
        await until(lambda: rig.broadcaster.latest.get(p.Topic.SESSION) is not None, what="session event")
        ws, welcome, snap = await hello(rig, name="violins 1")
        assert welcome["type"] == "welcome"
        assert welcome["protocol"] == 1
        assert welcome["role"] == "musician"
        assert welcome["commands"] == []
        assert welcome["topics"] == sorted(t.value for t in p.Topic)
        assert welcome["max_frame"] == p.MAX_FRAME
        assert abs(welcome["server_time"] - time.monotonic()) < 5
        assert snap["type"] == "snapshot"
        assert set(snap["state"]) == {"transport", "sync", "cue", "session", "take", "clients", "picture"}
        assert snap["state"]["transport"]["rolling"] is False
        assert snap["state"]["transport"]["armed"] == "1M1"
        assert snap["state"]["session"]["armed"] == "1M1"
        assert snap["state"]["clients"]["count"] == 1
        assert snap["state"]["clients"]["clients"][0]["name"] == "violins 1"
        assert snap["schedule"] == []
        # Its own arrival comes next, as the event after the snapshot.
        joined = await recv(ws)
        assert (joined["topic"], joined["data"]["event"], joined["seq"]) == ("clients", "joined", snap["seq"] + 1)
        await ws.close()


@pytest.mark.parametrize("plain_asgi", [False, True], ids=["frame-writer", "plain-asgi"])
async def test_events_reach_every_client_in_order_encoded_once(tmp_path: Path, plain_asgi: bool) -> None:
    """Under `stage serve` events go straight to the transports; under another server, through ASGI. Same bytes."""
    async with stage_rig(tmp_path, plain_asgi=plain_asgi) as rig:
        clients = [(await hello(rig, topics=["beat"]))[0] for _ in range(5)]
        await until(lambda: len(rig.hub.clients) == 5, what="five clients")
        await until(lambda: all(not c.outbox and not c.busy for c in rig.hub.clients.values()),
                    what="welcomes and snapshots written: nothing waiting")
        sent: list[tuple[int, str | bytes]] = []
        rig.hub.on_sent = lambda cid, frame: sent.append((cid, frame))
        direct_before = rig.hub.stats["direct"]
        for n in range(50):
            rig.service.bus.publish("beat", {"cue": "1M1", "bar": n, "beat": 1})
        for ws in clients:
            bars = [(await recv_until(ws, lambda m: m.get("topic") == "beat"))["data"]["bar"] for _ in range(50)]
            assert bars == list(range(50))
        assert len(sent) == 250
        if plain_asgi:
            assert rig.hub.stats["direct"] == direct_before
            assert all(isinstance(frame, str) for _, frame in sent)
        else:
            assert rig.hub.stats["direct"] - direct_before == 250  # none needed a queue or a task
            # One frame object per event, shared by the five clients, and exactly the RFC 6455 bytes.
            per_event = [frame for cid, frame in sent if cid == sent[0][0]]
            assert len({id(frame) for _, frame in sent}) == 50
            first = per_event[0]
            assert isinstance(first, bytes)
            body = first[2:] if first[1] < 126 else first[4:]
            assert first[0] == 0x81  # FIN + text, and no mask bit from a server
            assert first[1] & 0x80 == 0
            assert json.loads(body)["data"]["bar"] == 0
        for ws in clients:
            await ws.close()


async def test_a_frame_over_the_transport_limit_closes_only_that_client(tmp_path: Path) -> None:
    """Past MAX_FRAME a frame is answered with an error; past 1 MiB the connection is closed with 1009."""
    async with stage_rig(tmp_path) as rig:
        big, _, _ = await hello(rig, topics=[])
        other, _, _ = await hello(rig, topics=["beat"])
        await big.send("x" * (WS_MAX_SIZE + 1))
        with pytest.raises(ConnectionClosed) as info:  # subscribed to nothing: the close is all it gets
            await asyncio.wait_for(big.recv(), 5 * UNIT)
        closed = info.value.rcvd or info.value.sent
        assert closed is not None
        assert closed.code == 1009
        await until(lambda: len(rig.hub.clients) == 1, what="the big client gone")
        rig.service.bus.publish("beat", {"cue": "1M1", "bar": 7, "beat": 1})
        msg = await recv_until(other, lambda m: m.get("topic") == "beat")
        assert msg["data"]["bar"] == 7
        await other.close()


async def test_control_needs_the_roles_token(tmp_path: Path) -> None:
    async with stage_rig(tmp_path) as rig:
        ws = await connect(rig.ws_url)
        await ws.send(json.dumps({"type": "hello", "role": "conductor", "token": "guess"}))
        err = await recv(ws)
        assert err == {"type": "error", "code": "unauthorized", "message": "wrong token for conductor"}
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1008
        # No token at all.
        ws = await connect(rig.ws_url)
        await ws.send(json.dumps({"type": "hello", "role": "engineer"}))
        assert (await recv(ws))["message"] == "an engineer must give the role's token from [auth]"
        # The right token.
        ws, welcome, _ = await hello(rig, "conductor", token=TOKENS["conductor"])
        assert welcome["role"] == "conductor"
        assert welcome["commands"] == [
            "arm", "mode", "play", "stop", "locate", "varispeed", "take_status", "note", "from_top", "pickup",
            "take_edit", "load_sheet",
        ]
        await ws.close()


async def test_hello_first(tmp_path: Path) -> None:
    async with stage_rig(tmp_path) as rig:
        ws = await connect(rig.ws_url)
        await ws.send('{"type":"sync","t0":1}')
        err = await recv(ws)
        assert err["code"] == "hello_first"
        await ws.send('{"type":"hello","role":"musician"}')
        assert (await recv(ws))["type"] == "welcome"
        await ws.close()


async def test_clock_sync_brackets_the_servers_clock(tmp_path: Path) -> None:
    """Client and server share time.monotonic() here: t0 ≤ t1 ≤ t2 ≤ t3 must hold exactly, and the offset is ~0."""
    async with stage_rig(tmp_path) as rig:
        ws, _, _ = await hello(rig, topics=[])
        offsets = []
        for _ in range(20):
            t0 = time.monotonic()
            await ws.send(json.dumps({"type": "sync", "t0": t0}))
            reply = await recv_until(ws, lambda m: m["type"] == "sync")
            t3 = time.monotonic()
            assert reply["t0"] == t0
            assert t0 <= reply["t1"] <= reply["t2"] <= t3
            offsets.append((t3 - t0, ((reply["t1"] - t0) + (reply["t2"] - t3)) / 2))
        rtt, offset = min(offsets)
        assert abs(offset) <= rtt / 2
        assert rig.hub.stats["sync"] == 20
        await ws.close()


async def test_subscriptions_choose_the_topics(tmp_path: Path) -> None:
    async with stage_rig(tmp_path) as rig:
        ws, welcome, _ = await hello(rig, topics=["session"])
        assert welcome["topics"] == ["session"]
        rig.service.bus.publish("beat", {"bar": 1})
        rig.service.arm("1M2")
        ev = await recv(ws)
        assert (ev["topic"], ev["data"]["armed"], ev["data"]["pickup"]) == ("session", "1M2", None)
        await ws.send('{"type":"subscribe","topics":["beat"]}')
        await ws.send('{"type":"unsubscribe","topics":["session"]}')
        await ws.send('{"type":"sync","t0":0}')  # answered after the two above were handled
        await recv_until(ws, lambda m: m["type"] == "sync")
        rig.service.arm("1M1")
        rig.service.bus.publish("beat", {"bar": 2})
        ev = await recv(ws)
        assert (ev["topic"], ev["data"]) == ("beat", {"bar": 2})
        await ws.close()


async def test_control_commands_by_role(tmp_path: Path) -> None:
    async with stage_rig(tmp_path, takes=True) as rig:
        conductor, _, _ = await hello(rig, "conductor", token=TOKENS["conductor"], topics=["transport", "session"])
        musician, _, _ = await hello(rig, "musician", topics=[])
        await musician.send('{"type":"command","id":1,"command":"arm","args":{"cue":"1M1"}}')
        assert await recv(musician) == {"type": "error", "code": "forbidden",
                                        "message": "a musician may not arm cues or change mode", "id": 1}
        await conductor.send('{"type":"command","id":"a","command":"arm","args":{"cue":"1M1"}}')
        res = await recv_until(conductor, lambda m: m["type"] == "result")
        assert (res["id"], res["command"], res["data"]["armed"], res["data"]["mode"]) == ("a", "arm", "1M1", "rehearse")
        assert res["data"] == rig.service.session_state()  # the session state, as REST's arm answers it
        await conductor.send('{"type":"command","id":2,"command":"arm","args":{"cue":"9M9"}}')
        err = await recv_until(conductor, lambda m: m["type"] == "error")
        assert err["code"] == "not_found"
        assert err["id"] == 2
        await conductor.send('{"type":"command","id":3,"command":"locate","args":{"timecode":"00:00:08:00"}}')
        res = await recv_until(conductor, lambda m: m["type"] == "result")
        assert res["data"] == {"position": 8.0}
        await conductor.send('{"type":"command","id":4,"command":"play"}')
        res = await recv_until(conductor, lambda m: m["type"] == "result")
        assert res["data"] == {"take": None}  # rehearse mode: no take
        ev = await recv_until(conductor, lambda m: m.get("topic") == "transport" and m["data"]["rolling"])
        assert ev["data"]["anchor"]["p0"] == pytest.approx(8.0)
        await conductor.send('{"type":"command","id":5,"command":"mode","args":{"mode":"record"}}')
        err = await recv_until(conductor, lambda m: m["type"] == "error")
        assert err["code"] == "refused"
        await conductor.send('{"type":"command","id":6,"command":"stop"}')
        await recv_until(conductor, lambda m: m["type"] == "result" and m["id"] == 6)
        await conductor.close()
        await musician.close()


async def test_garbage_is_counted_answered_and_survived(tmp_path: Path) -> None:
    async with stage_rig(tmp_path) as rig:
        ws, _, _ = await hello(rig, topics=[])
        frames: list[str | bytes] = [
            "{", "null", "[]", '{"type":"nonsense"}', b"\x00\xff binary", "x" * (p.MAX_FRAME + 1),
            '{"type":"sync","t0":"soon"}', '{"type":"hello","role":"musician"}',
        ]
        for frame in frames:
            await ws.send(frame)
        codes = [(await recv(ws))["code"] for _ in frames]
        assert codes == ["invalid_json", "invalid", "invalid", "invalid", "binary", "too_large", "invalid", "invalid"]
        stats = rig.hub.stats
        assert (stats["invalid_json"], stats["invalid"], stats["binary"], stats["too_large"]) == (1, 4, 1, 1)
        # Still served.
        await ws.send('{"type":"sync","t0":1.0}')
        assert (await recv(ws))["type"] == "sync"
        await ws.close()


async def test_a_slow_client_is_dropped_and_the_others_get_everything(tmp_path: Path) -> None:
    async with stage_rig(tmp_path) as rig:
        rig.hub.queue_limit = 64
        fast, _, _ = await hello(rig, topics=["beat"])
        slow = await stalled_client(rig, ["beat"])
        await until(lambda: len(rig.hub.clients) == 2, what="two clients")
        payload = {"pad": "x" * 16000}  # 32 MB in all: more than the kernel buffers hold
        got: list[int] = []

        async def drain() -> None:
            while len(got) < 2000:
                msg = await recv(fast)
                if msg.get("topic") == "beat":
                    got.append(msg["data"]["n"])

        def within(k: int) -> Callable[[], bool]:
            return lambda: len(got) > k

        reader = asyncio.create_task(drain())
        for n in range(2000):
            rig.service.bus.publish("beat", {"n": n, **payload})
            if n % 8 == 7:  # the fast reader shares this loop: let it keep up, as a real one would
                await until(within(n - 16), what="the fast reader keeping up")
        await asyncio.wait_for(reader, 20 * UNIT)
        assert got == list(range(2000))
        await until(lambda: rig.hub.stats["dropped_slow"] == 1, what="the slow client dropped")
        assert len(rig.hub.clients) == 1
        await fast.close()
        slow.close()


async def test_a_client_that_stalls_then_reads_gets_every_frame_whole_and_in_order(tmp_path: Path) -> None:
    """The direct path writes straight to the socket: what the socket does not take goes to the transport, in order.

    The client stops reading until its socket backs up, so some event is
    written in part and the rest buffered; everything after it queues.  Then
    it reads: every frame parses, and the events come in order, none lost.
    """
    async with stage_rig(tmp_path) as rig:
        rig.hub.queue_limit = 5000
        rig.hub.send_timeout = 60.0
        sock, client = await stalled_protocol(rig, ["beat"])
        await until(lambda: len(rig.hub.clients) == 1, what="client")
        pad = "y" * 2999  # frames of an odd size: a full socket takes part of one
        for n in range(1500):
            rig.service.bus.publish("beat", {"n": n, "pad": pad})
            if n % 20 == 0:
                await asyncio.sleep(0)
        await until(lambda: rig.hub.stats["direct_buffered"] >= 1, what="a frame written in part")
        assert rig.hub.stats["direct"] >= 1
        sock.setblocking(False)  # noqa: FBT003
        loop = asyncio.get_running_loop()
        seen: list[int] = []
        while len(seen) < 1500:
            data = await asyncio.wait_for(loop.sock_recv(sock, 1 << 16), 10 * UNIT)
            assert data, f"closed after {len(seen)} events"
            client.receive_data(data)
            for frame in client.events_received():
                assert isinstance(frame, Frame)
                msg = json.loads(bytes(frame.data))
                if msg.get("topic") == "beat":
                    seen.append(msg["data"]["n"])
        assert client.parser_exc is None
        assert seen == list(range(1500))
        assert rig.hub.stats["dropped_slow"] == 0
        sock.close()


async def test_state_topics_coalesce_latest_wins(tmp_path: Path) -> None:
    """A stalled client is not dropped for state (a newer one replaces the one waiting), only for events."""
    async with stage_rig(tmp_path) as rig:
        rig.hub.queue_limit = 8
        slow = await stalled_client(rig, ["transport", "beat"])
        await until(lambda: len(rig.hub.clients) == 1, what="client")
        (client,) = rig.hub.clients.values()
        pad = "x" * 16000
        for n in range(2000):
            rig.service.bus.publish("transport", {"n": n, "pad": pad})
            if n % 50 == 0:
                await asyncio.sleep(0)
        await until(lambda: client.outbox.replaced > 1000, what="states replaced while waiting")
        assert len(client.outbox) == 1
        assert rig.hub.stats["dropped_slow"] == 0
        assert rig.hub.clients == {client.id: client}
        for n in range(20):
            rig.service.bus.publish("beat", {"n": n})
        await until(lambda: rig.hub.stats["dropped_slow"] == 1, what="dropped on events")
        assert rig.hub.clients == {}
        slow.close()


async def test_whatever_else_reaches_a_connection_stops_frames_going_straight_to_its_socket(tmp_path: Path) -> None:
    """A writer is ready only while nothing but the fan-out has touched its connection since it was checked.

    uvicorn's own writes (a pong here; a close frame, an error response) may
    leave bytes in the transport's buffer, and a frame written straight to the
    socket after them would overtake them; a lost connection's socket is about
    to be closed and its number reused.  Either makes the next event take the
    full check again.
    """
    async with stage_rig(tmp_path) as rig:
        ws, welcome, _ = await hello(rig, topics=["beat"])
        client = rig.hub.clients[welcome["client"]]
        writer = client.writer
        assert writer is not None
        await until(lambda: not client.outbox and not client.busy, what="welcome and snapshot written")
        assert writer.ready is False  # the writer task wrote them through the transport
        direct = rig.hub.stats["direct"]
        rig.service.bus.publish("beat", {"bar": 1})
        assert (await recv(ws))["data"] == {"bar": 1}
        assert rig.hub.stats["direct"] == direct + 1
        assert writer.ready is True
        rig.service.bus.publish("beat", {"bar": 2})
        assert (await recv(ws))["data"] == {"bar": 2}
        assert writer.ready is True  # only the fan-out wrote: still ready, no full check needed
        await asyncio.wait_for(await ws.ping(), 5 * UNIT)  # uvicorn answers with a pong through the transport
        assert writer.ready is False
        rig.service.bus.publish("beat", {"bar": 3})
        assert (await recv(ws))["data"] == {"bar": 3}
        assert rig.hub.stats["direct"] == direct + 3  # checked in full, found writable, written straight out
        assert writer.ready is True
        ws.transport.abort()  # gone without a close frame
        await until(lambda: writer.ready is False, what="the lost connection unreadied")
        await until(lambda: not rig.hub.clients, what="the client forgotten")
        rig.service.bus.publish("beat", {"bar": 4})  # nobody left: nothing is written anywhere
        assert rig.hub.stats["direct"] == direct + 3


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made by the openssl command."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


async def test_under_tls_the_fan_out_writes_only_through_the_transport(tmp_path: Path) -> None:
    """Served over TLS, a frame written to the socket itself would bypass the encryption and break the stream.

    Every event still takes the direct path (no queue, no task), but through
    the TLS transport: the client decrypts every frame whole and in order.
    """
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(cafile=str(cert))
    async with stage_rig(tmp_path, tls=(cert, key)) as rig:
        assert rig.ws_url.startswith("wss://")
        clients = []
        for _ in range(3):
            ws = await connect(rig.ws_url, ssl=context)
            await ws.send(json.dumps({"type": "hello", "role": "musician", "topics": ["beat"]}))
            assert (await recv(ws))["type"] == "welcome"
            assert (await recv(ws))["type"] == "snapshot"
            clients.append(ws)
        await until(lambda: all(not c.outbox and not c.busy for c in rig.hub.clients.values()),
                    what="welcomes and snapshots written")
        direct = rig.hub.stats["direct"]
        pad = "z" * 5000  # several TLS records' worth over the run
        for n in range(100):
            rig.service.bus.publish("beat", {"n": n, "pad": pad})
        for ws in clients:
            got = [(await recv_until(ws, lambda m: m.get("topic") == "beat"))["data"]["n"] for _ in range(100)]
            assert got == list(range(100))
        assert rig.hub.stats["direct"] - direct == 300
        for ws in clients:
            await ws.close()


async def test_a_number_past_a_double_is_refused_not_fatal_to_the_connection(tmp_path: Path) -> None:
    """``{"type": "sync", "t0": 1000…0}`` (401 digits) is a Python int that float() cannot hold: it ended the reader."""
    async with stage_rig(tmp_path) as rig:
        ws, _, _ = await hello(rig, topics=[])
        huge = "1" + "0" * 400
        for frame in (f'{{"type":"sync","t0":{huge}}}', f'{{"type":"sync","t0":-{huge}}}',
                      f'{{"type":"command","id":{huge},"command":"stop"}}', '{"type":"sync","t0":1e400}'):
            await ws.send(frame)
            error = await recv(ws)
            assert (error["type"], error["code"]) == ("error", "invalid"), frame
            assert "id" not in error  # an id past the limits is not echoed back
        await ws.send('{"type":"sync","t0":1.0}')
        assert (await recv(ws))["t0"] == 1.0
        assert rig.hub.stats["errors"] == 0
        await ws.close()


async def test_a_snapshot_that_cannot_be_encoded_costs_the_client_nothing_but_the_snapshot(tmp_path: Path) -> None:
    """Crash 1 dropped every new client right after hello: its snapshot held an infinite time JSON cannot carry."""
    async with stage_rig(tmp_path) as rig:
        sane = rig.service.transport
        rig.service.transport = TransportView(Anchor(time.monotonic(), float("inf"), 0.0), rolling=False,
                                              source="internal")
        ws = await connect(rig.ws_url)
        await ws.send(json.dumps({"type": "hello", "role": "musician", "topics": []}))
        assert (await recv(ws))["type"] == "welcome"
        error = await recv(ws)
        assert (error["type"], error["code"]) == ("error", "unavailable")
        assert error["message"].startswith("no snapshot: ")
        assert rig.hub.stats["errors"] == 1
        rig.service.transport = sane
        await ws.send('{"type":"snapshot"}')  # the same connection, served again
        assert (await recv(ws))["type"] == "snapshot"
        await ws.close()


async def test_screens_report_what_they_drew_and_the_stage_keeps_the_figures_per_screen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    async with stage_rig(tmp_path) as rig:
        ws, welcome, _ = await hello(rig, name="desk 4", topics=["clients"])
        other, _, _ = await hello(rig, name="desk 5", topics=["clients"])

        def drawn(key: str, late: float, kind: str = "punch") -> str:
            return json.dumps({"type": "drawn", "key": key, "kind": kind, "due": 100.0, "shown": 100.0 + late,
                               "delay": 0.0004, "frame": 1 / 60})

        for i, late in enumerate((0.002, -0.003, 0.001, 0.004)):
            await ws.send(drawn(f"1M1#{i}", late, "streamer" if i % 2 else "punch"))
        with caplog.at_level("WARNING", logger="stage.runtime.broadcast"):
            await ws.send(drawn("1M1#9", 0.040))  # two frames late: the log names the screen
            await ws.send(json.dumps({"type": "drawn", "key": "1M1#10", "kind": "click", "due": 1, "shown": 1,
                                      "delay": 0, "frame": 0.016}))
            refused = await recv_until(ws, lambda m: m["type"] == "error")
        assert refused["code"] == "invalid"
        assert "kind" in refused["message"]
        await until(lambda: rig.broadcaster.stats["drawn"] == 5, "the five reports")
        assert any("desk 4" in r.getMessage() and "1M1#9" in r.getMessage() and "+40.0 ms" in r.getMessage()
                   for r in caplog.records)
        async with httpx.AsyncClient() as http:
            clients = (await http.get(f"http://127.0.0.1:{rig.http_port}/api/clients")).json()
        by_name = {c["name"]: c for c in clients}
        desk = by_name["desk 4"]
        assert desk["id"] == welcome["client"]
        assert desk["draws"]["count"] == 5
        assert desk["draws"]["off_frame"] == 1
        assert desk["draws"]["late_p50_ms"] == pytest.approx(2.0)
        assert desk["draws"]["worst_ms"] == pytest.approx(40.0)
        assert desk["draws"]["last"] == {"key": "1M1#9", "kind": "punch", "late_ms": pytest.approx(40.0),
                                         "sync_ms": pytest.approx(0.2), "frame_ms": pytest.approx(16.667, abs=1e-3)}
        assert by_name["desk 5"]["draws"] is None
        await ws.close()
        await other.close()
        await until(lambda: welcome["client"] not in rig.broadcaster.draws, "the screen's figures to go with it")
