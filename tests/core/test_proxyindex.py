"""The proxy's index: built from a sample table only when every rule the pages rely on holds, and read back."""

from __future__ import annotations

import base64
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.cut import GOP, Picture
from stage.core.proxyindex import ProxyIndex, Sample, avc_codec, proxy_index
from stage.core.timecode import RATES, Timecode
from stage.errors import PictureError

R23 = RATES["23.976"]
AVCC = bytes([1, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1F])
TB = Fraction(1, 24000)


def picture(frames: int) -> Picture:
    return Picture("3-1f9a2c", "reel1.mov", R23, Timecode.parse("00:59:58:00", R23), frames, 1280, 720,
                   "2026-01-05T10:00:00+00:00", {})


def table(frames: int, first: int = 48) -> list[Sample]:
    """A proxy's samples as x264 and the MP4 muxer lay them out: one after another, a keyframe every GOP."""
    out, at = [], first
    for k in range(frames):
        size = 9000 if k % GOP == 0 else 400 + k
        out.append(Sample(at, size, k % GOP == 0, k * 1001))
        at += size
    return out


def build(samples: list[Sample], frames: int | None = None, file_size: int | None = None) -> ProxyIndex:
    end = samples[-1].offset + samples[-1].size if samples else 0
    return proxy_index(samples, avcc=AVCC, width=1280, height=720, time_base=TB,
                       file_size=end if file_size is None else file_size,
                       picture=picture(len(samples) if frames is None else frames))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300))
def test_an_index_round_trips_and_each_group_is_one_range(frames: int) -> None:
    samples = table(frames)
    index = build(samples)
    assert index.keyframes == tuple(range(0, frames, GOP))
    assert index.codec == "avc1.64001f"
    data = index.as_json()
    assert data["fps"] == [24000, 1001]
    assert data["start_frame"] == Timecode.parse("00:59:58:00", R23).frame_count
    assert base64.b64decode(data["description"]) == AVCC
    assert ProxyIndex.from_json(data) == index
    for k in range(frames):
        first, end = index.group(k)
        key = k - k % GOP
        last = min(key + GOP, frames) - 1
        assert (first, end) == (samples[key].offset, samples[last].offset + samples[last].size)


def test_an_older_proxys_groups_are_its_own_keyframes_apart() -> None:
    # A proxy made when groups were 12 frames long keeps its index: its groups are read from it, not from GOP.
    samples = table(30)
    data = {**build(samples).as_json(), "keyframes": [0, 12, 24]}
    older = ProxyIndex.from_json(data)
    assert older.group(0) == older.group(11) == (samples[0].offset, samples[11].offset + samples[11].size)
    assert older.group(12) == (samples[12].offset, samples[23].offset + samples[23].size)
    assert older.group(29) == (samples[24].offset, samples[29].offset + samples[29].size)


def test_each_rule_names_the_first_sample_that_breaks_it() -> None:
    good = table(36)
    with pytest.raises(PictureError, match=r"^the proxy of reel1.mov has 36 frames where the cut has 37: "):
        build(good, frames=37)
    with pytest.raises(PictureError, match=r"sample 35 \(435 bytes at \d+\) is not inside the file \(\d+ bytes\)"):
        build(good, file_size=good[-1].offset + 100)
    gap = [*good[:5], *(replace(s, offset=s.offset + 1) for s in good[5:])]
    with pytest.raises(PictureError, match=r"sample 5 starts at byte \d+, not where sample 4 ends"):
        build(gap)
    b_frames = [*good[:3], replace(good[3], stamp=good[4].stamp), replace(good[4], stamp=good[3].stamp), *good[5:]]
    with pytest.raises(PictureError, match=r"sample 3 is at 4004 ticks of 1/24000, not 3003: not one frame after"):
        build(b_frames)
    extra_key = [*good[:7], replace(good[7], keyframe=True), *good[8:]]
    with pytest.raises(PictureError, match=rf"sample 7 is a keyframe: the proxy needs one every {GOP} frames exactly"):
        build(extra_key)
    no_key = [*good[:24], replace(good[24], keyframe=False), *good[25:]]
    with pytest.raises(PictureError, match=r"sample 24 is not a keyframe"):
        build(no_key)


def test_the_codec_string_comes_from_the_avcc_record() -> None:
    assert avc_codec(bytes([1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0])) == "avc1.42c01e"
    with pytest.raises(PictureError, match=r"not an avcC record \(000000016764\)"):
        avc_codec(bytes.fromhex("000000016764"))  # Annex B start codes: not what an MP4 carries
    with pytest.raises(PictureError, match=r"not an avcC record \(empty\)"):
        avc_codec(b"")


def test_an_index_that_does_not_hold_together_is_refused() -> None:
    data = build(table(24)).as_json()
    with pytest.raises(PictureError, match="frames, sizes and start disagree"):
        ProxyIndex.from_json({**data, "sizes": data["sizes"][:-1]})
    with pytest.raises(PictureError, match="does not hold together"):
        ProxyIndex.from_json({**data, "rate": "23.98fps"})
    with pytest.raises(PictureError, match="index version 2 is not 1"):
        ProxyIndex.from_json({**data, "version": 2})
    with pytest.raises(PictureError, match="sample 24 is outside the proxy"):
        build(table(24)).group(24)
