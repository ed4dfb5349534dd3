"""MMC in through a real jackd: a controller's transport buttons drive stage, through the one way in, as the engineer.

The service runs its engine (internal clock, the timecode master) against
the session's ``jackd -S -d dummy``; an independent JACK client
(:class:`peers.recorder.MidiPeer`) plays a controller, sending MMC written
out from the specification to ``<client>:mmc_in`` on chosen frames.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from peers.jackd import JackServer, unique_name
from peers.recorder import MidiPeer
from peers.wait import SCALE, until

from stage.adapters.engine_drivers import open_driver
from stage.adapters.store import TakeStore, open_store
from stage.config import ClockConfig, Config, MidiConfig, MmcConfig
from stage.core import protocol as p
from stage.core.cuesheet import parse_cue_sheet
from stage.core.mmc import MmcStats
from stage.core.session import Mode, Role
from stage.errors import ProtocolError
from stage.runtime import messages as m
from stage.runtime.commands import Controls
from stage.runtime.mmcin import MmcEdge
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger

PERIOD = 256
SR = 48000
DEVICE = 0x10

SHEET = """
[picture]
rate = "24"
[[cue]]
id = "1M1"
start = "00:00:12:00"
tempo = "12-0"
meter = "4/4"
bars = 40
"""


def mmc(text: str, device: int = DEVICE) -> bytes:
    """``F0 7F <device> 06 <text> F7``."""
    return bytes([0xF0, 0x7F, device, 0x06]) + bytes.fromhex(text) + b"\xf7"


@dataclass
class Rig:
    service: Service
    takes: TakeLogger
    controls: Controls
    edge: MmcEdge
    controller: MidiPeer
    heard: list[m.MmcReceived]

    def send(self, *messages: tuple[int, bytes]) -> None:
        """Send each message at its frame offset from the start of a cycle a little ahead."""
        at = self.controller.frame0 + 4 * PERIOD
        self.controller.schedule("out", [(at + offset, data) for offset, data in messages])


@pytest.fixture
async def rig(jack_server: JackServer, tmp_path: Path) -> AsyncIterator[Rig]:
    with MidiPeer(unique_name("controller"), servername=jack_server.name, inputs=(), outputs=("out",)) as controller:
        config = Config(
            clock=ClockConfig(source="internal"),
            midi=MidiConfig(server=jack_server.name, client=unique_name("stage"), mtc_in=False, mtc_out=False,
                            click_out=False),
            mmc=MmcConfig(enabled=True, device_id=DEVICE, connect_in=[controller.port("out")]),
        )
        service = Service(config, parse_cue_sheet(SHEET), open_driver=open_driver)
        await service.start()
        store: TakeStore = await open_store(f"sqlite:///{tmp_path / 'takes.db'}")
        takes = TakeLogger(service, store)
        await takes.start()
        controls = Controls(service, takes)
        edge = MmcEdge(controls)
        edge.start()
        heard: list[m.MmcReceived] = []
        service.mmc_listeners.append(heard.append)
        try:
            yield Rig(service, takes, controls, edge, controller, heard)
        finally:
            await edge.close()
            await takes.close()
            await store.close()
            await service.stop()


async def test_a_controller_locates_rolls_and_stops_stage_and_is_refused_as_the_engineer_would_be(rig: Rig) -> None:
    service = rig.service
    service.arm("1M1")
    await rig.takes.set_mode(Mode.RECORD)
    # two locates in one cycle, 190 frames apart: each is stamped with its own frame, and the last one wins
    rig.send((10, mmc("44 06 01 00 00 05 00 00")), (200, mmc("44 06 01 00 00 0a 00 00")))
    await until(lambda: rig.edge.done == 2, "both locates")
    assert (service.transport.anchor.p0, service.transport.rolling) == (10.0, False)
    assert [str(ev.message.target) for ev in rig.heard] == ["00:00:05:00.00", "00:00:10:00.00"]
    # stamped with their own frames (engine time is frames over the rate), not their cycle's
    assert round((rig.heard[1].message.t - rig.heard[0].message.t) * SR) == 190
    assert rig.heard[1].t > rig.heard[0].t  # and on the monotonic clock, in the same order
    # Play: a take rolls from there
    rig.send((0, mmc("02")))
    await until(lambda: rig.takes.session.take is not None and rig.takes.unstored == 0, "the take")
    take = rig.takes.session.take
    assert take is not None
    assert (take.label, take.tc_in) == ("1M1-1", "00:00:10:00")
    # Play again while it records: refused with the words the engineer's tablet gets for it
    with pytest.raises(ProtocolError) as tablet:
        await rig.controls.run(p.Command(None, "play", {}), Role.ENGINEER)
    rig.send((0, mmc("02")))
    await until(lambda: rig.edge.refused == 1, "the refusal")
    assert rig.edge.last_refusal == f"MMC play: {tablet.value}"
    assert str(tablet.value) == "picture is already rolling (recording take 1M1-1): stop first"
    # a Stop for another device, and malformed System Exclusive: counted, ignored; the take rolls on
    rig.send((0, mmc("01", device=0x11)), (5, bytes.fromhex("f07f1006440601000090")), (9, bytes.fromhex("f7")))
    await until(lambda: service.mmc_counts is not None and service.mmc_counts.stats.other_device == 1
                and service.mmc_counts.stats.malformed == 2, "the counts")
    assert service.transport.rolling
    # all-call Stop: the take ends
    rig.send((0, mmc("01", device=0x7F)))
    await until(lambda: rig.takes.session.take is None and not service.transport.rolling, "the stop")
    logged = [t.tc_out for t in await rig.takes.takes("1M1")]
    for _ in range(int(250 * SCALE)):  # its end is written by the take writer, in order
        if logged != [None]:
            break
        await asyncio.sleep(0.02)
        logged = [t.tc_out for t in await rig.takes.takes("1M1")]
    assert logged[0] is not None
    # a Locate then a Deferred Play in one message: it rolls from the locate
    await rig.takes.set_mode(Mode.REHEARSE)
    rig.send((0, mmc("44 06 01 00 00 14 00 00 03")))
    await until(lambda: service.transport.rolling, "the deferred play")
    assert service.transport.anchor.p0 == 20.0
    await until(lambda: rig.edge.done == 6, "the deferred play's answer")
    await until(lambda: service.mmc_counts is not None and service.mmc_counts.stats.messages == 7, "the counts")
    state = service.mmc_state()
    assert state is not None
    assert state["in"] == {
        "messages": 7, "other_device": 1, "malformed": 2, "unknown": 0,
        "problem": "an end of exclusive (F7) with no start",
        "done": 6, "refused": 1, "unused": 0, "last_refusal": f"MMC play: {tablet.value}",
    }
    assert service.mmc_counts is not None
    assert service.mmc_counts.stats == MmcStats(messages=7, other_device=1, malformed=2)
