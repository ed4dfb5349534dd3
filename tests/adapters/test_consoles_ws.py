"""What the conductor's and engineer's pages need of /ws: take edits with a version check, pairing codes, status."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from stagerig import SHEET, TOKENS, stage_rig
from test_ws import hello, recv_until

from stage.core.session import Mode


async def command(ws: Any, cid: int, name: str, **args: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "command", "id": cid, "command": name, "args": args}))
    return await recv_until(ws, lambda m: m.get("id") == cid)


async def test_take_edit_checks_the_version_and_both_notes_survive(tmp_path: Path) -> None:
    async with stage_rig(tmp_path, takes=True) as rig:
        assert rig.takes is not None
        rig.service.arm("1M1")
        await rig.takes.set_mode(Mode.RECORD)
        take = await rig.takes.play()
        assert take is not None
        assert take.id is not None
        await rig.takes.stop()
        a, welcome, _ = await hello(rig, "engineer", token=TOKENS["engineer"])
        b, _, _ = await hello(rig, "engineer", token=TOKENS["engineer"])
        assert "take_edit" in welcome["commands"]
        assert "pair" in welcome["commands"]
        version = (await rig.takes.take(take.id))[0].version
        first = await command(a, 1, "take_edit", take=take.id, expected_version=version, note="horns early")
        assert first["type"] == "result"
        assert first["data"]["take"]["version"] == version + 1
        second = await command(b, 2, "take_edit", take=take.id, expected_version=version, note="lovely strings")
        assert second["type"] == "error"
        assert second["code"] == "conflict"
        assert f"edit made on version {version}" in second["message"]
        again = await command(b, 3, "take_edit", take=take.id, expected_version=version + 1, note="lovely strings",
                              status="print")
        assert again["type"] == "result"
        _, history = await rig.takes.take(take.id)
        notes = [e.new for e in history if e.field == "note"]
        assert notes == ["horns early", "lovely strings"]
        nothing = await command(a, 4, "take_edit", take=take.id)
        assert nothing["code"] == "invalid"
        assert "nothing to change" in nothing["message"]
        await a.close()
        await b.close()


async def test_a_pairing_code_hands_over_the_token_once(tmp_path: Path) -> None:
    async with stage_rig(tmp_path) as rig:
        eng, _, _ = await hello(rig, "engineer", token=TOKENS["engineer"], name="booth")
        con, welcome, _ = await hello(rig, "conductor", token=TOKENS["conductor"])
        assert "pair" not in welcome["commands"]
        refused = await command(con, 1, "pair", role="engineer")
        assert refused["code"] == "forbidden"
        assert "may not hand a role's token" in refused["message"]
        issued = await command(eng, 2, "pair", role="conductor")
        code = issued["data"]["code"]
        assert len(code) == 6
        assert code.isdigit()
        assert issued["data"]["role"] == "conductor"
        # This stage answers on loopback only: no address a tablet could open, no picture of one.
        assert (issued["data"]["urls"], issued["data"]["qr"]) == ([], None)
        base = f"http://127.0.0.1:{rig.http_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            got = await http.post("/api/pair", json={"code": code})
            assert got.status_code == 200
            assert got.json() == {"role": "conductor", "token": TOKENS["conductor"]}
            spent = await http.post("/api/pair", json={"code": code})
            assert spent.status_code == 409
            assert "unknown or expired" in spent.json()["detail"]
            status = (await http.get("/api/status")).json()
        names = {c["name"]: c for c in status["clients"]}
        assert names["booth"]["role"] == "engineer"
        assert names["booth"]["seen_ago"] >= 0
        assert status["broker"] is None
        assert status["departed"] == []
        await con.close()
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(200):
                status = (await http.get("/api/status")).json()
                if status["departed"]:
                    break
                await asyncio.sleep(0.01)
        assert [d["role"] for d in status["departed"]] == ["conductor"]
        await eng.close()


async def test_a_cue_sheet_loaded_over_ws_replaces_the_running_one_or_names_every_problem(tmp_path: Path) -> None:
    async with stage_rig(tmp_path) as rig:
        editor, welcome, _ = await hello(rig, "editor", token=TOKENS["editor"])
        assert "load_sheet" in welcome["commands"]
        plan = rig.service.plan_revision
        broken = SHEET.replace('tempo = "12-0"', "tempo = 0").replace('meter = "3/4"', 'meter = "3/0"')
        refused = await command(editor, 1, "load_sheet", text=broken)
        assert refused["type"] == "error"
        assert refused["code"] == "invalid"
        assert "upload: 2 problem(s)" in refused["message"]
        assert "tempo" in refused["message"]
        assert "meter" in refused["message"]
        assert rig.service.sheet.cues[0].clicks is not None
        assert rig.service.sheet.cues[0].clicks.bars == 16  # the running sheet stays
        assert rig.service.plan_revision == plan

        loaded = await command(editor, 2, "load_sheet", text=SHEET.replace("bars = 16", "bars = 20"))
        assert loaded["type"] == "result", loaded
        assert loaded["data"]["changed"] == ["1M1"]
        assert loaded["data"]["session"]["plan"] == rig.service.plan_revision > plan
        assert rig.service.sheet.cues[0].clicks is not None
        assert rig.service.sheet.cues[0].clicks.bars == 20
        await editor.close()
