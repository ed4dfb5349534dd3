"""From the top and pickups through a real jackd: what another JACK client hears, MIDI and audio, sample by sample.

The service runs its engine against a ``jackd -d dummy`` of the test's own;
an independent client (:class:`peers.recorder.MidiPeer`) records the click on
MIDI and on audio with absolute frames.  Every picture offset of the sheet is
a whole number of samples, so every click's frame is asserted exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from peers.jackd import JackServer, jack_server, unique_name
from peers.recorder import MidiPeer, audio_onsets, pitch_at
from peers.wait import SCALE, until
from sheets import PICKUP as SHEET

from stage.adapters.engine_drivers import open_driver
from stage.config import ClickConfig, ClockConfig, Config, MidiConfig
from stage.core import protocol as p
from stage.core.clicksound import SOUNDS
from stage.core.cuesheet import CueSheet, parse_cue_sheet
from stage.core.mtc import quarter_frame_message
from stage.core.playback import ClickNotes, frame_of
from stage.core.schedule import Pickup, pickup_schedule
from stage.core.session import Role
from stage.core.tempo import ClickKind
from stage.core.timecode import RATES
from stage.runtime.commands import Controls
from stage.runtime.service import Service, cue_clicks

SR = 48000
PERIOD = 256
PREROLL = 0.5


@pytest.fixture(scope="module")
def server() -> Iterator[JackServer]:
    with jack_server(synchronous=True, period=PERIOD, samplerate=SR) as s:
        yield s


@pytest.fixture
def sheet() -> CueSheet:
    return parse_cue_sheet(SHEET)


def config(server: JackServer, peer: MidiPeer, *, source: str = "internal", mtc: MidiPeer | None = None) -> Config:
    return Config(
        clock=ClockConfig(source=source, preroll=PREROLL),  # type: ignore[arg-type]
        midi=MidiConfig(
            server=server.name, client=unique_name("stage"), mtc_out=False, mtc_in=mtc is not None,
            connect_click_out=[peer.port("click")], connect_mtc_in=[mtc.port("mtc")] if mtc else [],
        ),
        click=ClickConfig(connect=[peer.port("audio")]),
    )


def recorder(server: JackServer) -> MidiPeer:
    return MidiPeer(unique_name("rec"), servername=server.name, inputs=("click",), outputs=(), audio_inputs=("audio",))


def note_ons(peer: MidiPeer) -> list[tuple[int, bytes]]:
    return [(f, d) for f, d in peer.events("click") if d[0] & 0xF0 == 0x90]


async def run(service: Service, name: str, **args: object) -> dict[str, object]:
    return await Controls(service).run(p.Command(None, name, args), Role.CONDUCTOR)


async def roll_and_record(service: Service, peer: MidiPeer, count: int, command: str, **args: object) -> float:
    """Run ``command``, record ``count`` clicks, stop; the picture position the roll started from."""
    rolled: list[float] = []
    service.transport_listeners.append(lambda _b, a: rolled.append(a.anchor.p0) if a.rolling else None)
    await run(service, command, **args)
    await until(lambda: len(note_ons(peer)) >= count, f"{count} clicks", seconds=20)
    service.stop_transport()
    await until(lambda: not service.transport.rolling, "the stop")
    await asyncio.sleep(0.1 * SCALE)
    return rolled[0]


def assert_exact(peer: MidiPeer, expected: list[tuple[float, ClickKind]], start: float) -> None:
    """Every click of ``expected`` (picture seconds, kind) on its exact sample after the roll from ``start``."""
    ons = note_ons(peer)[: len(expected)]
    assert [d for _, d in ons] == [ClickNotes().note_on(k) for _, k in expected]
    # The roll starts on the first frame of a cycle; find it from the first note, then hold every note to it.
    roll = ons[0][0] - round((expected[0][0] - start) * SR)
    assert (roll - peer.frame0) % PERIOD == 0
    frames = [roll + frame_of(pos - start, SR) for pos, _ in expected]
    assert [f for f, _ in ons] == frames
    # the audio click: one onset per click, on the sample of its note-on, in its own sound
    blocks = peer.audio["audio"]
    onsets = [f for f in audio_onsets(blocks) if f <= frames[-1]]
    assert onsets == frames
    for f, (_, kind) in zip(onsets, expected, strict=True):
        assert pitch_at(blocks, f, SR) == pytest.approx(SOUNDS[kind].frequency, rel=0.03)


async def test_from_the_top_rolls_from_the_preroll_and_counts_off_on_exact_samples(
    server: JackServer, sheet: CueSheet
) -> None:
    cue = sheet.cue("1M1")
    with recorder(server) as peer:
        service = Service(config(server, peer), sheet, open_driver=open_driver)
        await service.start()
        try:
            assert service.engine_ready is not None
            assert service.engine_ready.reason == ""
            service.arm("1M1")
            start = await roll_and_record(service, peer, 12, "from_top")
        finally:
            await service.stop()
    first = float(cue.downbeat + cue.first_time)
    assert start == pytest.approx(first - PREROLL, abs=1e-9)  # picture rolled from the pre-roll
    clicks = [(c.p, c.kind) for c in cue_clicks(cue)][:12]
    assert [k for _, k in clicks] == [ClickKind.WARNING] * 8 + [ClickKind.ACCENT] + [ClickKind.NORMAL] * 3
    assert_exact(peer, clicks, start)


async def test_a_pickup_from_bar_17_is_counted_in_at_bar_17s_tempo(server: JackServer, sheet: CueSheet) -> None:
    cue = sheet.cue("1M1")
    assert cue.clicks is not None
    bar17 = float(cue.downbeat + cue.clicks.time_of(17))
    with recorder(server) as peer:
        service = Service(config(server, peer), sheet, open_driver=open_driver)
        await service.start()
        try:
            service.arm("1M1")
            start = await roll_and_record(service, peer, 10, "play", pickup_bar=17)
            after = service.pickup
        finally:
            await service.stop()
    assert after is None  # a pickup asked for with play lasts one roll
    # exactly the count-in: two bars of 3/4 at 6-0, the last a click length (12000 samples) before bar 17
    expected = [(c.p, c.kind) for c in cue_clicks(cue, pickup_schedule(cue, Pickup("1M1", 17, 1, 2)))][:10]
    assert [k for _, k in expected] == [ClickKind.WARNING] * 6 + [ClickKind.ACCENT] + [ClickKind.NORMAL] * 2 + [
        ClickKind.ACCENT
    ]
    assert [round((bar17 - pos) * SR) for pos, _ in expected[:6]] == [12000 * k for k in range(6, 0, -1)]
    assert start == pytest.approx(expected[0][0] - PREROLL, abs=1e-9)
    assert_exact(peer, expected, start)
    ons = note_ons(peer)
    assert ons[6][0] - ons[5][0] == 12000  # bar 17 a click of its own length after the last warning


async def test_a_chased_pickup_counts_in_wherever_the_master_rolls_from(server: JackServer, sheet: CueSheet) -> None:
    cue = sheet.cue("1M1")
    assert cue.clicks is not None
    rate = RATES["24"]
    with (
        MidiPeer(unique_name("src"), servername=server.name, inputs=(), outputs=("mtc",)) as source,
        recorder(server) as peer,
    ):
        service = Service(config(server, peer, source="mtc", mtc=source), sheet, open_driver=open_driver)
        await service.start()
        try:
            service.arm("1M1")
            result = await run(service, "pickup", bar=17)
            assert result["pickup"] == {"cue": "1M1", "bar": 17, "beat": 1, "countin": 2}
            assert result["position"] is None  # chased: nothing to locate
            await asyncio.sleep(0.2 * SCALE)
            # the master rolls 3 s before the count-in and runs 5.5 s
            expected = [(c.p, c.kind) for c in cue_clicks(cue, pickup_schedule(cue, Pickup("1M1", 17, 1, 2)))]
            p_start = expected[0][0] - 3.0
            q_first = int(p_start * 96) + 1
            f_start = peer.current_frame() + SR // 2
            stream = [(f_start + round((q / 96 - p_start) * SR), quarter_frame_message(q, rate))
                      for q in range(q_first, q_first + int(5.5 * 96))]
            source.schedule("mtc", stream)
            await asyncio.to_thread(peer.wait_until_frame, stream[-1][0] + SR // 2, 30 * SCALE)
        finally:
            await service.stop()
    p_end = (q_first + int(5.5 * 96) - 1) / 96
    heard = [(pos, k) for pos, k in expected if pos < p_end]
    assert [k for _, k in heard[:7]] == [ClickKind.WARNING] * 6 + [ClickKind.ACCENT]  # counted into bar 17
    # the engine rolls on for the two frames of silence that mean "stopped": the notes up to the stream's end
    ons = [(f, d) for f, d in note_ons(peer) if f < f_start + round((p_end - p_start) * SR)]
    assert [d for _, d in ons] == [ClickNotes().note_on(k) for _, k in heard]
    true = [f_start + round((pos - p_start) * SR) for pos, _ in heard]
    assert max(abs(f - t) for (f, _), t in zip(ons, true, strict=True)) <= SR * 0.0005  # the chase's precision
    assert audio_onsets(peer.audio["audio"])[: len(ons)] == [f for f, _ in ons]
