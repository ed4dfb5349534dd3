"""One command, one refusal, whatever carried it: REST, ``/ws``, OSC and MQTT.

A locate to bar 10^9 of the armed cue is past the bound every transport
takes from ``stage/core/limits.py`` (``docs/limits.md``): each refuses it as
invalid (REST: 422) in the same words, naming the field, the bound and the
value, since every transport checks a command's arguments with the protocol's
one table; and picture stays where it was.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import httpx
from peers.wait import until
from stagerig import TOKENS, UNIT, clear_retained, mqtt_pub, mqtt_sub, stage_rig, unique
from websockets.asyncio.client import connect

from stage.adapters import osc
from stage.core import limits as lim

HUGE = 10**9
WHY = f"command locate: args: bar: must be at most {lim.MAX_BAR}, not {HUGE}"  # the protocol's words


async def test_a_locate_to_bar_a_billion_is_refused_alike_on_every_transport(tmp_path: Path) -> None:
    name = unique("one-refusal")
    root = f"stage/{name}"
    events = await mqtt_sub(1883, f"{root}/event/#")
    try:
        async with stage_rig(tmp_path, osc=True, rest=True, mqtt_url="mqtt://127.0.0.1:1883",
                             mqtt_name=name) as rig:
            await until(lambda: rig.mqtt.connected, what="MQTT connected")
            rig.service.arm("1M1")
            before = rig.service.position()
            refusals: dict[str, tuple[str, str]] = {}  # transport → (code, message)

            # REST
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rig.http_port}",
                                         headers={"Authorization": f"Bearer {TOKENS['conductor']}"}) as http:
                answer = await http.post("/api/transport/locate", json={"bar": HUGE})
                refusals["rest"] = ("invalid" if answer.status_code == 422 else str(answer.status_code),
                                    answer.json()["detail"])

                # /ws
                ws = await connect(rig.ws_url)
                await ws.send(json.dumps({"type": "hello", "role": "conductor", "token": TOKENS["conductor"],
                                          "topics": []}))
                assert json.loads(await ws.recv())["type"] == "welcome"
                await ws.send(json.dumps({"type": "command", "id": 7, "command": "locate", "args": {"bar": HUGE}}))
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
                    if msg["type"] == "error":
                        break
                assert msg["id"] == 7
                refusals["ws"] = (msg["code"], msg["message"])
                await ws.close()

                # OSC: the refusal comes back to the sender as /stage/error <address> <why>
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", 0))
                try:
                    sock.sendto(osc.build("/stage/auth", [(TOKENS["conductor"], "s")]), ("127.0.0.1", rig.osc.port))
                    assert b"auth conductor" in await asyncio.wait_for(asyncio.to_thread(sock.recv, 65536), 5 * UNIT)
                    sock.sendto(osc.build("/stage/transport/bar", [(HUGE, "i")]), ("127.0.0.1", rig.osc.port))
                    reply = await asyncio.wait_for(asyncio.to_thread(sock.recv, 65536), 5 * UNIT)
                finally:
                    sock.close()
                assert reply.startswith(b"/stage/error\x00\x00\x00\x00,ss\x00/stage/transport/bar\x00"), reply
                why = reply.split(b"/stage/transport/bar\x00", 1)[1].lstrip(b"\x00").split(b"\x00", 1)[0].decode()
                refusals["osc"] = ("invalid" if rig.osc.stats["refused.invalid"] == 1 else "?", why)

                # MQTT
                await mqtt_pub(1883, f"{root}/cmd/locate", json.dumps({"token": TOKENS["conductor"], "id": "m",
                                                                       "bar": HUGE}))
                await until(lambda: events.matching(f"{root}/event/error"), what="MQTT error event")
                error: dict[str, Any] = json.loads(events.matching(f"{root}/event/error")[0].split(" ", 1)[1])
                assert (error["command"], error["id"]) == ("locate", "m")
                refusals["mqtt"] = (error["code"], error["message"])

                # One code, one reason: the field, the bound, the value.
                assert {t: code for t, (code, _) in refusals.items()} == dict.fromkeys(refusals, "invalid")
                assert {reason for _, reason in refusals.values()} == {WHY}
                assert rig.service.position() == before  # nothing moved

                # The refusal cost nothing: a good locate works on the same transport.
                answer = await http.post("/api/transport/locate", json={"bar": 2})
                assert answer.status_code == 200, answer.text
                assert answer.json()["position"] == 12.0
    finally:
        await events.stop()
        await clear_retained(1883, root)
