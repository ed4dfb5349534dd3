import tomllib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import mido
import pytest

from stage.adapters.midifile import (
    ACCENT_NOTE,
    CHANNEL,
    NORMAL_NOTE,
    TICKS_PER_BEAT,
    WARNING_NOTE,
    SmfMap,
    click_file,
    read_smf,
    write_smf,
)
from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.smfimport import cue_toml, import_cue
from stage.errors import MidiError, RenderError

FPS_23976 = Fraction(24000, 1001)
FPS_2997 = Fraction(30000, 1001)
TOLERANCE = 0.0001  # seconds


def sheet_cue(rate: str, body: str) -> Cue:
    text = f'[picture]\nrate = "{rate}"\n[[cue]]\nid = "1M1"\ntitle = "Main Title"\n{body}'
    return parse_cue_sheet(text).cue("1M1")


def note_ons(path: Path) -> list[tuple[float, int, int]]:
    """(seconds from the file's start, note, channel) of every note-on, as mido plays the file."""
    out = []
    t = 0.0
    for msg in mido.MidiFile(path):
        t += msg.time
        if msg.type == "note_on":
            out.append((t, msg.note, msg.channel))
    return out


def absolute(track: Any) -> list[tuple[int, Any]]:
    out = []
    tick = 0
    for msg in track:
        tick += msg.time
        out.append((tick, msg))
    return out


def case_23976() -> tuple[Cue, list[Fraction]]:
    cue = sheet_cue(
        "23.976",
        'start = "01:00:10:00"\ntempo = "12-0"\nmeter = "4/4"\nbars = 3\ncountoff = 1\n'
        '[[cue.hit]]\nbar = 2\nbeat = 2.5\nlabel = "door"',
    )
    click = 12 / FPS_23976
    return cue, [k * click for k in range(-4, 12)]


def case_25_meter_change() -> tuple[Cue, list[Fraction]]:
    cue = sheet_cue(
        "25",
        'start = "00:00:20:00"\ntempo = "12-4"\nmeter = "4/4"\nbars = 3\ncountoff = 2\n'
        '[[cue.change]]\nbar = 2\nmeter = "6/8"\nclick = "8"\ntempo = 200',
    )
    return cue, [k * Fraction(1, 2) for k in range(-8, 4)] + [2 + k * Fraction(3, 10) for k in range(12)]


def case_2997df_ramp() -> tuple[Cue, list[Fraction]]:
    cue = sheet_cue(
        "29.97df",
        'start = "00:01:00;02"\ntempo = "10-0"\nmeter = "4/4"\nbars = 4\ncountoff = 1\n'
        '[[cue.change]]\nbar = 3\ntempo = "14-0"\nramp = 2',
    )
    a, b = 10 / FPS_2997, 14 / FPS_2997
    times = [k * a for k in range(-4, 7)]
    times.append(7 * a + (b - a) / 3)
    bar3 = times[-1] + a + 2 * (b - a) / 3
    return cue, times + [bar3 + k * b for k in range(8)]


def case_2997_waltz() -> tuple[Cue, list[Fraction]]:
    cue = sheet_cue(
        "29.97",
        'start = "01:00:00:00"\ntempo = 100\nmeter = "6/8"\nclick = "4."\nbars = 4\ncountoff = 1',
    )
    return cue, [k * Fraction(3, 5) for k in range(-2, 8)]


Case = Callable[[], tuple[Cue, list[Fraction]]]
CASES: list[Case] = [case_23976, case_25_meter_change, case_2997df_ramp, case_2997_waltz]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_note_ons_on_the_exact_click_times(tmp_path: Path, case: Case) -> None:
    cue, times = case()
    path = tmp_path / "click.mid"
    write_smf(path, cue)
    played = note_ons(path)
    assert len(played) == len(times)
    for (t, _, channel), exact in zip(played, times, strict=True):
        assert abs(t - float(exact - times[0])) < TOLERANCE
        assert channel == CHANNEL == 9


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_notes_tell_warning_accent_and_normal_apart(tmp_path: Path, case: Case) -> None:
    cue, _ = case()
    assert cue.clicks is not None
    path = tmp_path / "click.mid"
    write_smf(path, cue)
    expected = [WARNING_NOTE if c.bar < 1 else ACCENT_NOTE if c.beat == 1 else NORMAL_NOTE for c in cue.clicks.clicks]
    assert [note for _, note, _ in note_ons(path)] == expected
    assert (ACCENT_NOTE, NORMAL_NOTE, WARNING_NOTE) == (76, 77, 75)


def test_each_click_is_its_note_value_in_ticks() -> None:
    cue, _ = case_25_meter_change()
    mid = click_file(cue)
    assert mid.type == 1
    assert mid.ticks_per_beat == TICKS_PER_BEAT == 960
    ons = [tick for tick, m in absolute(mid.tracks[1]) if m.type == "note_on"]
    # 2 bars of count-off and bar 1 in quarters, then 6/8 in eighths.
    assert ons == [k * 960 for k in range(12)] + [11520 + k * 480 for k in range(12)]
    sigs = [
        (tick, m.numerator, m.denominator, m.clocks_per_click)
        for tick, m in absolute(mid.tracks[0])
        if m.type == "time_signature"
    ]
    assert sigs == [(0, 4, 4, 24), (11520, 6, 8, 12)]


def test_dotted_click_is_a_dotted_quarter() -> None:
    cue, _ = case_2997_waltz()
    mid = click_file(cue)
    ons = [tick for tick, m in absolute(mid.tracks[1]) if m.type == "note_on"]
    assert ons == [k * 1440 for k in range(10)]
    sigs = [(m.numerator, m.denominator, m.clocks_per_click) for m in mid.tracks[0] if m.type == "time_signature"]
    assert sigs == [(6, 8, 36)]
    # 100 dotted quarters a minute: 0.6 s a dotted quarter, 400000 µs a quarter, exactly.
    assert [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"] == [400_000]


def test_tempo_rounding_never_accumulates(tmp_path: Path) -> None:
    # 117.55 clicks a minute is no whole number of microseconds: 510421.0974… µs a quarter.
    cue = sheet_cue("24", 'start = "01:00:00:00"\ntempo = 117.55\nmeter = "4/4"\nbars = 300\ncountoff = 0')
    path = tmp_path / "long.mid"
    write_smf(path, cue)
    length = Fraction(60) / Fraction("117.55")
    played = note_ons(path)
    assert len(played) == 1200
    worst = max(abs(t - float(k * length)) for k, (t, _, _) in enumerate(played))
    assert worst < 0.000002
    tempos = {m.tempo for m in mido.MidiFile(path).tracks[0] if m.type == "set_tempo"}
    assert tempos == {510421, 510422}


@pytest.mark.parametrize(
    ("case", "fields"),
    [
        (case_23976, (24, 1, 0, 8, 0, 0)),  # 48 frames before 01:00:10:00
        (case_25_meter_change, (25, 0, 0, 16, 0, 0)),  # 4 s before 00:00:20:00
        (case_2997df_ramp, (29.97, 0, 0, 58, 20, 0)),  # frame 1800 - 40 = 1760 = 00:00:58;20
    ],
    ids=["23.976", "25", "29.97df"],
)
def test_smpte_offset_is_the_first_click(case: Case, fields: tuple[float, ...]) -> None:
    cue, _ = case()
    (offset,) = [m for m in click_file(cue).tracks[0] if m.type == "smpte_offset"]
    assert (offset.frame_rate, offset.hours, offset.minutes, offset.seconds, offset.frames, offset.sub_frames) == fields


def test_smpte_offset_sub_frames() -> None:
    cue = sheet_cue("29.97", 'start = "01:00:00:00"\ntempo = 100\nmeter = "4/4"\nbars = 1\ncountoff = 1')
    (offset,) = [m for m in click_file(cue).tracks[0] if m.type == "smpte_offset"]
    # 01:00:00:00 at 29.97 non-drop is frame 108000; 4 clicks of 0.6 s before it: 2.4 × 30000/1001 frames.
    hundredths = round((108000 - Fraction(24, 10) * FPS_2997) * 100)
    frame, sub = divmod(hundredths, 100)
    assert frame == 107928
    assert (offset.frame_rate, offset.hours, offset.minutes, offset.seconds, offset.frames, offset.sub_frames) == (
        30,
        0,
        59,
        57,
        18,
        sub,
    )
    assert sub == 7


def test_track_name_and_markers() -> None:
    cue, _ = case_23976()
    mid = click_file(cue)
    names = [m.name for m in mid.tracks[0] if m.type == "track_name"]
    assert names == ["1M1 Main Title"]
    markers = [(tick, m.text) for tick, m in absolute(mid.tracks[0]) if m.type == "marker"]
    assert markers == [(int((4 + 4 + 1.5) * 960), "door")]  # count-off bar, bar 1, then 1.5 beats


def test_free_cue_has_no_midi() -> None:
    cue = sheet_cue("24", 'start = "01:00:00:00"\nfree = true\nend = "01:00:10:00"')
    with pytest.raises(RenderError, match="free timing"):
        click_file(cue)


# -- import --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_import_round_trip(tmp_path: Path, case: Case) -> None:
    cue, _ = case()
    assert cue.clicks is not None
    path = tmp_path / "click.mid"
    write_smf(path, cue)
    imported = import_cue(read_smf(path), "1M1", rate=cue.rate, countoff=cue.clicks.countoff)
    block = cue_toml(imported)
    again = parse_cue_sheet(f'[picture]\nrate = "{cue.rate}"\n{block}').cue("1M1")
    assert again.start == cue.start
    assert again.title == "Main Title"
    assert again.clicks is not None
    assert len(again.clicks.clicks) == len(cue.clicks.clicks)
    for a, b in zip(cue.clicks.clicks, again.clicks.clicks, strict=True):
        assert (a.bar, a.beat, a.meter) == (b.bar, b.beat, b.meter)
        assert abs(float(cue.downbeat + a.time - (again.downbeat + b.time))) < TOLERANCE
    assert [(h.bar, h.beat, h.label) for h in again.hits] == [(h.bar, h.beat, h.label) for h in cue.hits]
    assert imported.warnings == ()


def test_import_finds_a_ramp(tmp_path: Path) -> None:
    cue, _ = case_2997df_ramp()
    imported = import_cue(read_smf_of(cue, tmp_path), "1M1", rate="29.97df", countoff=1)
    assert [(c.bar, c.beat, c.ramp) for c in imported.changes] == [(3, 1, 2)]


def read_smf_of(cue: Cue, folder: Path) -> SmfMap:
    path = folder / f"{cue.id}.mid"
    write_smf(path, cue)
    return read_smf(path)


def daw_file(path: Path, *, signatures: list[tuple[int, int, int, int]], extra: list[tuple[int, Any]]) -> None:
    """A type 1 file as a DAW exports it: 480 ticks a quarter, a conductor track, an empty second track."""
    events: list[tuple[int, Any]] = [(0, mido.MetaMessage("track_name", name="3M1 Chase"))]
    events += [
        (t, mido.MetaMessage("time_signature", numerator=n, denominator=d, clocks_per_click=c))
        for t, n, d, c in signatures
    ]
    events += extra
    events.sort(key=lambda e: e[0])
    track = mido.MidiTrack()
    now = 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(track)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=0)]))
    mid.save(path)


def test_import_daw_tempo_map(tmp_path: Path) -> None:
    path = tmp_path / "daw.mid"
    daw_file(
        path,
        signatures=[(0, 4, 4, 24), (7680, 3, 4, 24)],
        extra=[
            (0, mido.MetaMessage("smpte_offset", frame_rate=25, hours=1, minutes=0, seconds=0, frames=0)),
            (0, mido.MetaMessage("set_tempo", tempo=500_000)),
            (1200, mido.MetaMessage("marker", text='hit "A"')),
            (4800, mido.MetaMessage("set_tempo", tempo=600_000)),  # bar 3 beat 3
            (10560, mido.MetaMessage("end_of_track")),  # two bars of 3/4 after bar 5
        ],
    )
    imported = import_cue(read_smf(path), "3M1", rate="25")
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
    sheet = parse_cue_sheet(f'[picture]\nrate = "25"\n{cue_toml(imported)}')
    assert sheet.cue("3M1").hits[0].label == 'hit "A"'


def test_import_tempo_change_inside_a_click_keeps_the_clicks(tmp_path: Path) -> None:
    path = tmp_path / "daw.mid"
    daw_file(
        path,
        signatures=[(0, 4, 4, 24)],
        extra=[
            (0, mido.MetaMessage("set_tempo", tempo=500_000)),
            (2160, mido.MetaMessage("set_tempo", tempo=625_000)),  # half way through bar 2 beat 1
            (3840, mido.MetaMessage("end_of_track")),
        ],
    )
    smf = read_smf(path)
    imported = import_cue(smf, "3M1", rate="24", start="01:00:00:00")
    cue = parse_cue_sheet(f'[picture]\nrate = "24"\n{cue_toml(imported)}').cue("3M1")
    assert cue.clicks is not None
    body = cue.clicks.clicks[cue.clicks.downbeat_index :]
    assert len(body) == 8
    for k, c in enumerate(body):
        assert abs(float(c.time - smf.seconds(480 * k))) < 0.000001
    # The click that holds the change lasts the mean of both tempos: a ramp over one click, exactly.
    assert [(c.bar, c.beat, c.ramp) for c in imported.changes] == [(2, 2, 1)]


@pytest.mark.parametrize(("clocks", "click"), [(24, Fraction(1, 8)), (36, Fraction(3, 8)), (12, Fraction(1, 8))])
def test_import_compound_meter_click(tmp_path: Path, clocks: int, click: Fraction) -> None:
    path = tmp_path / "daw.mid"
    daw_file(path, signatures=[(0, 6, 8, clocks)], extra=[(2880, mido.MetaMessage("end_of_track"))])
    imported = import_cue(read_smf(path), "3M1", rate="24", start="01:00:00:00")
    assert imported.meter.click == click
    assert imported.bars == 2


def test_import_refuses_a_time_signature_inside_a_bar(tmp_path: Path) -> None:
    path = tmp_path / "daw.mid"
    daw_file(path, signatures=[(0, 4, 4, 24), (960, 3, 4, 24)], extra=[(4000, mido.MetaMessage("end_of_track"))])
    with pytest.raises(MidiError, match="at tick 960 falls inside bar 1, not on a bar line"):
        import_cue(read_smf(path), "3M1", rate="24", start="01:00:00:00")


def test_import_needs_a_start_and_a_rate(tmp_path: Path) -> None:
    path = tmp_path / "daw.mid"
    daw_file(path, signatures=[(0, 4, 4, 24)], extra=[(1920, mido.MetaMessage("end_of_track"))])
    smf = read_smf(path)
    with pytest.raises(MidiError, match="--rate"):
        import_cue(smf, "3M1")
    with pytest.raises(MidiError, match="--start"):
        import_cue(smf, "3M1", rate="24")


def test_import_warns_about_an_assumed_rate_and_a_late_marker(tmp_path: Path) -> None:
    path = tmp_path / "daw.mid"
    daw_file(
        path,
        signatures=[(0, 4, 4, 24)],
        extra=[
            (0, mido.MetaMessage("smpte_offset", frame_rate=30, hours=0, minutes=10, seconds=0, frames=0)),
            (1920, mido.MetaMessage("end_of_track")),
        ],
    )
    imported = import_cue(read_smf(path), "3M1", bars=1)
    assert str(imported.start) == "00:10:00:00"
    assert imported.start.rate.name == "30"
    assert any("rate 30 assumed" in w for w in imported.warnings)


def test_bad_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    with pytest.raises(MidiError, match="is not a Standard MIDI File"):
        read_smf(junk)
    with pytest.raises(MidiError, match="cannot read"):
        read_smf(tmp_path / "missing.mid")


def test_toml_strings_survive(tmp_path: Path) -> None:
    cue, _ = case_23976()
    imported = import_cue(read_smf_of(cue, tmp_path), "1M1", rate="23.976", countoff=1, title='Tab\there "q" \\ é\x01')
    doc = tomllib.loads(cue_toml(imported))
    assert doc["cue"][0]["title"] == 'Tab\there "q" \\ é\x01'


def test_import_refuses_a_file_that_never_ends(tmp_path: Path) -> None:
    path = tmp_path / "daw.mid"
    daw_file(path, signatures=[(0, 4, 4, 24)], extra=[(10**8, mido.MetaMessage("end_of_track"))])
    with pytest.raises(MidiError, match="runs past 9999 bars: give the cue's length"):
        import_cue(read_smf(path), "3M1", rate="24", start="01:00:00:00")
    assert import_cue(read_smf(path), "3M1", rate="24", start="01:00:00:00", bars=8).bars == 8


def test_import_refuses_a_tempo_of_zero(tmp_path: Path) -> None:
    path = tmp_path / "daw.mid"
    daw_file(
        path,
        signatures=[(0, 4, 4, 24)],
        extra=[(960, mido.MetaMessage("set_tempo", tempo=0)), (1920, mido.MetaMessage("end_of_track"))],
    )
    with pytest.raises(MidiError, match="bar 1 beat 3: a tempo of 0"):
        import_cue(read_smf(path), "3M1", rate="24", start="01:00:00:00")
