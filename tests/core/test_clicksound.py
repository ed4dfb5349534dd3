"""The click sounds and the voice that plays them block by block."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stage.core.clicksound import SOUNDS, ClickSounds, ClickVoice, Sound, db_to_gain, sound_samples
from stage.core.tempo import ClickKind
from stage.errors import StageError

SOUNDS3 = {ClickKind.ACCENT: [1.0, 0.5, 0.25], ClickKind.NORMAL: [-1.0, -0.5], ClickKind.WARNING: [0.75] * 5}


def play(voice: ClickVoice, frame0: int, n: int) -> list[float]:
    out = array("f", [9.0] * n)  # garbage: render must overwrite every sample
    voice.render(frame0, memoryview(out))
    return list(out)


def test_a_sound_starts_on_its_frame_inside_a_block() -> None:
    voice = ClickVoice(SOUNDS3)
    voice.start(1003, ClickKind.ACCENT)
    assert play(voice, 1000, 8) == [0, 0, 0, 1.0, 0.5, 0.25, 0, 0]
    assert play(voice, 1008, 4) == [0, 0, 0, 0]


def test_a_sound_runs_on_across_blocks() -> None:
    voice = ClickVoice(SOUNDS3)
    voice.start(1006, ClickKind.WARNING)
    assert play(voice, 1000, 8) == [0] * 6 + [0.75, 0.75]
    assert play(voice, 1008, 8) == [0.75, 0.75, 0.75] + [0] * 5


def test_the_next_click_cuts_the_sound_before_it() -> None:
    voice = ClickVoice(SOUNDS3)
    voice.start(0, ClickKind.WARNING)
    voice.start(2, ClickKind.NORMAL)
    voice.start(3, ClickKind.ACCENT)
    assert play(voice, 0, 8) == [0.75, 0.75, -1.0, 1.0, 0.5, 0.25, 0, 0]


def test_a_late_start_plays_the_rest_of_its_sound() -> None:
    voice = ClickVoice(SOUNDS3)
    voice.start(998, ClickKind.ACCENT)
    assert play(voice, 1000, 4) == [0.25, 0, 0, 0]


def test_stop_silences_at_once() -> None:
    voice = ClickVoice(SOUNDS3)
    voice.start(0, ClickKind.WARNING)
    voice.start(100, ClickKind.WARNING)
    assert play(voice, 0, 2) == [0.75, 0.75]
    voice.stop()
    assert play(voice, 2, 200) == [0] * 200


@given(
    starts=st.lists(st.tuples(st.integers(0, 400), st.sampled_from(list(ClickKind))), max_size=8),
    block=st.integers(1, 97),
)
def test_any_blocking_gives_the_same_signal(starts: list[tuple[int, ClickKind]], block: int) -> None:
    starts = sorted(starts, key=lambda s: s[0])
    whole = ClickVoice(SOUNDS3)
    pieces = ClickVoice(SOUNDS3)
    for frame, kind in starts:
        whole.start(frame, kind)
        pieces.start(frame, kind)
    expected = play(whole, 0, 500)
    got: list[float] = []
    while len(got) < 500:
        got += play(pieces, len(got), block)
    assert got[:500] == expected
    # and it is what the rule says: each sound from its frame until the next start (or its end)
    ref = [0.0] * 500
    for i, (frame, kind) in enumerate(starts):
        upto = starts[i + 1][0] if i + 1 < len(starts) else 500
        for j, x in enumerate(SOUNDS3[kind][: max(0, upto - frame)]):
            ref[frame + j] = x
    assert expected == [float(array("f", [x])[0]) for x in ref]


def test_the_sounds_start_at_their_peak_and_differ_in_pitch() -> None:
    samples = ClickSounds().samples(48000)
    assert {k: s[0] for k, s in samples.items()} == {k: SOUNDS[k].peak for k in ClickKind}
    for s in samples.values():
        assert max(abs(x) for x in s) == s[0]
        assert s[-1] != 0
    assert len({SOUNDS[k].frequency for k in ClickKind}) == 3


def test_level_scales_every_sound() -> None:
    quiet = ClickSounds(level_db=-6.0).samples(48000)
    loud = ClickSounds().samples(48000)
    for k in ClickKind:
        assert quiet[k] == pytest.approx([x * db_to_gain(-6.0) for x in loud[k]])
    assert db_to_gain(-6.0) == pytest.approx(0.501187, abs=1e-6)


def test_sound_length_follows_the_sample_rate() -> None:
    assert len(sound_samples(SOUNDS[ClickKind.ACCENT], 48000)) == 1440
    assert len(sound_samples(SOUNDS[ClickKind.ACCENT], 44100)) == 1323


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"frequency": 5.0}, "frequency"),
        ({"peak": 1.0}, "peak"),
        ({"decay": 0.0}, "decay"),
        ({"duration": 2.0}, "lasts"),
    ],
)
def test_bad_sounds_are_refused(kw: dict[str, float], word: str) -> None:
    args = {"frequency": 1000.0, "peak": 0.5, "decay": 0.005, "duration": 0.02} | kw
    with pytest.raises(StageError, match=word):
        Sound(**args)


def test_a_level_above_full_scale_is_refused() -> None:
    with pytest.raises(StageError, match="level"):
        ClickSounds(level_db=3.0)
