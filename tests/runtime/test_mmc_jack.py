"""MMC to the timecode master through a real jackd: Ardour (headless) obeys it, sends MTC back, and stage chases it.

The service runs its engine against a ``jackd -d dummy`` of the test's own,
chasing a headless Ardour session (:mod:`peers.ardour`) that it drives by
MMC.  An independent JACK client (:class:`peers.recorder.MidiPeer`) is the
witness: it records the MMC bytes stage sends, Ardour's MTC, and stage's
click (MIDI and audio) with absolute frames.  Ardour's quarter frames say
where picture is on every sample (decoded here from the MTC specification,
not with stage's decoder), so every click is held to its exact sample.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from peers.ardour import Ardour, ardour_master, mtc_roll, spec_locate
from peers.jackd import JackServer, unique_name
from peers.recorder import MidiPeer, audio_onsets
from peers.wait import SCALE, until
from sheets import PICKUP as SHEET

from stage.adapters.engine_drivers import open_driver
from stage.adapters.store import open_store
from stage.adapters.web import create_app
from stage.config import AuthConfig, ClickConfig, ClockConfig, Config, MidiConfig, MmcConfig
from stage.core import protocol as p
from stage.core.cuesheet import CueSheet, parse_cue_sheet
from stage.core.playback import ClickNotes
from stage.core.schedule import Pickup, pickup_schedule
from stage.core.session import Mode, Role
from stage.errors import ErrorCode, ProtocolError
from stage.runtime.commands import Controls
from stage.runtime.service import Service, cue_clicks
from stage.runtime.takes import TakeLogger

SR = 48000
PERIOD = 256
PREROLL = 0.5
TOKEN = "tok-conductor"
ROLLS = 3  # pickups tried until one in which Ardour itself kept time (on a loaded host it is late now and then)


@pytest.fixture(scope="module")
def server(jack_server: JackServer) -> JackServer:
    """The session's synchronous jackd (48 kHz, 256 frames a period)."""
    assert (jack_server.samplerate, jack_server.period) == (SR, PERIOD)
    return jack_server


@pytest.fixture(scope="module")
def ardour(server: JackServer) -> Iterator[Ardour]:
    """Ardour as device 1: it obeys MMC to device 1 and to all devices (127), which stage sends by default."""
    with ardour_master(server, "24", device=1) as a:
        yield a


@pytest.fixture
def witness(server: JackServer, ardour: Ardour) -> Iterator[MidiPeer]:
    """Records Ardour's MTC and stage's click; sends MMC of its own to Ardour (another controller)."""
    ardour.check()
    with MidiPeer(unique_name("witness"), servername=server.name, inputs=("mtc", "click"),
                  outputs=("to_master",), audio_inputs=("audio",)) as peer:
        peer.client.connect(ardour.mtc_out, peer.port("mtc"))
        peer.client.connect(peer.port("to_master"), ardour.mmc_in)
        yield peer
        # Stop Ardour for the next test, and wait until its MTC has stopped: it reads MMC on a thread of its own,
        # which a loaded host may keep waiting a while.
        peer.schedule("to_master", [(peer.current_frame() + PERIOD, bytes.fromhex("f07f7f0601f7"))])
        deadline = time.monotonic() + 5 * SCALE
        heard = -1
        while heard != len(peer.events("mtc")) and time.monotonic() < deadline:
            heard = len(peer.events("mtc"))
            time.sleep(0.2)  # over 19 quarter frames at 24 fps: a rolling master would have sent some


@pytest.fixture
def wire(server: JackServer) -> Iterator[MidiPeer]:
    """Records the MMC stage sends.  It depends on nothing but stage in JACK's graph, so a cycle in which Ardour
    is late (a synchronous server then skips what comes after it) cannot cost it the bytes."""
    with MidiPeer(unique_name("wire"), servername=server.name, inputs=("mmc",), outputs=()) as peer:
        yield peer


@pytest.fixture
def sheet() -> CueSheet:
    return parse_cue_sheet(SHEET)


def config(server: JackServer, ardour: Ardour, witness: MidiPeer, wire: MidiPeer, **mmc: object) -> Config:
    return Config(
        clock=ClockConfig(source="mtc", preroll=PREROLL),
        midi=MidiConfig(server=server.name, client=unique_name("stage"), mtc_out=False,
                        connect_click_out=[witness.port("click")], connect_mtc_in=[ardour.mtc_out]),
        click=ClickConfig(connect=[witness.port("audio")]),
        mmc=MmcConfig(enabled=True, connect_out=[ardour.mmc_in, wire.port("mmc")], **mmc),  # type: ignore[arg-type]
        auth=AuthConfig(conductor=TOKEN),
    )


async def run(controls: Controls, name: str, **args: object) -> dict[str, object]:
    return await controls.run(p.Command(None, name, args), Role.CONDUCTOR)


def note_ons(peer: MidiPeer, after: int) -> list[tuple[int, bytes]]:
    return [(f, d) for f, d in peer.events("click") if f > after and d[0] & 0xF0 == 0x90]


async def test_from_bar_17_locates_and_rolls_the_master_and_bar_17_clicks_on_its_exact_sample(
    server: JackServer, ardour: Ardour, witness: MidiPeer, wire: MidiPeer, sheet: CueSheet
) -> None:
    cue = sheet.cue("1M1")
    assert cue.clicks is not None
    count_in = [(c.p, c.kind) for c in cue_clicks(cue, pickup_schedule(cue, Pickup("1M1", 17, 1, 2)))]
    bar17 = float(cue.downbeat + cue.clicks.time_of(17))
    preroll = count_in[0][0] - PREROLL
    service = Service(config(server, ardour, witness, wire, lock_timeout=10.0 * SCALE), sheet, open_driver=open_driver)
    await service.start()
    controls = Controls(service)
    try:
        service.arm("1M1")
        for _ in range(ROLLS):
            before, sent = witness.frame0, len(wire.events("mmc"))
            answer = await run(controls, "play", pickup_bar=17)
            await until(lambda: service.position() > bar17 + 0.1, "bar 17's downbeat", seconds=20)
            stopped = await run(controls, "stop")
            await until(lambda: not service.transport.rolling, "the chase to stop")
            roll = mtc_roll(witness.events("mtc"), before, SR)
            if roll.steady_until >= roll.sample_of(bar17, SR):
                break
        else:
            pytest.fail(f"Ardour's MTC was not steady up to bar 17 in {ROLLS} rolls: this host is too loaded to judge")
    finally:
        await service.stop()
    # the exact bytes: Locate [TARGET] to the pickup's pre-roll frame, then Play, each at a cycle's first frame
    mmc = wire.events("mmc")[sent:]
    assert [d for _, d in mmc] == [spec_locate(preroll), bytes.fromhex("f07f7f0602f7"), bytes.fromhex("f07f7f0601f7")]
    assert all((f - wire.frame0) % PERIOD == 0 for f, _ in mmc)
    # the answers: the chase locked where the master was sent (pre-roll 00:00:39:08), rolling; then stopped
    master = answer["master"]
    assert isinstance(master, dict)
    assert master["target"] == "00:00:39:08" == master["mmc"][0].removeprefix("locate ")
    assert master["mmc"] == ["locate 00:00:39:08", "play"]
    assert master["rolling"] is True
    assert (master["cue"], master["bar"]) == ("1M1", 15)  # the pre-roll: in bar 15, before the count-in of bar 17
    assert 0 <= master["position"] - preroll < 0.5
    assert isinstance(stopped["master"], dict)
    assert stopped["master"]["rolling"] is False
    # where Ardour's MTC says picture is on each sample: bar 17's downbeat on its exact sample, MIDI and audio
    assert roll.position == pytest.approx(preroll, abs=1e-9)  # Ardour rolled from where it was sent
    ons = note_ons(witness, before)
    assert [d for _, d in ons[:7]] == [ClickNotes().note_on(k) for _, k in count_in[:7]]
    assert ons[6][0] == roll.sample_of(bar17, SR)
    assert [f for f, _ in ons[:7]] == [roll.sample_of(pos, SR) for pos, _ in count_in[:7]]
    assert roll.sample_of(bar17, SR) in audio_onsets(witness.audio["audio"])


async def test_a_master_that_does_not_obey_is_named_where_it_is(
    server: JackServer, ardour: Ardour, witness: MidiPeer, wire: MidiPeer, sheet: CueSheet
) -> None:
    # stage's MMC goes to device 16: Ardour (device 1) does not obey it
    service = Service(config(server, ardour, witness, wire, device_id=16, lock_timeout=1.0 * SCALE), sheet,
                      open_driver=open_driver)
    await service.start()
    controls = Controls(service)
    try:
        service.arm("1M1")
        with pytest.raises(ProtocolError) as silent:
            await run(controls, "play", pickup_bar=17)
        # another controller rolls Ardour from 00:00:50:00: MTC comes back, somewhere else
        witness.schedule("to_master", [(witness.current_frame() + PERIOD, spec_locate(50.0)),
                                       (witness.current_frame() + PERIOD, bytes.fromhex("f07f7f0602f7"))])
        await until(lambda: service.sync is not None and service.sync.locked, "the chase to lock on Ardour")
        rest = httpx.AsyncClient(transport=httpx.ASGITransport(create_app(service, controls=controls)),
                                 base_url="http://stage", headers={"Authorization": f"Bearer {TOKEN}"})
        async with rest:
            elsewhere = await rest.post("/api/transport/locate", json={"bar": 17}, timeout=10 * SCALE)
    finally:
        await service.stop()
    assert [d for _, d in wire.events("mmc")] == [
        bytes.fromhex("f07f10064406010000270800f7"), bytes.fromhex("f07f100602f7"),  # to device 16
        bytes.fromhex("f07f10064406010000290800f7")]
    assert silent.value.code is ErrorCode.MASTER
    waited = f"within {1.0 * SCALE:g} s of the MMC locate 00:00:39:08, play"
    assert str(silent.value).startswith(f"no MTC came back {waited}: is ")
    assert "does it obey MMC for device 16" in str(silent.value)
    assert elsewhere.status_code == 504  # REST's status for the same refusal
    assert "MTC came back at 00:00:5" in elsewhere.json()["detail"]
    assert "not at 00:00:41:08, bar 17 of 1M1 where the master was sent" in elsewhere.json()["detail"]


async def test_in_record_mode_the_master_gets_record_strobe_and_record_exit_when_allowed(
    server: JackServer, ardour: Ardour, witness: MidiPeer, wire: MidiPeer, sheet: CueSheet, tmp_path: Path
) -> None:
    service = Service(config(server, ardour, witness, wire, record=True, play="deferred_play",
                             lock_timeout=10.0 * SCALE), sheet, open_driver=open_driver)
    await service.start()
    store = await open_store(f"sqlite:///{tmp_path / 'takes.db'}")
    takes = TakeLogger(service, store)
    await takes.start()
    controls = Controls(service, takes)
    try:
        service.arm("1M1")
        rehearsed = await run(controls, "from_top")
        await asyncio.sleep(0.3 * SCALE)
        await run(controls, "stop")
        await takes.set_mode(Mode.RECORD)
        recorded = await run(controls, "from_top")
        await asyncio.sleep(0.3 * SCALE)
        ended = await run(controls, "stop")
    finally:
        await takes.close()
        await store.close()
        await service.stop()
    top = spec_locate(float(sheet.cue("1M1").downbeat + sheet.cue("1M1").first_time) - PREROLL)
    heard = [d.hex() for _, d in wire.events("mmc")]
    assert heard == [d.hex() for d in (
        top, bytes.fromhex("f07f7f0603f7"), bytes.fromhex("f07f7f0601f7"),  # rehearse: deferred play, stop
        top, bytes.fromhex("f07f7f0606f7"), bytes.fromhex("f07f7f0607f7"), bytes.fromhex("f07f7f0601f7"),
    )]  # record: record strobe rolls in record; record exit, then stop
    assert rehearsed["take"] is None
    assert isinstance(rehearsed["master"], dict)
    assert rehearsed["master"]["mmc"][1] == "deferred play"
    take = recorded["take"]
    assert isinstance(take, dict)
    assert isinstance(recorded["master"], dict)
    assert recorded["master"]["mmc"][1] == "record strobe"
    assert take["tc_in"] == recorded["master"]["timecode"]  # the take starts where the chase locked
    assert isinstance(ended["take"], dict)
    assert ended["take"]["tc_out"] is not None
    assert isinstance(ended["master"], dict)
    assert ended["master"]["mmc"] == ["record exit", "stop"]
