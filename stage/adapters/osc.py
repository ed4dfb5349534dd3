"""OSC over UDP: control in on the listen port, state out to every destination (python-osc builds and parses).

Our own asyncio :class:`asyncio.DatagramProtocol`, no python-osc server: a
datagram is parsed where it lands and control commands run as tasks, so
nothing here waits on the loop.  State goes out with ``sendto`` (never
blocks) to the ``[osc] destinations`` and to every client that sent
``/stage/subscribe``.  Malformed packets are counted in
:attr:`OscEndpoint.stats` and logged (throttled); they are never fatal.
Nor is a failed send: a destination that cannot be sent to never reaches
the socket, an OS error for one is counted, and should the socket close all
the same, it is opened again on the same port.

Control needs a role: a sender says ``/stage/auth <token>`` once, and its
host may then send what that role is allowed until the service restarts (a
tablet keeps its address; the CLI tools pick a new port for every message).

Every address is in :data:`ADDRESSES`; ``docs/osc.md`` is the same table.
TouchOSC buttons send 1 when pressed and 0 when released: a command with no
arguments of its own ignores a first argument of 0, so only the press acts.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import math
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from stage.config import OscConfig
from stage.core import limits
from stage.core import protocol as p
from stage.core.protocol import Command, Topic
from stage.core.session import Role, TakeStatus
from stage.errors import ErrorCode, ProtocolError
from stage.runtime.broadcast import Broadcaster
from stage.runtime.fanout import Outgoing, Throttle, spawn

log = logging.getLogger(__name__)

Arg = str | int | float | bool
Addr = tuple[str, int]


class Way(enum.Enum):
    """Which way an address travels."""

    IN = "in"  # to stage (control)
    OUT = "out"  # from stage (state and events)


@dataclass(frozen=True)
class Address:
    """One OSC address: its type tags, what it means, and how it maps to a command or from a topic.

    ``tags`` are OSC type tags (``s`` string, ``i`` int32, ``f`` float32,
    ``d`` float64); optional trailing arguments are in brackets: ``i[f]``.
    """

    path: str
    way: Way
    tags: str
    doc: str
    command: Callable[[Sequence[Any]], Command | None] | None = None  # in: the protocol command it is
    topic: Topic | None = None  # out: the topic it carries


_ABSENT: Any = object()  # an optional argument that was not sent


def _cmd(name: str, **args: Any) -> Command:
    """A protocol command, validated by the same table as the WebSocket's."""
    given = {k: v for k, v in args.items() if v is not _ABSENT}
    msg = p.parse_value({"type": "command", "command": name, "args": given})
    assert isinstance(msg, Command)
    return msg


def _press(name: str, **args: Any) -> Callable[[Sequence[Any]], Command | None]:
    """A button: acts on press (no argument, or a non-zero first one), not on release."""

    def make(a: Sequence[Any]) -> Command | None:
        if a and isinstance(a[0], int | float) and not isinstance(a[0], bool) and a[0] == 0:
            return None
        return _cmd(name, **args)

    return make


def _arg(a: Sequence[Any], i: int, kind: type | tuple[type, ...], what: str, default: Any = None) -> Any:
    if len(a) <= i:
        if default is None:
            raise ProtocolError(ErrorCode.INVALID, f"{what} is missing")
        return default
    value = a[i]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ProtocolError(ErrorCode.INVALID, f"{what} has the wrong type: {value!r}")
    return value


def _whole(a: Sequence[Any], i: int, what: str) -> int:
    """Argument ``i`` as a whole number (a float is cut to one, as a TouchOSC fader sends it)."""
    value = _arg(a, i, (int, float), what)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProtocolError(ErrorCode.INVALID, f"{what} must be a number, not {value!r}")
    return int(value)


def _port(a: Sequence[Any], default: int) -> int:
    """The port argument of subscribe/unsubscribe (the sender's own by default), within UDP's range."""
    port = int(_arg(a, 0, int, "port", default))
    if not limits.MIN_PORT <= port <= limits.MAX_PORT:
        raise ProtocolError(ErrorCode.INVALID, f"port must be {limits.MIN_PORT} to {limits.MAX_PORT}, not {port}")
    return port


def _optional_whole(a: Sequence[Any], i: int, what: str) -> Any:
    """Argument ``i`` as a whole number, or absent when not given."""
    return _ABSENT if len(a) <= i else _whole(a, i, what)


_IN: list[Address] = [
    Address("/stage/auth", Way.IN, "s", "Claim the role whose [auth] token this is, for the sender's host."),
    Address("/stage/subscribe", Way.IN, "[i]", "Send state to the sender (to this port, or the sender's)."),
    Address("/stage/unsubscribe", Way.IN, "[i]", "Stop sending to the sender (this port, or the sender's)."),
    Address("/stage/snapshot", Way.IN, "", "Send the current state of everything to the sender now."),
    Address("/stage/transport/play", Way.IN, "", "Roll (record mode: a new take).", _press("play")),
    Address("/stage/transport/stop", Way.IN, "", "Stop (a take being recorded ends).", _press("stop")),
    Address("/stage/transport/pickup", Way.IN, "i[i]",
            "Roll as a pickup from bar i (beat i) of the armed cue: counted in, from its pre-roll.",
            lambda a: _cmd("play", pickup_bar=_whole(a, 0, "bar"), pickup_beat=_optional_whole(a, 1, "beat"))),
    Address("/stage/transport/top", Way.IN, "", "From the top: roll from the pre-roll before the count-off.",
            _press("from_top")),
    Address("/stage/session/pickup", Way.IN, "i[ii]",
            "Cue up a pickup from bar i (beat i, count-in i bars) without rolling; bar 0: back to the top.",
            lambda a: _cmd("pickup", bar=_whole(a, 0, "bar") or None, beat=_optional_whole(a, 1, "beat"),
                           countin=_optional_whole(a, 2, "count-in bars"))),
    Address("/stage/transport/locate", Way.IN, "s", "Locate to a timecode.",
            lambda a: _cmd("locate", timecode=_arg(a, 0, str, "timecode"))),
    Address("/stage/transport/bar", Way.IN, "i[f]", "Locate to a bar (and beat) of the armed cue.",
            lambda a: _cmd("locate", bar=_whole(a, 0, "bar"), beat=_arg(a, 1, (int, float), "beat", _ABSENT))),
    Address("/stage/transport/varispeed", Way.IN, "f", "Internal clock speed (1.0 normal).",
            lambda a: _cmd("varispeed", speed=float(_arg(a, 0, (int, float), "speed")))),
    Address("/stage/session/arm", Way.IN, "s", "Arm a cue (empty string: disarm).",
            lambda a: _cmd("arm", cue=_arg(a, 0, str, "cue") or None)),
    Address("/stage/session/disarm", Way.IN, "", "Disarm.", _press("arm", cue=None)),
    Address("/stage/session/mode", Way.IN, "s", "rehearse or record.",
            lambda a: _cmd("mode", mode=_arg(a, 0, str, "mode"))),
    Address("/stage/session/rehearse", Way.IN, "", "Rehearse mode (a button).", _press("mode", mode="rehearse")),
    Address("/stage/session/record", Way.IN, "", "Record mode (a button).", _press("mode", mode="record")),
    Address("/stage/take/status", Way.IN, "s[i]", "Set the latest take's status (or take id i's).",
            lambda a: _cmd("take_status", status=_arg(a, 0, str, "status"), take=_arg(a, 1, int, "take id", _ABSENT))),
    Address("/stage/take/note", Way.IN, "s[i]", "Add a note to the latest take (or take id i).",
            lambda a: _cmd("note", text=_arg(a, 0, str, "text"), take=_arg(a, 1, int, "take id", _ABSENT))),
    *(
        Address(f"/stage/take/{s.value}", Way.IN, "", f"Mark the latest take {s.value} (a button).",
                _press("take_status", status=s.value))
        for s in TakeStatus
    ),
]

_OUT: list[Address] = [
    Address("/stage/transport", Way.OUT, "ifsd", "rolling (0/1), speed, timecode, position (picture seconds).",
            topic=Topic.TRANSPORT),
    Address("/stage/transport/anchor", Way.OUT, "ddd", "t0 (server clock), p0 (picture seconds), speed.",
            topic=Topic.TRANSPORT),
    Address("/stage/timecode", Way.OUT, "s", "The timecode where the transport changed, for a label.",
            topic=Topic.TRANSPORT),
    Address("/stage/engine", Way.OUT, "si", "The engine's state (running, stalled, restarting, ...) and how many "
            "times it was restarted.", topic=Topic.TRANSPORT),
    Address("/stage/beat", Way.OUT, "siisd", "cue, bar, beat, kind (accent/normal/warning), server time it sounds.",
            topic=Topic.BEAT),
    Address("/stage/barbeat", Way.OUT, "s", "bar|beat as text, for a label: \"12|3\".", topic=Topic.BEAT),
    Address("/stage/cue", Way.OUT, "ss", "entered or left, cue id.", topic=Topic.CUE),
    Address("/stage/session", Way.OUT, "sss", "armed cue (\"\" none), mode, next take label (\"\" none).",
            topic=Topic.SESSION),
    Address("/stage/take", Way.OUT, "ssisssi",
            "event (started/ended/edited), cue, take number, tc in, tc out (\"\" rolling), status (\"\" none), id.",
            topic=Topic.TAKE),
    Address("/stage/take/label", Way.OUT, "s", "The take as a label: \"1M1-3 print\".", topic=Topic.TAKE),
    Address("/stage/schedule", Way.OUT, "sssddssf",
            "key, kind (streamer/punch/flutter), cue, start, end (server clock), color, label, bar (NaN if none).",
            topic=Topic.SCHEDULE),
    Address("/stage/sync", Way.OUT, "sif", "MTC chase state, locked (0/1), speed.", topic=Topic.SYNC),
    Address("/stage/clients", Way.OUT, "i", "How many clients are connected.", topic=Topic.CLIENTS),
    Address("/stage/picture", Way.OUT, "ssfss", "A cut being imported: state (receiving … done/failed), its name, "
            "fraction done (0-1), the new revision (\"\" until done), why it failed (\"\" none).",
            topic=Topic.PICTURE),
    Address("/stage/ok", Way.OUT, "s", "To the sender: the command succeeded.", topic=None),
    Address("/stage/error", Way.OUT, "ss", "To the sender: the address and why it was refused.", topic=None),
]

ADDRESSES: Mapping[str, Address] = {a.path: a for a in (*_IN, *_OUT)}
"""Every address, in and out, by path."""


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _f(v: Any) -> float:
    return float("nan") if v is None else float(v)


def messages(topic: Topic, data: Mapping[str, Any]) -> list[tuple[str, list[tuple[Arg, str]]]]:  # noqa: PLR0911 -- one return per topic
    """The OSC messages (address, [(value, tag)]) that carry one event of ``topic``."""
    d = data
    match topic:
        case Topic.TRANSPORT:
            a, e = d.get("anchor") or {}, d.get("engine") or {}
            return [
                ("/stage/transport", [(int(bool(d.get("rolling"))), "i"), (_f(d.get("speed")), "f"),
                                      (_s(d.get("timecode")), "s"), (_f(d.get("position")), "d")]),
                ("/stage/transport/anchor", [(_f(a.get("t0")), "d"), (_f(a.get("p0")), "d"),
                                             (_f(a.get("speed")), "d")]),
                ("/stage/timecode", [(_s(d.get("timecode")), "s")]),
                ("/stage/engine", [(_s(e.get("state")), "s"), (int(e.get("restarts") or 0), "i")]),
            ]
        case Topic.BEAT:
            return [
                ("/stage/beat", [(_s(d.get("cue")), "s"), (int(d.get("bar", 0)), "i"), (int(d.get("beat", 0)), "i"),
                                 (_s(d.get("kind")), "s"), (_f(d.get("time")), "d")]),
                ("/stage/barbeat", [(f"{d.get('bar')}|{d.get('beat')}", "s")]),
            ]
        case Topic.CUE:
            return [("/stage/cue", [(_s(d.get("event")), "s"), (_s(d.get("cue")), "s")])]
        case Topic.SESSION:
            armed, nxt = d.get("armed"), d.get("next_take")
            label = f"{armed}-{nxt}" if armed and nxt else ""
            return [("/stage/session", [(_s(armed), "s"), (_s(d.get("mode")), "s"), (label, "s")])]
        case Topic.TAKE:
            t = d.get("take") or {}
            status = _s(t.get("status"))
            return [
                ("/stage/take", [(_s(d.get("event")), "s"), (_s(t.get("cue")), "s"), (int(t.get("take") or 0), "i"),
                                 (_s(t.get("tc_in")), "s"), (_s(t.get("tc_out")), "s"), (status, "s"),
                                 (int(t.get("id") or 0), "i")]),
                ("/stage/take/label", [(f"{t.get('cue')}-{t.get('take')} {status}".strip(), "s")]),
            ]
        case Topic.SCHEDULE:
            return [
                ("/stage/schedule", [(_s(e.get("key")), "s"), (_s(e.get("kind")), "s"), (_s(e.get("cue")), "s"),
                                     (_f(e.get("start")), "d"), (_f(e.get("end")), "d"), (_s(e.get("color")), "s"),
                                     (_s(e.get("label")), "s"), (_f(e.get("bar")), "f")])
                for e in d.get("events", ())
            ]
        case Topic.SYNC:
            return [("/stage/sync", [(_s(d.get("state")), "s"), (int(bool(d.get("locked"))), "i"),
                                     (_f(d.get("speed")), "f")])]
        case Topic.CLIENTS:
            return [("/stage/clients", [(int(d.get("count", 0)), "i")])]
        case Topic.PICTURE:
            return [("/stage/picture", [(_s(d.get("state")), "s"), (_s(d.get("name")), "s"),
                                        (_f(d.get("fraction")), "f"), (_s(d.get("revision")), "s"),
                                        (_s(d.get("error")), "s")])]
    return []  # pragma: no cover


def build(address: str, args: Sequence[tuple[Arg, str]]) -> bytes:
    """One OSC message as a datagram."""
    b = OscMessageBuilder(address)
    for value, tag in args:
        b.add_arg(value, tag)
    data: bytes = b.build().dgram
    return data


def parse_destination(text: str) -> Addr:
    """``"host:port"`` → ``(host, port)``."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"OSC destination {text!r} is not host:port")
    return host.strip("[]"), int(port)


class OscEndpoint(asyncio.DatagramProtocol):
    """The OSC side of the service: one UDP socket for control in and state out."""

    edge = "osc"  # its name in the metrics (stage_edge_events)

    def __init__(self, broadcaster: Broadcaster, destinations: Sequence[Addr]) -> None:
        self.broadcaster = broadcaster
        self._transport: asyncio.DatagramTransport | None = None
        self.destinations: list[Addr] = list(destinations)
        self.subscribers: dict[Addr, int] = {}  # address → client id
        self.roles: dict[str, Role] = {}  # sender host → role
        self.stats: collections.Counter[str] = collections.Counter()
        self._throttle = Throttle()
        self._tasks: set[asyncio.Task[None]] = set()
        self._bound: tuple[str, int] | None = None  # host and port to open the socket on again if it closes
        self._closing = False

    @classmethod
    async def start(cls, broadcaster: Broadcaster, config: OscConfig) -> OscEndpoint:
        """Bind ``[osc] host:port`` and resolve the destinations."""
        loop = asyncio.get_running_loop()
        destinations: list[Addr] = []
        for text in config.destinations:
            host, port = parse_destination(text)
            infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
            destinations.append((str(infos[0][4][0]), port))
        endpoint = cls(broadcaster, destinations)
        await endpoint._listen(config.host, config.port)
        log.info("OSC on %s:%d, state to %d destinations", config.host, endpoint.port, len(destinations))
        return endpoint

    async def _listen(self, host: str, port: int) -> None:
        """Bind ``host:port`` (port 0: any free one) and take its datagrams; that port is the one to open again."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
            # Large buffers: a burst to fifty destinations must not hit EAGAIN, nor a burst in overflow the socket.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, sock=sock)
        except OSError:
            sock.close()
            raise
        self._bound = (host, int(sock.getsockname()[1]))

    async def _reopen(self) -> None:
        """Bind the same port again after the socket closed under us; retry for as long as it takes."""
        assert self._bound is not None
        host, port = self._bound
        delay = 0.01
        while not self._closing:
            try:
                await self._listen(host, port)
            except OSError as exc:
                if self._throttle("reopen"):
                    log.error("OSC cannot listen on %s:%d again: %s", host, port, exc)  # noqa: TRY400 -- expected, no trace
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            else:
                log.warning("OSC listens on %s:%d again", host, port)
                return

    # -- asyncio.DatagramProtocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the socket's transport."""
        self._transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, sender: tuple[str | Any, int]) -> None:
        """One datagram in."""
        addr = (str(sender[0]), int(sender[1]))
        self.stats["packets"] += 1
        try:
            packet = OscPacket(data)
        except (ParseError, ValueError, IndexError, TypeError, OverflowError) as exc:
            self.stats["malformed"] += 1
            if self._throttle(f"malformed:{addr[0]}"):
                log.warning("OSC from %s:%d: not OSC: %s (%d malformed so far)", *addr, exc, self.stats["malformed"])
            return
        for timed in packet.messages:
            msg = timed.message
            try:
                self._dispatch(str(msg.address), list(msg.params), addr)
            except ProtocolError as exc:
                self._refuse(addr, str(msg.address), exc)
            except Exception as exc:  # a bug on one message must not stop the endpoint
                self.stats["errors"] += 1
                if self._throttle(f"error:{addr[0]}"):
                    log.exception("OSC %s from %s:%d failed", msg.address, *addr)
                self._reply(addr, "/stage/error", [(str(msg.address), "s"), (repr(exc), "s")])

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket closed: on purpose (:meth:`close`), or under us — then open it again."""
        self._transport = None
        if self._closing or self._bound is None:
            return
        self.stats["reopened"] += 1
        log.error("OSC socket closed (%r): opening it again", exc)
        # A task: asyncio closes the old socket right after this returns, and the port must be free first.
        spawn(self._tasks, self._reopen(), "stage-osc-reopen")

    def error_received(self, exc: Exception) -> None:
        """An ICMP "port unreachable" from a destination that is not listening: count it, carry on."""
        self.stats["send_errors"] += 1
        log.debug("OSC socket: %s", exc)

    @property
    def transport(self) -> asyncio.DatagramTransport:
        """The socket."""
        assert self._transport is not None, "the endpoint is not started"
        return self._transport

    @property
    def port(self) -> int:
        """The port listened on."""
        assert self._bound is not None, "the endpoint is not started"
        return self._bound[1]

    async def close(self) -> None:
        """Close the socket."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for client_id in self.subscribers.values():
            self.broadcaster.leave(client_id)
        self.subscribers.clear()
        if self._transport is not None:
            self._transport.close()

    # -- out -------------------------------------------------------------------------------------

    def offer(self, out: Outgoing) -> None:
        """Send one event to every destination and subscriber."""
        targets = [*self.destinations, *self.subscribers]
        if not targets:
            return
        for address, args in messages(out.topic, out.data):
            self._send_all(build(address, args), targets)

    def _send_all(self, datagram: bytes, targets: Sequence[Addr]) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():  # being opened again: this one is lost
            self.stats["unsent"] += len(targets)
            return
        for target in targets:
            if not limits.MIN_PORT <= target[1] <= limits.MAX_PORT:  # the socket would close on it
                self.stats["send_errors"] += 1
                continue
            try:  # asyncio reports an OS error through error_received, anything else by closing the socket
                transport.sendto(datagram, target)
            except Exception as exc:
                self.stats["send_errors"] += 1
                if self._throttle(f"send:{target[0]}"):
                    log.warning("OSC to %s:%d: %s", target[0], target[1], exc)
        self.stats["sent"] += len(targets)

    def _reply(self, addr: Addr, address: str, args: Sequence[tuple[Arg, str]]) -> None:
        self._send_all(build(address, args), [addr])

    # -- in --------------------------------------------------------------------------------------

    def _refuse(self, addr: Addr, address: str, exc: ProtocolError) -> None:
        self.stats[f"refused.{exc.code.value}"] += 1
        if self._throttle(f"refused:{addr[0]}"):
            log.warning("OSC %s from %s:%d refused: %s", address, addr[0], addr[1], exc)
        self._reply(addr, "/stage/error", [(address, "s"), (str(exc), "s")])

    def _dispatch(self, address: str, args: list[Any], addr: Addr) -> None:
        spec = ADDRESSES.get(address)
        if spec is None or spec.way is not Way.IN:
            self.stats["unknown"] += 1
            raise ProtocolError(ErrorCode.INVALID, f"unknown address {address} (see docs/osc.md)")
        self.stats["messages"] += 1
        match address:
            case "/stage/auth":
                role = self.broadcaster.controls.role_of_token(str(_arg(args, 0, str, "token")))
                if role is None:
                    raise ProtocolError(ErrorCode.UNAUTHORIZED, "unknown token")
                self.roles[addr[0]] = role
                self._reply(addr, "/stage/ok", [(f"auth {role.value}", "s")])
            case "/stage/subscribe":
                target = (addr[0], _port(args, addr[1]))
                if target not in self.subscribers:
                    if len(self.subscribers) >= limits.MAX_OSC_SUBSCRIBERS:
                        raise ProtocolError(ErrorCode.REFUSED, f"{limits.MAX_OSC_SUBSCRIBERS} OSC subscribers already")
                    info = self.broadcaster.join("osc", self.roles.get(addr[0], Role.MUSICIAN), "",
                                                 f"{target[0]}:{target[1]}")
                    self.subscribers[target] = info.id
                self._snapshot(target)
            case "/stage/unsubscribe":
                target = (addr[0], _port(args, addr[1]))
                client_id = self.subscribers.pop(target, None)
                if client_id is not None:
                    self.broadcaster.leave(client_id)
            case "/stage/snapshot":
                self._snapshot(addr)
            case _:
                assert spec.command is not None
                command = spec.command(args)
                if command is None:
                    return  # a button released
                role = self.roles.get(addr[0])
                if role is None:
                    raise ProtocolError(ErrorCode.UNAUTHORIZED, "send /stage/auth <token> first")
                spawn(self._tasks, self._run(command, role, address, addr))

    async def _run(self, command: Command, role: Role, address: str, addr: Addr) -> None:
        try:
            await self.broadcaster.controls.run(command, role, source=("osc", addr[0]))
        except ProtocolError as exc:
            self._refuse(addr, address, exc)
        else:
            self._reply(addr, "/stage/ok", [(address, "s")])

    def _snapshot(self, target: Addr) -> None:
        state = self.broadcaster.state()
        for topic in (Topic.TRANSPORT, Topic.SESSION, Topic.CUE, Topic.TAKE, Topic.SYNC, Topic.CLIENTS, Topic.PICTURE):
            data = state.get(topic.value)
            if data:
                for address, args in messages(topic, data):
                    self._reply(target, address, args)


__all__ = ["ADDRESSES", "Address", "OscEndpoint", "Way", "build", "messages", "parse_destination"]
