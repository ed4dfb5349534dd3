"""The tempo map of a DAW's file as a cue: pure, from an SmfMap built by hand (no file, no MIDI library).

``tests/adapters/test_midifile.py`` reads the same maps from real files.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from stage.core.cuesheet import parse_cue_sheet
from stage.core.smfimport import SmfMap, SmpteOffset, TimeSignature, cue_toml, import_cue
from stage.errors import MidiError

HOUR = SmpteOffset(25, 1, 0, 0, 0, 0)


def daw_map(
    tempos: tuple[tuple[int, int], ...], signatures: tuple[tuple[int, int, int], ...], end_tick: int,
    markers: tuple[tuple[int, str], ...] = (), smpte: SmpteOffset | None = HOUR,
) -> SmfMap:
    """What a DAW's file says about time, 480 ticks a quarter, as ``read_smf`` gives it."""
    return SmfMap(480, tempos, tuple(TimeSignature(t, n, d, 24) for t, n, d in signatures), markers, smpte,
                  "3M1 Chase", end_tick)


def test_a_tempo_map_with_a_change_mid_bar_a_meter_change_and_a_marker() -> None:
    smf = daw_map(((0, 500_000), (4800, 600_000)), ((0, 4, 4), (7680, 3, 4)), 10560, ((1200, 'hit "A"'),))
    assert smf.seconds(4800) == Fraction(5, 1)  # ten quarters at 0.5 s
    assert smf.seconds(4800 + 480) == Fraction(56, 10)
    imported = import_cue(smf, "3M1", rate="25")
    assert cue_toml(imported) == (
        "[[cue]]\n"
        'id = "3M1"\n'
        'title = "Chase"\n'
        'start = "01:00:00:00"\n'
        "tempo = 120  # 12-4\n"
        'meter = "4/4"\n'
        "bars = 6\n"
        "\n"
        "[[cue.change]]\n"
        "bar = 3\n"
        "beat = 3\n"
        "tempo = 100  # 15-0\n"
        "\n"
        "[[cue.change]]\n"
        "bar = 5\n"
        'meter = "3/4"\n'
        "\n"
        "[[cue.hit]]\n"
        "bar = 1\n"
        "beat = 3.5\n"
        'label = "hit \\"A\\""\n'
    )
    cue = parse_cue_sheet(f"[picture]\nrate = \"25\"\n{cue_toml(imported)}").cue("3M1")
    assert cue.clicks is not None
    assert cue.clicks.bars == 6


def test_a_time_signature_inside_a_bar_is_refused() -> None:
    smf = daw_map(((0, 500_000),), ((0, 4, 4), (960, 3, 4)), 4000)
    with pytest.raises(MidiError, match="at tick 960 falls inside bar 1, not on a bar line"):
        import_cue(smf, "3M1", rate="24", start="01:00:00:00")


def test_a_tempo_of_zero_is_refused() -> None:
    smf = daw_map(((0, 500_000), (960, 0)), ((0, 4, 4),), 1920)
    with pytest.raises(MidiError, match="bar 1 beat 3: a tempo of 0"):
        import_cue(smf, "3M1", rate="24", start="01:00:00:00")


def test_without_an_smpte_offset_the_rate_and_start_must_be_given() -> None:
    smf = daw_map(((0, 500_000),), ((0, 4, 4),), 1920, smpte=None)
    with pytest.raises(MidiError, match=r"no SMPTE offset: give the picture rate \(--rate\)"):
        import_cue(smf, "3M1")
    with pytest.raises(MidiError, match=r"no SMPTE offset: give the downbeat's timecode \(--start\)"):
        import_cue(smf, "3M1", rate="24")
    assert import_cue(smf, "3M1", rate="24", start="01:00:00:00").bars == 1
