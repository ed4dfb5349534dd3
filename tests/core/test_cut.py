"""The cut, judged without I/O: its exact rate from its timestamps, its rate against the sheet's, its start, its
length, the proxy's size and the revisions' ids."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.cuesheet import parse_cue_sheet
from stage.core.cut import (
    PROXY_HEIGHT,
    Picture,
    Probe,
    check_rate,
    frame_rate,
    judge,
    next_revision_number,
    outside,
    proxy_size,
    rate_name,
    revision_id,
    revision_number,
    start_timecode,
    timecode_drop,
)
from stage.core.timecode import RATES, Timecode
from stage.errors import PictureError, TimecodeError

R23, R24, R25, NDF, DF = (RATES[n] for n in ("23.976", "24", "25", "29.97", "29.97df"))


def stamps_at(fps: Fraction, tb: Fraction, frames: int, first: int = 0) -> tuple[int, ...]:
    """Each frame's timestamp as ffmpeg's muxers write it: the exact time rounded to the nearest tick, half up."""
    return tuple(first + math.floor(k / (fps * tb) + Fraction(1, 2)) for k in range(frames))


def probe(stamps: tuple[int, ...], tb: Fraction = Fraction(1, 24000), **kw: object) -> Probe:
    fields: dict[str, object] = {"name": "reel1.mov", "size": 1000, "container": "QuickTime", "codec": "prores",
                                 "width": 1920, "height": 1080, "aspect": Fraction(1), "time_base": tb,
                                 "stamps": stamps, "timecode": "00:59:58:00"}
    fields.update(kw)
    return Probe(**fields)  # type: ignore[arg-type]


# -- the rate from the timestamps -----------------------------------------------------------------


TIME_BASES = [None, Fraction(1, 90000), Fraction(1, 12800), Fraction(1, 1000), Fraction(1, 600)]


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(sorted(RATES)), st.sampled_from(TIME_BASES), st.integers(120, 600), st.integers(0, 10**7))
def test_every_known_rate_is_found_exactly_from_rounded_timestamps(name: str, tb: Fraction | None, frames: int,
                                                                   first: int) -> None:
    fps = RATES[name].fps
    base = tb if tb is not None else 1 / fps  # a time base of one frame, as MXF writes it
    order = list(stamps_at(fps, base, frames, first))
    order[1:4] = [order[2], order[3], order[1]]  # decode order is not presentation order (B-frames): no matter
    assert frame_rate(probe(tuple(order), base)) == fps
    assert frame_rate(probe(tuple(order), base, declared_rate=fps)) == fps


def test_a_rate_the_stage_does_not_know_is_measured() -> None:
    assert frame_rate(probe(stamps_at(Fraction(25, 2), Fraction(1, 1000), 50), Fraction(1, 1000))) == Fraction(25, 2)
    assert rate_name(Fraction(25, 2)) == "12.5"


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["23.976", "25", "29.97"]), st.integers(20, 200), st.data())
def test_a_frame_dropped_anywhere_is_a_variable_rate_named_where(name: str, frames: int, data: st.DataObject) -> None:
    fps = RATES[name].fps
    stamps = list(stamps_at(fps, 1 / fps, frames))
    gone = data.draw(st.integers(1, frames - 2))
    del stamps[gone]
    with pytest.raises(PictureError, match=rf"^reel1.mov has a variable frame rate: frame {gone - 1} lasts "):
        frame_rate(probe(tuple(stamps), 1 / fps, declared_rate=fps))  # an MXF: a tick is a frame
    with pytest.raises(PictureError, match=rf"^reel1.mov has a variable frame rate: frame {gone - 1} lasts "):
        frame_rate(probe(stamps_at(fps, Fraction(1, 90000), frames + 1)[:gone] +
                         stamps_at(fps, Fraction(1, 90000), frames + 1)[gone + 1:], Fraction(1, 90000)))


def test_the_variable_rate_names_the_durations_it_saw() -> None:
    # A phone's file: 1/24 s frames, then 1/30 s ones, on a 1/600 s time base.
    stamps = tuple([25 * k for k in range(48)] + [1200 + 20 * k for k in range(60)])
    with pytest.raises(PictureError) as caught:
        frame_rate(probe(stamps, Fraction(1, 600)))
    assert str(caught.value) == (
        "reel1.mov has a variable frame rate: frame 0 lasts 41.667 ms where most last 33.333 ms (durations seen: "
        "33.3 ms ×59, 41.7 ms ×48); the stage needs a constant rate: export the cut again at the picture's rate")


def test_two_frames_at_one_time_are_refused() -> None:
    with pytest.raises(PictureError, match=r"two frames at one time \(frames 1 and 2\)"):
        frame_rate(probe((0, 1001, 1001, 2002)))


def test_too_few_frames_to_measure_take_the_declared_rate() -> None:
    assert frame_rate(probe((0,), declared_rate=Fraction(25))) == 25
    assert frame_rate(probe((0, 1001), declared_rate=Fraction(24000, 1001))) == Fraction(24000, 1001)
    with pytest.raises(PictureError, match=r"^reel1.mov has 1 frame\(s\) and says no frame rate: not a movie$"):
        frame_rate(probe((0,)))
    with pytest.raises(PictureError, match=r"^reel1.mov holds no frames$"):
        frame_rate(probe(()))


# -- the rate against the sheet -------------------------------------------------------------------


def test_a_24_cut_for_a_23976_sheet_is_refused_naming_both() -> None:
    with pytest.raises(PictureError) as caught:
        check_rate("reel1.mov", Fraction(24), "00:59:58:00", R23)
    assert str(caught.value) == ("reel1.mov runs at 24 fps and the cue sheet's [picture] rate is 23.976: the cut and "
                                 "the sheet must be at one rate (conform the cut, or correct the sheet)")
    with pytest.raises(PictureError, match=r"runs at 23.976 fps and the cue sheet's \[picture\] rate is 24:"):
        check_rate("reel1.mov", R23.fps, None, R24)


def test_2997_against_2997df_is_the_drop_frame_flag_of_the_cuts_timecode() -> None:
    assert check_rate("r.mov", DF.fps, "00:59:58;00", DF) is DF
    assert check_rate("r.mov", DF.fps, "00:59:58:00", NDF) is NDF
    with pytest.raises(PictureError) as caught:
        check_rate("r.mov", DF.fps, "00:59:58;00", NDF)
    assert str(caught.value) == ("r.mov's timecode 00:59:58;00 is drop-frame (29.97df) and the cue sheet's [picture] "
                                 "rate is 29.97: the cut and the sheet must count timecode alike")
    with pytest.raises(PictureError, match=r"timecode 00:59:58:00 is non-drop \(29.97\) and the cue sheet's "
                                           r"\[picture\] rate is 29.97df"):
        check_rate("r.mov", DF.fps, "00:59:58:00", DF)
    # no timecode: the sheet's word for it; at 23.976 a separator means nothing
    assert check_rate("r.mov", DF.fps, None, DF) is DF
    assert check_rate("r.mov", R23.fps, "00:59:58;00", R23) is R23


def test_drop_frame_separators() -> None:
    assert [timecode_drop(t) for t in ("00:59:58;00", "00:59:58.00", "00:59:58,00", "00:59:58:00", None)] == [
        True, True, True, False, None]


# -- the start and the length ---------------------------------------------------------------------


def test_the_start_is_the_files_unless_given_by_hand() -> None:
    assert start_timecode("r", "00:59:58:00", None, R23) == Timecode(0, 59, 58, 0, R23)
    assert start_timecode("r", "00:59:58:00", "01:00:00:00", R23) == Timecode(1, 0, 0, 0, R23)
    assert start_timecode("r", None, "00:59:58;02", DF).frame_count == Timecode(0, 59, 58, 2, DF).frame_count
    with pytest.raises(PictureError) as caught:
        start_timecode("r.mov", None, None, R23)
    assert str(caught.value) == (
        "r.mov has no timecode (no tmcd track, no timecode in its header): give its first frame's timecode "
        "(stage picture import --start HH:MM:SS:FF, or PUT /api/picture?start=HH:MM:SS:FF)")
    with pytest.raises(TimecodeError, match=r"frame 24 does not exist at 23.976 fps"):
        start_timecode("r", None, "01:00:00:24", R23)
    with pytest.raises(PictureError, match=r"^r.mov's timecode '00:59:58:29' cannot be read at 25 fps: "):
        start_timecode("r.mov", "00:59:58:29", None, R25)


def test_judge_a_good_cut() -> None:
    cut = judge(probe(stamps_at(R23.fps, Fraction(1, 24000), 240)), R23)
    assert (cut.rate, str(cut.start), cut.frames, cut.start_frame, cut.start_given) == (
        R23, "00:59:58:00", 240, (59 * 60 + 58) * 24, False)
    given = judge(probe(stamps_at(R23.fps, Fraction(1, 24000), 240), timecode=None), R23, start="01:00:00:00")
    assert (str(given.start), given.start_given) == ("01:00:00:00", True)
    assert given.source_json("ab" * 32)["sha256"] == "ab" * 32


def test_a_file_holding_fewer_frames_than_its_header_promises_is_truncated() -> None:
    short = stamps_at(R25.fps, Fraction(1, 25), 25)
    with pytest.raises(PictureError) as caught:
        judge(probe(short, Fraction(1, 25), duration=50, size=233494), R25)
    assert str(caught.value) == ("reel1.mov is truncated: its header promises 50 frames, the file holds 25 "
                                 "(233494 bytes): copy it again")
    with pytest.raises(PictureError, match=r"header promises 48 frames, the file holds 25"):
        judge(probe(short, Fraction(1, 25), header_frames=48), R25)
    with pytest.raises(PictureError, match=r"^reel1.mov is truncated or damaged: 1 frame\(s\) are cut short"):
        judge(probe(short, Fraction(1, 25), damaged=1), R25)


def test_a_cut_past_midnight_is_refused() -> None:
    with pytest.raises(PictureError, match=r"240 frames from 23:59:59:00 run past 24:00:00:00"):
        judge(probe(stamps_at(R24.fps, Fraction(1, 24), 240), Fraction(1, 24), timecode="23:59:59:00"), R24)


# -- the proxy's size, the revisions --------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 8192), st.integers(2, 4320), st.sampled_from([Fraction(1), Fraction(4, 3), Fraction(10, 11),
                                                                     Fraction(64, 45)]))
def test_the_proxy_is_even_at_most_720_high_and_keeps_the_shape(width: int, height: int, aspect: Fraction) -> None:
    w, h = proxy_size(width, height, aspect)
    assert w % 2 == 0
    assert h % 2 == 0
    assert h <= min(PROXY_HEIGHT, max(2, height))
    assert abs(Fraction(w, h) - width * aspect / height) <= Fraction(2, h) + Fraction(width * aspect, height * h)


def test_proxy_sizes_by_hand() -> None:
    assert proxy_size(1920, 1080) == (1280, 720)
    assert proxy_size(640, 360) == (640, 360)
    assert proxy_size(1440, 1080, Fraction(4, 3)) == (1280, 720)  # HDV's wide pixels, made square
    assert proxy_size(4096, 1716) == (1718, 720)  # scope
    assert proxy_size(321, 181) == (320, 180)


def test_revision_ids() -> None:
    assert revision_id(3, "1f9a2c" + "0" * 58) == "3-1f9a2c"
    assert revision_number("3-1f9a2c") == 3
    assert [revision_number(x) for x in ("3-1F9A2C", "..", "3-1f9a2", "x-1f9a2c", "/etc/passwd")] == [None] * 5
    assert next_revision_number(["1-aaaaaa", ".lock", "current.json", "12-bbbbbb", ".13-cccccc.partial"]) == 13
    assert next_revision_number([]) == 1


def picture(start: str = "00:59:58:00", frames: int = 240) -> Picture:
    return Picture("2-1f9a2c", "reel1.mov", R23, Timecode.parse(start, R23), frames, 1280, 720,
                   "2026-01-05T10:00:00+00:00", {"name": "reel1.mov"})


def test_a_picture_maps_frames_to_samples_and_back_to_its_record() -> None:
    p = picture()
    first = p.start_frame
    assert [p.sample_of(f) for f in (first - 1, first, first + 239, first + 240)] == [None, 0, 239, None]
    assert str(p.end) == "01:00:07:23"
    assert p.session_json() == {"revision": "2-1f9a2c", "rate": "23.976", "start_frame": first, "frames": 240}
    assert Picture.from_record(p.record()) == p
    with pytest.raises(PictureError, match="does not hold together"):
        Picture.from_record({**p.record(), "frames": "many"})
    with pytest.raises(PictureError, match="is not a picture revision"):
        Picture("../x", "r", R23, p.start, 1, 2, 2, "", {})


def test_cues_outside_the_cut_are_named() -> None:
    sheet = parse_cue_sheet("""
[picture]
rate = "23.976"
[[cue]]
id = "1M1"
start = "00:59:59:00"
tempo = "12-0"
meter = "4/4"
bars = 2
countoff = 0
[[cue]]
id = "1M2"
start = "01:00:05:00"
tempo = "12-0"
meter = "4/4"
bars = 2
countoff = 0
""")
    p = picture()
    assert outside(p.start, p.frames, sheet.cues) == [
        "cue 1M2 (01:00:05:00 to 01:00:09:00) runs outside the cut (00:59:58:00 to 01:00:07:23)"]
