"""Junk and out-of-range values on the live service's OSC port, over real UDP, from an authorised host.

Each example is one datagram: random bytes, or a well-formed message to one
of our addresses (or another) with arguments of every OSC type, mostly at
and past the bounds (ports past 65535, bars past 2^31, speeds of 5e-324,
infinities and NaNs).  Afterwards the service must still play, locate and
stop and answer on every transport, with no traceback in its log.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from peers.wait import SCALE
from pythonosc.osc_message_builder import OscMessageBuilder

from fuzz.junk import EDGE_NUMBERS, TEXT
from fuzz.livestage import TOKENS, LiveStage, Tally, crashes_in, osc_datagram
from stage.adapters.osc import ADDRESSES, Way

PACKETS = 800

IN_PATHS = sorted(a.path for a in ADDRESSES.values() if a.way is Way.IN and a.path != "/stage/auth")
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
ARG = st.one_of(
    st.tuples(st.one_of(INT32, EDGE_NUMBERS.filter(lambda v: isinstance(v, int) and -(2**31) <= v < 2**31)),
              st.just("i")),
    st.tuples(INT64, st.just("h")),
    st.tuples(st.one_of(st.floats(width=32), EDGE_NUMBERS.map(float).filter(lambda v: abs(v) < 3e38)), st.just("f")),
    st.tuples(st.one_of(st.floats(), EDGE_NUMBERS.map(float)), st.just("d")),
    st.tuples(TEXT.filter(lambda s: "\x00" not in s), st.just("s")),
    st.tuples(st.booleans(), st.sampled_from(["T", "F"])).map(lambda t: (t[1] == "T", t[1])),
    st.tuples(st.binary(min_size=1, max_size=16), st.just("b")),
)
MESSAGE = st.tuples(st.one_of(st.sampled_from(IN_PATHS), st.just("/stage/subscribe"),
                              st.text(min_size=1, max_size=20).map(lambda s: "/" + s.replace("\x00", ""))),
                    st.lists(ARG, max_size=4))


def _message(path: str, args: list[tuple[Any, str]]) -> bytes:
    b = OscMessageBuilder(path)
    for value, tag in args:
        b.add_arg(value, tag)
    data: bytes = b.build().dgram
    return data


def test_junk_and_out_of_range_values_on_the_osc_port(live: LiveStage) -> None:
    tally = Tally("OSC (real UDP)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)  # noqa: FBT003
        target = ("127.0.0.1", live.osc_port)
        sock.sendto(osc_datagram("/stage/auth", (TOKENS["conductor"], "s")), target)

        def drain() -> None:
            while True:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    return
                tally.answers[data.split(b"\x00", 1)[0].decode(errors="replace")] += 1

        @settings(max_examples=PACKETS, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(packet=st.one_of(st.binary(max_size=200), MESSAGE.map(lambda m: _message(*m))))
        def fuzz(packet: bytes) -> None:
            sock.sendto(packet, target)
            tally.sent += 1
            if tally.sent % 20 == 0:
                drain()

        fuzz()
        time.sleep(0.5 * SCALE)  # the last answers
        drain()
    alive = live.alive()
    tally.report(alive)
    assert all(alive.values()), alive
    assert crashes_in(live.log_text()) == []
