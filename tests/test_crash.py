"""Crash test: ``stage serve`` is SIGKILLed at random moments while it records hundreds of takes.

The test drives the real command (``python -m stage serve``, MIDI off so the
engine runs its soft clock) over REST: arm, record, then play → (edit) → stop
→ (edit) as fast as the service answers, while a timer kills the process at a
random moment.  It restarts the service and goes on, several times, then
checks the take log directly: every take whose play, stop or edit was
acknowledged is there with the acknowledged data, numbers run 1, 2, 3 … per
cue without gaps or repeats, and only takes cut off by a kill lack their end.
Runs on a SQLite file and on the PostgreSQL server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from peers.postgres import scratch_database
from peers.wait import SCALE

from stage.adapters.store import open_store
from stage.core.session import Role

ROOT = Path(__file__).resolve().parents[1]

KILLS = 3  # runs of the service, each ended by SIGKILL …
TAKES = 200  # … the last one once at least this many takes were acknowledged
CUES = ("1M1", "1M2")
STATUSES = ("false_start", "breakdown", "incomplete", "complete", "hold", "print")
TOKEN = "crash-conductor"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}

SHEET = """
[picture]
rate = "24"

[[cue]]
id = "1M1"
start = "01:00:00:00"
tempo = "12-0"
meter = "4/4"
bars = 40

[[cue]]
id = "1M2"
start = "01:05:00:00"
tempo = "10-0"
meter = "3/4"
bars = 30
"""


@dataclass
class Acknowledged:
    """What the service said 200 to."""

    starts: dict[int, tuple[str, int, str]] = field(default_factory=dict)  # id → cue, number, tc_in
    ends: dict[int, tuple[str, float]] = field(default_factory=dict)  # id → tc_out, duration
    edits: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # id → [(status, note)]


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A scratch PostgreSQL database for each test (conftest's ``url`` runs every test on it and on SQLite)."""
    async with scratch_database() as url:
        yield url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``stage serve`` process on a port of its own."""

    def __init__(self, tmp: Path, url: str, run: int) -> None:
        self.port = free_port()
        self.config = tmp / f"stage-{run}.toml"
        self.config.write_text(
            f"[midi]\nenabled = false\n[osc]\nenabled = false\n[http]\nport = {self.port}\n"
            f'[takes]\ndatabase = "{url}"\n[auth]\nconductor = "{TOKEN}"\n',
            encoding="utf-8",
        )
        self.cues = tmp / "cues.toml"
        self.cues.write_text(SHEET, encoding="utf-8")
        self.log = tmp / f"serve-{run}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    async def start(self, http: httpx.AsyncClient) -> None:
        command = [sys.executable, "-m", "stage", "serve", "--config", str(self.config), "--cues", str(self.cues)]
        with self.log.open("wb") as out:
            self.proc = await asyncio.to_thread(
                subprocess.Popen, command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        deadline = asyncio.get_running_loop().time() + 30 * SCALE
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{self.base}/api/health")).status_code == 200:
                    return
            if self.proc.poll() is not None or asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"stage serve did not come up:\n{self.log.read_text(errors='replace')[-3000:]}")
            await asyncio.sleep(0.02)

    def kill(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        assert self.proc is not None
        return await asyncio.to_thread(self.proc.wait, 15 * SCALE)


async def post(http: httpx.AsyncClient, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = await http.post(url, json=body, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


async def edit(http: httpx.AsyncClient, base: str, take_id: int, n: int, acked: Acknowledged) -> None:
    status, note = STATUSES[n % len(STATUSES)], f"note {n} on take {take_id}"
    answer = await http.patch(f"{base}/api/takes/{take_id}", json={"status": status, "notes": note}, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    acked.edits.setdefault(take_id, []).append((status, note))


async def both(first: Awaitable[Any], second: Awaitable[Any]) -> tuple[Any, Any]:
    """Run two requests at once, as two people on the stage would; both finish before either failure is raised."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results[0], results[1]


async def drive(
    http: httpx.AsyncClient, server: Server, acked: Acknowledged, rng: random.Random, until: int | None = None
) -> None:
    """Record takes until the server dies under us (or ``until`` takes were acknowledged in all).

    Edits race with the stop of their take (while it rolls) or with the roll of the next one.
    """
    base = server.base
    n = 0
    pending: Awaitable[None] = asyncio.sleep(0)
    while until is None or len(acked.starts) < until:
        n += 1
        body = {"pickup_bar": rng.randint(2, 20)} if rng.random() < 0.2 else None
        _, started = await both(pending, post(http, f"{base}/api/transport/play", body))
        take = started["take"]
        acked.starts[take["id"]] = (take["cue"], take["take"], take["tc_in"])
        rolling = edit(http, base, take["id"], 2 * n, acked) if rng.random() < 0.2 else asyncio.sleep(0)
        _, stopped = await both(rolling, post(http, f"{base}/api/transport/stop"))
        ended = stopped["take"]
        assert ended["id"] == take["id"]
        acked.ends[take["id"]] = (ended["tc_out"], ended["duration"])
        pending = edit(http, base, take["id"], 2 * n + 1, acked) if rng.random() < 0.3 else asyncio.sleep(0)
    await pending


async def restart(http: httpx.AsyncClient, server: Server, cue: str, url: str) -> None:
    """Start the service; it must count on from the take log."""
    await server.start(http)
    state = await post(http, f"{server.base}/api/session/arm", {"cue": cue})
    async with await open_store(url) as store:
        logged = len(await store.list_takes(cue))
    assert (state["mode"], state["next_take"]) == ("rehearse", logged + 1)
    await post(http, f"{server.base}/api/session/mode", {"mode": "record"})


async def test_sigkill_at_random_moments_loses_no_acknowledged_take_or_edit(url: str, tmp_path: Path) -> None:
    rng = random.Random(secrets.randbits(32))
    acked = Acknowledged()
    async with httpx.AsyncClient(timeout=10 * SCALE) as http:
        for kill in range(KILLS):
            server = Server(tmp_path, url, kill)
            await restart(http, server, CUES[kill % len(CUES)], url)  # after a kill, it counts on from the log
            last = kill == KILLS - 1
            killer = None if last else asyncio.get_running_loop().call_later(rng.uniform(1.0, 2.5), server.kill)
            try:
                if last:  # the last run goes on to the number of takes wanted, then dies at a random moment too
                    await drive(http, server, acked, rng, until=TAKES)
                    killer = asyncio.get_running_loop().call_later(rng.uniform(0.0, 0.5), server.kill)
                await drive(http, server, acked, rng)
            except httpx.TransportError:
                pass  # the kill: whatever was in flight was never acknowledged
            finally:
                if killer is not None:
                    killer.cancel()
                server.kill()
            assert await server.wait() == -signal.SIGKILL
    kills = KILLS

    async with await open_store(url) as store:
        takes = {t.id: t for t in await store.list_takes()}
        histories = {i: await store.history(i) for i in acked.edits}
    for take_id, (cue, number, tc_in) in acked.starts.items():
        take = takes[take_id]
        assert (take.cue, take.number, take.tc_in) == (cue, number, tc_in)
    for take_id, (tc_out, duration) in acked.ends.items():
        assert (takes[take_id].tc_out, takes[take_id].duration) == (tc_out, duration)
    for take_id, made in acked.edits.items():
        notes = [(n.role, n.text) for n in takes[take_id].notes]
        changed = [(e.field, e.new) for e in histories[take_id]]
        before = None
        for status, note in made:
            assert (Role.CONDUCTOR, note) in notes
            assert ("note", note) in changed
            if status != before:  # setting the status a take has already changes nothing
                assert ("status", status) in changed
            before = status
        # One edit per acknowledged PATCH at most (a killed one may have landed unacknowledged too).
        assert takes[take_id].version >= len(made)
    for cue in CUES:
        numbers = sorted(t.number for t in takes.values() if t.cue == cue)
        assert numbers == list(range(1, len(numbers) + 1)), f"{cue}: {numbers}"
    # Only a take cut off by a kill can lack its end: one per kill at most.
    assert sum(1 for t in takes.values() if t.tc_out is None) <= kills
    # Everything acknowledged, and at most what was in flight at each kill besides.
    assert len(takes) - len(acked.starts) <= kills
    assert len(acked.starts) >= TAKES
