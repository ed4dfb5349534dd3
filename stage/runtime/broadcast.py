"""The broadcaster: bus events and the schedule ahead, out to WebSockets, OSC and MQTT; control in from them.

One task reads the bus and hands each event, encoded once, to every sink
(:class:`Sink`: the WebSocket hub, the OSC endpoint, the MQTT link).  A sink
only queues: ``offer`` never waits, so a slow client, a dead tablet or a
broker that is down cannot hold up the others, the loop or the engine (which
runs in its own process anyway).  Per-client queues are :class:`LatestWins`:
bounded, and a newer state of a topic replaces the one still waiting.

The schedule ahead comes from :class:`~stage.core.announce.Announcer`: on
every transport change and at the instants it asks for (``loop.call_at``,
never polling), what is due goes on the bus as a ``schedule`` event.

Control from every transport goes through :class:`Controls`, which checks
the role's token and permission and calls the service or the take logger.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from stage.core import protocol as p
from stage.core.announce import HORIZON, Announcer, visuals_of
from stage.core.pairing import Pairing
from stage.core.protocol import Command, Drawn, Topic
from stage.core.screens import DrawStats
from stage.core.session import EDITABLE, Action, Mode, Role, Take, TakeEdit, allowed
from stage.errors import EngineUnavailable, ErrorCode, NotFound, ProtocolError, SessionError, StageError, StoreError
from stage.runtime.bus import BusEvent, Subscription
from stage.runtime.service import Service
from stage.runtime.tasks import stop_task

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

# Topics whose latest event is the state: a newer one replaces one still queued for a client.
COALESCED = frozenset({Topic.TRANSPORT, Topic.SYNC, Topic.SESSION, Topic.CLIENTS})
# Topics kept for snapshots (and retained on MQTT): the latest event of each.
STATE = frozenset({Topic.TRANSPORT, Topic.SYNC, Topic.CUE, Topic.SESSION, Topic.TAKE, Topic.CLIENTS})
BUS_QUEUE = 8192  # events the broadcaster's own bus subscription may hold
DEPARTED = 32  # clients that left, kept for the engineer's health view


@dataclass(frozen=True)
class Outgoing:
    """One bus event on its way out: topic, sequence number, data, and the WebSocket frame (encoded once)."""

    topic: Topic
    seq: int
    data: Mapping[str, Any]
    frame: str

    @property
    def coalesce(self) -> bool:
        """True when a newer event of this topic makes this one worthless."""
        return self.topic in COALESCED


class Sink(Protocol):
    """Where outgoing events go; ``offer`` must never wait or raise."""

    def offer(self, out: Outgoing) -> None:
        """Queue ``out`` for sending."""


T = TypeVar("T")


class _Slot(Generic[T]):
    __slots__ = ("alive", "item", "key")

    def __init__(self, item: T, key: Hashable | None) -> None:
        self.item = item
        self.key = key
        self.alive = True


class LatestWins(Generic[T]):
    """A bounded queue where an item put with a key replaces the one with that key still waiting.

    Items without a key (events that each matter) take room; when ``limit``
    of them wait, :meth:`put` refuses (returns False) and the owner decides:
    drop the client, or drop the oldest.  Keyed items always fit (there are
    only so many keys).  One consumer.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots: collections.deque[_Slot[T]] = collections.deque()
        self._keys: dict[Hashable, _Slot[T]] = {}
        self._unkeyed = 0
        self._live = 0
        self._ready = asyncio.Event()
        self.replaced = 0  # keyed items replaced before they were sent

    def __len__(self) -> int:
        return self._live

    def put(self, item: T, key: Hashable | None = None) -> bool:
        """Queue ``item``; False (and nothing queued) when ``limit`` unkeyed items already wait."""
        if key is None:
            if self._unkeyed >= self.limit:
                return False
            self._unkeyed += 1
        else:
            old = self._keys.get(key)
            if old is not None:
                old.alive = False
                self._live -= 1
                self.replaced += 1
        slot = _Slot(item, key)
        if key is not None:
            self._keys[key] = slot
        self._slots.append(slot)
        self._live += 1
        self._ready.set()
        return True

    def put_first(self, item: T) -> None:
        """Queue ``item`` ahead of everything (a clock-sync reply: its timing is the point)."""
        self._slots.appendleft(_Slot(item, None))
        self._unkeyed += 1
        self._live += 1
        self._ready.set()

    def drop_oldest(self) -> T | None:
        """Remove and return the oldest item (None when empty)."""
        return self.get_nowait()

    def get_nowait(self) -> T | None:
        """The next item, or None when there is none."""
        while self._slots:
            slot = self._slots.popleft()
            if not slot.alive:
                continue
            self._live -= 1
            if slot.key is None:
                self._unkeyed -= 1
            elif self._keys.get(slot.key) is slot:
                del self._keys[slot.key]
            return slot.item
        return None

    async def get(self) -> T:
        """Wait for the next item."""
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            self._ready.clear()
            await self._ready.wait()


class Throttle:
    """Say whether to log the n-th occurrence of something: the first few, then one in ``every``."""

    def __init__(self, first: int = 5, every: int = 100) -> None:
        self.first = first
        self.every = every
        self.counts: collections.Counter[str] = collections.Counter()

    def __call__(self, key: str) -> bool:
        """Count one ``key``; True when this one should be logged."""
        self.counts[key] += 1
        n = self.counts[key]
        return n <= self.first or n % self.every == 0


class Takes(Protocol):
    """What the control edges need of the take logger (:class:`stage.runtime.takes.TakeLogger`)."""

    def state(self) -> dict[str, Any]:
        """The session as plain data."""

    def play_action(self) -> Action:
        """What rolling needs now."""

    def stop_action(self) -> Action:
        """What stopping needs now."""

    async def set_mode(self, mode: Mode) -> None:
        """Rehearse or record."""

    async def play(
        self,
        *,
        pickup_bar: int | None = None,
        wild: bool = False,
        locate: bool = True,
        pickup_beat: int = 1,
        countin: int | None = None,
        from_top: bool = False,
    ) -> Take | None:
        """Roll (from the top, or as a pickup with a count-in); the new take once committed in record mode."""

    async def stop(self) -> Take | None:
        """Stop; the ended take once committed."""

    async def edit(
        self, take_id: int, changes: Mapping[str, object], role: Role, expected_version: int | None = None
    ) -> tuple[Take, tuple[TakeEdit, ...]]:
        """Edit a take as ``role``."""


def take_data(take: Take | None) -> dict[str, Any] | None:
    """A take as it appears in a command's result (the take event carries the full row)."""
    if take is None:
        return None
    return {
        "id": take.id, "cue": take.cue, "take": take.number, "label": take.label, "tc_in": take.tc_in,
        "tc_out": take.tc_out, "status": None if take.status is None else take.status.value,
        "pickup_bar": take.pickup_bar, "wild": take.wild, "duration": take.duration, "version": take.version,
    }


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


class Controls:
    """Control commands from any transport: token → role, role → permission, then the service or take logger."""

    def __init__(self, service: Service, takes: Takes | None = None) -> None:
        self.service = service
        self.takes = takes
        self.latest_take: int | None = None  # id of the take the last take event was about
        self._turns: dict[Hashable, tuple[asyncio.Lock, int]] = {}  # source → its lock, commands holding or waiting
        self.pairing = Pairing()

    # -- who is asking ---------------------------------------------------------------------------

    def _tokens(self) -> list[tuple[str, Role]]:
        auth = self.service.config.auth
        pairs = [(getattr(auth, r.value), r) for r in (Role.CONDUCTOR, Role.ENGINEER, Role.EDITOR)]
        return [(t, r) for t, r in pairs if t]

    def role_of_token(self, token: str) -> Role | None:
        """The role whose ``[auth]`` token is ``token`` (compared in constant time), if any."""
        found: Role | None = None
        for candidate, role in self._tokens():
            if secrets.compare_digest(candidate.encode(), token.encode()):
                found = role
        return found

    def authorize(self, role: Role, token: str | None) -> Role:
        """``role`` if ``token`` is its token (musicians need none); :class:`ProtocolError` otherwise."""
        if role is Role.MUSICIAN:
            return role
        if not token:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, f"{_a(role)} must give the role's token from [auth]")
        if self.role_of_token(token) is not role:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, f"wrong token for {role.value}")
        return role

    def redeem(self, code: str, now: float | None = None) -> tuple[Role, str]:
        """The role and token a pairing code hands over (once); :class:`SessionError` saying why not."""
        role = self.pairing.redeem(code, time.monotonic() if now is None else now)
        token = {r: t for t, r in self._tokens()}.get(role)
        if token is None:
            raise SessionError(f"no [auth] token is set for {role.value}")
        return role, token

    # -- commands --------------------------------------------------------------------------------

    def action_for(self, command: Command) -> Action:
        """The action a role needs for ``command`` now (play and stop need RECORD while recording)."""
        if command.name in ("play", "from_top") and self.takes is not None:
            return self.takes.play_action()
        if command.name == "stop" and self.takes is not None:
            return self.takes.stop_action()
        return command.action

    async def run(self, command: Command, role: Role, source: Hashable | None = None) -> dict[str, Any]:
        """Do ``command`` as ``role``; its result, or :class:`ProtocolError` with the code and reason.

        Commands of one ``source`` (a WebSocket client, an OSC host, the MQTT
        link) run one at a time in the order they were given: *complete* then
        *print* pressed in quick succession ends at *print*, although each
        waits on the take log.
        """
        if command.name == "pair" and not (isinstance(source, tuple) and source[0] == "ws"):
            # Its answer is the code: on a shared broker or to an OSC host anyone listening could spend it.
            raise ProtocolError(ErrorCode.FORBIDDEN, "pairing codes are handed out over /ws only (the engineer's "
                                "console)", command.id)
        if source is None:
            return await self._run(command, role)
        lock, users = self._turns.get(source) or (asyncio.Lock(), 0)
        self._turns[source] = (lock, users + 1)
        try:
            async with lock:  # asyncio.Lock wakes its waiters first come, first served
                return await self._run(command, role)
        finally:
            lock, users = self._turns[source]
            if users == 1:
                del self._turns[source]
            else:
                self._turns[source] = (lock, users - 1)

    async def _run(self, command: Command, role: Role) -> dict[str, Any]:
        action = self.action_for(command)
        if not allowed(role, action):
            raise ProtocolError(ErrorCode.FORBIDDEN, f"{_a(role)} may not {action.value}", command.id)
        try:
            return await self._do(command, role)
        except ProtocolError as exc:
            raise ProtocolError(exc.code, str(exc), command.id) from None
        except NotFound as exc:
            raise ProtocolError(ErrorCode.NOT_FOUND, str(exc), command.id) from None
        except (StoreError, EngineUnavailable) as exc:
            raise ProtocolError(ErrorCode.UNAVAILABLE, str(exc), command.id) from None
        except StageError as exc:
            raise ProtocolError(ErrorCode.REFUSED, str(exc), command.id) from None

    def _need_takes(self, what: str) -> Takes:
        if self.takes is None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, f"cannot {what}: the take log is not running")
        return self.takes

    async def _do(self, c: Command, role: Role) -> dict[str, Any]:  # noqa: PLR0911 -- one return per command
        s, a = self.service, c.args
        match c.name:
            case "arm":
                cue = s.arm(a["cue"])
                return {"armed": cue.id if cue is not None else None}
            case "mode":
                takes = self._need_takes("change mode")
                await takes.set_mode(Mode(a["mode"]))
                return takes.state()
            case "play" | "from_top":
                top = c.name == "from_top"
                if self.takes is None:
                    if top:
                        s.cue_top()
                    elif a.get("pickup_bar") is not None:
                        s.cue_pickup(a["pickup_bar"], a.get("pickup_beat", 1), a.get("countin"), once=True)
                    s.play()
                    return {"take": None}
                take = await self.takes.play(
                    pickup_bar=a.get("pickup_bar"), wild=a.get("wild", False), pickup_beat=a.get("pickup_beat", 1),
                    countin=a.get("countin"), from_top=top,
                )
                return {"take": take_data(take)}
            case "pickup":
                if a.get("bar") is None:
                    position = s.cue_top()
                else:
                    position = s.cue_pickup(a["bar"], a.get("beat", 1), a.get("countin"))
                if position is not None:
                    await s.located(position)
                return {**s.session_state(), "position": position}
            case "stop":
                if self.takes is None:
                    s.stop_transport()
                    return {"take": None}
                return {"take": take_data(await self.takes.stop())}
            case "locate":
                if "timecode" in a:
                    position = s.locate_timecode(a["timecode"])
                else:
                    position = s.locate_bar(a["bar"], a.get("beat", 1), a.get("cue"))
                await s.located(position)
                return {"position": position}
            case "varispeed":
                s.varispeed(a["speed"])
                return {"speed": a["speed"]}
            case "take_status" | "note":
                takes = self._need_takes("edit a take")
                take_id = a.get("take", self.latest_take)
                if take_id is None:
                    raise SessionError("no take has been recorded yet: name the take")
                changes = {"status": a["status"]} if c.name == "take_status" else {"note": a["text"]}
                take, _ = await takes.edit(take_id, changes, role)
                return {"take": take_data(take)}
            case "take_edit":
                return await self._take_edit(c, role)
            case "pair":
                code = self.pairing.issue(Role(a["role"]), time.monotonic(), secrets.randbelow)
                return {"code": code.code, "role": code.role.value, "expires_in": self.pairing.lifetime}
        raise AssertionError(c.name)  # pragma: no cover


    async def _take_edit(self, c: Command, role: Role) -> dict[str, Any]:
        takes = self._need_takes("edit a take")
        changes = {name: c.args[name] for name in p.TAKE_EDIT_FIELDS if name in c.args}
        if not changes:
            raise ProtocolError(ErrorCode.INVALID, f"nothing to change: give any of {', '.join(p.TAKE_EDIT_FIELDS)}")
        for name in changes:
            if not allowed(role, EDITABLE[name]):
                raise ProtocolError(ErrorCode.FORBIDDEN, f"{_a(role)} may not {EDITABLE[name].value}")
        try:
            take, edits = await takes.edit(c.args["take"], changes, role, c.args.get("expected_version"))
        except StoreError as exc:
            if exc.__cause__ is None:  # the store answered no: the take changed since that version
                raise ProtocolError(ErrorCode.CONFLICT, str(exc)) from None
            raise
        return {"take": take_data(take), "edits": len(edits)}


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

    def __init__(self, service: Service, takes: Takes | None = None, *, horizon: float = HORIZON) -> None:
        self.service = service
        self.controls = Controls(service, takes)
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
        self._armed = service.armed.id if service.armed is not None else None
        self._plan = service.plan_revision
        self._ids = 0
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closers: list[Any] = []  # things with ``async close()`` started with the broadcaster

    @property
    def takes(self) -> Takes | None:
        """The take logger, if any."""
        return self.controls.takes

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
        self.service.bus.publish("clients", {
            "event": event, "client": info.as_dict(), "count": len(self.clients),
            "clients": [c.as_dict() for c in self.clients.values()],
        })

    # -- state -----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The latest of every state topic, with the transport and session read fresh."""
        out: dict[str, Any] = {t.value: self.latest.get(t) for t in STATE}
        out[Topic.TRANSPORT.value] = self.service.transport_state()
        takes = self.controls.takes
        session = dict(self.latest.get(Topic.SESSION) or {})
        session.update(takes.state() if takes is not None else {"armed": out["transport"]["armed"]})
        out[Topic.SESSION.value] = session
        out[Topic.CLIENTS.value] = {"count": len(self.clients), "clients": [c.as_dict() for c in self.clients.values()]}
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
        try:
            topic = Topic(ev.topic)
        except ValueError:
            return  # internal topics (engine statistics…) are not part of the protocol
        self.seq = ev.seq
        if topic in STATE:
            self.latest[topic] = ev.data
        if topic is Topic.TAKE:
            take = ev.data.get("take")
            if isinstance(take, dict) and isinstance(take.get("id"), int):
                self.controls.latest_take = take["id"]
        elif topic is Topic.SESSION and (
            ev.data.get("plan", self._plan) != self._plan or ev.data.get("armed", self._armed) != self._armed
        ):
            # a cue armed, a pickup cued up, a new cue sheet: the schedule ahead is another one
            self._armed = ev.data.get("armed", self._armed)
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
            self.service.bus.publish("schedule", {
                "anchor": {"t0": used.t0, "p0": used.p0, "speed": used.speed},
                "events": [a.as_dict() for a in due],
            })
        at = self.announcer.next_due(anchor, now)
        if at is not None:
            self._timer = asyncio.get_running_loop().call_at(at, self._replan)


async def start_broadcast(service: Service, app: FastAPI, takes: Takes | None = None) -> Broadcaster:
    """Mount ``/ws`` on ``app``, start OSC and MQTT as configured, and start broadcasting.

    Call :meth:`Broadcaster.close` on the way out.
    """
    # The adapters import this module for its queue and sink types: imported here, once it is loaded.
    from stage.adapters.mqtt import MqttLink  # noqa: PLC0415
    from stage.adapters.osc import OscEndpoint  # noqa: PLC0415
    from stage.adapters.ws import WsHub, mount_ws  # noqa: PLC0415

    config = service.config
    b = Broadcaster(service, takes)
    hub = WsHub(b)
    mount_ws(app, hub)
    b.sinks.append(hub)
    b.closers.append(hub)
    if config.osc.enabled:
        try:
            osc = await OscEndpoint.start(b, config.osc)
        except OSError as exc:  # a port in use: the rest of the stage still runs, and says why OSC does not
            log.error("OSC cannot listen on %s:%d: %s", config.osc.host, config.osc.port, exc.strerror or exc)  # noqa: TRY400
        else:
            b.sinks.append(osc)
            b.closers.append(osc)
    if config.mqtt.url:
        mqtt = MqttLink(b, config.mqtt)
        await mqtt.start()
        b.sinks.append(mqtt)
        b.closers.append(mqtt)
    await b.start()
    return b
