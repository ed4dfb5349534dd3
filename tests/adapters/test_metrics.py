"""``/metrics`` scraped from a real ``stage serve`` on a JACK dummy server, read with Prometheus' own parser.

A take rolls in record mode and a screen reports what it drew (over ``/ws``,
as a page does); the scrape carries the engine's cycles, the take's
acknowledgement and commit, the screen's series, the clients per transport,
both processes' memory — and no token, note or cue title.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from consolerig import TOKENS, StageServe
from peers.jackd import JackServer
from peers.wait import SCALE
from prometheus_client.parser import text_string_to_metric_families

NOTE = "horns clipped the downbeat of bar 12"
CONDUCTOR = {"Authorization": f"Bearer {TOKENS['conductor']}"}


def scrape(stage: StageServe) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """The text of one scrape, without a token, and its samples by name and labels."""
    r = httpx.get(f"{stage.base}/metrics", timeout=5 * SCALE)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return r.text, samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def stage(tmp_path: Path, realtime_jack_server: JackServer) -> Iterator[StageServe]:
    serve = StageServe(tmp_path, f"sqlite:///{tmp_path / 'takes.db'}", jack=realtime_jack_server.name)
    serve.start()
    yield serve
    serve.stop()


async def screen_reports(stage: StageServe, hold: asyncio.Event) -> None:
    """A musician's screen: hello, one clock sync, then a streamer end drawn 4 ms late; connected until ``hold``."""
    async with websockets.connect(f"ws://127.0.0.1:{stage.port}/ws") as ws:
        await ws.send(json.dumps({"type": "hello", "role": "musician", "name": "violins 1\tdesk 2",
                                  "topics": ["transport"]}))
        await ws.send(json.dumps({"type": "sync", "id": 1, "t0": time.monotonic()}))
        now = time.monotonic()
        await ws.send(json.dumps({"type": "drawn", "key": "1M1#3", "kind": "streamer", "due": now, "shown": now + 0.004,
                                  "delay": 0.0006, "frame": 1 / 60}))
        await hold.wait()


async def scenario(stage: StageServe) -> tuple[tuple[str, dict], tuple[str, dict], tuple[str, dict]]:  # type: ignore[type-arg]
    deadline = time.monotonic() + 10 * SCALE
    while True:  # the engine reports its counters about once a second: the first scrape waits for a report
        first = await asyncio.to_thread(scrape, stage)
        if ("stage_engine_cycles_total", frozenset()) in first[1] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    hold = asyncio.Event()
    screen = asyncio.create_task(screen_reports(stage, hold))
    async with httpx.AsyncClient(base_url=stage.base, headers=CONDUCTOR, timeout=10 * SCALE) as http:
        assert (await http.post("/api/session/arm", json={"cue": "1M1"})).status_code == 200
        assert (await http.post("/api/session/mode", json={"mode": "record"})).status_code == 200
        played = await http.post("/api/transport/play")
        assert played.status_code == 200, played.text
        take = played.json()["take"]
        edited = await http.patch(f"/api/takes/{take['id']}", json={"notes": NOTE})
        assert edited.status_code == 200, edited.text
        deadline = time.monotonic() + 10 * SCALE
        while True:  # the screen's report has landed
            clients = (await http.get("/api/clients")).json()
            if any(c["draws"] for c in clients) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        cycles = first[1][("stage_engine_cycles_total", frozenset())]
        while True:  # and the engine's next report of its counters
            rolling = await asyncio.to_thread(scrape, stage)
            if rolling[1][("stage_engine_cycles_total", frozenset())] > cycles or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert (await http.post("/api/transport/stop")).status_code == 200
    stopped = await asyncio.to_thread(scrape, stage)
    hold.set()
    await screen
    return first, rolling, stopped


def test_a_scrape_while_a_take_rolls_and_a_screen_reports(stage: StageServe) -> None:
    (_, first), (text, rolling), (_, stopped) = asyncio.run(scenario(stage))
    # The engine cycles on JACK: more cycles at the second scrape, its MIDI up, no xrun counted as more than there were.
    assert value(rolling, "stage_engine_cycles_total") > value(first, "stage_engine_cycles_total") > 0
    assert value(rolling, "stage_midi_up") == 1.0
    assert value(rolling, "stage_engine_up") == 1.0
    assert value(rolling, "stage_engine_state", state="running") == 1.0
    assert value(rolling, "stage_clock_source", source="internal") == 1.0
    # The take rolls: it was acknowledged once (committed), and the store wrote it.
    assert value(rolling, "stage_transport_rolling") == 1.0
    assert value(rolling, "stage_take_rolling") == 1.0
    assert value(rolling, "stage_take_ack_seconds_count", what="roll") == 1.0
    assert 0 < value(rolling, "stage_take_ack_seconds_sum", what="roll") < 10
    assert value(rolling, "stage_store_commit_seconds_count", outcome="ok") >= 1.0
    assert value(rolling, "stage_takes_unstored") == 0.0
    assert value(stopped, "stage_take_ack_seconds_count", what="stop") == 1.0
    assert value(stopped, "stage_transport_rolling") == 0.0
    # One screen on /ws, and its draws under its name (the tab made a space) and id.
    assert value(rolling, "stage_clients", transport="ws", role="musician") == 1.0
    [screen] = {dict(labels)["screen"] for (name, labels) in rolling if name == "stage_screen_draws_total"}
    assert screen.startswith("violins 1 desk 2 #")
    assert value(rolling, "stage_screen_draws_total", screen=screen) == 1.0
    assert value(rolling, "stage_screen_draw_late_seconds", screen=screen) == pytest.approx(0.004, abs=1e-6)
    assert value(rolling, "stage_screen_sync_error_seconds", screen=screen) == pytest.approx(0.0003)
    assert value(rolling, "stage_edge_events_total", edge="ws", event="connected") >= 1.0
    # Both processes' memory and files.
    assert value(rolling, "process_resident_memory_bytes") > 10e6
    assert value(rolling, "stage_engine_process_resident_memory_bytes") > 1e6
    assert value(rolling, "stage_engine_process_open_fds") > 0
    # Readable without a token, and none in it: nor the note, nor the cue's title.
    for secret in (*TOKENS.values(), NOTE, "Main Title"):
        assert secret not in text
    # The facility's dashboard and alerts ask only for what a scrape has.
    for name in asked_for():
        assert exposed(name, text), f"{name} is asked for by deploy/ but no stage exposes it"


DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\b((?:stage|process)_[a-z0-9_]+)")


def asked_for() -> set[str]:
    """Every stage or process metric named in the Grafana dashboard's queries and the alert rules."""
    dashboard = json.loads((DEPLOY / "grafana" / "stage-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += re.findall(r"^\s*expr: (.*)$", (DEPLOY / "prometheus" / "stage-alerts.yml").read_text(encoding="utf-8"),
                        re.MULTILINE)
    assert len(exprs) > 20
    return {name for e in exprs for name in METRIC.findall(e)}


def exposed(name: str, text: str) -> bool:
    """True when a scrape declares ``name``: a family, or a histogram's bucket, sum or count."""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    if name in types:
        return True
    base, _, suffix = name.rpartition("_")
    return suffix in ("bucket", "sum", "count") and types.get(base) == "histogram"
