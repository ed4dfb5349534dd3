"""The audio click on ``<client>:click_audio`` through a real jackd, as another JACK client records it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from peers.jackd import JackServer, jack_server, unique_name
from peers.recorder import MidiPeer, audio_onsets, audio_samples, pitch_at
from peers.wait import SCALE

from stage.adapters.engine_drivers import open_driver
from stage.core.clicksound import SOUNDS, ClickSounds
from stage.core.cuesheet import parse_cue_sheet
from stage.core.playback import ClickNotes
from stage.core.tempo import ClickKind
from stage.runtime import messages as m
from stage.runtime.engine import EngineHandle
from stage.runtime.enginecore import EngineSettings
from stage.runtime.service import cue_clicks

SR = 48000
PERIOD = 256

SHEET = """
[picture]
rate = "24"
[[cue]]
id = "1M1"
start = "00:00:10:00"
tempo = 150
meter = "3/4"
bars = 4
countoff = 1
"""


@pytest.fixture(scope="module")
def server() -> Iterator[JackServer]:
    with jack_server(synchronous=True, period=PERIOD, samplerate=SR) as s:
        yield s


def test_every_click_sounds_on_the_sample_of_its_note_on_and_the_downbeat_is_told_apart(server: JackServer) -> None:
    cue = parse_cue_sheet(SHEET).cue("1M1")
    assert cue.clicks is not None
    clicks = cue.clicks.clicks  # 3 warning clicks, then 4 bars of 3
    with MidiPeer(unique_name("rec"), servername=server.name, inputs=("click",), outputs=(),
                  audio_inputs=("audio",)) as peer:
        events: list[m.Event] = []
        settings = EngineSettings(
            midi=True, server=server.name, client=unique_name("stage"), rate="24", mtc_out=False,
            connect=(("click_out", peer.port("click")), ("click_audio", peer.port("audio"))),
            sounds=ClickSounds(level_db=-3.0), click_latency=0.003,
        )
        handle = EngineHandle(settings, events.append, open_driver=open_driver)
        ready = handle.start()
        try:
            assert ready.midi, ready.reason
            assert ready.reason == ""
            assert any(p.endswith(":click_audio") for p in ready.ports)
            handle.send(m.LoadClicks(tuple(cue_clicks(cue))))
            start = float(cue.downbeat + cue.first_time) - 0.25
            handle.send(m.Locate(start))
            handle.send(m.Play())
            peer.wait_for(2 * len(clicks), "click", timeout=15 * SCALE)
            time.sleep(0.2 * SCALE)
            handle.send(m.Stop())
            time.sleep(0.1 * SCALE)
        finally:
            handle.close()
    ons = [(f, d) for f, d in peer.events("click") if d[0] & 0xF0 == 0x90]
    notes = ClickNotes()
    assert [d for _, d in ons] == [notes.note_on(c.kind) for c in clicks]
    blocks = peer.audio["audio"]
    onsets = audio_onsets(blocks)
    # one sound per click, each starting on the very sample of its MIDI note-on
    assert onsets == [f for f, _ in ons]
    # and where the picture says, the latency early: the roll's start frame is the same for every click
    roll = {f - round((float(cue.downbeat + c.time) - start - 0.003) * SR) for f, c in zip(onsets, clicks, strict=True)}
    assert max(roll) - min(roll) <= 1
    # the first sample is the sound's peak at the configured level: the sound itself, not a mere blip
    samples = audio_samples(blocks)
    gain = 10 ** (-3 / 20)
    for f, c in zip(onsets, clicks, strict=True):
        assert samples[f] == pytest.approx(SOUNDS[c.kind].peak * gain, rel=1e-6)
        assert samples.get(f - 1, 0.0) == 0.0
    # three sounds told apart by pitch alone
    pitches = [pitch_at(blocks, f, SR) for f in onsets]
    for p, c in zip(pitches, clicks, strict=True):
        assert p == pytest.approx(SOUNDS[c.kind].frequency, rel=0.03), (c.bar, c.beat, c.kind)
    downbeats = [i for i, c in enumerate(clicks) if c.kind is ClickKind.ACCENT]
    assert downbeats == [3, 6, 9, 12]
