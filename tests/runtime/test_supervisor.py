"""The engine supervised, in the service: a hung engine, one that recovers, a JACK callback no longer called, a fault.

Each test runs a :class:`Service` whose engine is a real process (the soft
clock, or JACK MIDI on a jackd of the test's own) and breaks it from outside
the way it breaks on a stage: SIGSTOP on the engine (it stops answering),
SIGSTOP on jackd (the process callback is no longer called while the engine
still answers), a varispeed that made a click's time infinite.  The engine
killed outright, mid-take, is ``tests/adapters/test_engine_supervision.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from peers.jackd import JackServer, jack_server, unique_name
from peers.wait import SCALE, until

from stage.adapters.engine_drivers import open_driver
from stage.config import parse_config
from stage.core.cuesheet import parse_cue_sheet
from stage.core.mtc import quarter_frame_message
from stage.core.timecode import RATES
from stage.core.transport import Anchor
from stage.core.watchdog import GIVE_UP_AFTER, HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT, EngineState
from stage.errors import EngineUnavailable, SessionError
from stage.runtime import messages as m
from stage.runtime.bus import BusEvent
from stage.runtime.service import Service, cue_clicks
from stage.runtime.supervisor import EngineStatus, exit_reason, resume_position

SR = 48000
SHEET = parse_cue_sheet(
    """
[picture]
rate = "25"
[defaults]
countoff = 0
[[cue]]
id = "2M1"
start = "00:00:01:00"
tempo = 120
meter = "4/4"
bars = 16
[[cue]]
id = "2M2"
start = "00:00:40:00"
tempo = 90
meter = "3/4"
bars = 8
"""
)


# -- pure: where picture stops, how a death reads ------------------------------------------------


def test_picture_resumes_where_the_last_heartbeat_put_it() -> None:
    rolling = Anchor(100.0, 10.0, 1.0)
    assert resume_position(12.5, rolling) == 12.5  # the engine's own position, not the service's clock
    assert resume_position(None, Anchor(100.0, 10.0, 0.0)) == 10.0  # no heartbeat yet: where the anchor stood
    assert resume_position(None, None, fallback=3.0) == 3.0  # it never reported anything
    assert resume_position(math.inf, Anchor(0.0, math.nan, 4.0), fallback=7.0) == 7.0  # nothing infinite comes back


def test_a_click_sent_after_the_last_heartbeat_is_not_sounded_again() -> None:
    rolling = Anchor(100.0, 10.0, 1.0)
    # The last heartbeat put picture at 12.5, but the click at 12.52 went out after it: one sample past it.
    assert resume_position(12.5, rolling, sounded=12.52, samplerate=48000) == 12.52 + 1 / 48000
    assert resume_position(12.5, rolling, sounded=12.0) == 12.5  # an earlier click changes nothing
    assert resume_position(9.0, Anchor(100.0, 10.0, -1.0), sounded=9.5) == 9.0  # none sound in reverse


def test_a_death_reads_as_what_ended_it() -> None:
    assert exit_reason(-9) == "the engine process was killed by SIGKILL"
    assert exit_reason(-11) == "the engine process was killed by SIGSEGV"
    assert exit_reason(1) == "the engine process exited with status 1"
    assert exit_reason(None) == "the engine process ended"


def test_the_status_says_whether_the_engine_takes_commands() -> None:
    assert EngineStatus(EngineState.RUNNING).up
    assert EngineStatus(EngineState.DISABLED).up
    assert not EngineStatus(EngineState.RESTARTING, 2, "gone", 3.5, None).up
    assert EngineStatus(EngineState.RESTARTING, 2, "gone", 3.5, None).as_dict() == {
        "state": "restarting", "restarts": 2, "reason": "gone", "since": 3.5, "pid": None, "faults": 0}


# -- a real engine, broken from outside -----------------------------------------------------------


class States:
    """Every engine state the service told its listeners, with when."""

    def __init__(self, service: Service) -> None:
        self.seen: list[tuple[float, EngineStatus]] = []
        service.engine_listeners.append(lambda s: self.seen.append((time.monotonic(), s)))

    def first(self, state: EngineState, after: int = 0) -> tuple[float, EngineStatus] | None:
        return next(((t, s) for t, s in self.seen[after:] if s.state is state), None)


@pytest_asyncio.fixture
async def soft() -> AsyncIterator[Service]:
    service = Service(parse_config({"midi": {"enabled": False}}), SHEET, open_driver=open_driver)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
def own_jackd() -> Iterator[JackServer]:
    """A jackd of this test's own: it gets SIGSTOPped, which no other test must see."""
    with jack_server(synchronous=False) as server:
        yield server


def engine_pid(service: Service) -> int:
    pid = service.engine_status.pid
    assert pid is not None
    return pid


async def test_an_engine_that_stops_answering_is_replaced_and_keeps_the_clicks_loaded_meanwhile(
    soft: Service,
) -> None:
    states = States(soft)
    sub = soft.bus.subscribe({"transport", "beat"})
    soft.arm("2M1")
    soft.play()
    await until(lambda: soft.last_beat is not None, "a click", 5)
    pid = engine_pid(soft)
    stopped = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        await until(lambda: states.first(EngineState.STALLED) is not None, "the engine stalled", 2)
        seen, stalled = states.first(EngineState.STALLED)  # type: ignore[misc]
        # Silent for the heartbeat timeout (counted from its last heartbeat): everyone is told at once …
        assert HEARTBEAT_TIMEOUT - HEARTBEAT_INTERVAL <= seen - stopped < HEARTBEAT_TIMEOUT + 0.5 * SCALE
        assert re.fullmatch(r"the engine sent no heartbeat for 0\.[5-9]\d s", stalled.reason), stalled.reason
        with pytest.raises(EngineUnavailable, match=r"the engine is not answering .*: ask again in a moment"):
            soft.play()
        # … and after giving up on it, it is replaced.
        await until(lambda: states.first(EngineState.RESTARTING) is not None, "the engine restarting", 5)
        died, down = states.first(EngineState.RESTARTING)  # type: ignore[misc]
        assert GIVE_UP_AFTER - HEARTBEAT_INTERVAL <= died - stopped < GIVE_UP_AFTER + 0.5 * SCALE
        assert re.fullmatch(r"the engine sent no heartbeat for 2\.\d\d s", down.reason), down.reason
        with pytest.raises(EngineUnavailable, match=r"the engine is restarting .*: ask again in a moment"):
            soft.play()
        soft.arm("2M2")  # clicks loaded while no engine runs are kept for the next one
        await until(lambda: soft.engine_status.state is EngineState.RUNNING, "the engine back", 10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(pid, 0)
    assert soft.engine_status.restarts == 1
    assert engine_pid(soft) != pid
    # Picture stopped where the engine's last heartbeat before SIGSTOP put it: past the last click it sent
    # (by a sample, if that click came after the heartbeat), so that click never sounds twice.
    assert not soft.transport.rolling
    assert soft.transport.anchor.speed == 0.0
    last = soft.last_beat
    assert last is not None
    assert last.cue == "2M1"
    assert last.p < soft.position() < last.p + HEARTBEAT_TIMEOUT
    # The new engine has 2M2's clicks, armed while it was down.
    soft.locate(39.8)
    await soft.located(39.8)
    soft.play()
    await until(lambda: soft.last_beat is not None and soft.last_beat.cue == "2M2", "a click of 2M2", 5)
    soft.stop_transport()
    events = drain(sub)
    soft.bus.unsubscribe(sub)
    told = [e.data["engine"]["state"] for e in events if e.topic == "transport"]
    assert "running" in told[told.index("restarting"):]
    assert {e.data["cue"] for e in events if e.topic == "beat" and e.data["position"] >= 39.8} == {"2M2"}


async def test_an_engine_that_answers_again_in_time_is_kept_and_picture_rolls_on(soft: Service) -> None:
    """A host too busy to run the engine for a second must not cost the take: stalled, told, then running again."""
    states = States(soft)
    soft.arm("2M1")
    soft.play()
    await until(lambda: soft.last_beat is not None, "a click", 5)
    pid = engine_pid(soft)
    os.kill(pid, signal.SIGSTOP)
    try:
        await until(lambda: states.first(EngineState.STALLED) is not None, "the engine stalled", 2)
        assert soft.transport.rolling  # nothing is done to picture yet
    finally:
        os.kill(pid, signal.SIGCONT)
    await until(lambda: states.first(EngineState.RUNNING) is not None, "the engine answering again", 2)
    assert states.first(EngineState.RESTARTING) is None
    assert (engine_pid(soft), soft.engine_status.restarts) == (pid, 0)
    assert soft.transport.rolling
    beat = soft.last_beat
    await until(lambda: soft.last_beat is not beat, "the next click", 5)
    soft.play()  # commands go through again (rolling already: harmless)
    soft.stop_transport()


async def test_a_varispeed_of_5e_324_is_caught_in_the_engine_which_stops_and_cycles_on(soft: Service) -> None:
    """The engine half of crash 1 (the REST bound on the speed is not what saves it here)."""
    states = States(soft)
    soft.arm("2M1")
    soft.locate(1.0)
    soft.play()
    await until(lambda: soft.last_beat is not None, "a click", 5)
    with pytest.raises(SessionError, match="out of range"):
        soft.varispeed(5e-324)  # the service refuses it where it enters ...
    soft._send(m.Varispeed(5e-324))  # ... and were it to reach the engine all the same, the engine survives it
    await until(lambda: soft.engine_status.faults >= 1, "the fault counted", 5)
    await until(lambda: not soft.transport.rolling, "the transport stopped", 5)
    at = soft.position()
    assert at > 1.0
    assert soft.engine_status.faults == 1
    assert soft.engine_status.state is EngineState.RUNNING
    assert states.first(EngineState.RESTARTING) is None  # caught inside: no restart needed
    beat = soft.last_beat
    soft.play()
    await until(lambda: soft.last_beat is not beat, "the next click", 5)
    assert soft.last_beat is not None
    assert soft.last_beat.p >= at
    assert soft.transport.anchor.speed == 1.0  # the varispeed that failed is gone
    soft.stop_transport()


async def test_a_jack_callback_no_longer_called_is_a_dead_clock_and_the_engine_comes_back_with_midi(
    own_jackd: JackServer,
) -> None:
    """jackd stopped: the engine still answers, but its cycles stand still."""
    config = parse_config({"midi": {"server": own_jackd.name, "client": unique_name("stage")}})
    service = Service(config, SHEET, open_driver=open_driver)
    await service.start()
    states = States(service)
    try:
        assert service.engine_ready is not None
        assert service.engine_ready.midi
        old = engine_pid(service)
        stopped = time.monotonic()
        os.kill(own_jackd.process.pid, signal.SIGSTOP)
        try:
            await until(lambda: states.first(EngineState.STALLED) is not None, "the engine stalled", 2)
            seen, stalled = states.first(EngineState.STALLED)  # type: ignore[misc]
            assert seen - stopped < 1.0 * SCALE
            assert re.fullmatch(r"the engine's clock ran no cycle for 0\.[5-9]\d s \(stuck at \d+\)", stalled.reason)
            await until(lambda: states.first(EngineState.RESTARTING) is not None, "the engine restarting", 5)
            _, down = states.first(EngineState.RESTARTING)  # type: ignore[misc]
            assert re.fullmatch(r"the engine's clock ran no cycle for 2\.\d\d s \(stuck at \d+\)", down.reason)
        finally:
            os.kill(own_jackd.process.pid, signal.SIGCONT)
        await until(lambda: service.engine_status.state is EngineState.RUNNING, "the engine back", 15)
        assert engine_pid(service) != old
        assert service.engine_ready.midi
        service.arm("2M1")
        service.play()
        await until(lambda: service.last_beat is not None, "a click through JACK", 5)
        service.stop_transport()
    finally:
        await service.stop()


async def test_a_chase_killed_while_locked_locks_again_and_clicks_where_the_timecode_says(
    jack_server: JackServer,
) -> None:
    """``[clock] source = "mtc"``: the new engine chases from nothing and locks on the same stream."""
    from peers.recorder import MidiPeer  # noqa: PLC0415 -- loads libjack: only where a JACK peer is used

    rate = RATES["25"]
    with (
        MidiPeer(unique_name("src"), servername=jack_server.name, inputs=(), outputs=("mtc",)) as source,
        MidiPeer(unique_name("rec"), servername=jack_server.name, inputs=("click",), outputs=()) as witness,
    ):
        config = parse_config({
            "clock": {"source": "mtc"},
            "midi": {"server": jack_server.name, "client": unique_name("stage"), "mtc_out": False,
                     "connect_mtc_in": [source.port("mtc")], "connect_click_out": [witness.port("click")]},
        })
        service = Service(config, SHEET, open_driver=open_driver)
        await service.start()
        syncs = service.bus.subscribe({"sync"})
        told: list[BusEvent] = []  # sync events after the kill
        try:
            # 9 s of picture from 00:00:00:12 at normal speed, starting half a second from now
            p_start, f_start = 0.5, witness.current_frame() + SR // 2
            q_first, q_count = 50, 900
            source.schedule("mtc", [(f_start + round((q / 100 - p_start) * SR), quarter_frame_message(q, rate))
                                    for q in range(q_first, q_first + q_count)])
            await until(lambda: service.sync is not None and service.sync.locked, "the chase to lock", 5)
            await until(lambda: service.position() > 2.3, "picture at 2.3 s", 5)
            drain(syncs)
            os.kill(engine_pid(service), signal.SIGKILL)
            await until(lambda: service.engine_status.restarts == 1, "the engine restarting", 2)
            await until(lambda: service.engine_status.state is EngineState.RUNNING, "the engine back", 10)
            await until(lambda: any(e.data["locked"] for e in drain_into(syncs, told)), "a new lock", 5)
            # The lock and the anchor it rolls with come in one cycle's events: let the anchor land too.
            await until(lambda: service.transport.rolling, "picture rolling on the new lock", 1)
            p_relock = service.position()
            end = (q_first + q_count - 1) / 100
            witness.wait_until_frame(f_start + round((end - p_start + 0.5) * SR), timeout=15 * SCALE)
        finally:
            service.bus.unsubscribe(syncs)
            await service.stop()
    # The new engine's chase started from nothing: it searched before it locked.
    assert not told[0].data["locked"]
    assert 2.3 < p_relock < 4.0
    # Every click from a settling second after the lock to the stream's end, within half a millisecond.
    clicks = [c for c in cue_clicks(SHEET.cue("2M1")) if p_relock + 1 <= c.p < end]
    truth = {f_start + round((c.p - p_start) * SR): c for c in clicks}
    heard = [f for f, d in witness.events("click") if d[0] & 0xF0 == 0x90]
    assert len(truth) >= 6
    for frame, click in truth.items():
        near = [f for f in heard if abs(f - frame) < SR * 0.05]
        assert len(near) == 1, f"click {click.bar}|{click.beat}: {near}"
        assert abs(near[0] - frame) <= SR * 0.0005, f"click {click.bar}|{click.beat} off by {near[0] - frame}"


def drain_into(sub: object, into: list[BusEvent]) -> list[BusEvent]:
    new = drain(sub)
    into.extend(new)
    return new


def drain(sub: object) -> list[BusEvent]:
    queue: asyncio.Queue[BusEvent] = sub.queue  # type: ignore[attr-defined]
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out
