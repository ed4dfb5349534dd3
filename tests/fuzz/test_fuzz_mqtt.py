"""Junk and out-of-range values on the live service's MQTT command topics, through a real Mosquitto.

Each example is one publish on ``stage/<name>/cmd/<command>`` (a known
command or not): bytes that are not JSON, any JSON, or the command's own
arguments with any value (mostly numbers at and past the bounds) and a
token, right or wrong.  Every one is answered on ``event/result`` or
``event/error``; afterwards the service must still play, locate and stop and
answer on every transport, with no traceback in its log.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from peers.wait import SCALE

from fuzz.junk import JSON, NUMBERS, TEXT, commands
from fuzz.livestage import TOKENS, LiveStage, Tally, crashes_in, mqtt_client
from stage.core.protocol import COMMANDS

MESSAGES = 600
TOPIC_CHARS = "abcdefghijklmnopqrstuvwxyz_-.0123456789ÄéЖ"
TOKEN = st.one_of(st.sampled_from([*TOKENS.values()]), TEXT, NUMBERS, st.none())


def _payload(command: tuple[str, dict[str, Any]], token: Any, mid: Any) -> tuple[str, bytes]:
    name, args = command
    return name, json.dumps({**args, "token": token, "id": mid}).encode()


PUBLISH = st.one_of(
    # Topic levels a broker takes (it hangs up on a client that publishes to a malformed topic name).
    st.tuples(st.one_of(st.sampled_from(sorted(COMMANDS)), st.text(alphabet=TOPIC_CHARS, min_size=1, max_size=12)),
              st.one_of(st.binary(max_size=100), JSON.map(lambda v: json.dumps(v).encode()))),
    st.builds(_payload, commands(), TOKEN, st.one_of(NUMBERS, TEXT)),
)


def test_junk_and_out_of_range_values_on_the_mqtt_command_topics(live: LiveStage) -> None:
    tally = Tally("MQTT (real broker)")
    client = mqtt_client(live.mqtt_port)

    def answered(_c: Any, _u: Any, msg: Any) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        tally.answers[f"{kind}:{json.loads(msg.payload).get('code', '')}".rstrip(":")] += 1

    client.on_message = answered
    try:
        client.subscribe([(f"{live.mqtt_root}/event/result", 1), (f"{live.mqtt_root}/event/error", 1)])
        time.sleep(0.3 * SCALE)

        @settings(max_examples=MESSAGES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(publish=PUBLISH)
        def fuzz(publish: tuple[str, bytes]) -> None:
            name, payload = publish
            info = client.publish(f"{live.mqtt_root}/cmd/{name}", payload, qos=0)
            assert info.rc == 0, f"the fuzzer's own broker connection failed: {info.rc}"
            tally.sent += 1
            if tally.sent % 50 == 0:
                time.sleep(0.01)  # a breath for the broker's queue towards the service

        fuzz()
        deadline = time.monotonic() + 10 * SCALE
        while sum(tally.answers.values()) < tally.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    alive = live.alive()
    tally.report(alive)
    assert sum(tally.answers.values()) == tally.sent  # every command answered, however bad
    assert all(alive.values()), alive
    assert crashes_in(live.log_text()) == []
