import math
import struct
import wave
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pytest

from stage.adapters.wavfile import (
    SAMPLE_RATE,
    SOUNDS,
    Sound,
    bext_chunk,
    click_sound,
    render_click_track,
    write_wav,
)
from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.tempo import ClickKind
from stage.errors import RenderError


def sheet_cue(rate: str, body: str) -> Cue:
    return parse_cue_sheet(f'[picture]\nrate = "{rate}"\n[[cue]]\nid = "1M1"\ntitle = "Main Title"\n{body}').cue("1M1")


def read_samples(path: Path) -> tuple[int, list[int]]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 48000)
        data = w.readframes(w.getnframes())
    return w.getnframes(), list(struct.unpack(f"<{len(data) // 2}h", data))


def onsets(samples: list[int], silence: int = 48) -> list[int]:
    """First non-zero sample after at least ``silence`` zero samples (or the file's start)."""
    found = []
    zeros = silence
    for i, s in enumerate(samples):
        if s == 0:
            zeros += 1
        else:
            if zeros >= silence:
                found.append(i)
            zeros = 0
    return found


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    out = []
    at = 12
    while at < len(data):
        cid, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        out.append((cid, data[at + 8 : at + 8 + size]))
        at += 8 + size + size % 2
    return out


# Each case: the sheet, and the click times (seconds from the downbeat) worked out by hand.
FPS_23976 = Fraction(24000, 1001)
FPS_2997 = Fraction(30000, 1001)


def case_23976() -> tuple[Cue, list[Fraction], Fraction]:
    cue = sheet_cue("23.976", 'start = "01:00:10:00"\ntempo = "12-0"\nmeter = "4/4"\nbars = 3\ncountoff = 1')
    click = 12 / FPS_23976
    times = [k * click for k in range(-4, 12)]
    downbeat = Fraction((3600 + 10) * 24) / FPS_23976
    return cue, times, downbeat


def case_25_meter_change() -> tuple[Cue, list[Fraction], Fraction]:
    cue = sheet_cue(
        "25",
        'start = "00:00:20:00"\ntempo = "12-4"\nmeter = "4/4"\nbars = 3\ncountoff = 2\n'
        '[[cue.change]]\nbar = 2\nmeter = "6/8"\nclick = "8"\ntempo = 200',
    )
    half = Fraction(1, 2)  # 12.5 frames at 25 fps
    times = [k * half for k in range(-8, 4)] + [2 + k * Fraction(3, 10) for k in range(12)]
    return cue, times, Fraction(20)


def case_2997df_ramp() -> tuple[Cue, list[Fraction], Fraction]:
    cue = sheet_cue(
        "29.97df",
        'start = "00:01:00;02"\ntempo = "10-0"\nmeter = "4/4"\nbars = 4\ncountoff = 1\n'
        '[[cue.change]]\nbar = 3\ntempo = "14-0"\nramp = 2',
    )
    a, b = 10 / FPS_2997, 14 / FPS_2997
    times = [k * a for k in range(-4, 7)]  # count-off, bar 1, and bar 2 up to beat 3
    times.append(6 * a + a + (b - a) / 3)  # bar 2 beat 4: after the first ramp click
    bar3 = times[-1] + a + 2 * (b - a) / 3
    times += [bar3 + k * b for k in range(8)]
    return cue, times, Fraction(1800) / FPS_2997  # 00:01:00;02 is frame 1800


Case = Callable[[], tuple[Cue, list[Fraction], Fraction]]
CASES: list[Case] = [case_23976, case_25_meter_change, case_2997df_ramp]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_every_onset_is_on_its_exact_sample(tmp_path: Path, case: Case) -> None:
    cue, times, _ = case()
    assert cue.clicks is not None
    assert [c.time for c in cue.clicks.clicks] == times
    path = tmp_path / "click.wav"
    write_wav(path, render_click_track(cue))
    nframes, samples = read_samples(path)
    s0 = times[0]
    assert onsets(samples) == [round((s - s0) * 48000) for s in times]
    assert nframes == round((cue.end_time - s0 + Fraction(1, 2)) * 48000)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_bext_time_reference_spots_the_first_click(tmp_path: Path, case: Case) -> None:
    cue, times, downbeat = case()
    path = tmp_path / "click.wav"
    write_wav(path, render_click_track(cue), origination=datetime(2024, 5, 17, 14, 3, 9, tzinfo=UTC))
    parts = chunks(path.read_bytes())
    assert [cid for cid, _ in parts] == [b"bext", b"fmt ", b"data"]
    bext = parts[0][1]
    assert bext[256:288].rstrip(b"\0") == b"stage"
    assert bext[288:320].rstrip(b"\0") == b"1M1"
    assert bext[320:338] == b"2024-05-1714:03:09"
    low, high, version = struct.unpack("<IIH", bext[338:348])
    assert low + (high << 32) == round((downbeat + times[0]) * 48000)
    assert version == 1
    assert bext[348:602] == bytes(254)
    assert bext[602:].startswith(b"A=PCM,F=48000,W=16,M=mono,T=stage\r\n")
    assert bext[:256].rstrip(b"\0").startswith(b"1M1 Main Title: click from ")


def test_time_reference_of_the_demo_downbeat() -> None:
    cue = sheet_cue("23.976", 'start = "01:00:10:00"\ntempo = "12-0"\nbars = 1\ncountoff = 0')
    # 01:00:10:00 at 23.976 is frame 86640 = 86640 × 1001/24000 s, which is 86640 × 2002 samples.
    assert render_click_track(cue).time_reference == 173_453_280


def test_fmt_chunk_is_48k_16_bit_mono_pcm(tmp_path: Path) -> None:
    cue, _, _ = case_23976()
    path = tmp_path / "c.wav"
    write_wav(path, render_click_track(cue))
    fmt = dict(chunks(path.read_bytes()))[b"fmt "]
    assert struct.unpack("<HHIIHH", fmt) == (1, 1, 48000, 96000, 2, 16)


def test_three_distinct_short_sounds_below_full_scale() -> None:
    sounds = {kind: click_sound(kind) for kind in ClickKind}
    assert len(set(sounds.values())) == 3
    for data in sounds.values():
        samples = struct.unpack(f"<{len(data) // 2}h", data)
        assert len(samples) <= 0.030 * SAMPLE_RATE
        assert max(abs(s) for s in samples) < 32767
        assert abs(samples[0]) == max(abs(s) for s in samples)  # the onset is the peak: a sharp attack
        assert samples[-1] != 0


def test_each_click_gets_its_own_sound(tmp_path: Path) -> None:
    cue, _, _ = case_23976()
    track = render_click_track(cue)
    pcm = bytes(track.pcm)
    for offset, kind in track.onsets:
        sound = click_sound(kind)
        assert pcm[2 * offset : 2 * offset + len(sound)] == sound
    kinds = [k for _, k in track.onsets]
    assert kinds[:4] == [ClickKind.WARNING] * 4
    assert kinds[4::4] == [ClickKind.ACCENT] * 3
    assert ClickKind.NORMAL in kinds


def test_a_sound_longer_than_the_gap_is_cut_at_the_next_click(monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ClickKind:
        monkeypatch.setitem(SOUNDS, kind, Sound(frequency=500.0, peak=0.5, decay=1.0, duration=0.3))
    click_sound.cache_clear()
    try:
        cue = sheet_cue("24", 'start = "01:00:00:00"\ntempo = 300\nmeter = "2/4"\nbars = 2\ncountoff = 0')
        track = render_click_track(cue)
        gap = 48000 // 5
        pcm = bytes(track.pcm)
        for offset, kind in track.onsets[:-1]:
            assert pcm[2 * offset : 2 * (offset + gap)] == click_sound(kind)[: 2 * gap]
    finally:
        click_sound.cache_clear()


def test_free_cue_cannot_be_rendered() -> None:
    cue = sheet_cue("24", 'start = "01:00:00:00"\nfree = true\nend = "01:00:10:00"')
    with pytest.raises(RenderError, match="free timing"):
        render_click_track(cue)


def test_first_click_before_midnight_is_refused() -> None:
    cue = sheet_cue("24", 'start = "00:00:01:00"\ntempo = "12-0"\nbars = 1\ncountoff = 1')
    with pytest.raises(RenderError, match="before 00:00:00:00"):
        render_click_track(cue)


def test_bext_chunk_layout() -> None:
    chunk = bext_chunk("d", "1M1", (5 << 32) + 7)
    assert chunk[:4] == b"bext"
    size = struct.unpack("<I", chunk[4:8])[0]
    assert size == len(chunk) - 8
    assert size % 2 == 0
    assert struct.unpack("<IIH", chunk[8 + 338 : 8 + 348]) == (7, 5, 1)
    assert chunk[8 + 320 : 8 + 338] == bytes(18)  # no origination given: empty date and time


def test_offsets_round_to_the_nearest_sample() -> None:
    # At 29.97 a 6-5 click is 6.625 × 1001/30000 s = 10610.6 samples: offsets are not whole.
    cue = sheet_cue("29.97", 'start = "01:00:00:00"\ntempo = "6-5"\nmeter = "4/4"\nbars = 2\ncountoff = 0')
    length = Fraction(53, 8) / FPS_2997
    assert math.isclose(float(length * 48000), 10610.6)
    track = render_click_track(cue)
    assert [o for o, _ in track.onsets] == [round(k * length * 48000) for k in range(8)]
    assert [o for o, _ in track.onsets][1:3] == [10611, 21221]


def test_a_track_from_an_earlier_start_and_of_a_given_length() -> None:
    """A streamer movie's click: from its first frame, 1.5 s before the first click, for 5 s."""
    cue = sheet_cue("24", 'start = "01:00:00:00"\ntempo = "12-0"\nmeter = "2/4"\nbars = 2\ncountoff = 0')
    whole = render_click_track(cue)
    early = render_click_track(cue, span=(Fraction(-3, 2), 5 * 48000))
    assert early.frames == 5 * 48000
    assert [o for o, _ in early.onsets] == [72_000 + o for o, _ in whole.onsets]
    assert bytes(early.pcm[: 2 * 72_000]) == bytes(2 * 72_000)
    assert bytes(early.pcm[2 * 72_000 : 2 * 72_000 + len(whole.pcm)]) == bytes(whole.pcm)
    assert early.time_reference == whole.time_reference - 72_000
    short = render_click_track(cue, span=(Fraction(0), 48_000))  # the clicks after its end are left out
    assert [o for o, _ in short.onsets] == [0, 24_000]
    with pytest.raises(RenderError, match="cannot begin after its first click"):
        render_click_track(cue, span=(Fraction(1, 2), 48_000))
