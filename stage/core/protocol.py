"""The WebSocket protocol: every message as a data table, its validation and its JSON Schema.

One table (:data:`MESSAGES`, :data:`COMMANDS`) says what each message holds;
:func:`parse` checks a frame from a client against it and :func:`schemas`
turns it into one JSON Schema per message (``docs/ws/*.json``), so the code
and the documentation cannot disagree.  Pure: no sockets, no clock; times
are arguments.

A session, as the client sees it::

    → {"type": "hello", "role": "musician"}
    ← {"type": "welcome", ...}   then   ← {"type": "snapshot", ...}
    → {"type": "sync", "t0": 12.345}          ← {"type": "sync", "t0": 12.345, "t1": ..., "t2": ...}
    ← {"type": "event", "topic": "beat", ...}  (the topics subscribed to)
    → {"type": "command", "id": 1, "command": "play"}   ← {"type": "result", "id": 1, ...}
"""

from __future__ import annotations

import enum
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stage.core import limits as lim
from stage.core.session import PERMISSIONS, Action, Role
from stage.errors import ErrorCode, ProtocolError

VERSION = 1
MAX_FRAME = lim.MAX_FRAME  # bytes: the largest frame a client may send (a note of a few thousand words)
SCHEMA_BASE = "https://stage.invalid/ws/"


class Topic(enum.StrEnum):
    """What a client can subscribe to; ``event`` messages carry one."""

    TRANSPORT = "transport"  # transport anchor and state (state: latest wins)
    BEAT = "beat"  # every click as it is scheduled: cue, bar, beat, kind, server time
    CUE = "cue"  # a cue entered or left (state)
    SESSION = "session"  # armed cue and mode (state)
    SCHEDULE = "schedule"  # streamers, punches and flutters ahead, with server times
    TAKE = "take"  # take started, ended, updated (state: the latest take)
    SYNC = "sync"  # MTC chase status (state)
    CLIENTS = "clients"  # clients joining and leaving (state: who is connected)
    PICTURE = "picture"  # a cut being imported: its step and how far along, then its revision or why not (state)


ALL_TOPICS = frozenset(Topic)


class Kind(enum.Enum):
    """JSON types a field can have."""

    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"
    ID = "id"  # a request id: string or integer, echoed back


@dataclass(frozen=True)
class Field:
    """One field of a message: its name, type and limits, and what it means."""

    name: str
    kind: Kind
    doc: str
    required: bool = True
    nullable: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    items: Kind | None = None  # element type of an ARRAY
    item_choices: tuple[str, ...] = ()
    max_items: int | None = None  # most elements of an ARRAY
    min_magnitude: float | None = None  # a NUMBER nearer zero than this (zero too) is refused

    def schema(self) -> dict[str, Any]:
        """This field as a JSON Schema."""
        out: dict[str, Any]
        if self.kind is Kind.ID:
            out = {"type": ["string", "integer"]}
        else:
            out = {"type": self.kind.value}
        if self.choices:
            out["enum"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        if self.max_items is not None:
            out["maxItems"] = self.max_items
        if self.min_magnitude is not None:
            out["not"] = {"exclusiveMinimum": -self.min_magnitude, "exclusiveMaximum": self.min_magnitude}
        if self.items is not None:
            item: dict[str, Any] = {"type": self.items.value}
            if self.item_choices:
                item["enum"] = list(self.item_choices)
            out["items"] = item
        if self.nullable:
            out["type"] = [*([out["type"]] if isinstance(out["type"], str) else out["type"]), "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        out["description"] = self.doc
        return out

    def check(self, value: Any, where: str) -> Any:
        """``value`` if it fits this field, else :class:`ProtocolError` naming ``where``."""
        if value is None and self.nullable:
            return None
        if self.kind is Kind.INTEGER and isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type: 3.0 is the integer 3
        if not _is(value, self.kind):
            raise ProtocolError(ErrorCode.INVALID, f"{where}: must be {_KIND_TEXT[self.kind]}, not {_show(value)}")
        if self.choices and value not in self.choices:
            raise ProtocolError(
                ErrorCode.INVALID, f"{where}: must be one of {', '.join(self.choices)}, not {_show(value)}"
            )
        number = isinstance(value, int | float)  # an ID's limits: the numeric ones for integers, length for text
        if number and self.minimum is not None and value < self.minimum:
            raise ProtocolError(ErrorCode.INVALID, f"{where}: must be at least {self.minimum:g}, not {_show(value)}")
        if number and self.maximum is not None and value > self.maximum:
            raise ProtocolError(ErrorCode.INVALID, f"{where}: must be at most {self.maximum:g}, not {_show(value)}")
        if number and self.min_magnitude is not None and abs(value) < self.min_magnitude:
            least = f"must be at least {self.min_magnitude:g} either way of 0"
            raise ProtocolError(ErrorCode.INVALID, f"{where}: {least}, not {_show(value)}")
        if not number and self.max_length is not None and len(value) > self.max_length:
            raise ProtocolError(ErrorCode.INVALID, f"{where}: longer than {self.max_length} characters")
        if self.max_items is not None and len(value) > self.max_items:
            raise ProtocolError(ErrorCode.INVALID, f"{where}: more than {self.max_items} items")
        if self.items is not None:
            for i, item in enumerate(value):
                if not _is(item, self.items):
                    raise ProtocolError(ErrorCode.INVALID, f"{where}[{i}]: must be {_KIND_TEXT[self.items]}")
                if self.item_choices and item not in self.item_choices:
                    raise ProtocolError(
                        ErrorCode.INVALID,
                        f"{where}[{i}]: must be one of {', '.join(self.item_choices)}, not {_show(item)}",
                    )
        return value


_KIND_TEXT = {
    Kind.STRING: "a string",
    Kind.NUMBER: "a number",
    Kind.INTEGER: "an integer",
    Kind.BOOLEAN: "true or false",
    Kind.OBJECT: "an object",
    Kind.ARRAY: "an array",
    Kind.ID: "a string or an integer",
}


_PY_TYPES: dict[Kind, type | tuple[type, ...]] = {
    Kind.STRING: str,
    Kind.NUMBER: (int, float),
    Kind.INTEGER: int,
    Kind.BOOLEAN: bool,
    Kind.OBJECT: dict,
    Kind.ARRAY: list,
    Kind.ID: (str, int),
}


def _is(value: Any, kind: Kind) -> bool:
    # bool is an int in Python but not a number in JSON.
    if isinstance(value, bool):
        return kind is Kind.BOOLEAN
    if kind is Kind.NUMBER and isinstance(value, float):
        return math.isfinite(value)
    if kind is Kind.NUMBER and isinstance(value, int):
        return -sys.float_info.max <= value <= sys.float_info.max  # JSON digits past a double: no number here
    return isinstance(value, _PY_TYPES[kind])


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Direction(enum.Enum):
    """Who sends a message."""

    CLIENT = "client"  # client to server
    SERVER = "server"  # server to client


@dataclass(frozen=True)
class Spec:
    """One message type: who sends it, what it is for, its fields."""

    type: str
    direction: Direction
    doc: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class CommandSpec:
    """One control command: what it does, the action a role needs, its arguments.

    ``one_of`` lists groups of argument names of which exactly one must be given.
    """

    name: str
    doc: str
    action: Action
    args: tuple[Field, ...] = ()
    one_of: tuple[str, ...] = ()


_TOPICS = tuple(t.value for t in Topic)
DRAWN_KINDS = ("streamer", "punch", "flutter")
_ROLES = tuple(r.value for r in Role)

_LATEST_OR = Field("take", Kind.INTEGER, "Take id (one past 2^31-1 cannot exist: not_found).", required=False,
                   minimum=1)  # take_status and note: the latest take unless one is named
_COUNTIN = Field("countin", Kind.INTEGER, "Bars of count-in (default: the cue's count-off).", required=False,
                 minimum=0, maximum=lim.MAX_COUNTIN)

COMMANDS: Mapping[str, CommandSpec] = {
    c.name: c
    for c in (
        CommandSpec("arm", "Arm a cue; null disarms (every cue clicks).", Action.ARM,
                    (Field("cue", Kind.STRING, "Cue id, e.g. 1M1.", nullable=True, max_length=lim.MAX_CUE_ID),)),
        CommandSpec("mode", "Rehearse (nothing logged) or record (each roll is a take).", Action.ARM,
                    (Field("mode", Kind.STRING, "The mode.", choices=("rehearse", "record")),)),
        CommandSpec("play", "Roll: in record mode a new take starts.", Action.PLAY,
                    (Field("pickup_bar", Kind.INTEGER, "A pickup from this bar: counted in, from its pre-roll.",
                           required=False, minimum=1, maximum=lim.MAX_BAR),
                     Field("wild", Kind.BOOLEAN, "A wild take (off picture).", required=False),
                     Field("pickup_beat", Kind.INTEGER, "The pickup's beat in its bar (default 1).", required=False,
                           minimum=lim.MIN_BEAT, maximum=lim.MAX_BEAT),
                     _COUNTIN,
                     Field("locate", Kind.BOOLEAN, "With pickup_bar: locate to the pre-roll before the count-in "
                           "(default true); false rolls from where picture is.", required=False))),
        CommandSpec("stop", "Stop: a take being recorded ends.", Action.PLAY),
        CommandSpec("locate", "Jump to a timecode, or to a bar (and beat) of a cue (the armed one by default).",
                    Action.PLAY,
                    (Field("timecode", Kind.STRING, "Picture timecode, e.g. 01:00:10:00.", required=False,
                           max_length=lim.MAX_TIMECODE),
                     Field("bar", Kind.INTEGER, "Bar number.", required=False, minimum=lim.MIN_BAR,
                           maximum=lim.MAX_BAR),
                     Field("beat", Kind.NUMBER, "Beat in the bar.", required=False, minimum=lim.MIN_BEAT,
                           maximum=lim.MAX_BEAT),
                     Field("cue", Kind.STRING, "Cue id.", required=False, max_length=lim.MAX_CUE_ID)),
                    one_of=("timecode", "bar")),
        CommandSpec("varispeed", "Speed of the internal clock (1.0 normal).", Action.PLAY,
                    (Field("speed", Kind.NUMBER, "Speed: 1/64 to 4 either way (negative: reverse).",
                           minimum=-lim.MAX_SPEED, maximum=lim.MAX_SPEED, min_magnitude=lim.MIN_SPEED),)),
        CommandSpec("take_status", "Set a take's status (the latest take unless take is given).", Action.SET_STATUS,
                    (Field("status", Kind.STRING, "false_start, breakdown, incomplete, complete, hold, print "
                           "(or circled, fs, …).", max_length=lim.MAX_STATUS),
                     _LATEST_OR)),
        CommandSpec("note", "Add a note to a take (the latest take unless take is given).", Action.WRITE_NOTES,
                    (Field("text", Kind.STRING, "The note.", max_length=lim.MAX_NOTE),
                     _LATEST_OR)),
        CommandSpec("from_top", "From the top: locate to the pre-roll before the armed cue's count-off and roll "
                    "(record mode: a new take).", Action.PLAY),
        CommandSpec("pickup", "Cue up a pickup of the armed cue: a count-in into bar (and beat), picture at its "
                    "pre-roll (internal clock); bar null: back to the top. Rolling is a separate play.",
                    Action.ARM,
                    (Field("bar", Kind.INTEGER, "Bar to pick up from; null: from the top.", nullable=True,
                           minimum=1, maximum=lim.MAX_BAR),
                     Field("beat", Kind.INTEGER, "Beat in the bar (default 1).", required=False,
                           minimum=lim.MIN_BEAT, maximum=lim.MAX_BEAT),
                     _COUNTIN)),
        CommandSpec("take_edit", "Edit a take in place: any of status, note, pickup_bar, wild; with "
                    "expected_version the edit is refused (conflict) if anyone changed the take since.",
                    Action.SET_STATUS,
                    (Field("take", Kind.INTEGER, "Take id (one past 2^31-1 cannot exist: not_found).", minimum=1),
                     Field("expected_version", Kind.INTEGER, "The version the edit was made on.", required=False,
                           minimum=0, maximum=lim.MAX_VERSION),
                     Field("status", Kind.STRING, "New status (null clears it).", required=False, nullable=True,
                           max_length=lim.MAX_STATUS),
                     Field("note", Kind.STRING, "A note to add.", required=False, max_length=lim.MAX_NOTE),
                     Field("pickup_bar", Kind.INTEGER, "Pickup bar (null: not a pickup).", required=False,
                           nullable=True, minimum=1, maximum=lim.MAX_BAR),
                     Field("wild", Kind.BOOLEAN, "A wild take.", required=False))),
        CommandSpec("pair", "A short-lived code another device exchanges for a role's token (POST /api/pair).",
                    Action.PAIR,
                    (Field("role", Kind.STRING, "The role to hand over.", choices=("conductor", "engineer",
                                                                                    "editor")),)),
        CommandSpec("load_sheet", "Replace the cue sheet between takes with this one (TOML): checked first, every "
                    "problem named and the running sheet kept; refused while picture rolls.", Action.EDIT_CUES,
                    (Field("text", Kind.STRING, "The cue sheet as TOML (docs/cuesheet.md).",
                           max_length=lim.MAX_SHEET),)),
    )
}

TAKE_EDIT_FIELDS = ("status", "note", "pickup_bar", "wild")
# Commands that OSC does not carry: an edit keyed on a take's version (REST PATCH and /ws have it), the
# pairing code (a secret anyone listening to OSC could spend; /ws only) and a whole cue sheet (not a control
# surface's button; REST PUT /api/cues, /ws and MQTT carry it).
NOT_ON_OSC = frozenset({"take_edit", "pair", "load_sheet"})

_ID = Field("id", Kind.ID, "Request id, echoed in the result or error.", required=False,
            minimum=-lim.MAX_REQUEST_INT, maximum=lim.MAX_REQUEST_INT, max_length=lim.MAX_REQUEST_ID)

MESSAGES: tuple[Spec, ...] = (
        # -- client → server
        Spec("hello", Direction.CLIENT, "First message: who the client is. Musicians need no token.", (
            Field("role", Kind.STRING, "The client's role.", choices=_ROLES),
            Field("token", Kind.STRING, "The role's token from [auth] (not needed for musician).", required=False,
                  max_length=lim.MAX_TOKEN),
            Field("topics", Kind.ARRAY, "Topics to receive (default: all).", required=False, items=Kind.STRING,
                  item_choices=_TOPICS, max_items=lim.MAX_TOPICS),
            Field("name", Kind.STRING, "A name for the client list, e.g. 'violins 1 desk 2'.", required=False,
                  max_length=lim.MAX_NAME),
        )),
        Spec("sync", Direction.CLIENT, "Clock sync request; t0 is the client's clock when sent.", (
            Field("t0", Kind.NUMBER, "Client time when sent (any unit-second clock)."),
        )),
        Spec("subscribe", Direction.CLIENT, "Add topics.", (
            Field("topics", Kind.ARRAY, "Topics to add.", items=Kind.STRING, item_choices=_TOPICS,
                  max_items=lim.MAX_TOPICS),
        )),
        Spec("unsubscribe", Direction.CLIENT, "Remove topics.", (
            Field("topics", Kind.ARRAY, "Topics to remove.", items=Kind.STRING, item_choices=_TOPICS,
                  max_items=lim.MAX_TOPICS),
        )),
        Spec("snapshot", Direction.CLIENT, "Ask for a fresh snapshot (after a gap in seq).", ()),
        Spec("command", Direction.CLIENT, "A control command, for roles allowed it.", (
            _ID,
            Field("command", Kind.STRING, "The command.", choices=tuple(COMMANDS)),
            Field("args", Kind.OBJECT, "The command's arguments.", required=False),
        )),
        # -- server → client
        Spec("welcome", Direction.SERVER, "Reply to hello.", (
            Field("protocol", Kind.INTEGER, "Protocol version."),
            Field("client", Kind.INTEGER, "This connection's id."),
            Field("role", Kind.STRING, "The role granted.", choices=_ROLES),
            Field("topics", Kind.ARRAY, "Topics subscribed.", items=Kind.STRING, item_choices=_TOPICS),
            Field("commands", Kind.ARRAY, "Commands this role may send.", items=Kind.STRING),
            Field("server_time", Kind.NUMBER, "Server clock (seconds, monotonic)."),
            Field("max_frame", Kind.INTEGER, "Largest frame accepted, in bytes."),
        )),
        Spec("snapshot", Direction.SERVER, "Everything a client needs to draw now.", (
            Field("server_time", Kind.NUMBER, "Server clock when taken."),
            Field("seq", Kind.INTEGER, "Sequence number of the last event included."),
            Field("state", Kind.OBJECT, "Latest data of each state topic: transport, sync, cue, session, take, "
                  "clients, picture."),
            Field("schedule", Kind.ARRAY, "Streamers, punches and flutters announced and not yet ended.",
                  items=Kind.OBJECT),
        )),
        Spec("event", Direction.SERVER, "Something happened on a topic.", (
            Field("topic", Kind.STRING, "The topic.", choices=_TOPICS),
            Field("seq", Kind.INTEGER, "Sequence number; a gap means events were dropped for a slow client."),
            Field("data", Kind.OBJECT, "The event (see docs/ws.md, per topic)."),
        )),
        Spec("sync", Direction.SERVER, "Clock sync reply: t1 when the request arrived, t2 when this was sent.", (
            Field("t0", Kind.NUMBER, "The client's t0, echoed."),
            Field("t1", Kind.NUMBER, "Server clock when the request was received."),
            Field("t2", Kind.NUMBER, "Server clock when the reply was sent."),
        )),
        Spec("result", Direction.SERVER, "A command succeeded.", (
            _ID,
            Field("command", Kind.STRING, "The command.", choices=tuple(COMMANDS)),
            Field("data", Kind.OBJECT, "What it returned."),
        )),
        Spec("error", Direction.SERVER, "A message was refused; the connection goes on (unless code is too_slow).", (
            _ID,
            Field("code", Kind.STRING, "Why.", choices=tuple(c.value for c in ErrorCode)),
            Field("message", Kind.STRING, "What was wrong, for a person."),
        )),
        # -- client → server, added later (kept at the end: the table's order is the documentation's)
        Spec("drawn", Direction.CLIENT, "A screen's report: the frame that first showed a streamer's end or a "
             "punch, on the server clock by the screen's own estimate.", (
            Field("key", Kind.STRING, "The schedule event's key, e.g. 1M1#12.", max_length=64),
            Field("kind", Kind.STRING, "What ended or appeared.", choices=DRAWN_KINDS),
            Field("due", Kind.NUMBER, "Server time it was due on screen (from the schedule and the anchor)."),
            Field("shown", Kind.NUMBER, "Server time of the frame that showed it, by the screen's clock."),
            Field("delay", Kind.NUMBER, "The best round trip of the screen's clock sync (seconds).", minimum=0,
                  maximum=60),
            Field("frame", Kind.NUMBER, "The screen's frame period (seconds).", minimum=0, maximum=1),
        )),
)

# Two types have a message each way (sync, snapshot): messages are looked up by direction.
_BY_DIRECTION: dict[Direction, dict[str, Spec]] = {
    d: {s.type: s for s in MESSAGES if s.direction is d} for d in Direction
}
_CLIENT_TYPES = tuple(_BY_DIRECTION[Direction.CLIENT])


def _spec(direction: Direction, kind: str) -> Spec | None:
    return _BY_DIRECTION[direction].get(kind)


# -- client messages, parsed -------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """Who the client is."""

    role: Role
    token: str | None
    topics: frozenset[Topic]
    name: str


@dataclass(frozen=True)
class SyncRequest:
    """A clock sync request."""

    t0: float


@dataclass(frozen=True)
class Subscribe:
    """Add (``add``) or remove topics."""

    topics: frozenset[Topic]
    add: bool


@dataclass(frozen=True)
class SnapshotRequest:
    """Send a fresh snapshot."""


@dataclass(frozen=True)
class Command:
    """A validated control command."""

    id: str | int | None
    name: str
    args: Mapping[str, Any]

    @property
    def action(self) -> Action:
        """What a role must be allowed to do to send it."""
        return COMMANDS[self.name].action


@dataclass(frozen=True)
class Drawn:
    """A screen's report of the frame that first showed ``key``'s end; times on the server clock."""

    key: str
    kind: str
    due: float
    shown: float
    delay: float
    frame: float

    @property
    def late(self) -> float:
        """Seconds the screen showed it after it was due (negative: early)."""
        return self.shown - self.due


ClientMessage = Hello | SyncRequest | Subscribe | SnapshotRequest | Command | Drawn


def frame_size(text: str) -> int:
    """Size of a text frame in bytes (UTF-8)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(frame: str | bytes, max_frame: int = MAX_FRAME) -> ClientMessage:
    """The client message in a frame, or :class:`ProtocolError` with a code and a reason."""
    if isinstance(frame, bytes):
        raise ProtocolError(ErrorCode.BINARY, "binary frames are not part of the protocol: send JSON text")
    size = frame_size(frame)
    if size > max_frame:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"frame of {size} bytes is over the limit of {max_frame}")
    try:
        raw = json.loads(frame, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"not JSON: {exc}") from None
    return parse_value(raw)


def parse_value(raw: Any) -> ClientMessage:
    """The client message in decoded JSON ``raw``, or :class:`ProtocolError`."""
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.INVALID, f"a message is a JSON object, not {_show(raw)}")
    kind = raw.get("type")
    msg_id = request_id(raw.get("id"))
    spec = _spec(Direction.CLIENT, kind) if isinstance(kind, str) else None
    if spec is None:
        raise ProtocolError(
            ErrorCode.INVALID, f"type must be one of {', '.join(_CLIENT_TYPES)}, not {_show(kind)}", msg_id
        )
    try:
        values = _fields(spec.fields, raw, spec.type, skip=("type",))
        return _build(spec.type, values)
    except ProtocolError as exc:
        raise ProtocolError(exc.code, str(exc), msg_id) from None


def request_id(value: Any) -> str | int | None:
    """``value`` if it is a request id that may be echoed back (within its limits), else None."""
    try:
        checked: str | int = _ID.check(value, "id")
    except ProtocolError:
        return None
    return checked


def _fields(fields: Sequence[Field], raw: Mapping[str, Any], where: str, skip: Sequence[str] = ()) -> dict[str, Any]:
    known = {f.name: f for f in fields}
    extra = sorted(k for k in raw if k not in known and k not in skip)
    if extra:
        raise ProtocolError(ErrorCode.INVALID, f"{where}: unknown field {', '.join(extra)}")
    out: dict[str, Any] = {}
    for f in fields:
        if f.name not in raw:
            if f.required:
                raise ProtocolError(ErrorCode.INVALID, f"{where}: {f.name} is missing")
            continue
        out[f.name] = f.check(raw[f.name], f"{where}: {f.name}")
    return out


def _build(kind: str, v: dict[str, Any]) -> ClientMessage:
    match kind:
        case "hello":
            topics = frozenset(Topic(t) for t in v["topics"]) if "topics" in v else ALL_TOPICS
            return Hello(Role(v["role"]), v.get("token"), topics, v.get("name", ""))
        case "sync":
            return SyncRequest(float(v["t0"]))
        case "subscribe" | "unsubscribe":
            return Subscribe(frozenset(Topic(t) for t in v["topics"]), add=kind == "subscribe")
        case "snapshot":
            return SnapshotRequest()
        case "command":
            spec = COMMANDS[v["command"]]
            args = _fields(spec.args, v.get("args", {}), f"command {spec.name}: args")
            if spec.one_of and sum(name in args for name in spec.one_of) != 1:
                raise ProtocolError(
                    ErrorCode.INVALID, f"command {spec.name}: args: give exactly one of {', '.join(spec.one_of)}"
                )
            return Command(v.get("id"), spec.name, args)
        case "drawn":
            return Drawn(v["key"], v["kind"], float(v["due"]), float(v["shown"]), float(v["delay"]),
                         float(v["frame"]))
    raise AssertionError(kind)  # pragma: no cover


# -- server messages ---------------------------------------------------------------


def encode(message: Mapping[str, Any]) -> str:
    """A message as compact JSON text (no NaN or infinity: they are not JSON)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def welcome(client: int, role: Role, topics: frozenset[Topic], server_time: float,
            max_frame: int = MAX_FRAME) -> dict[str, Any]:
    """The reply to hello."""
    return {
        "type": "welcome",
        "protocol": VERSION,
        "client": client,
        "role": role.value,
        "topics": sorted(t.value for t in topics),
        "commands": [name for name, c in COMMANDS.items() if c.action in PERMISSIONS[role]],
        "server_time": server_time,
        "max_frame": max_frame,
    }


def snapshot(server_time: float, seq: int, state: Mapping[str, Any], schedule: Sequence[Mapping[str, Any]]) -> dict[
    str, Any]:
    """Everything a client needs to draw now."""
    return {"type": "snapshot", "server_time": server_time, "seq": seq, "state": dict(state),
            "schedule": list(schedule)}


def event(topic: Topic, seq: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """An event on ``topic``."""
    return {"type": "event", "topic": topic.value, "seq": seq, "data": dict(data)}


def sync_reply(t0: float, t1: float, t2: float) -> dict[str, Any]:
    """The answer to a sync request: the client's t0, receive time t1 and send time t2 on the server clock."""
    return {"type": "sync", "t0": t0, "t1": t1, "t2": t2}


def result(msg_id: str | int | None, command: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A command's success."""
    out: dict[str, Any] = {"type": "result", "command": command, "data": dict(data)}
    if msg_id is not None:
        out["id"] = msg_id
    return out


def error(code: ErrorCode, message: str, msg_id: str | int | None = None) -> dict[str, Any]:
    """A refusal."""
    out: dict[str, Any] = {"type": "error", "code": code.value, "message": message}
    if msg_id is not None:
        out["id"] = msg_id
    return out


def validate_server(message: Mapping[str, Any]) -> None:
    """Check a server message against its spec (tests and debugging); :class:`ProtocolError` if it does not fit."""
    kind = message.get("type")
    spec = _spec(Direction.SERVER, kind) if isinstance(kind, str) else None
    if spec is None:
        raise ProtocolError(ErrorCode.INVALID, f"not a server message type: {_show(kind)}")
    _fields(spec.fields, message, spec.type, skip=("type",))


# -- JSON Schemas ------------------------------------------------------------------


def _object(fields: Sequence[Field], head: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **head,
        "type": "object",
        "properties": {**head.get("properties", {}), **{f.name: f.schema() for f in fields}},
        "required": [*head.get("required", []), *(f.name for f in fields if f.required)],
        "additionalProperties": False,
    }


def schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema (draft 2020-12) per message, keyed by file name: ``client.hello``, ``server.event``…"""
    out: dict[str, dict[str, Any]] = {}
    for direction in Direction:
        for kind, spec in _BY_DIRECTION[direction].items():
            name = f"{direction.value}.{kind}"
            head: dict[str, Any] = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"{SCHEMA_BASE}{name}.json",
                "title": f"{kind} ({direction.value} to {'server' if direction is Direction.CLIENT else 'client'})",
                "description": spec.doc,
                "properties": {"type": {"const": kind}},
                "required": ["type"],
            }
            schema = _object(spec.fields, head)
            if direction is Direction.CLIENT and kind == "command":
                schema["oneOf"] = [_command_schema(c) for c in COMMANDS.values()]
            out[name] = schema
    return out


def args_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of command ``name``'s arguments (REST's request body for it, too)."""
    c = COMMANDS[name]
    args = _object(c.args, {"description": c.doc})
    if c.one_of:
        args["oneOf"] = [{"required": [one]} for one in c.one_of]
    return args


def _command_schema(c: CommandSpec) -> dict[str, Any]:
    required = ["args"] if any(f.required for f in c.args) or c.one_of else []
    return {"properties": {"command": {"const": c.name}, "args": args_schema(c.name)},
            "required": ["command", *required]}

