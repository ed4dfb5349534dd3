"""The WebSocket protocol: parsing client frames, building server messages, and the schemas in docs/ws/.

Set ``STAGE_WRITE_SCHEMAS=1`` to rewrite ``docs/ws/*.json`` from the code.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core import protocol as p
from stage.core.protocol import Topic
from stage.core.session import Action, Role
from stage.errors import ErrorCode, ProtocolError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ws"


def refused(frame: str | bytes) -> tuple[str, str, str | int | None]:
    with pytest.raises(ProtocolError) as info:
        p.parse(frame)
    return info.value.code.value, str(info.value), info.value.msg_id


def test_hello() -> None:
    assert p.parse('{"type":"hello","role":"musician"}') == p.Hello(Role.MUSICIAN, None, p.ALL_TOPICS, "")
    got = p.parse('{"type":"hello","role":"conductor","token":"t","topics":["beat","transport"],"name":"podium"}')
    assert got == p.Hello(Role.CONDUCTOR, "t", frozenset({Topic.BEAT, Topic.TRANSPORT}), "podium")


def test_sync_subscribe_snapshot() -> None:
    assert p.parse('{"type":"sync","t0":12.5}') == p.SyncRequest(12.5)
    assert p.parse('{"type":"sync","t0":12}') == p.SyncRequest(12.0)
    assert p.parse('{"type":"subscribe","topics":["take"]}') == p.Subscribe(frozenset({Topic.TAKE}), add=True)
    assert p.parse('{"type":"unsubscribe","topics":[]}') == p.Subscribe(frozenset(), add=False)
    assert p.parse('{"type":"snapshot"}') == p.SnapshotRequest()


def test_a_screens_draw_report() -> None:
    got = p.parse('{"type":"drawn","key":"1M1#12","kind":"punch","due":100.5,"shown":100.5015,"delay":0.0004,'
                  '"frame":0.0166}')
    assert got == p.Drawn("1M1#12", "punch", 100.5, 100.5015, 0.0004, 0.0166)
    assert isinstance(got, p.Drawn)
    assert got.late == pytest.approx(0.0015)
    assert refused('{"type":"drawn","key":"k","kind":"click","due":1,"shown":1,"delay":0,"frame":0.016}') == (
        "invalid", "drawn: kind: must be one of streamer, punch, flutter, not \"click\"", None)
    assert refused('{"type":"drawn","key":"k","kind":"punch","due":1,"shown":1,"delay":-1,"frame":0.016}')[1] == (
        "drawn: delay: must be at least 0, not -1")
    assert refused('{"type":"drawn","key":"k","kind":"punch","due":1,"shown":1,"delay":0}')[1] == (
        "drawn: frame is missing")


def test_commands() -> None:
    got = p.parse('{"type":"command","id":"a1","command":"locate","args":{"bar":33,"beat":2.5}}')
    assert got == p.Command("a1", "locate", {"bar": 33, "beat": 2.5})
    assert isinstance(got, p.Command)
    assert got.action is Action.PLAY
    assert p.parse('{"type":"command","command":"play"}') == p.Command(None, "play", {})
    disarm = p.parse('{"type":"command","id":7,"command":"arm","args":{"cue":null}}')
    assert disarm == p.Command(7, "arm", {"cue": None})
    # JSON has one number type: 33.0 is the bar 33.
    bar = p.parse('{"type":"command","command":"locate","args":{"bar":33.0}}')
    assert bar == p.Command(None, "locate", {"bar": 33})
    got = p.parse('{"type":"command","command":"take_status","args":{"status":"circled","take":4}}')
    assert got == p.Command(None, "take_status", {"status": "circled", "take": 4})
    assert isinstance(got, p.Command)
    assert got.action is Action.SET_STATUS


@pytest.mark.parametrize(
    ("frame", "code", "message", "msg_id"),
    [
        (b'{"type":"snapshot"}', "binary", "binary frames are not part of the protocol: send JSON text", None),
        ("{", "invalid_json", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
         None),
        ('{"type":"sync","t0":NaN}', "invalid_json", "not JSON: NaN is not JSON", None),
        ("[1,2]", "invalid", "a message is a JSON object, not [1, 2]", None),
        ('{"type":"welcome"}', "invalid",
         'type must be one of hello, sync, subscribe, unsubscribe, snapshot, command, drawn, not "welcome"', None),
        ('{"role":"musician"}', "invalid",
         "type must be one of hello, sync, subscribe, unsubscribe, snapshot, command, drawn, not null", None),
        ('{"type":"hello"}', "invalid", "hello: role is missing", None),
        ('{"type":"hello","role":"producer"}', "invalid",
         'hello: role: must be one of conductor, engineer, editor, musician, not "producer"', None),
        ('{"type":"hello","role":"musician","x":1}', "invalid", "hello: unknown field x", None),
        ('{"type":"hello","role":"musician","topics":["beat","news"]}', "invalid",
         ("hello: topics[1]: must be one of transport, beat, cue, session, schedule, take, sync, clients, picture, "
         'not "news"'), None),
        ('{"type":"sync","t0":"now"}', "invalid", 'sync: t0: must be a number, not "now"', None),
        ('{"type":"sync","t0":true}', "invalid", "sync: t0: must be a number, not true", None),
        ('{"type":"command","id":5,"command":"format_disk"}', "invalid",
         ('command: command: must be one of arm, mode, play, stop, locate, varispeed, take_status, note, '
          'from_top, pickup, take_edit, pair, load_sheet, not "format_disk"'), 5),
        ('{"type":"command","id":"q","command":"locate","args":{}}', "invalid",
         "command locate: args: give exactly one of timecode, bar", "q"),
        ('{"type":"command","id":1,"command":"locate","args":{"bar":3,"timecode":"01:00:00:00"}}', "invalid",
         "command locate: args: give exactly one of timecode, bar", 1),
        ('{"type":"command","command":"locate","args":{"bar":2.5}}', "invalid",
         "command locate: args: bar: must be an integer, not 2.5", None),
        ('{"type":"command","command":"varispeed","args":{"speed":9}}', "invalid",
         "command varispeed: args: speed: must be at most 4, not 9", None),
        ('{"type":"command","command":"play","args":{"pickup_bar":0}}', "invalid",
         "command play: args: pickup_bar: must be at least 1, not 0", None),
        # The bounds of stage.core.limits (docs/limits.md).
        ('{"type":"command","id":3,"command":"varispeed","args":{"speed":5e-324}}', "invalid",
         "command varispeed: args: speed: must be at least 0.015625 either way of 0, not 5e-324", 3),
        ('{"type":"command","command":"varispeed","args":{"speed":-0.01}}', "invalid",
         "command varispeed: args: speed: must be at least 0.015625 either way of 0, not -0.01", None),
        ('{"type":"command","command":"locate","args":{"bar":9223372036854775808}}', "invalid",
         "command locate: args: bar: must be at most 100000, not 9223372036854775808", None),
        ('{"type":"command","command":"play","args":{"pickup_bar":100001}}', "invalid",
         "command play: args: pickup_bar: must be at most 100000, not 100001", None),
        ('{"type":"command","command":"arm","args":{"cue":"' + "c" * 33 + '"}}', "invalid",
         "command arm: args: cue: longer than 32 characters", None),
        ('{"type":"hello","role":"musician","topics":[' + ",".join(['"beat"'] * 17) + "]}", "invalid",
         "hello: topics: more than 16 items", None),
        ('{"type":"sync","t0":1' + "0" * 400 + "}", "invalid", "sync: t0: must be a number, not 1" + "0" * 36 + "...",
         None),
        ('{"type":"command","id":9007199254740993,"command":"stop"}', "invalid",
         "command: id: must be at most 9.0072e+15, not 9007199254740993", None),
        ('{"type":"command","command":"stop","args":{"now":1}}', "invalid", "command stop: args: unknown field now",
         None),
        ('{"type":"command","command":"mode","args":{"mode":"jam"}}', "invalid",
         'command mode: args: mode: must be one of rehearse, record, not "jam"', None),
        ('{"type":"command","command":"note","args":"hello"}', "invalid",
         'command: args: must be an object, not "hello"', None),
    ],
)
def test_refusals_name_the_field(frame: str | bytes, code: str, message: str, msg_id: str | int | None) -> None:
    assert refused(frame) == (code, message, msg_id)


def test_frame_size_limit_in_bytes() -> None:
    pad = "x" * (p.MAX_FRAME - len('{"type":"hello","role":"musician","name":""}'))
    ok = '{"type":"hello","role":"musician","name":"' + pad + '"}'
    assert len(ok) == p.MAX_FRAME
    # Valid size, but the name is too long: the size check passed.
    assert refused(ok)[0] == "invalid"
    too_large = f"frame of {p.MAX_FRAME + 1} bytes is over the limit of {p.MAX_FRAME}"
    assert refused(ok + " ")[:2] == ("too_large", too_large)
    # Size counts UTF-8 bytes, not characters.
    assert p.frame_size("é" * 10) == 20
    assert refused('"' + "é" * (p.MAX_FRAME // 2) + '"')[0] == "too_large"


def test_server_messages() -> None:
    w = p.welcome(3, Role.EDITOR, frozenset({Topic.BEAT, Topic.TAKE}), 100.25)
    assert w == {
        "type": "welcome", "protocol": 1, "client": 3, "role": "editor", "topics": ["beat", "take"],
        "commands": ["arm", "mode", "play", "stop", "locate", "varispeed", "take_status", "note", "from_top",
                     "pickup", "take_edit", "load_sheet"],
        "server_time": 100.25, "max_frame": p.MAX_FRAME,
    }
    assert p.welcome(1, Role.MUSICIAN, p.ALL_TOPICS, 0.0)["commands"] == []
    assert p.encode(p.sync_reply(1.5, 2.25, 2.5)) == '{"type":"sync","t0":1.5,"t1":2.25,"t2":2.5}'
    assert p.encode(p.event(Topic.BEAT, 9, {"bar": 3})) == '{"type":"event","topic":"beat","seq":9,"data":{"bar":3}}'
    assert p.encode(p.error(ErrorCode.FORBIDDEN, "a musician may not arm", 4)) == (
        '{"type":"error","code":"forbidden","message":"a musician may not arm","id":4}'
    )
    assert p.encode(p.result(None, "play", {})) == '{"type":"result","command":"play","data":{}}'
    assert p.encode({"t": "ünï"}) == '{"t":"ünï"}'
    with pytest.raises(ValueError, match="Out of range float"):
        p.encode({"x": float("nan")})
    for m in (w, p.sync_reply(1, 2, 3), p.event(Topic.TAKE, 1, {}), p.result(1, "stop", {}),
              p.error(ErrorCode.TOO_SLOW, "bye"), p.snapshot(1.0, 5, {"transport": {}}, [{"key": "a"}])):
        p.validate_server(m)
    with pytest.raises(ProtocolError, match="sync: t2 is missing"):
        p.validate_server({"type": "sync", "t0": 1, "t1": 2})


def test_docs_hold_the_schemas_generated_from_the_code() -> None:
    generated = {f"{name}.json": json.dumps(s, indent=2) + "\n" for name, s in p.schemas().items()}
    if os.environ.get("STAGE_WRITE_SCHEMAS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        for old in DOCS.glob("*.json"):
            old.unlink()
        for name, text in generated.items():
            (DOCS / name).write_text(text, encoding="utf-8")
    on_disk = {f.name: f.read_text(encoding="utf-8") for f in DOCS.glob("*.json")}
    assert on_disk == generated, "docs/ws/ is out of date: run STAGE_WRITE_SCHEMAS=1 pytest tests/core/test_protocol.py"
    assert sorted(generated) == [
        "client.command.json", "client.drawn.json", "client.hello.json", "client.snapshot.json",
        "client.subscribe.json", "client.sync.json", "client.unsubscribe.json", "server.error.json",
        "server.event.json", "server.result.json", "server.snapshot.json", "server.sync.json", "server.welcome.json",
    ]


def test_schema_of_one_message() -> None:
    s = p.schemas()["client.sync"]
    assert s == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://stage.invalid/ws/client.sync.json",
        "title": "sync (client to server)",
        "description": "Clock sync request; t0 is the client's clock when sent.",
        "properties": {
            "type": {"const": "sync"},
            "t0": {"type": "number", "description": "Client time when sent (any unit-second clock)."},
        },
        "required": ["type", "t0"],
        "type": "object",
        "additionalProperties": False,
    }
    arm = p.schemas()["client.command"]["oneOf"][0]
    assert arm["properties"]["args"]["properties"]["cue"]["type"] == ["string", "null"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(raw=JSON, kind=st.sampled_from(["hello", "sync", "subscribe", "command", "snapshot", "x"]))
def test_any_json_is_a_message_or_a_protocol_error(raw: Any, kind: str) -> None:
    for value in (raw, {"type": kind, "role": raw, "t0": raw, "topics": raw, "command": raw, "args": raw}):
        code = None
        try:
            p.parse(json.dumps(value))
        except ProtocolError as exc:
            code = exc.code
        assert code in {None, ErrorCode.INVALID, ErrorCode.INVALID_JSON, ErrorCode.TOO_LARGE}


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64))
def test_any_bytes_as_text_are_a_message_or_a_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        p.parse(data.decode("utf-8", "replace"))
