"""``stage render … --picture CUT --movie OUT``: the streamer movie, checked from outside.

A ProRes cut at 23.976 (every frame carrying its number, tests/peers/cuts.py)
and a cue sheet worked out by hand: cue 9M1 has its downbeat at 01:00:01:00
(picture frame D), one bar of 4/4 count-off at 12-0 (12 frames a click, the
first warning click at D − 48), 3 bars (the end at D + 144), 1 s streamers, a
flutter of 3 on bar 2 beat 3 (D + 72).  With a pre-roll of 1 s (23.976
frames) the movie's first frame is D − 72 (00:59:58:00) and, with half a
second of tail, it holds 228 frames.  The cut runs from D − 60 for 210
frames: the first 12 and the last 6 frames of the movie are outside it.

ffprobe reads the timecode track and the frame count; ffmpeg decodes the
sound, whose clicks must start on their samples; PyAV decodes the picture,
whose pixels must show each punch at the centre, each streamer's leading edge
where its progress puts it, and each frame the cut's frame due.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from moviecheck import bar_columns, centre, frames, near, onsets, sound, streams, time_reference
from numpy.typing import NDArray
from peers.cuts import make_cut, read_code
from peers.disk import small_disk
from PIL import Image

from stage.cli import main

FPS = Fraction(24000, 1001)
SAMPLES_PER_FRAME = 2002  # 48000 / FPS, exactly
D = (3600 + 1) * 24  # 01:00:01:00, non-drop: frames since midnight
FIRST = D - 72  # the movie's first frame
CUT = D - 60  # the cut's first frame: 00:59:58:12
WIDTH, HEIGHT = 320, 180
YELLOW, GREEN, BLUE, RED = (255, 212, 0), (43, 220, 74), (79, 140, 255), (255, 59, 48)

SHEET = """\
[picture]
rate = "23.976"

[defaults]
countoff = 1
streamer = "1s"

[[cue]]
id = "9M1"
title = "Door"
start = "01:00:01:00"
tempo = "12-0"
meter = "4/4"
bars = 3

[[cue.hit]]
bar = 2
beat = 3
label = "door"
color = "blue"
flutter = 3

[[cue]]
id = "9M2"
title = "Drift"
start = "00:59:58:13"
free = true
end = "00:59:58:23"

[[cue]]
id = "9M3"
start = "01:00:20:00"
tempo = "12-0"
bars = 1
"""


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@dataclass
class Made:
    folder: Path
    sheet: Path
    config: Path
    cut: Path
    movie: Path
    guide: Path
    wav: Path
    out: str
    frames: list[NDArray[np.uint8]]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    folder = tmp_path_factory.mktemp("movie")
    sheet = folder / "cues.toml"
    sheet.write_text(SHEET, encoding="utf-8")
    config = folder / "stage.toml"
    config.write_text("[clock]\npreroll = 1.0\n", encoding="utf-8")
    cut = make_cut(folder / "reel1.mov", "23.976", "00:59:58:12", 210 / float(FPS), size=(WIDTH, HEIGHT))
    assert cut.frames == 210
    movie, guide, wav = folder / "9M1.mp4", folder / "9M1-guide.wav", folder / "9M1.wav"
    code, out, err = run("render", sheet, "--cue", "9M1", "--picture", cut.path, "--movie", movie, "--guide", guide,
                         "--wav", wav, "--config", config)
    assert code == 0, err
    return Made(folder, sheet, config, cut.path, movie, guide, wav, out, frames(movie))


def test_the_timecode_track_starts_at_the_first_frame_and_every_frame_is_there(made: Made) -> None:
    found = streams(made.movie)
    video, audio, timecode = (next(s for s in found if s["codec_type"] == kind) for kind in ("video", "audio", "data"))
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", WIDTH, HEIGHT)
    assert (video["r_frame_rate"], video["nb_frames"]) == ("24000/1001", "228")
    assert (timecode["codec_tag_string"], timecode["tags"]["timecode"]) == ("tmcd", "00:59:58:00")
    assert video["tags"]["timecode"] == "00:59:58:00"
    assert (audio["codec_name"], audio["sample_rate"]) == ("aac", "48000")
    assert len(made.frames) == 228
    assert "wrote" in made.out
    assert "228 frames" in made.out


def test_the_clicks_start_on_their_samples(made: Made) -> None:
    # 4 warning clicks and 12 clicks, 12 frames apart from D − 48: frame 24 of the movie and on.
    expected = [(24 + 12 * j) * SAMPLES_PER_FRAME for j in range(16)]
    heard = sound(made.movie)
    assert onsets(heard) == expected  # AAC through its edit list: the priming is gone, every click on its sample
    assert 228 * SAMPLES_PER_FRAME <= len(heard) < 228 * SAMPLES_PER_FRAME + 2048  # the encoder's last block
    guide = sound(made.guide)
    assert onsets(guide) == expected
    assert len(guide) == 228 * SAMPLES_PER_FRAME
    assert time_reference(made.guide) == FIRST * SAMPLES_PER_FRAME  # spots to the first frame's timecode
    # The same sounds as `stage render --wav`, which starts at the first click: sample for sample.
    wav = sound(made.wav)
    common = min(len(wav), len(guide) - expected[0])
    assert np.array_equal(guide[expected[0] : expected[0] + common], wav[:common])


def test_the_punches_flash_at_the_centre_for_three_frames(made: Made) -> None:
    # (first movie frame, colour): the first warning click (D − 48), the downbeat (D), the flutter's three
    # punches 2 frames apart around D + 72 (shown together as 7 frames), the end (D + 144).
    for first, count, color in ((24, 3, YELLOW), (72, 3, GREEN), (142, 7, BLUE), (216, 3, RED)):
        for i in range(first - 1, first + count + 1):
            shown = bool(near(np.array(centre(made.frames[i])), color, 40.0))
            assert shown == (first <= i < first + count), (i, color, centre(made.frames[i]))


def test_the_streamers_leading_edge_is_where_its_progress_puts_it(made: Made) -> None:
    row = round(HEIGHT * 0.3)  # below the labels, above the punches and the burnt-in text
    # (movie frame, colour, the hit's movie frame): 1 s streamers into the first warning, the downbeat, the
    # flutter and the end; the leading edge crosses the 320 px picture in 23.976 frames.
    checked = 0
    for hit, color in ((24, YELLOW), (72, GREEN), (144, BLUE), (216, RED)):
        for i in range(hit - 22, hit + 1, 3):
            progress = Fraction(i - hit, 1) / FPS + 1  # seconds since the streamer started
            edge = float(WIDTH * progress)
            found = bar_columns(made.frames[i][row], color)
            assert found is not None, (i, color)
            left, right = found
            # The bar is 6 px (1.2 % of 320 px is under the least width) behind its edge; H.264's 4:2:0 colour
            # blurs its sides, so its middle is measured.
            assert abs((left + right) / 2 - (edge - 3)) <= 2, (i, color, found, edge)
            assert 3 <= right - left <= 8, (i, color, found)
            checked += 1
        # On the hit the bar is at the far edge; a frame later it has gone (and the punch is on, at the centre).
        assert bar_columns(made.frames[hit][row][WIDTH - 20 :], color) == (14, 20)
        assert bar_columns(made.frames[hit + 1][row][WIDTH - 20 :], color) is None
    assert checked == 32


def test_each_frame_shows_the_cuts_frame_due(made: Made) -> None:
    row = round(HEIGHT * 0.3)
    exact = 0
    for i, frame in enumerate(made.frames):
        k = FIRST + i - CUT
        code = read_code(Image.fromarray(frame))
        if not 0 <= k < 210:
            assert code is None
            continue
        bar_on_screen = any(bar_columns(frame[row], c) is not None for c in (YELLOW, GREEN, BLUE, RED))
        assert code == k or (code is None and bar_on_screen), (i, k, code)
        exact += code == k
    assert exact >= 150  # a streamer crossing the code strips hides the code in the others


def test_frames_outside_the_cut_are_black_and_say_so(made: Made) -> None:
    notice = (0x9A, 0x9A, 0x9A)
    for i in (0, 5, 222, 227):  # (the yellow streamer crosses the middle third of the picture in between)
        frame = made.frames[i]
        strips = frame[: HEIGHT // 5, WIDTH // 3 : 2 * WIDTH // 3]
        assert (strips.max(axis=2) < 40).mean() > 0.95, i  # no picture where the code would be
        middle = frame[int(HEIGHT * 0.38) : int(HEIGHT * 0.62)]
        assert near(middle, notice, 30.0).sum() > 50, i  # the grey notice
    assert read_code(Image.fromarray(made.frames[12])) == 0  # the cut's first frame follows


def test_drop_frame_in_a_quicktime_with_pcm(tmp_path: Path) -> None:
    # 29.97 drop-frame across 01:01:00;00, where frames ;00 and ;01 do not exist.
    sheet = tmp_path / "df.toml"
    sheet.write_text('[picture]\nrate = "29.97df"\n[[cue]]\nid = "2M1"\nstart = "01:01:00;10"\ntempo = "15-0"\n'
                     'bars = 1\ncountoff = 0\nstreamer = "15f"\n', encoding="utf-8")
    config = tmp_path / "stage.toml"
    config.write_text("[clock]\npreroll = 0.5\n", encoding="utf-8")
    cut = make_cut(tmp_path / "df.mov", "29.97df", "01:00:59;00", 4.0, size=(160, 90))
    movie = tmp_path / "2M1.mov"
    code, _, err = run("render", sheet, "--cue", "2M1", "--picture", cut.path, "--movie", movie, "--config", config)
    assert code == 0, err
    found = streams(movie)
    video = next(s for s in found if s["codec_type"] == "video")
    audio = next(s for s in found if s["codec_type"] == "audio")
    # Drop-frame counts 107892 frames to 01:00:00;00 and 1800 more to 01:01:00;02 (;00 and ;01 skipped): the
    # downbeat 01:01:00;10 is frame 109700, the cut's first (01:00:59;00) 109662.  Half a second of pre-roll is
    # 14.985 frames: the movie starts 15 frames before the downbeat, at 01:00:59;23, and runs 4 clicks of 15 frames
    # and 14.985 frames of tail: 90 frames.
    downbeat, cut_first = 109_700, 109_662
    first, total = downbeat - 15, 90
    assert (video["tags"]["timecode"], video["nb_frames"]) == ("01:00:59;23", str(total))
    assert audio["codec_name"] == "pcm_s24le"
    # A frame is 1601.6 samples: the clicks, 15 frames apart from frame 15, on samples 24024 apart.
    assert onsets(sound(movie)) == [24_024 * (1 + j) for j in range(4)]
    codes = [read_code(Image.fromarray(f)) for f in frames(movie)]
    assert len(codes) == total
    assert all(c in (first + i - cut_first, None) for i, c in enumerate(codes))
    assert sum(c is not None for c in codes) >= total * 2 // 3


def test_a_free_timing_cue_has_streamers_and_no_sound(made: Made) -> None:
    movie = made.folder / "9M2.mp4"
    code, _, err = run("render", made.sheet, "--cue", "9M2", "--picture", made.cut, "--movie", movie, "--config",
                       made.config, "--size", "160x90")
    assert code == 0, err
    assert [s["codec_type"] for s in streams(movie)] == ["video", "data"]
    shown = frames(movie)
    # The start's punch (green, 00:59:58:13): 1 s of pre-roll before it, so frame 24 of the movie.
    assert near(np.array(centre(shown[24])), GREEN, 40.0)
    assert not near(np.array(centre(shown[23])), GREEN, 40.0)


@pytest.mark.parametrize(("args", "words"), [
    (["--cue", "9M9"], "no cue '9M9' on the cue sheet"),
    (["--cue", "9M3"], "the cut must cover the cue"),
    (["--cue", "9M2", "--guide", "{folder}/g.wav"], "cue 9M2 is in free timing: it has no click for --guide"),
    (["--cue", "9M1", "--movie", "{folder}/nowhere/9M1.mp4"], "cannot write"),
    (["--cue", "9M1", "--movie", "{folder}/9M1.avi"], "name it .mp4"),
    (["--cue", "9M1", "--size", "1280"], "--size '1280' is not WIDTHxHEIGHT"),
    (["--cue", "9M1", "--overlay", "streamers,take"], "'take' is not something the movie draws"),
    (["--cue", "9M1", "--picture", "{sheet}"], "is not a video"),
])
def test_bad_input_is_one_line_and_writes_nothing(made: Made, args: list[str], words: str) -> None:
    fill = {"folder": made.folder, "sheet": made.sheet}
    argv = ["render", str(made.sheet), "--picture", str(made.cut), "--movie", str(made.folder / "refused.mp4"),
            "--config", str(made.config)] + [a.format(**fill) for a in args]
    before = sorted(p.name for p in made.folder.iterdir())
    code, out, err = run(*argv)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1, err
    assert err.startswith("stage: ")
    assert words in err
    assert sorted(p.name for p in made.folder.iterdir()) == before


def test_a_cut_at_another_rate_or_without_timecode(made: Made, tmp_path: Path) -> None:
    wrong = make_cut(tmp_path / "reel1_25.mov", "25", "00:59:58:00", 0.5, size=(64, 36))
    code, _, err = run("render", made.sheet, "--cue", "9M1", "--picture", wrong.path, "--movie", tmp_path / "m.mp4")
    assert code == 1
    assert "runs at 25 fps and the cue sheet's [picture] rate is 23.976" in err
    bare = make_cut(tmp_path / "bare.mov", "23.976", None, 0.5, size=(64, 36))
    code, _, err = run("render", made.sheet, "--cue", "9M1", "--picture", bare.path, "--movie", tmp_path / "m.mp4")
    assert code == 1
    assert "has no timecode" in err
    assert "--picture-start" in err
    assert not (tmp_path / "m.mp4").exists()


def test_options_that_go_together(made: Made) -> None:
    code, _, err = run("render", made.sheet, "--cue", "9M1", "--guide", made.folder / "g.wav", "--wav",
                       made.folder / "w.wav")
    assert code == 2
    assert "--guide FILE is the movie's click track" in err
    code, _, err = run("render", made.sheet, "--cue", "9M1", "--movie", made.folder / "m.mp4")
    assert code == 2
    assert "--movie FILE and --picture CUT go together" in err


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk", "64k") as disk:
        yield disk


def test_a_disk_that_fills_keeps_the_movie_that_was_there(made: Made, full_disk: Path) -> None:
    movie = full_disk / "9M1.mp4"
    movie.write_bytes(b"the movie of yesterday")
    code, _, err = run("render", made.sheet, "--cue", "9M1", "--picture", made.cut, "--movie", movie, "--config",
                       made.config)
    assert code == 1
    assert "the disk filled while writing" in err
    assert movie.read_bytes() == b"the movie of yesterday"
    assert [p.name for p in full_disk.iterdir()] == ["9M1.mp4"]
