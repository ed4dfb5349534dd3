"""The libltc binding against the C compiler's idea of its structures and against the reference codec (SMPTE 12M)."""

from __future__ import annotations

import ctypes
import itertools
import subprocess
from array import array
from pathlib import Path

import numpy as np
import pytest
from peers.jackd import require
from peers.smpte_ltc import Segment, Tape, decode, frame_bits, frame_of_count

from stage.adapters.libltc import (
    LtcDecoder,
    LtcEncoder,
    LTCFrame,
    LTCFrameExt,
    SMPTETimecode,
    frame_to_time,
    library,
    time_to_frame,
    user_bits,
)
from stage.core.ltc import LtcFrame
from stage.core.timecode import RATES, Rate, Timecode
from stage.errors import LtcError, TimecodeError

SR = 48000
RATE_NAMES = ["24", "25", "29.97df", "30", "29.97", "23.976"]

LAYOUT_C = r"""
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <ltc.h>
#define FIELD(name) { LTCFrame f; memset(&f, 0, sizeof f); f.name = ~0u; dump(#name, &f); }
static void dump(const char *name, LTCFrame *f) {
    printf("%s", name);
    for (size_t i = 0; i < sizeof *f; i++) printf(" %02x", ((unsigned char *) f)[i]);
    printf("\n");
}
int main(void) {
    printf("sizes %zu %zu %zu\n", sizeof(LTCFrame), sizeof(LTCFrameExt), sizeof(SMPTETimecode));
    printf("ext %zu %zu %zu %zu %zu %zu %zu %zu\n", offsetof(LTCFrameExt, ltc), offsetof(LTCFrameExt, off_start),
           offsetof(LTCFrameExt, off_end), offsetof(LTCFrameExt, reverse), offsetof(LTCFrameExt, biphase_tics),
           offsetof(LTCFrameExt, sample_min), offsetof(LTCFrameExt, sample_max), offsetof(LTCFrameExt, volume));
    printf("tc %zu %zu %zu %zu %zu %zu %zu %zu\n", offsetof(SMPTETimecode, timezone), offsetof(SMPTETimecode, years),
           offsetof(SMPTETimecode, months), offsetof(SMPTETimecode, days), offsetof(SMPTETimecode, hours),
           offsetof(SMPTETimecode, mins), offsetof(SMPTETimecode, secs), offsetof(SMPTETimecode, frame));
    %FIELDS%
    return 0;
}
"""


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """What gcc makes of /usr/include/ltc.h: sizes, offsets, and each bit field's bits as bytes."""
    gcc = require("gcc", "gcc")
    tmp = tmp_path_factory.mktemp("ltc-layout")
    names = [name for name, *_ in LTCFrame._fields_]
    source = LAYOUT_C.replace("%FIELDS%", " ".join(f"FIELD({n})" for n in names))
    (tmp / "layout.c").write_text(source)
    subprocess.run([gcc, "-o", str(tmp / "layout"), str(tmp / "layout.c")], check=True, capture_output=True)
    out = subprocess.run([str(tmp / "layout")], check=True, capture_output=True, text=True).stdout
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()}


def test_the_structures_match_the_c_compilers_layout_field_for_field(layout: dict[str, list[str]]) -> None:
    assert [int(x) for x in layout["sizes"]] == [ctypes.sizeof(t) for t in (LTCFrame, LTCFrameExt, SMPTETimecode)]
    assert [int(x) for x in layout["ext"]] == [getattr(LTCFrameExt, n).offset for n, *_ in LTCFrameExt._fields_]
    assert [int(x) for x in layout["tc"]] == [getattr(SMPTETimecode, n).offset for n, *_ in SMPTETimecode._fields_]
    for name, _, width in LTCFrame._fields_:
        f = LTCFrame()
        setattr(f, name, (1 << width) - 1)
        assert bytes(f).hex(" ") == " ".join(layout[name]), name


def bits_of(raw: bytes) -> list[int]:
    """The 80 bits of an LTCFrame's first ten bytes, bit 0 first (the lowest bit of byte 0)."""
    return [raw[i // 8] >> (i % 8) & 1 for i in range(80)]


@pytest.mark.parametrize("rate", RATE_NAMES)
def test_the_encoders_frames_are_the_smpte_bits_polarity_and_flags_included(rate: str) -> None:
    r = RATES[rate]
    enc = LtcEncoder(SR, r, user_bits=0x8421_F0E1)
    for text in ("00:00:00:00", "01:23:45:10", "10:09:59:19", "23:59:59:23"):
        tc = Timecode.parse(text, r)
        enc.encode(tc.frame_count, 2000)
        frame = enc.frame()
        expected = frame_bits(frame_of_count(tc.frame_count, r.nominal, drop=r.drop, user_bits=0x8421_F0E1), r.nominal)
        assert bits_of(bytes(frame)) == expected, text
        assert frame_to_time(frame) == (tc.hours, tc.minutes, tc.seconds, tc.frames)
        assert user_bits(frame) == 0x8421_F0E1


def test_time_to_frame_and_back() -> None:
    r = RATES["29.97df"]
    frame = LTCFrame()
    frame.dfbit = 1
    time_to_frame(frame, (13, 7, 0, 2), r)
    assert frame_to_time(frame) == (13, 7, 0, 2)
    assert (frame.mins_tens, frame.mins_units, frame.frame_units) == (0, 7, 2)
    assert sum(bits_of(bytes(frame))) % 2 == 0  # the polarity bit makes the ones even


def level(samples: np.ndarray) -> float:
    return float(np.abs(samples).max())


@pytest.mark.parametrize("rate", ["24", "25", "29.97df", "30"])
def test_encoded_frames_read_back_by_the_reference_each_on_its_first_sample(rate: str) -> None:
    r = RATES[rate]
    fps = float(r.fps)
    enc = LtcEncoder(SR, r, level_db=-12.0, user_bits=0x0000_1234)
    n0 = Timecode.parse("10:00:00:00", r).frame_count
    starts = [round(i * SR / fps) for i in range(26)]
    spans = list(itertools.pairwise(starts))
    chunks = [np.frombuffer(enc.encode(n0 + i, b - a), np.float32) for i, (a, b) in enumerate(spans)]
    assert [len(c) for c in chunks] == [b - a for a, b in spans]  # exactly as many as asked
    signal = np.concatenate([np.zeros(100, np.float32), *chunks]).astype(np.float64)
    reads = decode(signal, SR / fps / 80, r.nominal, first=-100)
    assert [x.frame.count(r.nominal) for x in reads] == [n0 + i for i in range(len(reads))]
    assert len(reads) == 24  # the last frame has no edge after it to end on
    assert [x.start for x in reads] == starts[:24]
    assert {x.frame.user_bits for x in reads} == {0x1234}
    assert {x.frame.drop for x in reads} == {r.drop}
    assert level(signal) == pytest.approx(10 ** (-12 / 20), rel=0.01)


def test_a_frame_at_its_own_length_is_libltcs_encode_frame_sample_for_sample() -> None:
    r = RATES["25"]
    enc = LtcEncoder(SR, r, level_db=0.0)
    ours = np.frombuffer(enc.encode(1234, 1920), np.float32)
    lib = library()
    lib.ltc_encoder_reset(enc._encoder)
    lib.ltc_encoder_encode_frame(enc._encoder)  # the same frame again, at libltc's own speed 1
    ptr = ctypes.POINTER(ctypes.c_ubyte)()
    n = lib.ltc_encoder_get_bufferptr(enc._encoder, ctypes.byref(ptr), 1)
    theirs = (np.frombuffer(ctypes.string_at(ptr, n), np.uint8).astype(np.float64) - 128) / 127
    assert n == 1920
    assert np.array_equal(ours, theirs.astype(np.float32))


def test_backwards_and_stretched_frames_read_back_too() -> None:
    r = RATES["25"]
    enc = LtcEncoder(SR, r)
    n0 = 4000
    back = [np.frombuffer(enc.encode(n0 - i, 1920, reverse=True), np.float32) for i in range(10)]
    reads = decode(np.concatenate([np.zeros(50, np.float32), *back]).astype(np.float64), 24, 25, first=-50)
    assert [x.frame.count(25) for x in reads] == [n0 - i for i in range(len(reads))]
    assert len(reads) >= 9
    assert all(x.reverse for x in reads)
    assert [x.start for x in reads] == [1920 * i for i in range(len(reads))]
    slow = [np.frombuffer(enc.encode(n0 + i, 2880), np.float32) for i in range(10)]  # two thirds of the speed
    reads = decode(np.concatenate([np.zeros(50, np.float32), *slow]).astype(np.float64), 36, 25, first=-50)
    assert [x.start for x in reads] == [2880 * i for i in range(len(reads))]
    assert len(reads) == 9


def feed(dec: LtcDecoder, samples: np.ndarray, first: int, block: int = 256, s16: bool = False) -> list[LtcFrame]:
    frames: list[LtcFrame] = []
    for a in range(0, len(samples), block):
        part = samples[a : a + block]
        if s16:
            frames += dec.decode_s16(array("h", (part * 32767).astype(np.int16).tobytes()), first + a)
        else:
            frames += dec.decode(memoryview(part.astype(np.float32).tobytes()).cast("f"), first + a)
    return frames


@pytest.mark.parametrize("rate", RATE_NAMES)
@pytest.mark.parametrize("speed", [1.0, -1.0])
def test_the_decoder_reads_the_reference_with_the_samples_each_frame_ended_on(rate: str, speed: float) -> None:
    r = RATES[rate]
    fps = float(r.fps)
    tape = Tape(fps, r.nominal, r.drop, user_bits=0x5A5A_0FF0)
    p0 = Timecode.parse("01:00:00:00", r).frame_count + 0.37
    seg = Segment(10_000, SR, p0=p0, speed=speed, level=0.3)
    first, signal = tape.render([seg], SR)
    got = feed(LtcDecoder(SR, r), signal, first)
    assert len(got) >= int(fps) - 2
    for f in got:
        tc = f.timecode(r)
        # forwards a frame's signal ends where picture reaches its next frame; backwards where it reaches its own
        boundary = tc.frame_count + (0 if f.reverse else 1)
        truth = tape.first_edge(seg, boundary, SR) if speed > 0 else _backwards_edge(tape, seg, boundary)
        assert abs(f.end + 1 - truth) <= 6, (str(tc), f.end + 1 - truth)  # libltc averages its bit period
        assert (f.reverse, f.drop, f.user_bits) == (speed < 0, r.drop, 0x5A5A_0FF0)
        assert f.volume_db == pytest.approx(20 * np.log10(0.3), abs=1.0)
    counts = [f.timecode(r).frame_count for f in got]
    assert counts == [counts[0] + int(speed) * i for i in range(len(counts))]


def _backwards_edge(tape: Tape, seg: Segment, boundary: int) -> int:
    """The first sample at which picture, running backwards, is below ``boundary``."""
    exact = seg.start + (boundary - seg.p0) * SR / (seg.speed * tape.fps)
    return int(np.floor(exact)) + 1


def test_sixteen_bit_samples_read_the_same() -> None:
    r = RATES["25"]
    first, signal = Tape(25.0, 25).render([Segment(0, SR // 2, p0=1000.5, level=0.5)], SR)
    as_float = [(f.frames, f.end) for f in feed(LtcDecoder(SR, r), signal, first)]
    as_s16 = [(f.frames, f.end) for f in feed(LtcDecoder(SR, r), signal, first, s16=True)]
    assert as_float == as_s16
    assert len(as_float) >= 10


def test_noise_and_silence_read_nothing() -> None:
    r = RATES["24"]
    rng = np.random.default_rng(1)
    assert feed(LtcDecoder(SR, r), rng.normal(0, 0.3, SR), 0) == []
    assert feed(LtcDecoder(SR, r), np.zeros(SR), 0) == []


def test_what_libltc_cannot_do_is_refused_clearly() -> None:
    with pytest.raises(TimecodeError, match="cannot travel as LTC"):
        LtcEncoder(SR, RATES["50"])
    with pytest.raises(LtcError, match="32 bits"):
        LtcEncoder(SR, RATES["25"], user_bits=1 << 32)
    with pytest.raises(LtcError, match="-60 to 0 dBFS"):
        LtcEncoder(SR, RATES["25"], level_db=3)
    enc = LtcEncoder(SR, RATES["25"])
    with pytest.raises(LtcError, match="does not fit"):
        enc.encode(100, 1920 * 70)  # slower than the slowest varispeed


def test_the_library_is_the_one_debian_installs() -> None:
    assert Path("/usr/include/ltc.h").exists()
    rate: Rate = RATES["25"]
    assert LtcDecoder(SR, rate) is not None
