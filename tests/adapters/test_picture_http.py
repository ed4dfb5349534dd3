"""The picture over HTTP against a real ``stage serve``: uploads, the current picture, its files by range, every
refusal with the current picture kept, takes recording the picture, and the engineer's console in Chromium.

A musician's WebSocket listens meanwhile: the ``picture`` topic must carry the
import's steps and its end, the ``session`` topic the new revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from consolerig import TOKENS, StageServe, chromium, open_page
from peers.cuts import Cut, make_vfr
from peers.wait import SCALE, until
from picturecheck import check_proxy
from playwright.sync_api import expect
from websockets.asyncio.client import connect

from stage.adapters.pictures import PictureLibrary
from stage.core.proxyindex import ProxyIndex
from stage.core.timecode import RATES

EDITOR = {"Authorization": f"Bearer {TOKENS['editor']}"}
ENGINEER = {"Authorization": f"Bearer {TOKENS['engineer']}"}
CONDUCTOR = {"Authorization": f"Bearer {TOKENS['conductor']}"}
IMMUTABLE = "public, max-age=31536000, immutable"
WAIT = 15_000 * SCALE  # ms a page has to show what it was told


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, cuts: dict[str, Cut]) -> Iterator[StageServe]:
    """``stage serve`` on the demo sheet (23.976) with a picture directory of its own, where a cut was imported
    (as ``stage picture import`` does) before it started."""
    tmp = tmp_path_factory.mktemp("serve")
    serve = StageServe(tmp, f"sqlite:///{tmp / 'takes.db'}")
    PictureLibrary(tmp / "picture").import_cut(cuts["mp4"].path, rate=RATES["23.976"], now=datetime.now(UTC))
    serve.start()
    try:
        yield serve
    finally:
        serve.stop()


@contextlib.asynccontextmanager
async def listening(stage: StageServe) -> AsyncIterator[list[dict[str, Any]]]:
    """Every ``picture`` and ``session`` event a musician's screen receives, as they come."""
    heard: list[dict[str, Any]] = []
    async with connect(f"ws://127.0.0.1:{stage.port}/ws") as ws:
        await ws.send(json.dumps({"type": "hello", "role": "musician", "topics": ["picture", "session"]}))
        for expected in ("welcome", "snapshot"):  # subscribed from here on
            assert json.loads(await ws.recv())["type"] == expected

        async def read() -> None:
            async for frame in ws:
                message = json.loads(frame)
                if message["type"] == "event":
                    heard.append(message)

        task = asyncio.create_task(read())
        try:
            yield heard
        finally:
            task.cancel()


def client(stage: StageServe) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stage.base, timeout=60 * SCALE)


async def roll(http: httpx.AsyncClient, command: str, headers: dict[str, str] = EDITOR) -> None:
    """Play or stop and wait until the transport says so.  On a loaded machine the engine may answer after the
    command's own 2 s (503): the transport's state is the word that counts."""
    answer = await http.post(f"/api/transport/{command}", headers=headers)
    assert answer.status_code in (200, 503), answer.text
    deadline = time.monotonic() + 10 * SCALE
    while (await http.get("/api/transport")).json()["rolling"] != (command == "play"):
        assert time.monotonic() < deadline, f"picture did not {command}: {answer.text}"
        await asyncio.sleep(0.05)


async def upload(http: httpx.AsyncClient, cut: Path, headers: dict[str, str] = EDITOR, **params: str) -> httpx.Response:
    data = await asyncio.to_thread(cut.read_bytes)
    return await http.put("/api/picture", params={"name": cut.name, **params}, content=data, headers=headers)


async def test_an_upload_becomes_the_current_picture_everyone_hears_of(stage: StageServe, cuts: dict[str, Cut],
                                                                      tmp_path: Path) -> None:
    cut = cuts["r23"]
    async with listening(stage) as heard, client(stage) as http:
        # The revision imported before stage serve started is the current one.
        before = (await http.get("/api/picture")).json()
        assert (before["revision"][:2], before["name"]) == ("1-", "reel1_h264.mp4")
        assert (await http.get("/api/session")).json()["picture"]["revision"] == before["revision"]
        answer = await upload(http, cut.path)
        assert answer.status_code == 200, answer.text
        picture = answer.json()["picture"]
        revision = picture["revision"]
        assert revision.startswith("2-")
        assert {k: picture[k] for k in ("name", "rate", "start", "frames", "width", "height")} == {
            "name": "reel1_23976.mov", "rate": "23.976", "start": "00:59:58:00", "frames": 48, "width": 320,
            "height": 180}
        assert picture["proxy"] == {"url": f"/picture/files/{revision}/proxy.mp4",
                                    "index": f"/picture/files/{revision}/index.json"}
        assert picture["source"]["sha256"].startswith(revision.split("-")[1])
        assert (await http.get("/api/picture")).json() == picture
        state = (await http.get("/api/session")).json()["picture"]
        assert state == {"revision": revision, "rate": "23.976", "start_frame": picture["start_frame"], "frames": 48}

        await until(lambda: any(e["topic"] == "session" and (e["data"]["picture"] or {}).get("revision") == revision
                                for e in heard), "the session event with the new picture", 10)
        await until(lambda: any(e["topic"] == "picture" and e["data"]["state"] == "done" for e in heard),
                    "the picture event saying done", 10)
        steps = [e["data"] for e in heard if e["topic"] == "picture"]
        assert steps[0]["state"] == "receiving"
        assert steps[-1] == {"state": "done", "name": "reel1_23976.mov", "done": 48, "total": 48, "fraction": 1.0,
                             "revision": revision, "error": None}
        assert "encoding" in {s["state"] for s in steps}
        fractions = [s["fraction"] for s in steps]
        assert fractions == sorted(fractions)

        # The files, as a page fetches them: the index whole, a group of pictures by one range.
        index_answer = await http.get(picture["proxy"]["index"])
        assert index_answer.headers["cache-control"] == IMMUTABLE
        index = ProxyIndex.from_json(index_answer.json())
        whole = await http.get(picture["proxy"]["url"])
        assert (whole.status_code, whole.headers["content-type"], whole.headers["cache-control"]) == (
            200, "video/mp4", IMMUTABLE)
        proxy = tmp_path / "proxy.mp4"
        proxy.write_bytes(whole.content)
        check_proxy(proxy, index_answer.json(), cut, picture["start_frame"])
        first, end = index.group(13)
        part = await http.get(picture["proxy"]["url"], headers={"Range": f"bytes={first}-{end - 1}"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes {first}-{end - 1}/{len(whole.content)}"
        assert part.content == whole.content[first:end]
        assert (await http.get(f"/picture/files/{revision}/picture.json")).status_code == 404
        assert (await http.get("/picture/files/..%2F..%2Fetc/proxy.mp4")).status_code == 404


async def test_refusals_keep_the_current_picture(stage: StageServe, cuts: dict[str, Cut], tmp_path: Path) -> None:
    async with listening(stage) as heard, client(stage) as http:
        current = (await http.get("/api/picture")).json()
        refusals = [
            ({}, cuts["r23"].path, {}, 401, "to import a cut send Authorization: Bearer <token> of a role allowed to"),
            (CONDUCTOR, cuts["r23"].path, {}, 403, "a conductor may not import a cut"),
            (EDITOR, cuts["r25"].path, {}, 422, ("reel1_25.mov runs at 25 fps and the cue sheet's [picture] rate is "
                                                "23.976: the cut and the sheet must be at one rate (conform the cut, "
                                                "or correct the sheet)")),
            (EDITOR, cuts["bare"].path, {}, 422, ("reel1_no_tc.mov has no timecode (no tmcd track, no timecode in its "
                                                 "header): give its first frame's timecode (stage picture import "
                                                 "--start HH:MM:SS:FF, or PUT /api/picture?start=HH:MM:SS:FF)")),
            (EDITOR, cuts["bare"].path, {"start": "01:00:00:24"}, 400,
             "01:00:00:24: frame 24 does not exist at 23.976 fps (frames 00-23)"),
            (ENGINEER, make_vfr(tmp_path / "phone.mp4"), {}, 422, None),
        ]
        for headers, path, params, status, detail in refusals:
            answer = await upload(http, path, headers, **params)
            assert answer.status_code == status, answer.text
            if detail is not None:
                assert answer.json() == {"detail": detail}
            assert (await http.get("/api/picture")).json() == current
        assert answer.json()["detail"].startswith("phone.mp4 has a variable frame rate: frame ")
        await until(lambda: any(e["topic"] == "picture" and e["data"]["state"] == "failed" and
                                e["data"]["error"].startswith("phone.mp4 has a variable") for e in heard),
                    "the picture event saying why it failed", 10)
        empty = await http.put("/api/picture", content=b"", headers=EDITOR)
        assert (empty.status_code, empty.json()) == (422, {"detail": "the upload is empty: send the cut's bytes as "
                                                                     "the request's body"})

        # Where the file has no timecode, ?start= gives it.
        given = await upload(http, cuts["bare"].path, start="01:00:00:00")
        assert given.status_code == 200, given.text
        assert given.json()["picture"]["start"] == "01:00:00:00"
        assert given.json()["picture"]["source"]["start_given"] is True


async def upload_while_rolling(stage: StageServe, http: httpx.AsyncClient, data: bytes) -> tuple[httpx.Response, bool]:
    """Upload ``data``, rolling picture once half of it has arrived; the answer, and whether picture was still
    rolling (the engine never restarted) when it came."""
    half = threading.Event()
    rolled = threading.Event()

    def body() -> Iterator[bytes]:
        yield data[: len(data) // 2]
        half.set()
        rolled.wait(30 * SCALE)
        yield data[len(data) // 2:]

    def put() -> httpx.Response:
        return httpx.put(f"{stage.base}/api/picture", params={"name": "late.mxf"}, content=body(), headers=EDITOR,
                         timeout=60 * SCALE)

    restarts = (await http.get("/api/health")).json()["engine"]["restarts"]
    pending = asyncio.get_running_loop().run_in_executor(None, put)
    await until(half.is_set, "half the cut sent", 10)
    await roll(http, "play")
    rolled.set()
    try:
        late = await pending
        still = (await http.get("/api/transport")).json()["rolling"] and (
            await http.get("/api/health")).json()["engine"]["restarts"] == restarts
    finally:
        await roll(http, "stop")
    return late, still


async def test_no_new_picture_while_picture_rolls(stage: StageServe, cuts: dict[str, Cut]) -> None:
    async with client(stage) as http:
        current = (await http.get("/api/picture")).json()
        folder = stage.config.parent / "picture"
        revisions = sorted(p.name for p in folder.iterdir())
        for _ in range(3):  # again only if picture was starting anew meanwhile (an engine restart on a loaded machine)
            await roll(http, "play")
            try:
                refused = await upload(http, cuts["mxf"].path)
            finally:
                await roll(http, "stop")
            if "while picture is starting" not in refused.text:
                break
        assert (refused.status_code, refused.json()) == (
            409, {"detail": "cannot change the picture while picture rolls: stop first"})
        assert (await http.get("/api/picture")).json() == current

        # Picture rolls while the cut is still arriving: the import runs, and is refused at the last moment.
        data = cuts["mxf"].path.read_bytes()
        for _ in range(3):  # again only if picture stopped by itself meanwhile (an engine restart on a loaded machine)
            late, still = await upload_while_rolling(stage, http, data)
            if still:
                break
            assert late.status_code in (200, 409), late.text  # stopped before the end: either is right
            current = (await http.get("/api/picture")).json()
            revisions = sorted(p.name for p in folder.iterdir())
        assert (late.status_code, late.json()) == (
            409, {"detail": "cannot change the picture while picture rolls: stop first"}), late.text
        assert (await http.get("/api/picture")).json() == current
        assert sorted(p.name for p in folder.iterdir()) == revisions  # the refused revision is gone, upload too


def record_take(stage: StageServe) -> dict[str, Any]:
    """A take of 1M1 recorded over REST as the engineer (record, play, stop, back to rehearse); the take as logged."""
    with httpx.Client(base_url=stage.base, timeout=30 * SCALE, headers=ENGINEER) as http:
        for path, body in (("/api/session/arm", {"cue": "1M1"}), ("/api/session/mode", {"mode": "record"})):
            assert http.post(path, json=body).status_code == 200
        played = http.post("/api/transport/play")
        assert played.status_code == 200, played.text  # in record mode the answer is the take, once it is logged
        take: dict[str, Any] = played.json()["take"]
        stopped = http.post("/api/transport/stop")
        assert stopped.status_code in (200, 503), stopped.text  # 503: the engine answered late, on a loaded machine
        deadline = time.monotonic() + 10 * SCALE
        while http.get("/api/transport").json()["rolling"]:
            assert time.monotonic() < deadline, "picture did not stop"
            time.sleep(0.05)
        assert http.post("/api/session/mode", json={"mode": "rehearse"}).status_code == 200
        logged: dict[str, Any] = http.get(f"/api/takes/{take['id']}").json()["take"]
        return logged


def test_a_take_records_the_picture_it_was_recorded_against(stage: StageServe, cuts: dict[str, Cut]) -> None:
    current = stage.get("/api/picture")["revision"]
    take = record_take(stage)
    assert take["picture_revision"] == current
    newer = httpx.put(f"{stage.base}/api/picture", params={"name": "newer.mov"}, content=cuts["r23"].path.read_bytes(),
                      headers=EDITOR, timeout=60 * SCALE)
    assert newer.status_code == 200, newer.text
    logged = stage.get(f"/api/takes/{take['id']}")["take"]
    assert logged["picture_revision"] == current  # a new cut changes no take already recorded
    sheet = httpx.get(f"{stage.base}/api/takes/export", params={"format": "csv"}).text.splitlines()
    assert sheet[0].endswith(",revision,picture_revision")
    assert sheet[-1].endswith(f",{take['revision']},{current}")


def test_the_engineers_console_shows_the_picture_and_what_each_take_was_recorded_against(
    stage: StageServe, cuts: dict[str, Cut], tmp_path: Path,
) -> None:
    """The console's health names the current cut, its take log each take's revisions; a new upload turns the
    take's picture into an earlier cut, a refused one is said in the health panel."""
    def put(path: Path) -> httpx.Response:
        return httpx.put(f"{stage.base}/api/picture", params={"name": path.name}, content=path.read_bytes(),
                         headers=EDITOR, timeout=60 * SCALE)

    take = record_take(stage)
    current = stage.get("/api/picture")
    with chromium() as browser:
        page = open_page(browser, f"{stage.base}/engineer", width=1440, height=900,
                         token=("engineer", TOKENS["engineer"]))
        health = page.locator("#health dt:text-is('picture') + dd")
        expect(health).to_have_text(f"{current['revision']}: {current['name']} from {current['start']}, "
                                    f"{current['frames']} frames at 23.976 fps", timeout=WAIT)
        revisions = page.locator(f".take[data-id='{take['id']}'] .notes .rev")
        expect(revisions).to_have_text(f"cue {take['revision'][:6]} · pic {current['revision']}", timeout=WAIT)

        newer = put(cuts["r25"].path)  # refused: 25 fps for a 23.976 sheet
        assert newer.status_code == 422
        last = page.locator("#health dt:text-is('last import') + dd")
        expect(last).to_have_text(f"reel1_25.mov was not imported: {newer.json()['detail']}; the current picture "
                                  "stays", timeout=WAIT)
        expect(last).to_have_attribute("data-ok", "no")
        newer = put(cuts["mp4"].path)
        assert newer.status_code == 200, newer.text
        revision = newer.json()["picture"]["revision"]
        expect(last).to_have_text(f"reel1_h264.mp4 is picture {revision}", timeout=WAIT)
        expect(health).to_have_text(f"{revision}: reel1_h264.mp4 from 00:59:58:00, 48 frames at 23.976 fps",
                                    timeout=WAIT)
        expect(revisions).to_have_text(f"cue {take['revision'][:6]} · pic {current['revision']} · earlier cut",
                                       timeout=WAIT)
        assert page.errors == []  # type: ignore[attr-defined]
        page.screenshot(path=str(tmp_path / "engineer-picture.png"))
        page.context.close()
