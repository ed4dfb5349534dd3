"""The broadcaster: bus events and the schedule ahead, out to WebSockets, OSC and MQTT; control in from them.

One task reads the bus and hands each event, encoded once, to every sink
(:class:`Sink`: the WebSocket hub, the OSC endpoint, the MQTT link).  A sink
only queues: ``offer`` never waits, so a slow client, a dead tablet or a
broker that is down cannot hold up the others, the loop or the engine (which
runs in its own process anyway).  Per-client queues are
:class:`~stage.runtime.fanout.LatestWins`: bounded, and a newer state of a
topic replaces the one still waiting.

The schedule ahead comes from :class:`~stage.core.announce.Announcer`: on
every transport change and at the instants it asks for (``loop.call_at``,
never polling), what is due goes on the bus as a ``schedule`` event.

Control from every transport goes through
:class:`~stage.runtime.commands.Controls`, which checks the role's token and
permission and calls the service or the take logger.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stage.core import protocol as p
from stage.core.announce import HORIZON, Announcer, visuals_of
from stage.core.protocol import Drawn, Topic
from stage.core.screens import DrawStats
from stage.core.session import Role
from stage.runtime.bus import BusEvent, Subscription
from stage.runtime.commands import Controls
from stage.runtime.fanout import STATE, Outgoing, Sink, Throttle
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger
from stage.runtime.tasks import stop_task

log = logging.getLogger(__name__)

BUS_QUEUE = 8192  # events the broadcaster's own bus subscription may hold
DEPARTED = 32  # clients that left, kept for the engineer's health view


@dataclass
class ClientInfo:
    """A connected client, as listed on the ``clients`` topic."""

    id: int
    transport: str  # "ws" | "osc"
    role: Role
    name: str
    address: str
    joined: float = 0.0  # monotonic
    seen: float = 0.0  # monotonic: the last frame read from it (pages sync every few seconds)

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"id": self.id, "transport": self.transport, "role": self.role.value, "name": self.name,
                "address": self.address}


class Broadcaster:
    """Reads the bus, announces the schedule ahead, and hands every event to the sinks."""

    def __init__(
        self, service: Service, takes: TakeLogger | None = None, *, horizon: float = HORIZON,
        controls: Controls | None = None,
    ) -> None:
        self.service = service
        self.controls = controls if controls is not None else Controls(service, takes)
        self.sinks: list[Sink] = []
        self.seq = 0  # the last bus event handed out
        self.latest: dict[Topic, Mapping[str, Any]] = {}
        self.clients: dict[int, ClientInfo] = {}
        self.draws: dict[int, DrawStats] = {}  # per screen: how late it draws (its ``drawn`` reports)
        self.departed: collections.deque[tuple[ClientInfo, float]] = collections.deque(maxlen=DEPARTED)
        self._draw_log = Throttle()
        self.stats: collections.Counter[str] = collections.Counter()
        offset = service.config.http.screen_latency_ms / 1000
        self.announcer = Announcer(visuals_of(service.plan()), horizon=horizon, offset=offset)
        self._plan = service.plan_revision
        self._ids = 0
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closers: list[Any] = []  # things with ``async close()`` started with the broadcaster

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the bus and start handing events out."""
        self._sub = self.service.bus.subscribe(None, BUS_QUEUE, replay=True)  # state published before we started
        self._task = asyncio.create_task(self._pump(self._sub), name="stage-broadcast")
        self._replan()

    async def close(self) -> None:
        """Stop the task and every adapter started with it."""
        if self._timer is not None:
            self._timer.cancel()
        await stop_task(self._task, "the broadcaster")
        if self._sub is not None:
            self.service.bus.unsubscribe(self._sub)
        for closer in reversed(self.closers):
            try:
                await closer.close()
            except Exception:
                log.exception("closing %r", closer)

    # -- clients ---------------------------------------------------------------------------------

    def join(self, transport: str, role: Role, name: str, address: str) -> ClientInfo:
        """Register a client and tell everyone."""
        self._ids += 1
        now = time.monotonic()
        info = ClientInfo(self._ids, transport, role, name, address, now, now)
        self.clients[info.id] = info
        self._publish_clients("joined", info)
        return info

    def leave(self, client_id: int) -> None:
        """Forget a client and tell everyone."""
        info = self.clients.pop(client_id, None)
        draws = self.draws.pop(client_id, None)
        if info is not None:
            self.departed.append((info, time.monotonic()))
            if draws is not None and draws.count:
                d = draws.as_dict()
                log.info("screen %d (%s, %s) drew %d ends: median %+.2f ms, |p99| %.2f ms, %d off their frame",
                         info.id, info.name or "unnamed", info.address, d["count"], d["late_p50_ms"],
                         d["abs_p99_ms"], d["off_frame"])
            self._publish_clients("left", info)

    def drawn(self, client_id: int, report: Drawn) -> None:
        """A screen's report of the frame that showed a streamer's end or a punch: counted, and logged."""
        info = self.clients.get(client_id)
        if info is None:
            return
        stats = self.draws.setdefault(client_id, DrawStats())
        late = stats.add(report)
        self.stats["drawn"] += 1
        name = info.name or "unnamed"
        if abs(late) > report.frame + report.delay / 2 and self._draw_log(f"{client_id}"):
            log.warning("screen %d (%s) showed %s %s %+.1f ms from its time (frame %.1f ms, sync ±%.2f ms)",
                        client_id, name, report.kind, report.key, late * 1000, report.frame * 1000,
                        report.delay * 500)
        else:
            log.debug("screen %d (%s) showed %s %s %+.2f ms from its time", client_id, name, report.kind,
                      report.key, late * 1000)

    def client_report(self) -> list[dict[str, Any]]:
        """Every connected client, with how each screen draws (``draws``: None until it has reported)."""
        out = []
        for info in self.clients.values():
            draws = self.draws.get(info.id)
            out.append({**info.as_dict(), "draws": None if draws is None else draws.as_dict()})
        return out

    def status(self, now: float | None = None) -> dict[str, Any]:
        """The stage's health as the engineer's console shows it: every client (with how it draws and when it
        was last heard from), the clients that left, and the broker."""
        t = time.monotonic() if now is None else now
        clients = []
        for c in self.client_report():
            info = self.clients[c["id"]]
            clients.append({**c, "seen_ago": round(t - info.seen, 3), "connected_for": round(t - info.joined, 3)})
        mqtt = next((s for s in self.sinks if type(s).__name__ == "MqttLink"), None)
        return {
            "server_time": t,
            "clients": clients,
            "departed": [{**info.as_dict(), "left_ago": round(t - at, 3)} for info, at in self.departed],
            "broker": None if mqtt is None else {"url": self.service.config.mqtt.url,
                                                 "connected": bool(getattr(mqtt, "connected", False))},
            "osc": self.service.config.osc.enabled,
        }

    def _publish_clients(self, event: str, info: ClientInfo) -> None:
        self.service.bus.publish(Topic.CLIENTS, {"event": event, "client": info.as_dict(), **self._roster()})

    def _roster(self) -> dict[str, Any]:
        """The ``clients`` state: how many are connected, and who."""
        return {"count": len(self.clients), "clients": [c.as_dict() for c in self.clients.values()]}

    # -- state -----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The latest of every state topic, with the transport and session read fresh."""
        out: dict[str, Any] = {t.value: self.latest.get(t) for t in STATE}
        out[Topic.TRANSPORT.value] = self.service.transport_state()
        out[Topic.SESSION.value] = self.service.session_state()
        out[Topic.CLIENTS.value] = self._roster()
        return out

    def schedule(self, now: float | None = None) -> list[dict[str, Any]]:
        """The announced events that have not ended."""
        t = time.monotonic() if now is None else now
        return [a.as_dict() for a in self.announcer.ahead(self.service.transport.anchor, t)]

    def snapshot(self) -> dict[str, Any]:
        """The snapshot message for a client joining now."""
        now = time.monotonic()
        return p.snapshot(now, self.seq, self.state(), self.schedule(now))

    # -- the pump --------------------------------------------------------------------------------

    async def _pump(self, sub: Subscription) -> None:
        async for ev in sub:
            try:
                self.dispatch(ev)
            except Exception:  # one bad event must not end the broadcast
                log.exception("broadcast of %s #%d failed", ev.topic, ev.seq)

    def dispatch(self, ev: BusEvent) -> None:
        """Hand one bus event to every sink (and follow the transport and the armed cue)."""
        topic = ev.topic
        self.seq = ev.seq
        if topic in STATE:
            self.latest[topic] = ev.data
        if topic is Topic.TAKE:
            take = ev.data.get("take")
            if isinstance(take, dict) and isinstance(take.get("id"), int):
                self.controls.latest_take = take["id"]
        elif topic is Topic.SESSION and ev.data.get("plan", self._plan) != self._plan:
            # a cue armed, a pickup cued up, a new cue sheet: the schedule ahead is another one
            self._plan = ev.data.get("plan", self._plan)
            self.announcer.load(visuals_of(self.service.plan()))
            self._replan()
        elif topic is Topic.TRANSPORT:
            self._replan()
        out = Outgoing(topic, ev.seq, ev.data, p.encode(p.event(topic, ev.seq, ev.data)))
        self.stats[f"out.{topic.value}"] += 1
        for sink in self.sinks:
            try:
                sink.offer(out)
            except Exception:
                log.exception("sink %r refused %s #%d", sink, topic.value, ev.seq)

    def _replan(self) -> None:
        """Announce what is due now, and set a timer for the next event to enter the horizon."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = time.monotonic()
        anchor = self.service.transport.anchor
        due = self.announcer.due(anchor, now)
        if due:
            used = self.announcer.anchor or anchor
            self.service.bus.publish(Topic.SCHEDULE, {
                "anchor": {"t0": used.t0, "p0": used.p0, "speed": used.speed},
                "events": [a.as_dict() for a in due],
            })
        at = self.announcer.next_due(anchor, now)
        if at is not None:
            self._timer = asyncio.get_running_loop().call_at(at, self._replan)
