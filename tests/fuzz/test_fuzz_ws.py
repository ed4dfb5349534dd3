"""Junk and out-of-range values on the live service's ``/ws``, over a real WebSocket, as a conductor.

Each example is one frame: text that is not JSON, any JSON, or a message of
every client type with fields of any value (mostly numbers at and past the
bounds).  The connection must survive every one of them (each is answered
or ignored, never a reason to hang up); afterwards the service must still
play, locate and stop and answer on every transport, with no traceback in
its log.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from peers.wait import SCALE
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fuzz.junk import JSON, NUMBERS, TEXT, command_args, commands
from fuzz.livestage import TOKENS, LiveStage, Tally, crashes_in
from stage.core.protocol import MESSAGES, Direction

FRAMES = 800
TYPES = sorted({s.type for s in MESSAGES if s.direction is Direction.CLIENT})
FIELDS = sorted({f.name for s in MESSAGES if s.direction is Direction.CLIENT for f in s.fields})

MESSAGE = st.one_of(
    st.builds(lambda kind, fields: {"type": kind, **fields}, st.sampled_from(TYPES),
              st.dictionaries(st.sampled_from(FIELDS), st.one_of(NUMBERS, TEXT, JSON), max_size=3)),
    st.builds(lambda mid, args: {"type": "command", "id": mid, "command": "arm", "args": args},
              st.one_of(NUMBERS, TEXT), command_args()),
    st.builds(lambda mid, command: {"type": "command", "id": mid, "command": command[0], "args": command[1]},
              st.one_of(NUMBERS, TEXT), commands()),
    st.builds(lambda t0: {"type": "sync", "t0": t0}, NUMBERS),
)


def _encode(value: Any) -> str:
    return json.dumps(value)  # Python's json writes big integers digit by digit, as a hostile client may


def _hello(live: LiveStage) -> ClientConnection:
    ws = connect(f"ws://127.0.0.1:{live.http_port}/ws", open_timeout=5 * SCALE, max_size=None)
    ws.send(_encode({"type": "hello", "role": "conductor", "token": TOKENS["conductor"], "topics": []}))
    for _ in range(2):
        ws.recv(timeout=5 * SCALE)
    return ws


def test_junk_and_out_of_range_values_on_ws(live: LiveStage) -> None:
    tally = Tally("/ws (real WebSocket)")
    ws = _hello(live)

    def drain() -> None:
        while True:
            try:
                raw = ws.recv(timeout=0)
            except TimeoutError:
                return
            msg = json.loads(raw)
            tally.answers[f"{msg['type']}:{msg.get('code', '')}".rstrip(":")] += 1

    try:

        @settings(max_examples=FRAMES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(frame=st.one_of(st.text(max_size=100), JSON.map(_encode), MESSAGE.map(_encode)))
        def fuzz(frame: str) -> None:
            ws.send(frame)
            tally.sent += 1
            if tally.sent % 10 == 0:
                drain()

        fuzz()
        ws.send(_encode({"type": "sync", "t0": 1.5}))  # the same connection still answers, in order
        while (last := json.loads(ws.recv(timeout=5 * SCALE)))["type"] != "sync" or last.get("t0") != 1.5:
            tally.answers[f"{last['type']}:{last.get('code', '')}".rstrip(":")] += 1
    except ConnectionClosed as exc:
        raise AssertionError(f"the server hung up on the fuzzer after {tally.sent} frames: {exc!r}") from exc
    finally:
        ws.close()
    alive = live.alive()
    tally.report(alive)
    assert all(alive.values()), alive
    assert crashes_in(live.log_text()) == []
