"""The REST API over real HTTP: uvicorn on 127.0.0.1, the engine process on its soft clock, real take stores.

Every test that takes ``api`` runs on a SQLite file and on the PostgreSQL
server on 127.0.0.1 (one scratch database for this module's run, its schema
wiped before each test).  The engine runs once for the module.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import pytest_asyncio
import uvicorn
from peers.postgres import PG_ADMIN
from peers.wait import SCALE, until

from stage.adapters import web
from stage.adapters.engine_drivers import open_driver
from stage.adapters.store import TakeStore, open_store
from stage.adapters.web import create_app
from stage.config import Config, parse_config
from stage.core import protocol as p
from stage.core.cuesheet import CueSheet, parse_cue_sheet
from stage.core.schedule import cue_revision
from stage.core.timecode import Timecode, frame_at
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger

pytestmark = pytest.mark.asyncio(loop_scope="module")


TOKENS = {"conductor": "conductor-token", "engineer": "engineer-token", "editor": "editor-token"}
CONFIG: Config = parse_config({"midi": {"enabled": False}, "auth": TOKENS})

SHEET_TEXT = """
[picture]
title = "Test reel"
rate = "24"

[defaults]
countoff = 2

[[cue]]
id = "1M1"
title = "Opening"
start = "01:00:00:00"
tempo = "12-0"
meter = "4/4"
bars = 40

[[cue]]
id = "1M2"
title = "Drift"
start = "01:05:00:00"
free = true
end = "01:05:30:00"
"""
SHEET: CueSheet = parse_cue_sheet(SHEET_TEXT)
RATE = SHEET.rate


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


CONDUCTOR, ENGINEER, EDITOR = auth("conductor"), auth("engineer"), auth("editor")


def frames(tc: str) -> int:
    return Timecode.parse(tc, RATE).frame_count


def timecode_at(p: float) -> str:
    return str(Timecode.from_frames(frame_at(p, RATE), RATE))


# -- peers ----------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service() -> AsyncIterator[Service]:
    svc = Service(CONFIG, SHEET, open_driver=open_driver)
    await svc.start()
    yield svc
    await svc.stop()


async def wipe(url: str) -> None:
    if url.startswith("postgresql"):
        conn = await asyncpg.connect(url, timeout=5 * SCALE)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()


async def reset(service: Service) -> None:
    """Leave the shared service as a new one would be: stopped at zero, nothing armed."""
    if service.transport.rolling:
        service.stop_transport()
        await until(lambda: not service.transport.rolling, "the transport to stop")
    service.arm(None)
    service.locate(0.0)
    await until(lambda: service.transport.anchor.p0 == 0.0, "the locate to zero")


@dataclass
class Api:
    """A running HTTP server over the shared service, a take logger and its store, and a client."""

    http: httpx.AsyncClient
    service: Service
    takes: TakeLogger
    store: TakeStore
    url: str

    async def record(self, cue: str = "1M1") -> None:
        assert (await self.http.post("/api/session/arm", json={"cue": cue}, headers=CONDUCTOR)).status_code == 200
        assert (
            await self.http.post("/api/session/mode", json={"mode": "record"}, headers=CONDUCTOR)
        ).status_code == 200

    async def play(self, body: dict[str, Any] | None = None, headers: dict[str, str] = CONDUCTOR) -> httpx.Response:
        return await self.http.post("/api/transport/play", json=body, headers=headers)

    async def stop(self, headers: dict[str, str] = CONDUCTOR) -> httpx.Response:
        return await self.http.post("/api/transport/stop", headers=headers)


class Swappable:
    """The ASGI app the module's one uvicorn serves: each test plugs in its own application."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http_server() -> AsyncIterator[tuple[Swappable, int]]:
    swappable = Swappable()
    config = uvicorn.Config(swappable, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started, "uvicorn to start", seconds=10)
    yield swappable, int(server.servers[0].sockets[0].getsockname()[1])
    server.should_exit = True
    await task


@pytest_asyncio.fixture(loop_scope="module")
async def api(service: Service, url: str, http_server: tuple[Swappable, int]) -> AsyncIterator[Api]:
    swappable, port = http_server
    await wipe(url)
    await reset(service)
    async with await open_store(url) as store:
        takes = TakeLogger(service, store, tz=UTC, retry_interval=0.05)
        await takes.start()
        swappable.app = create_app(service, takes=takes)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10 * SCALE) as http:
                yield Api(http, service, takes, store, url)
        finally:
            await takes.close(grace=1)


# -- the record flow ------------------------------------------------------------------------------


async def test_arm_record_play_stop_patch_export(api: Api) -> None:
    sub = api.service.bus.subscribe({"take"})
    try:
        await api.record()
        located = await api.http.post("/api/transport/locate", json={"timecode": "01:00:10:00"}, headers=CONDUCTOR)
        assert located.status_code == 200
        assert located.json()["position"] == 3610.0
        # Answered once the engine has it: the anchor is the new one, not the one before the jump.
        assert located.json()["anchor"]["p0"] == 3610.0
        assert located.json()["timecode"] == "01:00:10:00"

        started = await api.play()
        assert started.status_code == 200, started.text
        take = started.json()["take"]
        assert take["label"] == "1M1-1"
        assert (take["cue"], take["take"], take["pickup_bar"], take["wild"], take["status"]) == (
            "1M1",
            1,
            None,
            False,
            None,
        )
        assert take["tc_in"] == "01:00:10:00"  # where picture really rolled: the engine's anchor
        assert (take["tc_out"], take["duration"], take["version"]) == (None, None, 0)
        assert started.json()["mode"] == "record"
        assert started.json()["transport"]["rolling"] is True
        # Committed before the answer, and announced once committed.
        stored = await api.store.get_take(take["id"])
        assert (stored.cue, stored.number, stored.tc_in, stored.tc_out) == ("1M1", 1, "01:00:10:00", None)
        announced = sub.queue.get_nowait()
        assert announced.data["event"] == "started"
        assert announced.data["take"]["id"] == take["id"]

        await asyncio.sleep(0.3)
        stopped = await api.stop()
        assert stopped.status_code == 200, stopped.text
        ended = stopped.json()["take"]
        stop_anchor = stopped.json()["transport"]["anchor"]
        assert stop_anchor["speed"] == 0.0
        assert ended["tc_out"] == timecode_at(stop_anchor["p0"])  # where picture really stopped
        assert frames(ended["tc_out"]) - frames("01:00:10:00") >= 6  # 0.3 s at 24 fps, at least
        assert ended["duration"] == (frames(ended["tc_out"]) - frames("01:00:10:00")) / 24
        stored = await api.store.get_take(take["id"])
        assert (stored.tc_out, stored.duration) == (ended["tc_out"], ended["duration"])
        assert sub.queue.get_nowait().data["event"] == "ended"

        patched = await api.http.patch(
            f"/api/takes/{take['id']}", json={"status": "print", "notes": "lovely horns"}, headers=EDITOR
        )
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert body["take"]["status"] == "print"
        assert [(n["role"], n["text"]) for n in body["take"]["notes"]] == [("editor", "lovely horns")]
        assert [(e["field"], e["old"], e["new"], e["role"]) for e in body["edits"]] == [
            ("status", None, "print", "editor"),
            ("note", None, "lovely horns", "editor"),
        ]
        assert sub.queue.get_nowait().data["event"] == "edited"

        one = (await api.http.get(f"/api/takes/{take['id']}")).json()
        assert one["take"]["version"] == 1
        assert [(e["field"], e["new"]) for e in one["history"]] == [("status", "print"), ("note", "lovely horns")]

        listed = (await api.http.get("/api/takes", params={"cue": "1M1"})).json()["takes"]
        assert [t["label"] for t in listed] == ["1M1-1"]
        assert (await api.http.get("/api/takes", params={"cue": "1M2"})).json() == {"takes": []}

        sheet = await api.http.get("/api/takes/export", params={"format": "csv"})
        assert sheet.status_code == 200
        assert sheet.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(sheet.text)))
        started_at = stored.started_at.astimezone(UTC)
        assert rows == [
            {
                "cue": "1M1",
                "take": "1",
                "pickup_bar": "",
                "wild": "no",
                "status": "print",
                "tc_in": "01:00:10:00",
                "tc_out": ended["tc_out"],
                "duration": f"{ended['duration']:.3f}",
                "date": started_at.date().isoformat(),
                "time_of_day": started_at.strftime("%H:%M:%S"),
                "notes": "editor: lovely horns",
                "revision": cue_revision(SHEET.cue("1M1")),  # the revision of the cue it was recorded under
                "picture_revision": "",  # no picture imported
            }
        ]
        assert sheet.text.startswith(
            "cue,take,pickup_bar,wild,status,tc_in,tc_out,duration,date,time_of_day,notes,revision,picture_revision\r\n"
        )
        as_json = (await api.http.get("/api/takes/export", params={"format": "json"})).json()
        assert as_json["takes"][0]["notes"][0]["text"] == "lovely horns"
        assert as_json["takes"][0]["id"] == take["id"]
        # The circled take as an EDL event on its timecode, and as a marker in a MIDI file, at the sheet's rate.
        edl = await api.http.get("/api/takes/export", params={"format": "edl"})
        assert (edl.status_code, edl.headers["content-type"]) == (200, "text/plain; charset=us-ascii")
        assert edl.headers["content-disposition"] == 'attachment; filename="takes.edl"'
        assert f"001  1M1_T01  A     C        01:00:10:00 {ended['tc_out']} 01:00:10:00 {ended['tc_out']}" in edl.text
        assert "* FROM CLIP NAME: 1M1-1 circled" in edl.text
        none = await api.http.get("/api/takes/export", params={"format": "edl", "takes": "kept"})
        assert "1M1_T01" in none.text
        markers = await api.http.get("/api/takes/export", params={"format": "midi-markers"})
        assert (markers.status_code, markers.headers["content-type"]) == (200, "audio/midi")
        assert markers.content.startswith(b"MThd")
        assert b"1M1-1 circled" in markers.content
    finally:
        api.service.bus.unsubscribe(sub)


async def test_numbers_count_up_per_cue_and_rehearsals_log_nothing(api: Api) -> None:
    await api.http.post("/api/session/arm", json={"cue": "1M1"}, headers=CONDUCTOR)
    rehearsed = await api.play()
    assert rehearsed.status_code == 200
    assert (rehearsed.json()["take"], rehearsed.json()["mode"]) == (None, "rehearse")
    assert (await api.stop()).json()["take"] is None
    await api.record()
    labels = []
    for _ in range(3):
        labels.append((await api.play(headers=ENGINEER)).json()["take"]["label"])
        await api.stop(headers=ENGINEER)
    await api.record("1M2")  # free timing records too, without bars
    labels.append((await api.play()).json()["take"]["label"])
    await api.stop()
    assert labels == ["1M1-1", "1M1-2", "1M1-3", "1M2-1"]
    state = (await api.http.get("/api/session")).json()
    assert (state["mode"], state["armed"], state["next_take"], state["rolling"]) == ("record", "1M2", 2, False)
    assert len((await api.http.get("/api/takes")).json()["takes"]) == 4


async def test_pickups_and_wild_takes(api: Api) -> None:
    await api.record()
    # Pickup that locates: bar 33 of 1M1 is 32 bars × 4 clicks × 0.5 s after the downbeat; picture rolls from
    # the pre-roll (5 s) before its count-in (the count-off's 2 bars, 4 s).
    first = (await api.play({"pickup_bar": 33})).json()["take"]
    assert (first["tc_in"], first["pickup_bar"], first["wild"]) == ("01:00:55:00", 33, False)
    await api.stop()
    # Pickup marked only: the conductor located two bars early for a count-in.
    await api.http.post("/api/transport/locate", json={"bar": 31}, headers=CONDUCTOR)
    second = (await api.play({"pickup_bar": 33, "locate": False})).json()["take"]
    assert (second["tc_in"], second["pickup_bar"]) == ("01:01:00:00", 33)
    await api.stop()
    wild = (await api.play({"wild": True})).json()["take"]
    assert (wild["label"], wild["wild"], wild["pickup_bar"]) == ("1M1-3", True, None)
    await api.stop()
    stored = {t.number: (t.pickup_bar, t.wild) for t in await api.store.list_takes("1M1")}
    assert stored == {1: (33, False), 2: (33, False), 3: (None, True)}


async def test_a_transport_that_stops_by_itself_ends_the_take(api: Api) -> None:
    await api.record()
    take = (await api.play()).json()["take"]
    sub = api.service.bus.subscribe({"take"})
    try:
        api.service.stop_transport()  # not through REST: another control edge, or picture stopping
        ended = await asyncio.wait_for(sub.queue.get(), 3 * SCALE)
    finally:
        api.service.bus.unsubscribe(sub)
    assert ended.data["event"] == "ended"
    stored = await api.store.get_take(take["id"])
    assert stored.tc_out == timecode_at(api.service.transport.anchor.p0)
    assert (await api.stop()).status_code == 409  # nothing left to stop


# -- two roles at once ----------------------------------------------------------------------------


async def test_two_roles_patching_one_take_at_once_lose_nothing(api: Api) -> None:
    await api.record()
    take_id = (await api.play()).json()["take"]["id"]
    await api.stop()
    statuses = ["hold", "complete", "print", "breakdown", "incomplete"]

    async def edit(role: str, n: int) -> httpx.Response:
        body = {"status": statuses[n % len(statuses)], "notes": f"{role} {n}"}
        return await api.http.patch(f"/api/takes/{take_id}", json=body, headers=auth(role))

    answers = await asyncio.gather(*(edit(role, n) for n in range(8) for role in ("conductor", "engineer")))
    assert [a.status_code for a in answers] == [200] * 16
    one = (await api.http.get(f"/api/takes/{take_id}")).json()
    notes = sorted(f"{n['role']}|{n['text']}" for n in one["take"]["notes"])
    assert notes == sorted(f"{role}|{role} {n}" for n in range(8) for role in ("conductor", "engineer"))
    history = one["history"]
    assert len([e for e in history if e["field"] == "note"]) == 16
    # Each status change saw the one before it: the history is one unbroken chain.
    chain = [e for e in history if e["field"] == "status"]
    assert chain[0]["old"] is None
    assert all(a["new"] == b["old"] for a, b in itertools.pairwise(chain))
    assert one["take"]["status"] == chain[-1]["new"]
    assert one["take"]["version"] == 16  # every PATCH added a note: each one changed the take


async def test_a_stale_version_is_refused(api: Api) -> None:
    await api.record()
    take_id = (await api.play()).json()["take"]["id"]
    await api.stop()
    first = await api.http.patch(
        f"/api/takes/{take_id}", json={"status": "hold", "expected_version": 0}, headers=EDITOR
    )
    assert first.status_code == 200
    late = await api.http.patch(
        f"/api/takes/{take_id}", json={"status": "print", "expected_version": 0}, headers=ENGINEER
    )
    assert late.status_code == 409
    assert late.json()["detail"] == (
        "take 1M1-1 was changed meanwhile (now version 1, edit made on version 0): reload it and edit again"
    )


# -- refusals -------------------------------------------------------------------------------------

REFUSALS: list[tuple[str, str, str, dict[str, Any] | list[Any] | str | None, dict[str, str], int, str]] = [
    (
        "unknown cue",
        "POST",
        "/api/session/arm",
        {"cue": "9M9"},
        CONDUCTOR,
        404,
        "no cue '9M9' on the cue sheet (cues: 1M1, 1M2)",
    ),
    ("unknown cue read", "GET", "/api/cues/9M9", None, {}, 404, "no cue '9M9' on the cue sheet (cues: 1M1, 1M2)"),
    (
        "takes of an unknown cue",
        "GET",
        "/api/takes?cue=9M9",
        None,
        {},
        404,
        "cue 9M9 is not on the cue sheet and has no takes (cues: 1M1, 1M2)",
    ),
    ("unknown take", "GET", "/api/takes/4242", None, {}, 404, "no take with id 4242"),
    ("unknown take edited", "PATCH", "/api/takes/4242", {"status": "print"}, EDITOR, 404, "no take with id 4242"),
    # ids the protocol's take_edit cannot carry are unknown takes on REST, as every other id no take can have
    ("take id 0 edited", "PATCH", "/api/takes/0", {"status": "print"}, EDITOR, 404,
     "no take with id 0 (ids run from 1 to 2147483647)"),
    ("take id past the last edited", "PATCH", "/api/takes/2147483648", {"notes": "x"}, EDITOR, 404,
     "no take with id 2147483648 (ids run from 1 to 2147483647)"),
    (
        "take id not a number",
        "GET",
        "/api/takes/first",
        None,
        {},
        422,
        "path.take_id: Input should be a valid integer, unable to parse string as an integer",
    ),
    (
        "bad timecode",
        "POST",
        "/api/transport/locate",
        {"timecode": "01:00:61:00"},
        CONDUCTOR,
        400,
        "01:00:61:00: seconds must be 00-59",
    ),
    ("not a timecode", "POST", "/api/transport/locate", {"timecode": "soon"}, CONDUCTOR, 400, "soon"),
    (
        "both targets",
        "POST",
        "/api/transport/locate",
        {"timecode": "01:00:00:00", "bar": 3},
        CONDUCTOR,
        422,
        "command locate: args: give exactly one of timecode, bar",
    ),
    (
        "no token",
        "POST",
        "/api/session/mode",
        {"mode": "record"},
        {},
        401,
        "to arm cues or change mode send Authorization: Bearer <token> of a role allowed to",
    ),
    (
        "no token to play",
        "POST",
        "/api/transport/play",
        None,
        {},
        401,
        "to control the session send Authorization: Bearer <token> of a role allowed to",
    ),
    ("unknown token", "POST", "/api/transport/stop", None, {"Authorization": "Bearer guess"}, 401, "unknown token"),
    (
        "not bearer",
        "POST",
        "/api/transport/stop",
        None,
        {"Authorization": "Basic abc"},
        401,
        "Authorization must be 'Bearer <token>'",
    ),
    ("malformed JSON", "POST", "/api/session/mode", '{"mode": ', CONDUCTOR, 422,
     "malformed JSON at character 9: Expecting value"),
    (
        "unknown mode",
        "POST",
        "/api/session/mode",
        {"mode": "perform"},
        CONDUCTOR,
        422,
        'command mode: args: mode: must be one of rehearse, record, not "perform"',
    ),
    (
        "unknown field",
        "POST",
        "/api/transport/play",
        {"pickup": 33},
        CONDUCTOR,
        422,
        "command play: args: unknown field pickup",
    ),
    (
        "bar zero",
        "POST",
        "/api/transport/play",
        {"pickup_bar": 0},
        CONDUCTOR,
        422,
        "command play: args: pickup_bar: must be at least 1, not 0",
    ),
    (
        "empty edit",
        "PATCH",
        "/api/takes/1",
        {},
        EDITOR,
        422,
        "nothing to change: give any of status, note, pickup_bar, wild",
    ),
    (
        "null note",
        "PATCH",
        "/api/takes/1",
        {"notes": None},
        EDITOR,
        422,
        "command take_edit: args: note: must be a string, not null",
    ),
    ("a note is notes over REST", "PATCH", "/api/takes/1", {"note": "x"}, EDITOR, 422,
     "command take_edit: args: unknown field note"),
    ("an edit is an object", "PATCH", "/api/takes/1", [{"notes": "x"}], EDITOR, 422,
     'command: args: must be an object, not [{"notes": "x"}]'),
    ("export format", "GET", "/api/takes/export?format=xml", None, {}, 422,
     "format: Input should be 'csv', 'json', 'midi-markers' or 'edl'"),
    ("export selection", "GET", "/api/takes/export?format=edl&takes=best", None, {}, 422,
     "takes: Input should be 'circled', 'kept' or 'all'"),
    ("stop when stopped", "POST", "/api/transport/stop", None, CONDUCTOR, 409, "not rolling"),
    ("cue sheet too large", "PUT", "/api/cues", "#" * (1024 * 1024 + 1), EDITOR, 413,
     "the cue sheet is 1048577 bytes, over the limit of 1048576"),
]


async def test_bad_requests_get_a_reason_and_the_service_keeps_running(api: Api) -> None:
    for case, method, path, body, headers, status, detail in REFUSALS:
        if isinstance(body, str):
            sent = {**headers, "content-type": "application/json"}
            answer = await api.http.request(method, path, content=body, headers=sent)
        else:
            answer = await api.http.request(method, path, json=body, headers=headers)
        assert (case, answer.status_code) == (case, status), answer.text
        assert detail in answer.json()["detail"], case
    assert (await api.http.get("/api/health")).json()["ok"] is True
    await api.record()
    assert (await api.play()).status_code == 200
    assert (await api.stop()).status_code == 200


async def test_refusals_while_recording_say_why(api: Api) -> None:
    answer = await api.http.post("/api/session/mode", json={"mode": "record"}, headers=CONDUCTOR)
    assert answer.status_code == 200
    nothing = await api.play()
    assert (nothing.status_code, nothing.json()["detail"]) == (409, "no cue is armed: arm the cue to record first")
    await api.http.post("/api/session/arm", json={"cue": "1M1"}, headers=CONDUCTOR)
    editor = await api.play(headers=EDITOR)
    assert (editor.status_code, editor.json()["detail"]) == (403, "an editor may not roll or stop in record")
    beyond = await api.play({"pickup_bar": 41})
    assert (beyond.status_code, beyond.json()["detail"]) == (409, "cue 1M1 has bars 1 to 40: no bar 41")
    assert not api.service.transport.rolling

    assert (await api.play()).status_code == 200
    checks = [
        (await api.play(), 409, "picture is already rolling (recording take 1M1-1): stop first"),
        (
            await api.http.post("/api/session/arm", json={"cue": "1M2"}, headers=CONDUCTOR),
            409,
            "cannot arm 1M2 while recording take 1M1-1: stop first",
        ),
        (
            await api.http.post("/api/session/arm", json={"cue": None}, headers=CONDUCTOR),
            409,
            "cannot disarm while recording take 1M1-1: stop first",
        ),
        (
            await api.http.post("/api/session/mode", json={"mode": "rehearse"}, headers=CONDUCTOR),
            409,
            "cannot switch to rehearse while recording take 1M1-1: stop first",
        ),
        (await api.stop(headers=EDITOR), 403, "an editor may not roll or stop in record"),
    ]
    for answer, status, detail in checks:
        assert (answer.status_code, answer.json()["detail"]) == (status, detail)
    assert (await api.stop()).status_code == 200
    assert [t.number for t in await api.store.list_takes()] == [1]


# -- the database going away ----------------------------------------------------------------------


async def _connections(url: str, allow: bool) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN, timeout=5 * SCALE)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await admin.close()


@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
async def test_a_database_that_goes_away_gives_503_and_the_service_keeps_running(api: Api) -> None:
    await api.record()
    take = (await api.play()).json()["take"]
    await _connections(api.url, allow=False)
    try:
        stopped = await api.stop()
        assert stopped.status_code == 503
        assert stopped.json()["detail"].startswith("take 1M1-1 is not in the take log yet (take store postgresql")
        assert stopped.json()["detail"].endswith("it is kept and stored as soon as the database answers")
        assert not api.service.transport.rolling  # the stop itself happened
        listed = await api.http.get("/api/takes")
        assert listed.status_code == 503
        assert "could not list takes" in listed.json()["detail"]
        rolled = await api.play()  # the next take rolls anyway: the orchestra is playing
        assert rolled.status_code == 503
        assert api.service.transport.rolling
        health = (await api.http.get("/api/health")).json()
        assert (health["ok"], health["takes"]["unstored"]) == (True, 2)
        assert (await api.stop()).status_code == 503
    finally:
        await _connections(api.url, allow=True)
    await until(lambda: api.takes.unstored == 0, "the kept takes to be stored", seconds=10)
    stored = await api.store.list_takes("1M1")
    assert (stored[0].id, stored[0].number) == (take["id"], 1)
    assert [t.number for t in stored] == [1, 2]
    assert all(t.tc_out is not None for t in stored)
    assert (await api.http.get("/api/takes")).status_code == 200


# -- documentation --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["sqlite"], indirect=True)  # the documentation does not depend on the store
async def test_openapi_documents_every_body_with_examples(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    bodies = 0
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            if "requestBody" not in op:
                continue
            bodies += 1
            if "application/toml" in op["requestBody"]["content"]:  # the cue sheet, as the editor wrote it
                assert op["requestBody"]["content"]["application/toml"]["example"]
                continue
            content = op["requestBody"]["content"]["application/json"]
            schema = content["schema"]
            if method == "patch":  # the take edit: take_edit's arguments under REST's names, the take the path's
                take_edit = p.args_schema("take_edit")["properties"]
                assert schema["properties"] == {rest: take_edit[name] for rest, name in web.PATCH_FIELDS.items()}
                assert schema["additionalProperties"] is False
                assert content["examples"], f"{method} {path}: no examples"
                continue
            command = path.rsplit("/", 1)[1]  # a command's body is the protocol's arguments, its schema theirs
            assert schema == p.args_schema(command), path
            assert content["examples"], f"{method} {path}: no examples"
    assert bodies == 8  # cues, arm, mode, play, pickup, locate, varispeed, PATCH take
    assert (await api.http.get("/docs")).status_code == 200
    cue = (await api.http.get("/api/cues/1M1")).json()
    assert (cue["bars"], cue["breakdown"]["bars"], cue["breakdown"]["countoff"]) == (40, 40, 2)


async def test_example_bodies_parse() -> None:
    # The examples shown at /docs are accepted by the protocol's table, take edits under REST's names too.
    for command, examples in web.EXAMPLES.items():
        for example in examples.values():
            parsed = p.parse_value({"type": "command", "command": command, "args": json.loads(json.dumps(example))})
            assert isinstance(parsed, p.Command)
            assert parsed.args == example
    for edit in web.PATCH_EXAMPLES.values():
        args = {"take": 1, **{web.PATCH_FIELDS[field]: value for field, value in json.loads(json.dumps(edit)).items()}}
        parsed = p.parse_value({"type": "command", "command": "take_edit", "args": args})
        assert isinstance(parsed, p.Command)
        assert parsed.args == args


# -- the crashes fuzzing found: bounds where input enters ----------------------------------------

BIG = 9223372036854775808  # 2^63: past SQLite's integer
INT4 = 2**31  # past PostgreSQL's integer


async def test_crash_1_a_tiny_varispeed_is_refused_and_the_engine_stays_alive(api: Api) -> None:
    """A varispeed of 5e-324 was accepted: the engine's clock thread died of an infinite deadline."""
    assert (await api.http.post("/api/session/arm", json={"cue": "1M1"}, headers=CONDUCTOR)).status_code == 200
    assert (await api.play()).status_code == 200
    for body in ('{"speed": 5e-324}', '{"speed": 0.0156}', '{"speed": -1e-9}', '{"speed": 0}', '{"speed": 4.01}',
                 '{"speed": Infinity}', '{"speed": NaN}', '{"speed": 1e400}'):
        answer = await api.http.post("/api/transport/varispeed", content=body,
                                     headers={**CONDUCTOR, "content-type": "application/json"})
        assert (body, answer.status_code) == (body, 422), answer.text
        assert "speed" in answer.json()["detail"]
    for speed in (1 / 64, -1 / 64, 4.0, 1.0):  # the bounds themselves are speeds
        answer = await api.http.post("/api/transport/varispeed", json={"speed": speed}, headers=CONDUCTOR)
        assert answer.status_code == 200, answer.text
        await until(lambda s=speed: api.service.transport.anchor.speed == s, f"speed {speed}")  # type: ignore[misc]
    # The engine still answers: stop, locate, play, stop.
    assert (await api.stop()).status_code == 200
    answer = await api.http.post("/api/transport/locate", json={"bar": 3}, headers=CONDUCTOR)
    assert answer.status_code == 200, answer.text
    assert answer.json()["anchor"]["p0"] == 3600 + 4.0
    assert (await api.play()).status_code == 200
    assert (await api.stop()).status_code == 200
    assert not api.service.transport.rolling


async def test_crash_3_take_ids_and_values_the_store_cannot_hold(api: Api) -> None:
    """Ids past the database's integer answered 503 (SQLite from 2^63, PostgreSQL from 2^31): now 404 and 422."""
    for take_id in (BIG, INT4, 2**31 - 1, 0, -1, -BIG):
        got = await api.http.get(f"/api/takes/{take_id}")
        assert (take_id, got.status_code) == (take_id, 404), got.text
        assert got.json()["detail"].startswith(f"no take with id {take_id}")
        patched = await api.http.patch(f"/api/takes/{take_id}", json={"status": "print"}, headers=CONDUCTOR)
        assert (take_id, patched.status_code) == (take_id, 404), patched.text
    await api.record()
    assert (await api.play()).status_code == 200
    take_id = (await api.stop()).json()["take"]["id"]
    for body in ({"pickup_bar": BIG}, {"pickup_bar": INT4}, {"pickup_bar": 100_001}, {"pickup_bar": 0},
                 {"status": "print", "expected_version": BIG}, {"notes": "x" * 4001}, {"status": "p" * 33}):
        answer = await api.http.patch(f"/api/takes/{take_id}", json=body, headers=CONDUCTOR)
        assert (str(body)[:40], answer.status_code) == (str(body)[:40], 422), answer.text
    answer = await api.http.patch(f"/api/takes/{take_id}", json={"pickup_bar": 100_000}, headers=CONDUCTOR)
    assert answer.status_code == 200, answer.text
    assert (await api.store.get_take(take_id)).pickup_bar == 100_000
    assert (await api.http.post("/api/transport/play", json={"pickup_bar": BIG}, headers=CONDUCTOR)).status_code == 422
    assert not api.service.transport.rolling
    assert (await api.http.get("/api/takes", params={"cue": "x" * 33})).status_code == 422


async def test_a_locate_past_24_hours_or_out_of_bounds_is_refused(api: Api) -> None:
    """``locate {"bar": 2^63}`` was accepted and its timecode wrapped to 07:34:38:07."""
    assert (await api.http.post("/api/session/arm", json={"cue": "1M1"}, headers=CONDUCTOR)).status_code == 200
    before = api.service.transport.anchor
    for body in ({"bar": BIG}, {"bar": 100_001}, {"bar": -65}, {"bar": 1, "beat": 65}, {"bar": 1, "beat": 0.5},
                 {"timecode": "0" * 17}, {"bar": 1, "cue": "c" * 33}):
        answer = await api.http.post("/api/transport/locate", json=body, headers=CONDUCTOR)
        assert (str(body), answer.status_code) == (str(body), 422), answer.text
    # Within the bounds but past the end of the timecode day (1M1 starts at 01:00:00:00, 2 s a bar).
    answer = await api.http.post("/api/transport/locate", json={"bar": 50_000}, headers=CONDUCTOR)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == "picture 103598 s is past 24:00:00:00: timecode ends there"
    assert api.service.transport.anchor == before
    answer = await api.http.post("/api/transport/locate", json={"timecode": "23:59:59:23"}, headers=CONDUCTOR)
    assert answer.status_code == 200, answer.text
    assert answer.json()["timecode"] == "23:59:59:23"


async def test_the_clicks_a_screen_counts_from_follow_a_pickup_cued_up(api: Api) -> None:
    """A screen counts bars and the count-in from /clicks: with a pickup cued up they are the pickup's."""
    own = (await api.http.get("/api/cues/1M1/clicks")).json()
    assert (await api.http.post("/api/session/arm", json={"cue": "1M1"}, headers=CONDUCTOR)).status_code == 200
    cued = await api.http.post("/api/session/pickup", json={"bar": 9, "countin": 1}, headers=CONDUCTOR)
    assert cued.status_code == 200, cued.text
    clicks = (await api.http.get("/api/cues/1M1/clicks")).json()
    bar9 = next(c for c in own if (c["bar"], c["beat"]) == (9, 1))
    warnings = [c for c in clicks if c["kind"] == "warning"]
    assert [round((bar9["time"] - w["time"]) / 0.5) for w in warnings] == [4, 3, 2, 1]  # one bar of 4/4 at 12-0
    assert [c for c in clicks if c["kind"] != "warning"] == [c for c in own if c["time"] >= bar9["time"]]
    assert (await api.http.post("/api/session/pickup", json={"bar": None}, headers=CONDUCTOR)).status_code == 200
    assert (await api.http.get("/api/cues/1M1/clicks")).json() == own
