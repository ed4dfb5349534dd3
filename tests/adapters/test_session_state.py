"""One session state, one shape, on every transport.

After ``mode record`` and ``arm 1M1`` the retained MQTT ``state/session``,
OSC's ``/stage/session`` (as ``oscdump`` prints it), a ``/ws`` client and the
retained ``state/transport`` all say the same mode, armed cue and next take.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

from peers.wait import until
from stagerig import TOKENS, UNIT, clear_retained, free_port, mqtt_sub, osc_dump, stage_rig, unique
from websockets.asyncio.client import ClientConnection, connect


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    msg = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
    assert isinstance(msg, dict)
    return msg


async def _command(ws: ClientConnection, msg_id: int, name: str, **args: object) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "command", "id": msg_id, "command": name, "args": args}))
    while True:
        msg = await _recv(ws)
        if msg.get("id") == msg_id:
            assert msg["type"] == "result", msg
            return msg


def _retained(lines: list[str], topic: str) -> dict[str, Any]:
    """The last payload ``mosquitto_sub -v`` printed for ``topic``."""
    found = [line.split(" ", 1)[1] for line in lines if line.split(" ", 1)[0] == topic]
    assert found, f"nothing on {topic}"
    data = json.loads(found[-1])
    assert isinstance(data, dict)
    return data


async def test_after_an_arm_mqtt_osc_and_ws_agree_on_mode_armed_cue_and_next_take(tmp_path: Path) -> None:
    dump_port = free_port(socket.SOCK_DGRAM)
    name = unique("session-agree")
    root = f"stage/{name}"
    dump = await osc_dump(dump_port)
    try:
        async with stage_rig(tmp_path, osc=True, destinations=[f"127.0.0.1:{dump_port}"], takes=True,
                             mqtt_url="mqtt://127.0.0.1:1883", mqtt_name=name) as rig:
            await until(lambda: rig.mqtt.connected, what="MQTT connected")
            ws = await connect(rig.ws_url)
            await ws.send(json.dumps({"type": "hello", "role": "conductor", "token": TOKENS["conductor"],
                                      "topics": ["session"]}))
            assert (await _recv(ws))["type"] == "welcome"
            await _command(ws, 1, "mode", mode="record")
            result = await _command(ws, 2, "arm", cue="1M1")
            assert (result["data"]["armed"], result["data"]["mode"], result["data"]["next_take"]) == (
                "1M1", "record", 1)

            # a /ws client: the last session event it got
            last: dict[str, Any] = {}

            async def session_seen() -> bool:
                while True:
                    try:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 0.05))
                    except TimeoutError:
                        return last.get("armed") == "1M1"
                    if msg.get("topic") == "session":
                        last.update(msg["data"])

            deadline = asyncio.get_running_loop().time() + 5 * UNIT
            while not await session_seen():
                assert asyncio.get_running_loop().time() < deadline, last
            assert (last["mode"], last["armed"], last["next_take"]) == ("record", "1M1", 1)

            # OSC: armed cue, mode, next take label
            await until(lambda: dump.matching('/stage/session sss "1M1"'), what="/stage/session on oscdump")
            assert dump.matching("/stage/session sss")[-1].endswith('/stage/session sss "1M1" "record" "1M1-1"')

            # MQTT: the retained state, as a subscriber that comes later sees it
            late = await mqtt_sub(1883, f"{root}/state/#")
            try:
                await until(lambda: late.matching(f"{root}/state/session"), what="retained session")
                await until(lambda: late.matching(f"{root}/state/transport"), what="retained transport")
                session = _retained(late.lines, f"{root}/state/session")
                assert (session["mode"], session["armed"], session["next_take"]) == ("record", "1M1", 1)
                assert _retained(late.lines, f"{root}/state/transport")["armed"] == "1M1"
            finally:
                await late.stop()
            await ws.close()
    finally:
        await dump.stop()
        await clear_retained(1883, root)
