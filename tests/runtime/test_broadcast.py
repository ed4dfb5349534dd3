"""The broadcaster without any network: latest-wins queues, control by role, and the schedule ahead on the bus."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from textwrap import dedent
from typing import Any

import pytest
from peers.wait import until

from stage.adapters.engine_drivers import open_driver
from stage.config import parse_config
from stage.core import protocol as p
from stage.core.cuesheet import parse_cue_sheet
from stage.core.protocol import Topic
from stage.core.session import Role
from stage.errors import ErrorCode, ProtocolError
from stage.runtime.broadcast import Broadcaster
from stage.runtime.bus import BusEvent
from stage.runtime.commands import Controls
from stage.runtime.fanout import LatestWins, Outgoing, Throttle
from stage.runtime.service import Service

TOKENS = {"conductor": "c", "engineer": "e", "editor": "ed"}
SHEET = """
[picture]
rate = "24"
[defaults]
countoff = 1
streamer = "1s"
[[cue]]
id = "1M1"
start = "00:00:10:00"
tempo = "12-0"
meter = "4/4"
bars = 8
"""


async def test_latest_wins_replaces_waiting_state_and_bounds_events() -> None:
    q: LatestWins[str] = LatestWins(limit=3)
    assert q.put("t1", key="transport")
    assert q.put("e1")
    assert q.put("t2", key="transport")  # replaces t1, which was still waiting
    assert q.put("e2")
    assert q.put("e3")
    assert not q.put("e4")  # three events wait: no room
    assert q.put("t3", key="transport")  # state always fits
    q.put_first("sync")
    assert len(q) == 6 - 1
    assert [await q.get() for _ in range(len(q))] == ["sync", "e1", "e2", "e3", "t3"]
    assert q.replaced == 2
    assert q.get_nowait() is None
    # Room again once drained.
    assert q.put("e5")
    assert q.drop_oldest() == "e5"


async def test_latest_wins_get_waits_for_a_put() -> None:
    q: LatestWins[int] = LatestWins(limit=2)
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.put(7)
    assert await asyncio.wait_for(getter, 1) == 7


def test_throttle_logs_the_first_few_then_one_in_every() -> None:
    t = Throttle(first=2, every=5)
    assert [t("x") for _ in range(11)] == [True, True, False, False, True, False, False, False, False, True, False]
    assert t("y")


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    config = parse_config({"midi": {"enabled": False}, "auth": TOKENS})
    s = Service(config, parse_cue_sheet(dedent(SHEET)), open_driver=open_driver)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def test_tokens_and_roles(service: Service) -> None:
    c = Controls(service)
    assert c.role_of_token("e") is Role.ENGINEER
    assert c.role_of_token("nope") is None
    assert c.authorize(Role.MUSICIAN, None) is Role.MUSICIAN
    assert c.authorize(Role.EDITOR, "ed") is Role.EDITOR
    for role, token, message in [(Role.EDITOR, "c", "wrong token for editor"),
                                 (Role.ENGINEER, None, "an engineer must give the role's token from [auth]")]:
        with pytest.raises(ProtocolError) as info:
            c.authorize(role, token)
        assert (info.value.code, str(info.value)) == (ErrorCode.UNAUTHORIZED, message)


async def run(c: Controls, frame: str, role: Role) -> dict[str, Any]:
    command = p.parse(frame)
    assert isinstance(command, p.Command)
    return await c.run(command, role)


async def test_commands_without_a_take_log(service: Service) -> None:
    c = Controls(service)
    armed = await run(c, '{"type":"command","command":"arm","args":{"cue":"1M1"}}', Role.EDITOR)
    assert armed == service.session_state()  # the session state, as REST's arm answers it
    assert (armed["armed"], armed["mode"], armed["next_take"], armed["pickup"]) == ("1M1", "rehearse", None, None)
    assert service.armed is not None
    got = await run(c, '{"type":"command","command":"locate","args":{"bar":2}}', Role.CONDUCTOR)
    assert got == {"position": 12.0}
    refusals = [
        ('{"type":"command","id":1,"command":"arm","args":{"cue":"1M1"}}', Role.MUSICIAN, ErrorCode.FORBIDDEN,
         "a musician may not arm cues or change mode"),
        ('{"type":"command","id":2,"command":"mode","args":{"mode":"record"}}', Role.CONDUCTOR, ErrorCode.UNAVAILABLE,
         "cannot change mode: the take log is not running"),
        ('{"type":"command","id":3,"command":"locate","args":{"timecode":"99:00:00:00"}}', Role.CONDUCTOR,
         ErrorCode.REFUSED, None),
        ('{"type":"command","id":4,"command":"arm","args":{"cue":"5M5"}}', Role.CONDUCTOR, ErrorCode.NOT_FOUND, None),
        ('{"type":"command","id":5,"command":"varispeed","args":{"speed":0}}', Role.CONDUCTOR, ErrorCode.INVALID,
         "command varispeed: args: speed: must be at least 0.015625 either way of 0, not 0"),
        ('{"type":"command","id":6,"command":"locate","args":{"bar":100000}}', Role.CONDUCTOR, ErrorCode.REFUSED,
         "picture 200008 s is past 24:00:00:00: timecode ends there"),
    ]
    for frame, role, code, message in refusals:
        with pytest.raises(ProtocolError) as info:
            await run(c, frame, role)
        assert info.value.code is code
        assert info.value.msg_id is not None
        if message is not None:
            assert str(info.value) == message


class Recorder:
    """A sink that keeps what it was offered."""

    def __init__(self) -> None:
        self.got: list[Outgoing] = []
        self.at: list[float] = []

    def offer(self, out: Outgoing) -> None:
        self.got.append(out)
        self.at.append(time.monotonic())


class Broken:
    def offer(self, out: Outgoing) -> None:
        raise RuntimeError("a sink with a bug")


async def test_dispatch_encodes_once_and_survives_a_broken_sink(service: Service) -> None:
    b = Broadcaster(service)
    rec = Recorder()
    b.sinks += [Broken(), rec]
    b.dispatch(BusEvent(Topic.BEAT, {"bar": 3}, 41))
    (out,) = rec.got
    frame = '{"type":"event","topic":"beat","seq":41,"data":{"bar":3}}'
    assert (out.topic, out.seq, out.frame) == (Topic.BEAT, 41, frame)
    assert not out.coalesce
    b.dispatch(BusEvent(Topic.TAKE, {"event": "started", "take": {"id": 9}}, 43))
    assert b.controls.latest_take == 9
    assert b.latest[Topic.TAKE] == {"event": "started", "take": {"id": 9}}


async def test_the_schedule_ahead_goes_on_the_bus_before_each_streamer(service: Service) -> None:
    """Rolling into 1M1: its streamers and punches are announced on time, each at least a second ahead.

    How early is measured where a sink got the event: the lead every client has at best.
    """
    b = Broadcaster(service)
    rec = Recorder()
    b.sinks.append(rec)
    await b.start()
    try:
        service.arm("1M1")
        service.locate(4.5)  # the count-off streamer starts at 7.0 (1 s into the 2 s count-off bar at 8.0)
        service.play()
        await asyncio.sleep(3.5)
        schedule = [(o, t) for o, t in zip(rec.got, rec.at, strict=True) if o.topic is Topic.SCHEDULE]
        announced = [e for o, _ in schedule for e in o.data["events"]]
        assert [(e["kind"], e["label"], e["position"]) for e in announced] == [
            ("streamer", "count-off", 7.0), ("punch", "count-off", 8.0), ("streamer", "downbeat", 9.0),
            ("punch", "downbeat", 10.0)]
        leads = [e["start"] - t for o, t in schedule for e in o.data["events"]]
        assert min(leads) >= 1.0
        anchor = service.transport.anchor
        for e in announced:
            assert e["start"] == pytest.approx(anchor.time_of(e["position"]), abs=0.003)
        snap = b.snapshot()
        assert snap["type"] == "snapshot"
        assert {e["key"] for e in snap["schedule"]} <= {e["key"] for e in announced}
    finally:
        service.stop_transport()
        await b.close()


async def test_a_late_bus_subscriber_can_start_from_the_latest_state() -> None:
    from stage.runtime.bus import EventBus  # noqa: PLC0415

    bus = EventBus()
    bus.publish("transport", {"rolling": False})
    bus.publish("beat", {"bar": 1})
    bus.publish("session", {"armed": "1M1"})
    bus.publish("transport", {"rolling": True})
    late = bus.subscribe(replay=True)
    plain = bus.subscribe()
    assert [(e.topic, e.data) for e in [late.queue.get_nowait() for _ in range(late.queue.qsize())]] == [
        (Topic.SESSION, {"armed": "1M1"}),
        (Topic.TRANSPORT, {"rolling": True}),
    ]
    assert plain.queue.empty()
    only = bus.subscribe({"transport"}, replay=True)
    assert [only.queue.get_nowait().data] == [{"rolling": True}]


def test_an_unknown_bus_topic_is_an_error_not_silence() -> None:
    """An event nobody can subscribe to was dropped by the broadcaster without a word; now publishing it fails."""
    from stage.runtime.bus import EventBus  # noqa: PLC0415

    bus = EventBus()
    sub = bus.subscribe(replay=True)
    with pytest.raises(ProtocolError, match=r"^no bus topic 'engine' \(topics: transport, beat, "):
        bus.publish("engine", {"cycles": 1})
    with pytest.raises(ProtocolError, match=r"^no bus topic 'engines' "):
        bus.subscribe({"engines"})
    assert sub.queue.empty()
    assert bus.state == {}


async def test_a_pickup_is_shown_as_a_count_off_and_a_new_sheet_reaches_the_screens_at_once() -> None:
    config = parse_config({"midi": {"enabled": False}, "auth": TOKENS, "clock": {"preroll": 1.0}})
    service = Service(config, parse_cue_sheet(dedent(SHEET)), open_driver=open_driver)
    await service.start()
    b = Broadcaster(service)
    rec = Recorder()
    b.sinks.append(rec)
    await b.start()
    try:
        c = Controls(service)
        await run(c, '{"type":"command","command":"arm","args":{"cue":"1M1"}}', Role.CONDUCTOR)
        # bar 5 is at 18.0; one bar of count-in at 12-0 from 16.0; the pre-roll of 1 s: picture at 15.0
        got = await run(c, '{"type":"command","command":"pickup","args":{"bar":5,"countin":1}}', Role.CONDUCTOR)
        assert got["position"] == 15.0
        assert got["pickup"] == {"cue": "1M1", "bar": 5, "beat": 1, "countin": 1}
        assert service.transport.anchor.p0 == 15.0
        await asyncio.sleep(0.05)
        service.play()
        await until(lambda: any(o.topic is Topic.BEAT and o.data["bar"] == 5 and o.data["beat"] == 2
                                for o in rec.got), "bar 5 beat 2")
        service.stop_transport()
        announced = [e for o in rec.got if o.topic is Topic.SCHEDULE for e in o.data["events"]]
        assert [(e["kind"], e["label"], e["color"], e["position"]) for e in announced] == [
            ("streamer", "count-in", "yellow", 15.0), ("punch", "count-in", "yellow", 16.0),
            ("streamer", "bar 5", "green", 17.0), ("punch", "bar 5", "green", 18.0)]
        assert {e["key"].split("#")[0] for e in announced} == {"1M1@5.1"}
        beats = [(o.data["bar"], o.data["beat"], o.data["kind"]) for o in rec.got if o.topic is Topic.BEAT]
        assert beats[:6] == [(4, 1, "warning"), (4, 2, "warning"), (4, 3, "warning"), (4, 4, "warning"),
                             (5, 1, "accent"), (5, 2, "normal")]
        # a new sheet (bar 5 moves a second later): the session says so and the screens' schedule is the new one
        await asyncio.sleep(0.1)
        plan = service.plan_revision
        service.replace_sheet(parse_cue_sheet(dedent(SHEET).replace("00:00:10:00", "00:00:11:00")))
        await asyncio.sleep(0.05)
        sessions = [o.data for o in rec.got if o.topic is Topic.SESSION and o.data.get("plan") == plan + 1]
        assert sessions[-1]["pickup"] == {"cue": "1M1", "bar": 5, "beat": 1, "countin": 1}
        assert [(v.label, v.position) for v in b.announcer.events][:2] == [("count-in", 16.0), ("count-in", 17.0)]
    finally:
        await b.close()
        await service.stop()
