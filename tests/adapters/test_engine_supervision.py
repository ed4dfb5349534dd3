"""The engine killed mid-take: ``stage serve`` on a real jackd notices, says so, restarts it and plays on.

The real command (``python -m stage serve``) runs with JACK MIDI on the
session's ``jackd -S -d dummy``; a JACK recorder of the test's own (the
witness, written straight against JACK-Client) hears the click; a musician's
``/ws`` client listens.  Mid-take the engine process (its pid from
``/api/health``) gets SIGKILL.  Then:

- health answers 503 ``"ok": false`` with the engine ``restarting`` within a
  second of the kill, and 200 with it ``running`` again within a few seconds;
- every transport told the screens and tablets: ``/ws`` (a ``transport``
  event with the engine's state, a ``take`` event ``crashed``), OSC
  (``/stage/engine`` to an ``oscdump`` destination) and MQTT
  (``event/transport`` and ``event/take`` through a mosquitto of the test's own);
- the take log holds the take as a crash leaves it (no timecode out), on
  SQLite and on PostgreSQL, and the session is ready for the next take;
- picture stopped where it was; a new take rolls from there, and its clicks
  land on their exact samples (the right clicks, none skipped, none repeated).

And an engine stalled mid-take (SIGSTOP, MIDI off) is on health as
``stalled`` with 503, a stop meanwhile answers 503, and once it answers again
the take rolls on and ends normally: nothing restarted, nothing lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from peers.jackd import JackServer, unique_name
from peers.postgres import scratch_database
from peers.recorder import MidiPeer
from peers.wait import SCALE
from stagerig import LinePeer, Mosquitto, free_port, mqtt_sub, osc_dump
from websockets.asyncio.client import connect

from stage.adapters.store import open_store
from stage.core.cuesheet import parse_cue_sheet
from stage.core.playback import ClickNotes
from stage.runtime.service import cue_clicks

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "supervision-conductor"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SR = 48000

SHEET = """
[picture]
rate = "24"
[defaults]
countoff = 0
[[cue]]
id = "1M1"
start = "00:00:02:00"
tempo = "12-0"
meter = "4/4"
bars = 40
"""


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A scratch PostgreSQL database for each test (conftest's ``url`` runs it on SQLite and on this)."""
    async with scratch_database() as url:
        yield url


class Serve:
    """``stage serve``: with JACK MIDI, its click connected to the witness, OSC and MQTT out; or with MIDI off."""

    def __init__(
        self, tmp: Path, url: str, jack: JackServer | None = None, witness: str = "", osc_to: int = 0, mqtt: int = 0
    ) -> None:
        self.port = free_port()
        self.name = unique_name("stage")  # the JACK client and the MQTT topic root
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "stage.toml"
        if jack is None:
            midi = "[midi]\nenabled = false\n[osc]\nenabled = false\n"
        else:
            midi = (
                f'[midi]\nserver = "{jack.name}"\nclient = "{self.name}"\nmtc_out = false\nmtc_in = false\n'
                f'connect_click_out = ["{witness}"]\n'
                f'[osc]\nport = {free_port(socket.SOCK_DGRAM)}\ndestinations = ["127.0.0.1:{osc_to}"]\n'
                f'[mqtt]\nurl = "mqtt://127.0.0.1:{mqtt}"\nname = "{self.name}"\n'
            )
        self.config.write_text(
            f'{midi}[http]\nport = {self.port}\n[takes]\ndatabase = "{url}"\n[auth]\nconductor = "{TOKEN}"\n',
            encoding="utf-8",
        )
        self.cues = tmp / "cues.toml"
        self.cues.write_text(SHEET, encoding="utf-8")
        self.log = tmp / "serve.log"
        self.env = dict(os.environ) if jack is None else jack.env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "stage", "serve", "--config", str(self.config), "--cues", str(self.cues)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15 * SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def health(http: httpx.AsyncClient, serve: Serve) -> tuple[int, dict[str, Any]]:
    answer = await http.get(f"{serve.base}/api/health")
    return answer.status_code, answer.json()


async def until_health(
    http: httpx.AsyncClient, serve: Serve, state: str, seconds: float
) -> tuple[float, dict[str, Any]]:
    """Ask health every 5 ms until the engine is in ``state``; (when, the answer)."""
    deadline = time.monotonic() + seconds * SCALE
    while True:
        with contextlib.suppress(httpx.TransportError):
            status, body = await health(http, serve)
            if body.get("engine", {}).get("state") == state:
                return time.monotonic(), {"status": status, **body}
        if time.monotonic() > deadline:
            pytest.fail(f"the engine was not {state} within {seconds * SCALE:g} s:\n{serve.output()[-3000:]}")
        if serve.proc is not None and serve.proc.poll() is not None:
            pytest.fail(f"stage serve exited:\n{serve.output()[-3000:]}")
        await asyncio.sleep(0.005)


async def post(http: httpx.AsyncClient, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = await http.post(url, json=body, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


async def listen(ws_url: str, events: list[dict[str, Any]], joined: asyncio.Event) -> None:
    async with connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "hello", "role": "musician", "topics": ["transport", "take"]}))
        joined.set()
        # kept as they come (the task is cancelled, it never finishes)
        async for frame in ws:
            events.append(json.loads(frame))  # noqa: PERF401


async def test_the_engine_killed_mid_take_is_reported_restarted_and_clicks_on_its_samples(
    url: str, tmp_path: Path, jack_server: JackServer
) -> None:
    cue = parse_cue_sheet(SHEET).cue("1M1")
    clicks = cue_clicks(cue)
    notes = ClickNotes(channel=9)
    broker = Mosquitto(free_port())
    await broker.start()
    osc_port = free_port(socket.SOCK_DGRAM)
    peers: list[LinePeer] = [await osc_dump(osc_port)]
    with MidiPeer(unique_name("witness"), servername=jack_server.name, inputs=("click",), outputs=()) as witness:
        serve = Serve(tmp_path, url, jack_server, witness.port("click"), osc_port, broker.port)
        peers.append(await mqtt_sub(broker.port, f"stage/{serve.name}/event/#"))
        oscdump, mqtt = peers
        serve.start()
        events: list[dict[str, Any]] = []
        listener: asyncio.Task[None] | None = None
        try:
            async with httpx.AsyncClient(timeout=10 * SCALE) as http:
                _, up = await until_health(http, serve, "running", 30)
                assert (up["status"], up["ok"], up["midi"], up["engine"]["restarts"]) == (200, True, True, 0), (
                    serve.output()[-3000:])
                joined = asyncio.Event()
                listener = asyncio.create_task(listen(f"ws://127.0.0.1:{serve.port}/ws", events, joined))
                await asyncio.wait_for(joined.wait(), 5 * SCALE)

                await post(http, f"{serve.base}/api/session/arm", {"cue": "1M1"})
                await post(http, f"{serve.base}/api/session/mode", {"mode": "record"})
                await post(http, f"{serve.base}/api/transport/locate", {"bar": 1})
                first = (await post(http, f"{serve.base}/api/transport/play"))["take"]
                assert (first["label"], first["tc_in"]) == ("1M1-1", "00:00:02:00")
                witness.wait_for(2 * 3, "click", timeout=10 * SCALE)  # three clicks (on and off) before the kill
                # Kill half-way between two clicks: which clicks sounded is then beyond doubt.
                last_heard = witness.events_at("click")[-1][0]
                await asyncio.sleep(max(0.0, last_heard + 0.25 - time.monotonic()))

                pid = up["engine"]["pid"]
                heard_before = len(note_ons(witness.events("click")))
                killed = time.monotonic()
                os.kill(pid, signal.SIGKILL)
                seen, down = await until_health(http, serve, "restarting", 5)
                assert seen - killed < 1.0 * SCALE, f"health told the death {seen - killed:.3f} s after the kill"
                assert (down["status"], down["ok"]) == (503, False)
                assert down["engine"]["reason"] == "the engine process was killed by SIGKILL"
                back, again = await until_health(http, serve, "running", 10)
                assert back - killed < 5.0 * SCALE, f"the engine came back {back - killed:.3f} s after the kill"
                assert (again["status"], again["ok"], again["midi"]) == (200, True, True)
                assert again["engine"]["restarts"] == 1
                assert again["engine"]["pid"] != pid

                # The take log: the take as a crash leaves it, on either database.
                async with await open_store(url) as store:
                    (left,) = await store.list_takes("1M1")
                assert (left.label, left.id, left.tc_in) == ("1M1-1", first["id"], "00:00:02:00")
                assert (left.tc_out, left.ended_at, left.duration, left.status) == (None, None, None, None)
                assert "take 1M1-1 (in 00:00:02:00) was rolling when the engine stopped" in serve.output()
                session = (await http.get(f"{serve.base}/api/session")).json()
                assert (session["rolling"], session["take"], session["next_take"]) == (False, None, 2)

                # Picture stopped where the engine last cycled: after the clicks heard, before the next one.
                transport = (await http.get(f"{serve.base}/api/transport")).json()
                assert transport["rolling"] is False
                assert transport["engine"] == {"state": "running", "restarts": 1,
                                               "reason": "the engine process was killed by SIGKILL"}
                stopped_at = transport["position"]
                heard = note_ons(witness.events("click"))
                assert len(heard) == heard_before  # nothing sounded while it was down
                assert clicks[len(heard) - 1].p < stopped_at < clicks[len(heard)].p

                # Roll again from there: the next clicks, on their exact samples.
                second = (await post(http, f"{serve.base}/api/transport/play"))["take"]
                assert second["label"] == "1M1-2"
                witness.wait_for(2 * (len(heard) + 4), "click", timeout=10 * SCALE)
                ended = (await post(http, f"{serve.base}/api/transport/stop"))["take"]
                assert ended["label"] == "1M1-2"
                assert ended["tc_out"] is not None
                await asyncio.sleep(0.1)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
            serve.stop()
            for peer in peers:
                await peer.stop()
            await broker.stop()
    after = note_ons(witness.events("click"))[len(heard):]
    expected = [c for c in clicks if c.p >= stopped_at][: len(after)]
    assert len(after) >= 4
    assert [(d, c.bar, c.beat) for (_, d), c in zip(after, expected, strict=True)] == [
        (notes.note_on(c.kind), c.bar, c.beat) for c in expected]
    # Every onset is the roll's first frame plus the exact picture offset from where it stopped.
    roll_frames = [f - math.floor((c.p - stopped_at) * SR + 0.5) for (f, _), c in zip(after, expected, strict=True)]
    assert max(roll_frames) - min(roll_frames) <= 1, roll_frames

    # Every screen was told: the engine restarting, then running, and the take cut off by the crash.
    states = [e["data"]["engine"]["state"] for e in events if e.get("topic") == "transport"]
    assert "restarting" in states
    assert "running" in states[states.index("restarting"):]
    crashed = [e["data"]["take"] for e in events if e.get("topic") == "take" and e["data"]["event"] == "crashed"]
    assert [(t["cue"], t["take"], t["tc_out"]) for t in crashed] == [("1M1", 1, None)]
    # … on OSC and MQTT as well.
    engine = [line.split(" ", 2)[-1] for line in oscdump.matching("/stage/engine ")]
    assert 'si "restarting" 1' in engine
    assert 'si "running" 1' in engine[engine.index('si "restarting" 1'):]
    told = [json.loads(line.split(" ", 1)[1]) for line in mqtt.matching(f"stage/{serve.name}/event/transport ")]
    mqtt_states = [t["engine"]["state"] for t in told]
    assert "running" in mqtt_states[mqtt_states.index("restarting"):]
    taken = [json.loads(line.split(" ", 1)[1]) for line in mqtt.matching(f"stage/{serve.name}/event/take ")]
    assert [(t["event"], t["take"]["label"]) for t in taken if t["event"] == "crashed"] == [("crashed", "1M1-1")]


def note_ons(events: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    return [(f, d) for f, d in events if d[0] & 0xF0 == 0x90]


async def test_an_engine_stalled_mid_take_answers_503_and_the_take_rolls_on_once_it_answers(
    url: str, tmp_path: Path
) -> None:
    """A host too busy to run the engine for a moment: everyone is told, nothing is lost, nothing is restarted."""
    serve = Serve(tmp_path, url)
    serve.start()
    try:
        async with httpx.AsyncClient(timeout=10 * SCALE) as http:
            _, up = await until_health(http, serve, "running", 30)
            pid = up["engine"]["pid"]
            await post(http, f"{serve.base}/api/session/arm", {"cue": "1M1"})
            await post(http, f"{serve.base}/api/session/mode", {"mode": "record"})
            take = (await post(http, f"{serve.base}/api/transport/play"))["take"]
            os.kill(pid, signal.SIGSTOP)
            try:
                _, stalled = await until_health(http, serve, "stalled", 2)
                assert (stalled["status"], stalled["ok"]) == (503, False)
                assert stalled["engine"]["reason"].startswith("the engine sent no heartbeat for ")
                refused = await http.post(f"{serve.base}/api/transport/stop", headers=HEADERS)
                assert refused.status_code == 503
                assert refused.json()["detail"].startswith("the engine is not answering (the engine sent no heartbeat")
                session = (await http.get(f"{serve.base}/api/session")).json()
                assert (session["rolling"], session["take"]["label"]) == (True, take["label"])
            finally:
                os.kill(pid, signal.SIGCONT)
            _, back = await until_health(http, serve, "running", 5)
            assert (back["status"], back["engine"]["pid"], back["engine"]["restarts"]) == (200, pid, 0)
            ended = (await post(http, f"{serve.base}/api/transport/stop"))["take"]
        assert (ended["label"], ended["id"]) == (take["label"], take["id"])
        assert ended["tc_out"] is not None
        assert ended["duration"] >= 0.5  # it rolled through the stall (whole frames: 12 at 24 fps)
    finally:
        serve.stop()
