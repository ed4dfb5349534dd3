"""The LTC voice and output without JACK: frames from their first sample, cut, held, silenced, turned over."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import pytest

from stage.core.ltc import LtcFrame
from stage.runtime.enginecore import EngineCore, EngineSettings
from stage.runtime.ltcio import LTC_IN_PORT, LTC_OUT_PORT, LtcVoice

SR = 48000


def floats(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def render(voice: LtcVoice, frame0: int, n: int) -> list[float]:
    out = memoryview(bytearray(4 * n)).cast("f")
    voice.render(frame0, out)
    return list(out)


def test_a_frame_plays_from_its_sample_across_blocks_then_holds_its_last_level() -> None:
    voice = LtcVoice()
    voice.start(5, floats(0.5, 0.5, -0.5, -0.5, -0.25))
    assert render(voice, 0, 4) == [0, 0, 0, 0]
    assert render(voice, 4, 4) == [0, 0.5, 0.5, -0.5]
    assert render(voice, 8, 4) == [-0.5, -0.25, -0.25, -0.25]  # the next frame has not started: hold


def test_a_frame_cuts_the_one_before_and_silence_cuts_both() -> None:
    voice = LtcVoice()
    voice.start(0, floats(-0.5, -0.5, -0.5, 0.5, 0.5, 0.5))
    voice.start(2, floats(0.5, -0.5, -0.5, -0.5))
    voice.silence(5)
    assert render(voice, 0, 8) == [-0.5, -0.5, 0.5, -0.5, -0.5, 0, 0, 0]


def test_a_frame_that_would_start_on_the_side_the_signal_is_on_is_played_upside_down() -> None:
    voice = LtcVoice()
    voice.start(0, floats(0.5, 0.5, 0.5, 0.5))  # cut while high
    voice.start(2, floats(0.5, 0.5, -0.5, -0.5))  # starts high too: no edge, unless turned over
    voice.start(6, floats(0.5, -0.5))  # the one before ended high (turned over): this one too
    assert render(voice, 0, 8) == [0.5, 0.5, -0.5, -0.5, 0.5, 0.5, -0.5, 0.5]


class Encoder:
    """Stands for libltc: each frame a run of its own number, so the test can see which went where."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int, bool]] = []

    def encode(self, frame: int, samples: int, reverse: bool = False) -> bytes:
        self.asked.append((frame, samples, reverse))
        sign = -1.0 if len(self.asked) % 2 else 1.0
        return floats(*([sign * (frame % 100) / 100] * samples))


class Decoder:
    def __init__(self, frames: Sequence[LtcFrame]) -> None:
        self.frames = list(frames)
        self.fed: list[tuple[int, int]] = []

    def decode(self, samples: memoryview[float], frame0: int) -> list[LtcFrame]:
        self.fed.append((frame0, len(samples)))
        return [f for f in self.frames if frame0 <= f.end < frame0 + len(samples)]


def test_the_engine_core_writes_frames_while_master_and_reads_them_when_chasing() -> None:
    core = EngineCore(EngineSettings(midi=False, rate="25", ltc_out=True, mtc_out=False), SR)
    enc = Encoder()
    core.attach_ltc(Decoder([]), enc)
    assert core.ltc_in is None  # master: nothing to read
    assert core.ltc_out is not None
    core.clock.locate(100.0, 0.0)
    core.clock.play(0.0)
    for c in range(16):
        core(c * 256, 256, {})
        out = memoryview(bytearray(4 * 256)).cast("f")
        core.render_audio(LTC_OUT_PORT, c * 256, out)
    assert enc.asked == [(2500, 1920, False), (2501, 1920, False), (2502, 1920, False)]
    assert core.ltc_out.frames == 3

    chased = EngineCore(EngineSettings(midi=False, rate="25", source="ltc", ltc_out=True), SR)
    reads = [LtcFrame(1, 0, 0, i, end=1920 * (i + 1) - 1) for i in range(6)]
    dec = Decoder(reads)
    chased.attach_ltc(dec, Encoder())
    assert chased.ltc_out is None  # chasing: never master
    for c in range(50):
        chased.read_audio(LTC_IN_PORT, c * 256, memoryview(bytearray(4 * 256)).cast("f"))
        chased(c * 256, 256, {})
    assert dec.fed[:2] == [(0, 256), (256, 256)]
    assert chased.chase is not None
    assert chased.chase.stats.frames == 6
    assert chased.chase.locked
    a = chased.chase.anchor
    assert a is not None
    assert a.position(1920 * 6 / SR) == pytest.approx(3600 + 6 / 25, abs=1e-4)  # frame 5 ended on 01:00:00:06


def test_chasing_ltc_with_no_port_to_read_ignores_mtc_and_never_faults() -> None:
    """No JACK (or no libltc): the LTC chase hears nothing, whatever arrives on the MIDI input."""
    core = EngineCore(EngineSettings(midi=False, rate="25", source="ltc"), SR)
    for c in range(20):
        core(c * 256, 256, {"mtc_in": [(c * 256, b"\xf1\x00")]})
    assert core.faults == 0
    assert core.chase is not None
    assert (core.chase.state.value, core.chase.stats.quarter_frames) == ("stopped", 0)
