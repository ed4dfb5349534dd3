"""The take logger between the engine (soft clock, its own process) and real take stores.

Tests that take ``url`` run on a SQLite file and on the PostgreSQL server on
127.0.0.1 (one scratch database for the module's run, its schema wiped before
each test).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from peers.wait import SCALE, until

from stage.adapters.engine_drivers import open_driver
from stage.adapters.store import TakeStore, open_store
from stage.config import Config, parse_config
from stage.core.cuesheet import CueSheet, parse_cue_sheet
from stage.core.session import Mode, Role, Take, TakeStatus
from stage.core.timecode import Timecode, frame_at
from stage.core.watchdog import EngineState
from stage.errors import SessionError, TransportTimeout
from stage.runtime.bus import BusEvent
from stage.runtime.service import Service, TransportView
from stage.runtime.takes import TakeLogger

pytestmark = pytest.mark.asyncio(loop_scope="module")


CONFIG: Config = parse_config({"midi": {"enabled": False}})
SHEET_TEXT = """
[picture]
rate = "25"

[[cue]]
id = "2M1"
start = "02:00:00:00"
tempo = 120
meter = "4/4"
bars = 16

[[cue]]
id = "2M2"
start = "02:01:00:00"
tempo = 100
meter = "3/4"
bars = 8
"""
SHEET: CueSheet = parse_cue_sheet(SHEET_TEXT)


def timecode_at(p: float) -> str:
    return str(Timecode.from_frames(frame_at(p, SHEET.rate), SHEET.rate))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service() -> AsyncIterator[Service]:
    svc = Service(CONFIG, SHEET, open_driver=open_driver)
    await svc.start()
    yield svc
    await svc.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def store(service: Service, url: str) -> AsyncIterator[TakeStore]:
    if url.startswith("postgresql"):
        conn = await asyncpg.connect(url, timeout=5 * SCALE)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()
    if service.transport.rolling:
        service.stop_transport()
        await until(lambda: not service.transport.rolling, "the transport to stop")
    service.arm(None)
    service.locate(0.0)
    await until(lambda: service.transport.anchor.p0 == 0.0, "the locate to zero")
    async with await open_store(url) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def logger(service: Service, store: TakeStore) -> AsyncIterator[TakeLogger]:
    takes = TakeLogger(service, store, tz=UTC)
    await takes.start()
    yield takes
    await takes.close(grace=1)


class Edges:
    """The transport views the service reported at each roll and stop."""

    def __init__(self, service: Service) -> None:
        self.rolled: list[TransportView] = []
        self.stopped: list[TransportView] = []
        self._service = service
        service.transport_listeners.append(self)

    def __call__(self, before: TransportView, after: TransportView) -> None:
        if after.rolling and not before.rolling:
            self.rolled.append(after)
        elif before.rolling and not after.rolling:
            self.stopped.append(after)

    def close(self) -> None:
        self._service.transport_listeners.remove(self)


@pytest.fixture
def edges(service: Service) -> Iterator[Edges]:
    e = Edges(service)
    yield e
    e.close()


async def record(logger: TakeLogger, cue: str = "2M1") -> None:
    logger.service.arm(cue)
    await logger.set_mode(Mode.RECORD)


async def next_take_event(sub: asyncio.Queue[BusEvent]) -> BusEvent:
    return await asyncio.wait_for(sub.get(), 3 * SCALE)


# -- numbering ------------------------------------------------------------------------------------


async def test_a_take_left_rolling_is_named_at_the_restart(
    service: Service, store: TakeStore, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = TakeLogger(service, store, tz=UTC)
    await first.start()
    await record(first)
    take = await first.play()
    assert take is not None
    # The service dies here: no stop, no close.
    async with await open_store(url) as reopened:
        second = TakeLogger(service, reopened, tz=UTC)
        with caplog.at_level(logging.WARNING, logger="stage.runtime.takes"):
            await second.start()
        try:
            assert [r.getMessage() for r in caplog.records if r.name == "stage.runtime.takes"] == [
                f"take 2M1-1 (in {take.tc_in}) was still rolling when the service stopped: its end is unknown"]
            (left,) = await reopened.list_takes("2M1")
            assert (left.tc_out, left.ended_at, left.status) == (None, None, None)  # nothing is made up
        finally:
            await second.close()
    await first.close()  # what is left of the one that "died"



async def test_a_take_rolling_when_the_engine_dies_ends_as_a_crash_leaves_it(
    service: Service, store: TakeStore, logger: TakeLogger, caplog: pytest.LogCaptureFixture
) -> None:
    sub = service.bus.subscribe({"take"})
    try:
        await record(logger)
        take = await logger.play()
        assert take is not None
        assert (await next_take_event(sub.queue)).data["event"] == "started"
        restarts = service.engine_status.restarts
        pid = service.engine_status.pid
        assert pid is not None
        with caplog.at_level(logging.WARNING, logger="stage.runtime.takes"):
            os.kill(pid, signal.SIGKILL)
            crashed = await next_take_event(sub.queue)
        assert crashed.data["event"] == "crashed"
        assert (crashed.data["take"]["label"], crashed.data["take"]["tc_out"]) == (take.label, None)
        assert [r.getMessage() for r in caplog.records if r.name == "stage.runtime.takes"] == [
            (f"take {take.label} (in {take.tc_in}) was rolling when the engine stopped "
             "(the engine process was killed by SIGKILL): it ends as a crash leaves it, its end unknown")]
        # The take log marks it as a crash of the whole service would: no timecode out, no end, no duration.
        assert take.id is not None
        left, _ = await logger.take(take.id)
        assert (left.tc_out, left.ended_at, left.duration, left.status) == (None, None, None, None)
        state = logger.service.session_state()
        assert (state["rolling"], state["take"], state["next_take"]) == (False, None, take.number + 1)
        with pytest.raises(SessionError, match="not rolling"):
            await logger.stop()
        await until(lambda: service.engine_status.restarts == restarts + 1
                    and service.engine_status.state is EngineState.RUNNING, "the engine back")
        again = await logger.play()
        assert again is not None
        assert again.number == take.number + 1
        ended = await logger.stop()
        assert ended is not None
        assert ended.tc_out is not None
    finally:
        service.bus.unsubscribe(sub)


async def test_numbers_go_on_after_a_restart(service: Service, store: TakeStore, url: str) -> None:
    first = TakeLogger(service, store, tz=UTC)
    await first.start()
    try:
        await record(first)
        for _ in range(2):
            await first.play()
            await first.stop()
    finally:
        await first.close()
    async with await open_store(url) as reopened:
        second = TakeLogger(service, reopened, tz=UTC)
        await second.start()
        try:
            assert second.session.mode is Mode.REHEARSE  # a new session never records by accident
            assert (second.session.next_number("2M1"), second.session.next_number("2M2")) == (3, 1)
            await record(second)
            take = await second.play()
            assert take is not None
            assert take.label == "2M1-3"
            await second.stop()
        finally:
            await second.close()
        assert [t.number for t in await reopened.list_takes("2M1")] == [1, 2, 3]


async def test_a_number_another_controller_took_is_skipped(logger: TakeLogger, store: TakeStore) -> None:
    await record(logger)
    # Another stage on the same database logs 2M1-1 behind this one's back.
    theirs = await store.insert_take(Take("2M1", 1, "02:00:00:00", datetime.now(UTC)))
    mine = await logger.play()
    assert mine is not None
    assert (mine.label, mine.tc_in) == ("2M1-2", "00:00:00:00")
    assert mine.id != theirs.id
    ended = await logger.stop()
    assert ended is not None
    assert (ended.label, ended.id) == ("2M1-2", mine.id)
    assert ended.tc_out is not None
    assert (await store.get_take(mine.id or 0)).tc_out == ended.tc_out
    assert (await store.get_take(theirs.id or 0)).tc_out is None  # theirs untouched
    third = await logger.play()  # counts on from the store
    assert third is not None
    assert third.label == "2M1-3"
    await logger.stop()


# -- following the transport ----------------------------------------------------------------------


async def test_timecodes_are_where_the_engine_rolled_and_stopped(logger: TakeLogger, edges: Edges) -> None:
    await record(logger)
    logger.service.locate_bar(5)  # 4 bars × 4 clicks × 0.5 s after 02:00:00:00
    await until(lambda: logger.service.transport.anchor.p0 == 7208.0, "the locate")
    take = await logger.play()
    assert take is not None
    assert take.tc_in == "02:00:08:00" == timecode_at(edges.rolled[-1].anchor.p0)
    await asyncio.sleep(0.2)
    ended = await logger.stop()
    assert ended is not None
    stop = edges.stopped[-1].anchor
    assert ended.tc_out == timecode_at(stop.p0)
    out = Timecode.parse(ended.tc_out, SHEET.rate).frame_count - Timecode.parse("02:00:08:00", SHEET.rate).frame_count
    assert out >= 5  # 0.2 s at 25 fps, at least
    assert ended.duration == out / 25
    # Wall-clock times are those of the anchors, not of the answers.
    assert ended.ended_at is not None
    assert ended.ended_at > take.started_at


async def test_takes_follow_rolls_and_stops_made_elsewhere(logger: TakeLogger, store: TakeStore, edges: Edges) -> None:
    await record(logger, "2M2")
    sub = logger.service.bus.subscribe({"take"})
    try:
        logger.service.play()  # another control edge, or picture rolling under MTC
        started = await next_take_event(sub.queue)
        assert started.data["event"] == "started"
        take = started.data["take"]
        assert (take["label"], take["tc_in"]) == ("2M2-1", timecode_at(edges.rolled[-1].anchor.p0))
        assert (await store.get_take(take["id"])).tc_in == take["tc_in"]
        logger.service.stop_transport()  # picture stopping by itself
        ended = await next_take_event(sub.queue)
        assert ended.data["event"] == "ended"
        assert ended.data["take"]["tc_out"] == timecode_at(edges.stopped[-1].anchor.p0)
        assert (await store.get_take(take["id"])).tc_out == ended.data["take"]["tc_out"]
    finally:
        logger.service.bus.unsubscribe(sub)
    assert not logger.session.rolling


async def test_edits_while_rolling_survive_the_end(logger: TakeLogger, store: TakeStore) -> None:
    await record(logger)
    take = await logger.play()
    assert take is not None
    assert take.id is not None
    _, edits = await logger.edit(take.id, {"status": "breakdown", "note": "trumpets late"}, Role.ENGINEER)
    assert [e.field for e in edits] == ["status", "note"]
    ended = await logger.stop()
    assert ended is not None
    assert (ended.status, [n.text for n in ended.notes], ended.version) == (TakeStatus.BREAKDOWN, ["trumpets late"], 1)
    assert ended.tc_out is not None
    assert await store.get_take(take.id) == ended


async def test_rolls_with_nothing_armed(logger: TakeLogger, store: TakeStore) -> None:
    assert await logger.play() is None  # a rehearsal of the whole sheet
    assert not logger.session.rolling
    await logger.stop()
    await logger.set_mode(Mode.RECORD)
    with pytest.raises(SessionError, match=r"^no cue is armed: arm the cue to record first$"):
        await logger.play()
    logger.service.play()  # rolled from elsewhere: nothing to log it against
    await until(lambda: logger.service.transport.rolling, "the roll")
    logger.service.stop_transport()
    await until(lambda: not logger.service.transport.rolling, "the stop")
    assert await store.list_takes() == []


async def test_arming_and_mode_are_refused_while_recording(logger: TakeLogger) -> None:
    await record(logger)
    await logger.play()
    with pytest.raises(SessionError, match=r"^cannot arm 2M2 while recording take 2M1-1: stop first$"):
        logger.service.arm("2M2")
    with pytest.raises(SessionError, match=r"^cannot switch to rehearse while recording take 2M1-1: stop first$"):
        await logger.set_mode(Mode.REHEARSE)
    assert logger.service.armed is not None
    assert logger.service.armed.id == "2M1"
    await logger.stop()
    logger.service.arm("2M2")
    assert logger.service.armed is not None
    assert logger.service.armed.id == "2M2"


async def test_a_roll_the_engine_does_not_confirm_in_time_is_not_logged(logger: TakeLogger, store: TakeStore) -> None:
    await record(logger)
    logger._roll_timeout = 1e-6  # the engine needs a cycle or two: far longer
    with pytest.raises(TransportTimeout, match=r"^the engine did not roll within 1e-06 s: nothing was recorded$"):
        await logger.play()
    # The engine rolled late and was stopped again; neither edge made a take.
    await asyncio.sleep(0.1 * SCALE)
    await until(lambda: not logger.service.transport.rolling, "the late roll to be stopped")
    assert await store.list_takes() == []
    assert not logger.session.rolling
    logger._roll_timeout = 2.0
    take = await logger.play()
    assert take is not None
    assert take.label == "2M1-1"
    await logger.stop()


async def test_close_lets_queued_writes_land(service: Service, store: TakeStore) -> None:
    takes = TakeLogger(service, store, tz=UTC)
    await takes.start()
    await record(takes)
    take = await takes.play()
    assert take is not None
    service.stop_transport()
    await until(lambda: not takes.session.rolling, "the stop edge")
    await takes.close()
    stored = await store.get_take(take.id or 0)
    assert stored.tc_out is not None


async def test_a_cued_up_pickup_marks_every_roll_until_the_top_and_revisions_are_kept(
    logger: TakeLogger, store: TakeStore
) -> None:
    await record(logger)
    service = logger.service
    # cued up, as for a chased session: every roll (here one made elsewhere) is a pickup from bar 9
    service.cue_pickup(9, 1, 1, locate=False)
    sub = service.bus.subscribe({"take"})
    try:
        service.play()
        started = await next_take_event(sub.queue)
        service.stop_transport()
        await next_take_event(sub.queue)
    finally:
        service.bus.unsubscribe(sub)
    first = await store.get_take(started.data["take"]["id"])
    assert (first.pickup_bar, first.revision) == (9, service.revisions["2M1"])
    assert service.pickup is not None  # still cued up after the stop
    second = await logger.play()
    assert second is not None
    assert second.pickup_bar == 9
    await logger.stop()
    # from the top clears it; a pickup asked with play lasts its roll
    third = await logger.play(from_top=True)
    assert third is not None
    assert third.pickup_bar is None
    await logger.stop()
    fourth = await logger.play(pickup_bar=5, countin=0)
    assert fourth is not None
    assert fourth.pickup_bar == 5
    await logger.stop()
    await until(lambda: service.pickup is None, "the one-roll pickup to end")
    fifth = await logger.play()
    assert fifth is not None
    assert fifth.pickup_bar is None
    await logger.stop()
    # a revised sheet: the next take records the new revision, the earlier ones keep theirs
    revised = parse_cue_sheet(SHEET_TEXT.replace("tempo = 120", "tempo = 126"))
    old = service.revisions["2M1"]
    assert service.replace_sheet(revised) == ["2M1"]
    sixth = await logger.play()
    assert sixth is not None
    await logger.stop()
    revisions = [t.revision for t in await store.list_takes("2M1")]
    assert revisions == [old] * 5 + [service.revisions["2M1"]]
    assert old != service.revisions["2M1"]
    service.replace_sheet(SHEET)
