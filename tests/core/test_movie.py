"""The streamer movie's frames and samples: where it starts and ends, what the cut must cover, its size."""

from __future__ import annotations

import math
from fractions import Fraction
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.movie import fit, movie_span, parse_size, uncovered
from stage.core.timecode import Timecode
from stage.errors import RenderError

F = Fraction


def cue_of(rate: str, start: str, countoff: int = 2, tempo: str = "12-0", bars: int = 4) -> Cue:
    (cue,) = parse_cue_sheet(dedent(f"""
    [picture]
    rate = "{rate}"
    [[cue]]
    id = "1M1"
    start = "{start}"
    tempo = "{tempo}"
    bars = {bars}
    countoff = {countoff}
    """)).cues
    return cue


def test_a_movie_by_hand() -> None:
    # 23.976, 12-0 (12 frames a click), 2 bars of 4/4 count-off: the first click 96 frames before the downbeat.
    cue = cue_of("23.976", "01:00:10:00")
    span = movie_span(cue, F(5), F(1, 2))
    downbeat = Timecode.parse("01:00:10:00", "23.976").frame_count
    assert span.first == downbeat - 96 - 120  # 5 s before the first click is 119.88 frames: frame 120 before
    assert str(span.start) == "01:00:01:00"
    # The end: 4 bars of 12-0 (192 frames) after the downbeat, and half a second (11.988 frames) more.
    assert span.first + span.frames == downbeat + 192 + 12
    assert span.origin == F(span.first * 1001, 24000)
    assert span.samples(48_000) == span.frames * 2002  # a frame at 23.976 is 2002 samples
    assert span.time(10) == F((span.first + 10) * 1001, 24000)


def test_the_pre_roll_stops_at_midnight_and_a_free_cue_starts_at_its_start() -> None:
    early = cue_of("25", "00:00:03:00", countoff=1, tempo="120")  # the first click 2 s in
    assert movie_span(early, F(5), F(0)).first == 0
    (free,) = parse_cue_sheet('[picture]\nrate = "25"\n[[cue]]\nid = "1M2"\nstart = "00:10:00:00"\nfree = true\n'
                              'end = "00:10:20:00"\n').cues
    span = movie_span(free, F(2), F(0))
    assert (str(span.start), span.frames) == ("00:09:58:00", 22 * 25)


@settings(deadline=None)
@given(rate=st.sampled_from(["23.976", "24", "25", "29.97", "29.97df", "30"]),
       minute=st.integers(0, 1400), preroll=st.fractions(0, 60, max_denominator=100),
       tail=st.fractions(0, 2, max_denominator=100))
def test_the_span_holds_the_pre_roll_and_the_tail_and_no_frame_more(rate: str, minute: int, preroll: Fraction,
                                                                   tail: Fraction) -> None:
    cue = cue_of(rate, f"{minute // 60:02d}:{minute % 60:02d}:10{';' if rate.endswith('df') else ':'}00")
    span = movie_span(cue, preroll, tail)
    dt = 1 / cue.rate.fps
    begin = max(cue.downbeat + cue.first_time - preroll, F(0))
    assert span.origin <= begin < span.origin + dt  # the frame the pre-roll begins in
    end = cue.downbeat + cue.end_time + tail
    assert span.time(span.frames - 1) < end <= span.time(span.frames)
    assert abs(span.samples(48_000) - span.duration * 48_000) <= F(1, 2)


def test_the_cut_must_cover_the_cue_from_its_first_click_to_its_end() -> None:
    cue = cue_of("24", "01:00:10:00", countoff=1, bars=2)  # the first click at 01:00:08:00, the end at 01:00:14:00
    start = Timecode.parse("01:00:08:00", "24")
    assert uncovered(cue, start, 6 * 24 + 1) is None  # 01:00:08:00 to 01:00:14:00 inclusive
    assert uncovered(cue, start, 6 * 24) == (
        "the cut runs from 01:00:08:00 to 01:00:13:23 and cue 1M1 from its first click 01:00:08:00 to its end "
        "01:00:14:00: the cut must cover the cue")
    assert uncovered(cue, start + 1, 6 * 24) is not None


def test_sizes() -> None:
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size(" 640 × 360 ") == (640, 360)
    for bad in ("1280", "1281x720", "32x32", "8192x4320", "big"):
        with pytest.raises(RenderError, match="--size"):
            parse_size(bad)


def test_fitting_a_picture_in_the_movie() -> None:
    assert fit(1920, 1080, F(1), (1280, 720)) == (0, 0, 1280, 720)
    assert fit(1440, 1080, F(1), (1280, 720)) == (160, 0, 960, 720)  # 4:3 pillarboxed
    assert fit(1920, 800, F(1), (1280, 720)) == (0, 92, 1280, 534)  # 2.40:1 letterboxed
    assert fit(1440, 1080, F(4, 3), (1280, 720)) == (0, 0, 1280, 720)  # anamorphic 16:9


@settings(deadline=None)
@given(width=st.integers(16, 8192), height=st.integers(16, 8192), box_w=st.integers(32, 2048),
       box_h=st.integers(32, 2048))
def test_a_fitted_picture_keeps_its_shape_inside_the_movie(width: int, height: int, box_w: int, box_h: int) -> None:
    box = (box_w * 2, box_h * 2)
    x, y, w, h = fit(width, height, F(1), box)
    assert 0 <= x <= x + w <= box[0]
    assert 0 <= y <= y + h <= box[1]
    assert x % 2 == y % 2 == w % 2 == h % 2 == 0
    assert w == box[0] or h == box[1]  # as large as fits
    # Its shape within the rounding of one side to an even number of pixels.
    assert math.isclose(w / h, width / height, rel_tol=2.5 / min(w, h) + 1e-9)
