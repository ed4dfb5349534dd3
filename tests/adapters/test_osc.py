"""OSC with liblo's own tools as peers: ``oscdump -L`` receives the state, ``oscsend`` controls.

Includes the issue's end-to-end proof: a take recorded through OSC control
shows up, with the same timecodes, on a WebSocket client, an ``oscdump`` and
a ``mosquitto_sub`` subscriber.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from peers.wait import until
from stagerig import TOKENS, UNIT, clear_retained, free_port, mqtt_sub, osc_dump, osc_send, stage_rig, unique
from websockets.asyncio.client import connect

from stage.adapters import osc
from stage.core.protocol import COMMANDS, NOT_ON_OSC, Topic

TIMETAG = r"[0-9a-f]{8}\.[0-9a-f]{8} "


def strip_timetag(line: str) -> str:
    return re.sub(f"^{TIMETAG}", "", line)


def test_the_address_table_is_unique_and_maps_to_protocol_commands() -> None:
    ins = [a for a in osc.ADDRESSES.values() if a.way is osc.Way.IN]
    outs = [a for a in osc.ADDRESSES.values() if a.way is osc.Way.OUT]
    assert len(ins) + len(outs) == len(osc.ADDRESSES)
    assert all(a.path.startswith("/stage/") for a in osc.ADDRESSES.values())
    # Every protocol command can be given over OSC.
    commands = set()
    for a in ins:
        if a.command is not None:
            samples: dict[str, list[object]] = {
                "s": ["x"], "s[i]": ["print"], "i": [3], "i[f]": [3], "f": [1.0], "i[i]": [17, 3], "i[ii]": [17, 1, 2],
            }
            args = samples.get(a.tags, [])
            if a.path == "/stage/session/mode":
                args = ["record"]
            if a.path == "/stage/transport/locate":
                args = ["01:00:00:00"]
            made = a.command(args)
            assert made is not None, a.path
            commands.add(made.name)
    assert commands == set(COMMANDS) - NOT_ON_OSC
    assert {a.topic for a in outs if a.topic is not None} == set(Topic)


def test_buttons_act_on_press_only() -> None:
    play = osc.ADDRESSES["/stage/transport/play"].command
    assert play is not None
    assert play([]) is not None
    assert play([1.0]) is not None
    assert play([0.0]) is None
    assert play([0]) is None


def test_messages_of_a_take_event_exact_bytes() -> None:
    data = {"event": "ended", "take": {"cue": "1M1", "take": 3, "tc_in": "00:00:08:00", "tc_out": "00:00:12:05",
                                       "status": None, "id": 7}}
    (take, label) = osc.messages(Topic.TAKE, data)
    assert take[0] == "/stage/take"
    assert osc.build(*take) == (
        b"/stage/take\x00,ssisssi\x00\x00\x00\x00ended\x00\x00\x001M1\x00\x00\x00\x00\x03"
        b"00:00:08:00\x0000:00:12:05\x00\x00\x00\x00\x00\x00\x00\x00\x07"
    )
    assert label == ("/stage/take/label", [("1M1-3", "s")])


def test_destinations_parse() -> None:
    assert osc.parse_destination("10.0.0.5:9001") == ("10.0.0.5", 9001)
    assert osc.parse_destination("[::1]:9001") == ("::1", 9001)
    for bad in ("10.0.0.5", "host:0", "host:x", ":9"):
        with pytest.raises(ValueError, match="is not host:port"):
            osc.parse_destination(bad)


async def test_state_goes_to_destinations_and_run_time_subscribers(tmp_path: Path) -> None:
    fixed_port, late_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    fixed, late = await osc_dump(fixed_port), await osc_dump(late_port)
    try:
        async with stage_rig(tmp_path, osc=True, destinations=[f"127.0.0.1:{fixed_port}"]) as rig:
            rig.service.arm("1M1")
            await until(lambda: fixed.matching("/stage/session"), what="session on the fixed destination")
            assert strip_timetag(fixed.matching("/stage/session")[0]) == '/stage/session sss "1M1" "rehearse" ""'
            # A tablet subscribes at run time (replies to the port it names): it gets the state at once.
            await osc_send(rig.osc.port, "/stage/subscribe", "i", late_port)
            await until(lambda: late.matching("/stage/clients"), what="snapshot to the subscriber")
            assert strip_timetag(late.matching("/stage/session")[0]) == '/stage/session sss "1M1" "rehearse" ""'
            assert re.fullmatch(r'/stage/transport ifsd 0 0(\.0+)? "00:00:00:00" 0(\.0+)?',
                                strip_timetag(late.matching("/stage/transport ")[0]))
            # …and every event after, like the fixed destination.
            rig.service.arm("1M2")
            for dump in (fixed, late):
                await until(functools.partial(dump.matching, '"1M2"'), what="the second arm")
            await osc_send(rig.osc.port, "/stage/unsubscribe", "i", late_port)
            await until(lambda: not rig.osc.subscribers, what="unsubscribed")
            assert rig.broadcaster.clients == {}
    finally:
        await fixed.stop()
        await late.stop()


async def test_control_needs_auth_and_the_role(tmp_path: Path) -> None:
    async with stage_rig(tmp_path, osc=True) as rig:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        await osc_send(rig.osc.port, "/stage/session/arm", "s", "1M1")
        await until(lambda: rig.osc.stats["refused.unauthorized"] == 1, what="refused")
        assert rig.service.armed is None
        await osc_send(rig.osc.port, "/stage/auth", "s", "not-a-token")
        await until(lambda: rig.osc.stats["refused.unauthorized"] == 2, what="refused token")
        await osc_send(rig.osc.port, "/stage/auth", "s", TOKENS["editor"])
        await until(lambda: rig.osc.roles.get("127.0.0.1") is not None, what="auth")
        await osc_send(rig.osc.port, "/stage/session/arm", "s", "1M1")
        await until(lambda: rig.service.armed is not None, what="armed")
        await osc_send(rig.osc.port, "/stage/transport/locate", "s", "00:00:09:12")
        await until(lambda: abs(rig.service.position() - 9.5) < 1e-6, what="located")
        await osc_send(rig.osc.port, "/stage/transport/bar", "i", 3)
        await until(lambda: abs(rig.service.position() - (10 + 4)) < 1e-6, what="located to bar 3")
        # Answers go back to the sender's address: oscsend is gone by then, so send from a socket of our own.
        sock.sendto(osc.build("/stage/transport/locate", [("25:00:00:00", "s")]), ("127.0.0.1", rig.osc.port))
        data = await asyncio.wait_for(asyncio.to_thread(sock.recv, 4096), 5 * UNIT)
        assert data.startswith(b"/stage/error\x00\x00\x00\x00,ss\x00/stage/transport/locate\x00")
        assert rig.osc.stats["refused.refused"] == 1
        sock.sendto(osc.build("/stage/session/disarm", []), ("127.0.0.1", rig.osc.port))
        data = await asyncio.wait_for(asyncio.to_thread(sock.recv, 4096), 5 * UNIT)
        assert data == osc.build("/stage/ok", [("/stage/session/disarm", "s")])
        assert rig.service.armed is None
        sock.close()


async def test_garbage_is_counted_and_never_fatal(tmp_path: Path) -> None:
    async with stage_rig(tmp_path, osc=True) as rig:
        rnd = random.Random(4)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        garbage = [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))) for _ in range(500)]
        garbage += [b"", b"/stage/auth\x00", b"#bundle\x00" + b"\xff" * 12, b"/x\x00\x00,i\x00\x00\x00\x01"]
        for i, g in enumerate(garbage):
            sock.sendto(g, ("127.0.0.1", rig.osc.port))
            if i % 20 == 0:  # UDP drops what overflows the socket: let the loop read as we go
                await asyncio.sleep(0.002)
        # Well-formed OSC that means nothing: unknown address, wrong argument types.
        await osc_send(rig.osc.port, "/nothing/here")
        await osc_send(rig.osc.port, "/stage/auth", "i", 5)
        await osc_send(rig.osc.port, "/stage/auth", "s", TOKENS["conductor"])
        await osc_send(rig.osc.port, "/stage/session/arm", "s", "1M2")
        await until(lambda: rig.service.armed is not None, what="a good message after the garbage")
        stats = rig.osc.stats
        assert stats["packets"] == len(garbage) + 4
        assert stats["malformed"] + stats["messages"] + stats["unknown"] >= len(garbage)
        assert stats["malformed"] > 400
        assert stats["unknown"] >= 1
        assert stats["refused.invalid"] >= 2
        sock.close()


async def test_a_take_recorded_through_osc_reaches_ws_oscdump_and_mqtt_with_the_same_timecodes(
    tmp_path: Path,
) -> None:
    dump_port = free_port(socket.SOCK_DGRAM)
    name = unique("osc-take")
    dump = await osc_dump(dump_port)
    sub = await mqtt_sub(1883, f"stage/{name}/event/take")
    try:
        async with stage_rig(tmp_path, osc=True, destinations=[f"127.0.0.1:{dump_port}"], takes=True,
                             mqtt_url="mqtt://127.0.0.1:1883", mqtt_name=name) as rig:
            await until(lambda: rig.mqtt.connected, what="MQTT connected")
            ws = await connect(rig.ws_url)
            await ws.send(json.dumps({"type": "hello", "role": "musician", "topics": ["take"]}))
            port = rig.osc.port
            await osc_send(port, "/stage/auth", "s", TOKENS["conductor"])
            await osc_send(port, "/stage/session/arm", "s", "1M1")
            await until(lambda: rig.service.armed is not None, what="armed")
            await osc_send(port, "/stage/session/record", "f", 1.0)
            assert rig.takes is not None
            await until(lambda: rig.takes is not None and rig.takes.session.mode.value == "record", what="record")
            await osc_send(port, "/stage/transport/locate", "s", "00:00:08:00")
            await until(lambda: abs(rig.service.position() - 8.0) < 1e-6, what="located")
            await osc_send(port, "/stage/transport/play", "f", 1.0)
            await osc_send(port, "/stage/transport/play", "f", 0.0)  # the button's release does nothing
            await until(lambda: rig.service.transport.rolling, what="rolling")
            await asyncio.sleep(1.2)
            await osc_send(port, "/stage/transport/stop")
            await until(lambda: dump.matching('/stage/take ssisssi "ended"'), what="take ended on oscdump")
            await osc_send(port, "/stage/take/print")
            await until(lambda: dump.matching('"print"'), what="print on oscdump")

            # The WebSocket client.
            ws_events: list[dict[str, Any]] = []
            while len(ws_events) < 3:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
                if msg.get("topic") == "take":
                    ws_events.append(msg["data"])
            assert [e["event"] for e in ws_events] == ["started", "ended", "edited"]
            ended = ws_events[1]["take"]
            assert (ended["cue"], ended["take"], ended["tc_in"]) == ("1M1", 1, "00:00:08:00")
            assert ended["tc_out"] > "00:00:09:00"
            assert ws_events[2]["take"]["status"] == "print"
            # oscdump: the same take with the same timecodes.
            line = strip_timetag(dump.matching('/stage/take ssisssi "ended"')[0])
            assert line == f'/stage/take ssisssi "ended" "1M1" 1 "00:00:08:00" "{ended["tc_out"]}" "" {ended["id"]}'
            # mosquitto_sub: the same again.
            await until(lambda: len(sub.lines) >= 3, what="three take events on MQTT")
            mqtt = [json.loads(line.split(" ", 1)[1]) for line in sub.lines]
            assert [m["event"] for m in mqtt] == ["started", "ended", "edited"]
            assert mqtt[1]["take"] == ended
            await ws.close()
    finally:
        await dump.stop()
        await sub.stop()
        await clear_retained(1883, f"stage/{name}")


async def _answer(sock: socket.socket) -> bytes:
    data: bytes = await asyncio.wait_for(asyncio.to_thread(sock.recv, 65536), 5 * UNIT)
    return data


async def test_subscribe_to_port_70000_is_refused_and_osc_keeps_answering(tmp_path: Path) -> None:
    """Crash 2: one unauthenticated ``/stage/subscribe i 70000`` closed the socket for good."""
    async with stage_rig(tmp_path, osc=True) as rig:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        await osc_send(rig.osc.port, "/stage/subscribe", "i", 70000)
        await until(lambda: rig.osc.stats["refused.invalid"] == 1, what="the subscribe refused")
        assert rig.osc.subscribers == {}
        for port in (0, -1):
            sock.sendto(osc.build("/stage/subscribe", [(port, "i")]), ("127.0.0.1", rig.osc.port))
            assert await _answer(sock) == osc.build(
                "/stage/error", [("/stage/subscribe", "s"), (f"port must be 1 to 65535, not {port}", "s")]
            )
        # The endpoint still answers, on the same socket, and still broadcasts.
        sock.sendto(osc.build("/stage/snapshot", []), ("127.0.0.1", rig.osc.port))
        assert (await _answer(sock)).startswith(b"/stage/transport\x00")
        assert rig.osc.stats["reopened"] == 0
        sock.close()


async def test_a_socket_closed_under_the_endpoint_is_opened_again_on_its_port(tmp_path: Path) -> None:
    """Whatever makes asyncio close the socket (a send it cannot make), OSC comes back on the same port."""
    async with stage_rig(tmp_path, osc=True) as rig:
        port = rig.osc.port
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        first = rig.osc.transport
        first.sendto(b"x", ("127.0.0.1", 70000))  # asyncio: "Fatal write error on datagram transport"
        await until(lambda: rig.osc.stats["reopened"] == 1, what="the socket closed")
        await until(lambda: rig.osc._transport is not None and rig.osc._transport is not first, what="reopened")
        assert rig.osc.port == port
        sock.sendto(osc.build("/stage/snapshot", []), ("127.0.0.1", port))
        assert (await _answer(sock)).startswith(b"/stage/transport\x00")
        # Sends to a destination no datagram can reach are counted and never reach the socket.
        before = rig.osc.stats["send_errors"]
        rig.osc.subscribers[("127.0.0.1", 70000)] = -1
        rig.service.arm("1M1")
        await until(lambda: rig.osc.stats["send_errors"] > before, what="the bad destination counted")
        del rig.osc.subscribers[("127.0.0.1", 70000)]
        assert rig.osc.stats["reopened"] == 1
        sock.close()


async def test_an_infinite_bar_is_refused_as_invalid(tmp_path: Path) -> None:
    """``/stage/transport/bar f inf`` raised OverflowError in int(): now a plain refusal, logged like one."""
    async with stage_rig(tmp_path, osc=True) as rig:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        for path in ("/stage/transport/bar", "/stage/transport/pickup"):
            for value in (float("inf"), float("nan")):
                sock.sendto(osc.build(path, [(value, "f")]), ("127.0.0.1", rig.osc.port))
                answer = await _answer(sock)
                assert answer.startswith(b"/stage/error\x00\x00\x00\x00,ss\x00" + path.encode()), answer
        assert rig.osc.stats["refused.invalid"] == 4
        assert rig.osc.stats["errors"] == 0
        sock.close()
