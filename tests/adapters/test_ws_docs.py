"""docs/ws.md and docs/ws/*.json against what the server really sends on /ws.

A conductor records a take of 1M1 from before its count-off through its
first bars; every frame it receives must fit the published JSON Schema of
its type, every key of an event's data must be named in that topic's row of
docs/ws.md, and the beat kinds heard must be exactly the ones the docs name.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from stagerig import TOKENS, UNIT, stage_rig
from websockets.asyncio.client import connect

DOCS = Path(__file__).resolve().parents[2] / "docs"


def topic_rows() -> dict[str, str]:
    """docs/ws.md's topic table: topic → the text of its data column."""
    text = (DOCS / "ws.md").read_text(encoding="utf-8").split("## Topics and their data", 1)[1]
    rows = re.findall(r"^\| `(\w+)` \|[^|]*\| (.*) \|$", text.split("\n\n**", 1)[0], flags=re.MULTILINE)
    return dict(rows)


def named(row: str) -> set[str]:
    """Every `name` in backticks in a row."""
    return set(re.findall(r"`([^`]+)`", row))


async def test_what_the_server_sends_is_what_docs_ws_says(tmp_path: Path) -> None:
    schemas = {p.name.removeprefix("server.").removesuffix(".json"): json.loads(p.read_text(encoding="utf-8"))
               for p in (DOCS / "ws").glob("server.*.json")}
    rows = topic_rows()
    assert set(rows) == {"transport", "beat", "cue", "session", "schedule", "take", "sync", "clients", "picture"}
    got: list[dict[str, Any]] = []
    async with stage_rig(tmp_path, takes=True) as rig, connect(rig.ws_url) as ws:
        await ws.send(json.dumps({"type": "hello", "role": "conductor", "token": TOKENS["conductor"]}))

        async def command(n: int, name: str, **args: Any) -> None:
            await ws.send(json.dumps({"type": "command", "id": n, "command": name, "args": args}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
                got.append(msg)
                if msg.get("id") == n:
                    assert msg["type"] == "result", msg
                    return

        await command(1, "arm", cue="1M1")
        await command(2, "mode", mode="record")
        await command(3, "locate", timecode="00:00:07:12")  # half a second before the count-off
        await command(4, "play")
        deadline = time.monotonic() + 10 * UNIT
        while not any(m.get("topic") == "beat" and m["data"]["bar"] == 1 and m["data"]["beat"] == 3 for m in got):
            assert time.monotonic() < deadline, "no beat 1|3"
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT)))
        await command(5, "stop")
        await command(6, "take_status", status="print")
    for msg in got:
        jsonschema.validate(msg, schemas[msg["type"]], cls=jsonschema.Draft202012Validator)
    events = [m for m in got if m["type"] == "event"]
    seen = {m["topic"] for m in events}
    assert seen >= {"transport", "beat", "cue", "session", "schedule", "take", "clients"}
    for m in events:
        undocumented = set(m["data"]) - named(rows[m["topic"]])
        assert not undocumented, f"{m['topic']}: {sorted(undocumented)} not in docs/ws.md"
    kinds = {m["data"]["kind"] for m in events if m["topic"] == "beat"}
    assert kinds == {"warning", "accent", "normal"}
    assert kinds <= named(rows["beat"])
    assert not {"click"} & named(rows["beat"])  # the event list's word for a click, never sent here
