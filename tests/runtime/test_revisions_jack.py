"""Cue revisions between takes, through REST over real HTTP, with the engine on a real jackd and a recorder.

The music editor uploads a revised sheet between two takes: the second take
clicks at the new tempo and the take sheet names each take's revision; a
broken sheet is refused with every problem while the click goes on; an upload
while picture rolls is refused and changes nothing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from peers.jackd import JackServer, jack_server, unique_name
from peers.recorder import MidiPeer, audio_onsets
from peers.wait import SCALE, until

from stage.adapters.engine_drivers import open_driver
from stage.adapters.store import open_store
from stage.adapters.web import create_app
from stage.config import AuthConfig, ClickConfig, ClockConfig, Config, MidiConfig
from stage.core.cuesheet import parse_cue_sheet
from stage.core.schedule import cue_revision
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger

SR = 48000
PERIOD = 256
TOKENS = {"conductor": "c-token", "engineer": "e-token", "editor": "ed-token"}
CONDUCTOR = {"Authorization": "Bearer c-token"}
EDITOR = {"Authorization": "Bearer ed-token"}


def sheet_text(tempo: int) -> str:
    return f"""
[picture]
rate = "24"
[[cue]]
id = "1M1"
start = "00:00:10:00"
tempo = {tempo}
meter = "4/4"
bars = 40
countoff = 1
"""


BROKEN = """
[picture]
rate = "24"
[[cue]]
id = "1M1"
start = "00:00:10:00"
tempo = "fast"
meter = "4/5"
bars = 8
"""


@pytest.fixture(scope="module")
def server() -> Iterator[JackServer]:
    with jack_server(synchronous=True, period=PERIOD, samplerate=SR) as s:
        yield s


@pytest_asyncio.fixture
async def stage(server: JackServer, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Service, MidiPeer]]:
    with MidiPeer(unique_name("rec"), servername=server.name, inputs=("click",), outputs=(),
                  audio_inputs=("audio",)) as peer:
        config = Config(
            clock=ClockConfig(preroll=0.25),
            midi=MidiConfig(server=server.name, client=unique_name("stage"), mtc_out=False, mtc_in=False,
                            connect_click_out=[peer.port("click")]),
            click=ClickConfig(connect=[peer.port("audio")]),
            auth=AuthConfig(**TOKENS),
        )
        service = Service(config, parse_cue_sheet(sheet_text(120)), open_driver=open_driver)
        await service.start()
        async with await open_store(f"sqlite:///{tmp_path}/takes.db") as store:
            takes = TakeLogger(service, store)
            await takes.start()
            uv = uvicorn.Server(uvicorn.Config(create_app(service, takes=takes), host="127.0.0.1", port=0,
                                               log_level="warning", lifespan="off"))
            task = asyncio.create_task(uv.serve())
            try:
                await until(lambda: uv.started, "uvicorn to start", seconds=10)
                port = int(uv.servers[0].sockets[0].getsockname()[1])
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10 * SCALE) as http:
                    yield http, service, peer
            finally:
                uv.should_exit = True
                await task
                await takes.close(grace=1)
                await service.stop()


def ons(peer: MidiPeer) -> list[int]:
    return [f for f, d in peer.events("click") if d[0] & 0xF0 == 0x90]


async def take(http: httpx.AsyncClient, peer: MidiPeer, clicks: int) -> list[int]:
    """Record a take from the top with ``clicks`` clicks; the frames of its note-ons."""
    before = len(ons(peer))
    rolled = await http.post("/api/transport/from_top", headers=CONDUCTOR)
    assert rolled.status_code == 200, rolled.text
    await until(lambda: len(ons(peer)) >= before + clicks, f"{clicks} clicks", seconds=15)
    stopped = await http.post("/api/transport/stop", headers=CONDUCTOR)
    assert stopped.status_code == 200, stopped.text
    await asyncio.sleep(0.1 * SCALE)
    return ons(peer)[before : before + clicks]


def gaps(frames: list[int]) -> set[int]:
    return {b - a for a, b in itertools.pairwise(frames)}


async def test_a_revision_between_takes_changes_the_second_takes_clicks(
    stage: tuple[httpx.AsyncClient, Service, MidiPeer],
) -> None:
    http, service, peer = stage
    v1, v2 = parse_cue_sheet(sheet_text(120)).cue("1M1"), parse_cue_sheet(sheet_text(150)).cue("1M1")
    assert (await http.post("/api/session/arm", json={"cue": "1M1"}, headers=CONDUCTOR)).status_code == 200
    assert (await http.post("/api/session/mode", json={"mode": "record"}, headers=CONDUCTOR)).status_code == 200
    first = await take(http, peer, 6)
    assert gaps(first) == {SR // 2}  # 120 clicks a minute

    # the editor's revision: 150 a minute
    revised = await http.put("/api/cues", content=sheet_text(150), headers=EDITOR)
    assert revised.status_code == 200, revised.text
    assert revised.json()["changed"] == ["1M1"]
    assert revised.json()["session"]["revision"] == cue_revision(v2)
    assert (await http.get("/api/cues")).json()[0]["revision"] == cue_revision(v2)
    # a musician's screen may not, and a broken sheet is refused with every problem while the revision stays
    assert (await http.put("/api/cues", content=sheet_text(90))).status_code == 401
    broken = await http.put("/api/cues", content=BROKEN, headers=EDITOR)
    assert broken.status_code == 422
    problems = broken.json()["problems"]
    assert len(problems) == 2
    assert "tempo" in problems[0]
    assert "meter" in problems[1]
    assert (await http.get("/api/cues")).json()[0]["revision"] == cue_revision(v2)

    # the second take: rolling, an upload is refused (the take keeps its sheet) and the click goes on unchanged
    before = len(ons(peer))
    assert (await http.post("/api/transport/from_top", headers=CONDUCTOR)).status_code == 200
    await until(lambda: len(ons(peer)) >= before + 3, "three clicks", seconds=15)
    rolling = await http.put("/api/cues", content=sheet_text(90), headers=EDITOR)
    assert rolling.status_code == 409
    assert "while picture rolls" in rolling.json()["detail"]
    assert (await http.put("/api/cues", content=BROKEN, headers=EDITOR)).status_code == 422
    await until(lambda: len(ons(peer)) >= before + 10, "ten clicks", seconds=15)
    assert (await http.post("/api/transport/stop", headers=CONDUCTOR)).status_code == 200
    second = ons(peer)[before : before + 10]
    assert gaps(second) == {SR * 2 // 5}  # 150 a minute, before and after the refused uploads
    # the audio click followed the same schedule
    assert set(first + second) <= set(audio_onsets(peer.audio["audio"]))

    sheet = (await http.get("/api/takes/export", params={"format": "csv"})).text
    rows = [(r["cue"], r["take"], r["revision"]) for r in csv.DictReader(io.StringIO(sheet))]
    assert rows == [("1M1", "1", cue_revision(v1)), ("1M1", "2", cue_revision(v2))]
    assert cue_revision(v1) != cue_revision(v2)
    assert service.revisions == {"1M1": cue_revision(v2)}
