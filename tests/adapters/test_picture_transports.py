"""Uploads at the other rates, and an import's progress and outcome on every transport.

The 25 fps and the 29.97 drop-frame cut go through ``PUT /api/picture`` of a
stage at their rate, served in this process by uvicorn as ``stage serve``
serves it (tests/adapters/test_picture_http.py runs the 23.976 cut and the
refusals against ``stage serve`` itself); the progress of an import reaches
OSC (liblo's oscdump) and MQTT (mosquitto_sub) as the ``picture`` topic
carries it to /ws.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from peers.cuts import Cut, make_vfr
from peers.wait import SCALE, until
from picturecheck import check_proxy
from stagerig import TOKENS, clear_retained, free_port, mqtt_sub, osc_dump, stage_rig, unique

from stage.adapters.picture_http import PictureImports
from stage.adapters.pictures import PictureLibrary
from stage.core.timecode import RATES, Timecode
from stage.errors import PictureError

SHEET = """
[picture]
rate = "23.976"
[[cue]]
id = "1M1"
start = "00:59:59:00"
tempo = "12-0"
meter = "4/4"
bars = 1
"""
TIMETAG = r"^[0-9a-f]{8}\.[0-9a-f]{8} "


async def chunks(path: Path, size: int = 65536) -> AsyncIterator[bytes]:
    """A file's bytes as an HTTP body arrives: a chunk at a time."""
    data = await asyncio.to_thread(path.read_bytes)
    for at in range(0, len(data), size):
        yield data[at:at + size]


@pytest.mark.parametrize(("key", "rate"), [("r25", "25"), ("df", "29.97df")])
async def test_the_25_and_the_drop_frame_cut_through_the_upload(tmp_path: Path, cuts: dict[str, Cut], key: str,
                                                                rate: str) -> None:
    cut = cuts[key]
    sheet = f'[picture]\nrate = "{rate}"\n[[cue]]\nid = "1M1"\nstart = "00:59:59:00"\nfree = true\nend = "01:00:00:00"'
    async with stage_rig(tmp_path, sheet=sheet, rest=True, takes=True, pictures=tmp_path / "picture") as rig, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{rig.http_port}", timeout=60 * SCALE) as http:
        data = await asyncio.to_thread(cut.path.read_bytes)
        answer = await http.put("/api/picture", params={"name": cut.path.name}, content=data,
                                headers={"Authorization": f"Bearer {TOKENS['editor']}"})
        assert answer.status_code == 200, answer.text
        picture = answer.json()["picture"]
        start = Timecode.parse("00:59:58:00", RATES[rate])
        assert (picture["rate"], picture["start"], picture["start_frame"]) == (rate, str(start), start.frame_count)
        assert (await http.get("/api/session")).json()["picture"]["start_frame"] == start.frame_count
        proxy = tmp_path / "proxy.mp4"
        await asyncio.to_thread(proxy.write_bytes, (await http.get(picture["proxy"]["url"])).content)
        index = (await http.get(picture["proxy"]["index"])).json()
        await asyncio.to_thread(check_proxy, proxy, index, cut, start.frame_count)


async def test_an_imports_progress_reaches_osc_and_mqtt(tmp_path: Path, cuts: dict[str, Cut]) -> None:
    dump_port = free_port(socket.SOCK_DGRAM)
    name = unique("picture")
    dump = await osc_dump(dump_port)
    sub = await mqtt_sub(1883, f"stage/{name}/state/picture")
    try:
        async with stage_rig(tmp_path, osc=True, destinations=[f"127.0.0.1:{dump_port}"], sheet=SHEET,
                             mqtt_url="mqtt://127.0.0.1:1883", mqtt_name=name) as rig:
            await until(lambda: rig.mqtt.connected, what="MQTT connected")
            imports = PictureImports(rig.service, PictureLibrary(tmp_path / "picture"))
            cut = cuts["r23"].path
            result = await imports.upload(chunks(cut), name=cut.name, length=cut.stat().st_size)
            revision = result["picture"]["revision"]
            assert rig.service.picture is not None
            assert rig.service.picture.revision == revision
            assert result["outside"] == [
                "cue 1M1 (00:59:55:00 to 01:00:01:00) runs outside the cut (00:59:58:00 to 00:59:59:23)"]

            await until(lambda: dump.matching('/stage/picture ssfss "done"'), what="done on oscdump")
            lines = [re.sub(TIMETAG, "", line) for line in dump.matching("/stage/picture ")]
            assert lines[-1] == f'/stage/picture ssfss "done" "reel1_23976.mov" 1.000000 "{revision}" ""'
            states = [line.split('"')[1] for line in lines]
            assert states[0] == "receiving"
            assert "encoding" in states
            fractions = [float(line.split()[4]) for line in lines]
            assert fractions == sorted(fractions)
            await until(lambda: any('"state":"done"' in line for line in sub.lines), what="done retained on MQTT")
            retained = json.loads(sub.lines[-1].split(" ", 1)[1])
            assert (retained["state"], retained["revision"], retained["fraction"]) == ("done", revision, 1.0)

            vfr = await asyncio.to_thread(make_vfr, tmp_path / "phone.mp4")
            with pytest.raises(PictureError, match=r"^phone.mp4 has a variable frame rate"):
                await imports.upload(chunks(vfr), name=vfr.name)
            await until(lambda: dump.matching('/stage/picture ssfss "failed"'), what="failed on oscdump")
            failed = re.sub(TIMETAG, "", dump.matching('/stage/picture ssfss "failed"')[0])
            assert failed.startswith('/stage/picture ssfss "failed" "phone.mp4" 0.000000 "" "phone.mp4 has a variable ')
            await until(lambda: any('"state":"failed"' in line for line in sub.lines), what="failed on MQTT")
            assert rig.service.picture.revision == revision
    finally:
        await dump.stop()
        await sub.stop()
        await clear_retained(1883, f"stage/{name}")
