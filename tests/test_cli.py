import csv
import io
import json
import math
import struct
import subprocess
import sys
import wave
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import mido
import pytest

from stage.cli import main
from stage.core.cuesheet import load_cue_sheet, parse_cue_sheet

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo-cues.toml"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- independent timecode and click maths (nothing from stage.core) ---------------------------

FPS = {
    "23.976": Fraction(24000, 1001),
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97df": Fraction(30000, 1001),
}
NOMINAL = {"23.976": 24, "24": 24, "25": 25, "29.97df": 30}


def tc_frames(text: str, rate: str) -> int:
    h, m, s, f = (int(x) for x in text.replace(";", ":").split(":"))
    nominal = NOMINAL[rate]
    frames = (3600 * h + 60 * m + s) * nominal + f
    if rate.endswith("df"):
        minutes = 60 * h + m
        frames -= 2 * (minutes - minutes // 10)
    return frames


def frame_tc(frame: int, rate: str) -> str:
    nominal = NOMINAL[rate]
    drop = rate.endswith("df")
    if drop:
        per10, per1 = nominal * 600 - 18, nominal * 60 - 2
        tens, rest = divmod(frame, per10)
        extra = 0 if rest < nominal * 60 else 2 * ((rest - nominal * 60) // per1 + 1)
        frame += 18 * tens + extra
    f, secs = frame % nominal, frame // nominal
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}{';' if drop else ':'}{f:02d}"


def nine(x: Fraction) -> str:
    with localcontext(prec=60):
        return f"{Decimal(x.numerator) / Decimal(x.denominator):.9f}"


Click = tuple[int, int, Fraction]  # bar, beat, time from the downbeat


def click_list(
    countoff: int,
    spans: list[tuple[int, int, int, Fraction]],
    ramps: tuple[tuple[int, int, Fraction], ...] = (),
) -> list[Click]:
    """Clicks of a cue: ``spans`` are (first bar, last bar, clicks a bar, click length);
    ``ramps`` are (index of the click a ramp leads into, n, new length)."""
    bars_beats = [
        (bar, beat)
        for first, last, per_bar, _ in spans
        for bar in range(first, last + 1)
        for beat in range(1, per_bar + 1)
    ]
    lengths = [length for first, last, per_bar, length in spans for _ in range((last - first + 1) * per_bar)]
    for into, n, new in ramps:
        old = lengths[into - n - 1]
        for k in range(1, n + 1):
            lengths[into - n - 1 + k] = old + (new - old) * k / (n + 1)
    out: list[Click] = []
    t = Fraction(0)
    for (bar, beat), length in zip(bars_beats, lengths, strict=True):
        out.append((bar, beat, t))
        t += length
    per_bar, length = spans[0][2], spans[0][3]
    warnings = [
        (1 - countoff + i // per_bar, 1 + i % per_bar, -(countoff * per_bar - i) * length)
        for i in range(countoff * per_bar)
    ]
    return warnings + out


def sheet(rate: str, cue: str) -> str:
    return f'[picture]\ntitle = "Test"\nrate = "{rate}"\n\n[[cue]]\nid = "1M1"\ntitle = "Cue"\n{cue}'


CASE_24 = (
    "24",
    sheet(
        "24",
        'start = "00:59:58:00"\ntempo = "12-0"\nmeter = "4/4"\nbars = 4\ncountoff = 1\n'
        '[[cue.change]]\nbar = 3\nmeter = "3/4"',
    ),
    "00:59:58:00",
    click_list(1, [(1, 2, 4, Fraction(1, 2)), (3, 4, 3, Fraction(1, 2))]),
)
CASE_25 = (
    "25",
    sheet(
        "25",
        'start = "10:00:00:00"\ntempo = "12-4"\nmeter = "6/8"\nclick = "4."\nbars = 4\ncountoff = 2\n'
        "[[cue.change]]\nbar = 4\ntempo = 90\nramp = 2",
    ),
    "10:00:00:00",
    click_list(2, [(1, 3, 2, Fraction(1, 2)), (4, 4, 2, Fraction(2, 3))], ((6, 2, Fraction(2, 3)),)),
)
CASE_2997DF = (
    "29.97df",
    sheet(
        "29.97df",
        'start = "00:01:00;02"\ntempo = "10-0"\nmeter = "4/4"\nbars = 4\ncountoff = 1\n'
        '[[cue.change]]\nbar = 3\ntempo = "14-0"\nramp = 2',
    ),
    "00:01:00;02",
    click_list(
        1,
        [(1, 2, 4, 10 / FPS["29.97df"]), (3, 4, 4, 14 / FPS["29.97df"])],
        ((8, 2, 14 / FPS["29.97df"]),),
    ),
)
C = 12 * Fraction(1001, 24000)  # the demo's 12-0 at 23.976
B = Fraction(57, 4) * Fraction(1001, 24000)  # 14-2
CASE_23976 = (
    "23.976",
    DEMO.read_text(encoding="utf-8"),
    "01:00:10:00",
    click_list(
        2,
        [
            (1, 8, 4, C),
            (9, 16, 3, Fraction(60, 96)),
            (17, 24, 4, B),
            (25, 25, 7, 6 * Fraction(1001, 24000)),
            (26, 40, 4, C),
        ],
        ((56, 3, B),),
    ),
)
CASES = [CASE_24, CASE_25, CASE_2997DF, CASE_23976]
IDS = ["24", "25", "29.97df", "23.976"]


def test_demo_countoff_clicks_are_k_times_12_frames() -> None:
    clicks = CASE_23976[3]
    assert [t for _, _, t in clicks[:9]] == [k * 12 * Fraction(1001, 24000) for k in range(-8, 1)]


# -- validate ------------------------------------------------------------------------------


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "validate", DEMO) == (
        0,
        "ok: 3 cues (2 with click, 1 free timing), 5 hits, 23.976 fps — The Lighthouse\n",
        "",
    )


HEAD = '[picture]\ntitle = "T"\nrate = "24"\n'
CUE = '[[cue]]\nid = "1M1"\nstart = "01:00:00:00"\ntempo = "12-0"\n'
ALLOWED = "bars, change, click, countoff, end, free, hit, id, meter, notes, start, streamer, streamers, tempo, title"
RAMP_TOO_LONG = "a ramp over 6 clicks needs 6 clicks before it, only 4 since the previous change"
KNOWN_RATES = "23.976, 24, 25, 29.97, 29.97df, 30, 47.952, 48, 50, 59.94, 59.94df, 60"

BROKEN = {
    "unknown key": (
        f'{HEAD}{CUE}bars = 4\ncolour = "red"\n',
        [f"cue 1M1: colour: unknown key (allowed: {ALLOWED})"],
    ),
    "bad timecode": (
        f'{HEAD}[[cue]]\nid = "1M1"\nstart = "01:00:00:24"\ntempo = "12-0"\nbars = 4\n',
        ["cue 1M1: start: 01:00:00:24: frame 24 does not exist at 24 fps (frames 00-23)"],
    ),
    "overlap": (
        f'{HEAD}{CUE}bars = 8\n\n[[cue]]\nid = "1M2"\nstart = "01:00:10:00"\ntempo = 100\nbars = 4\n',
        ["cue 1M2: start: 01:00:10:00 overlaps cue 1M1 (01:00:00:00 to 01:00:16:00)"],
    ),
    "hit outside": (
        f'{HEAD}{CUE}bars = 4\n[[cue.hit]]\nat = "01:00:20:00"\nlabel = "late"\n',
        ["cue 1M1, hit 1: at: 01:00:20:00 lies outside the cue (00:59:56:00 to 01:00:08:00)"],
    ),
    "changes out of order": (
        f"{HEAD}{CUE}bars = 20\n[[cue.change]]\nbar = 9\ntempo = 100\n[[cue.change]]\nbar = 5\ntempo = 90\n",
        ["cue 1M1, change 2: bar: bar 5 beat 1 comes after bar 9 beat 1: changes must be in order"],
    ),
    "ramp too long": (
        f"{HEAD}{CUE}bars = 20\n[[cue.change]]\nbar = 5\ntempo = 100\n[[cue.change]]\nbar = 6\ntempo = 90\nramp = 6\n",
        [f"cue 1M1, change 2: ramp: bar 6: {RAMP_TOO_LONG}"],
    ),
    "unknown rate": (
        f'[picture]\nrate = "26"\n\n{CUE}bars = 4\n',
        [f"picture: rate: unknown rate '26' (known: {KNOWN_RATES})"],
    ),
    "nonsense meter": (
        f'{HEAD}{CUE}meter = "5/4"\nclick = "4."\nbars = 4\n',
        ["cue 1M1: meter: meter 5/4: a bar does not hold a whole number of 4. clicks"],
    ),
    "several at once": (
        f'{HEAD}{CUE}bars = 4\nflutter = 2\n\n[[cue]]\nid = "1M1"\nstart = "02:00:00:00"\nfree = true\n',
        [
            f"cue 1M1: flutter: unknown key (allowed: {ALLOWED})",
            "cue 1M1: id: used by another cue",
            "cue 1M1: end: missing: a free-timing cue needs its end timecode",
        ],
    ),
}


@pytest.mark.parametrize("name", BROKEN)
def test_validate_reports_each_problem_on_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    text, lines = BROKEN[name]
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "validate", path)
    assert (code, out) == (1, "")
    assert err.splitlines() == lines


def test_validate_unreadable_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    assert run(capsys, "validate", missing) == (
        1,
        "",
        f"cue sheet: file: cannot read {missing}: No such file or directory\n",
    )


def test_validate_not_toml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[picture\n", encoding="utf-8")
    code, out, err = run(capsys, "validate", path)
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert err.startswith("cue sheet: syntax: not valid TOML")


# -- render: events -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_events_csv_matches_independent_maths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: tuple[str, str, str, list[Click]]
) -> None:
    rate, text, start, clicks = case
    path = tmp_path / "cues.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "render", path, "--cue", "1M1", "--events", "-")
    assert (code, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0])[:5] == ["kind", "bar", "beat", "timecode", "seconds"]
    downbeat = tc_frames(start, rate)
    fps = FPS[rate]
    got = [r for r in rows if r["kind"] in ("click", "warning")]
    assert len(got) == len(clicks)
    for row, (bar, beat, t) in zip(got, clicks, strict=True):
        assert row["kind"] == ("warning" if bar < 1 else "click")
        assert (row["bar"], row["beat"]) == (str(bar), str(beat))
        assert row["seconds"] == nine(t)
        assert row["timecode"] == frame_tc(downbeat + math.floor(t * fps), rate)
    seconds = [Decimal(r["seconds"]) for r in rows]
    assert seconds == sorted(seconds)
    first = clicks[0][2]
    yellow = [r for r in rows if r["kind"] == "streamer" and r["label"] == "count-off"]
    assert [Decimal(r["seconds"]) + Decimal(r["length"]) for r in yellow] == [Decimal(nine(first))]


def test_events_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_csv = tmp_path / "1M2.csv"
    code, out, err = run(capsys, "render", DEMO, "--cue", "1M2", "--events", out_csv)
    assert (code, err) == (0, "")
    assert out == f"wrote {out_csv}: 6 events\n"
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert [(r["kind"], r["bar"], r["beat"]) for r in rows][:2] == [("streamer", "", ""), ("punch", "", "")]


# -- render: WAV and MIDI -------------------------------------------------------------------


def onsets(samples: tuple[int, ...]) -> list[int]:
    found, zeros = [], 48
    for i, s in enumerate(samples):
        if s == 0:
            zeros += 1
            continue
        if zeros >= 48:
            found.append(i)
        zeros = 0
    return found


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_wav_onsets_and_time_reference(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: tuple[str, str, str, list[Click]]
) -> None:
    rate, text, start, clicks = case
    path = tmp_path / "cues.toml"
    path.write_text(text, encoding="utf-8")
    wav = tmp_path / "click.wav"
    code, _, err = run(capsys, "render", path, "--cue", "1M1", "--wav", wav)
    assert (code, err) == (0, "")
    with wave.open(str(wav)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 48000)
        data = w.readframes(w.getnframes())
    samples = struct.unpack(f"<{len(data) // 2}h", data)
    s0 = clicks[0][2]
    assert onsets(samples) == [round((t - s0) * 48000) for _, _, t in clicks]
    raw = wav.read_bytes()
    at = raw.index(b"bext") + 8
    low, high = struct.unpack("<II", raw[at + 338 : at + 346])
    picture = Fraction(tc_frames(start, rate)) / FPS[rate] + s0
    assert low + (high << 32) == round(picture * 48000)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_midi_note_ons_and_smpte_offset(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: tuple[str, str, str, list[Click]]
) -> None:
    rate, text, start, clicks = case
    path = tmp_path / "cues.toml"
    path.write_text(text, encoding="utf-8")
    mid = tmp_path / "click.mid"
    code, _, err = run(capsys, "render", path, "--cue", "1M1", "--midi", mid)
    assert (code, err) == (0, "")
    t, played = 0.0, []
    for msg in mido.MidiFile(mid):
        t += msg.time
        if msg.type == "note_on":
            played.append((t, msg.note))
    s0 = clicks[0][2]
    assert len(played) == len(clicks)
    for (when, note), (bar, beat, exact) in zip(played, clicks, strict=True):
        assert abs(when - float(exact - s0)) < 0.0001
        assert note == (75 if bar < 1 else 76 if beat == 1 else 77)
    (offset,) = [m for m in mido.MidiFile(mid).tracks[0] if m.type == "smpte_offset"]
    hundredths = round((tc_frames(start, rate) + s0 * FPS[rate]) * 100)
    frame, sub = divmod(hundredths, 100)
    label = frame_tc(frame, rate).replace(";", ":").split(":")
    assert [offset.hours, offset.minutes, offset.seconds, offset.frames] == [int(x) for x in label]
    assert offset.sub_frames == sub
    assert offset.frame_rate == {"23.976": 24, "24": 24, "25": 25, "29.97df": 29.97}[rate]


def test_render_all_three_reports_on_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wav, mid, events = tmp_path / "a.wav", tmp_path / "a.mid", tmp_path / "a.csv"
    code, out, err = run(capsys, "render", DEMO, "--cue", "1M3", "--wav", wav, "--midi", mid, "--events", events)
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith(f"wrote {wav}: ")
    assert out.splitlines()[0].endswith("at 48 kHz 16-bit mono, first click 01:02:59:04")
    assert all(p.stat().st_size > 0 for p in (wav, mid, events))


def test_free_cue_refuses_wav_and_midi_but_lists_events(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wav = tmp_path / "free.wav"
    assert run(capsys, "render", DEMO, "--cue", "1M2", "--wav", wav, "--events", "-") == (
        1,
        "",
        "stage: cue 1M2 is in free timing: it has no click for --wav or --midi (--events still works)\n",
    )
    assert not wav.exists()
    code, out, _ = run(capsys, "render", DEMO, "--cue", "1M2", "--events", "-")
    assert code == 0
    assert out.startswith("kind,bar,beat,timecode,seconds,label,color,length\n")


def test_render_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "render", DEMO, "--cue", "9M9", "--events", "-") == (
        1,
        "",
        "stage: no cue '9M9' on the cue sheet (cues: 1M1, 1M2, 1M3)\n",
    )
    code, out, err = run(capsys, "render", DEMO, "--cue", "1M1")
    assert (code, out) == (2, "")
    assert err == (
        "stage render: error: give at least one output: --wav FILE, --midi FILE, --events FILE or --movie FILE "
        "(see stage render --help)\n"
    )
    blocked = tmp_path / "missing" / "x.wav"
    assert run(capsys, "render", DEMO, "--cue", "1M1", "--wav", blocked) == (
        1,
        "",
        f"stage: cannot write {blocked}: No such file or directory\n",
    )


# -- info -----------------------------------------------------------------------------------


def test_info_prints_the_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "info", DEMO, "--cue", "1M3")
    assert (code, err) == (0, "")
    assert out.splitlines()[:4] == [
        "The Lighthouse — 23.976 fps, 1 cue",
        "",
        "1M3  The Keeper's Waltz",
        "  01:03:00:00 → 01:03:26:17   length 0:26.743  (40+01)",
    ]
    assert "    24|2      01:03:19:07  28+15  waves break (orange, flutter 3)" in out.splitlines()


def test_info_json_and_unknown_cue(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", DEMO, "--json")
    assert code == 0
    doc = json.loads(out)
    assert [c["id"] for c in doc["cues"]] == ["1M1", "1M2", "1M3"]
    assert doc["cues"][0]["tempos"][0]["frame_click"] == "12-0"
    assert run(capsys, "info", DEMO, "--cue", "1M7")[0::2] == (
        1,
        "stage: no cue '1M7' on the cue sheet (cues: 1M1, 1M2, 1M3)\n",
    )


# -- import-midi ----------------------------------------------------------------------------


@pytest.mark.parametrize("cue_id", ["1M1", "1M3"])
def test_import_midi_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path, cue_id: str) -> None:
    original = load_cue_sheet(DEMO).cue(cue_id)
    assert original.clicks is not None
    mid = tmp_path / "click.mid"
    assert run(capsys, "render", DEMO, "--cue", cue_id, "--midi", mid)[0] == 0
    countoff = str(original.clicks.countoff)
    code, out, err = run(capsys, "import-midi", mid, "--id", cue_id, "--rate", "23.976", "--countoff", countoff)
    assert (code, err) == (0, "")
    imported = parse_cue_sheet(f'[picture]\nrate = "23.976"\n{out}').cue(cue_id)
    assert imported.clicks is not None
    assert len(imported.clicks.clicks) == len(original.clicks.clicks)
    for a, b in zip(original.clicks.clicks, imported.clicks.clicks, strict=True):
        assert (a.bar, a.beat) == (b.bar, b.beat)
        assert abs(float(original.downbeat + a.time - imported.downbeat - b.time)) < 0.0001
    assert [h.label for h in imported.hits] == [h.label for h in original.hits]


def test_import_midi_without_rate_warns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mid = tmp_path / "click.mid"
    run(capsys, "render", DEMO, "--cue", "1M3", "--midi", mid)
    code, out, err = run(capsys, "import-midi", mid, "--id", "1M3", "--countoff", "1", "--title", "Waltz")
    assert code == 0
    assert err.splitlines()[0] == "stage: warning: rate 24 assumed from the file's SMPTE offset: give --rate to be sure"
    assert out.startswith('# imported from click.mid (24 fps)\n[[cue]]\nid = "1M3"\ntitle = "Waltz"\n')


def test_import_midi_bad_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "import-midi", DEMO, "--id", "1M1")
    assert (code, out) == (1, "")
    assert err == f"stage: {DEMO} is not a Standard MIDI File (MThd not found. Probably not a MIDI file)\n"
    missing = tmp_path / "none.mid"
    assert run(capsys, "import-midi", missing, "--id", "1M1") == (
        1,
        "",
        f"stage: cannot read {missing}: No such file or directory\n",
    )


# -- the command itself ---------------------------------------------------------------------


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith("usage: stage")


def test_python_dash_m(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stage", "validate", str(DEMO)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("ok: 3 cues")


def test_a_closed_pipe_is_not_a_traceback() -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "stage", "render", str(DEMO), "--cue", "1M1", "--events", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    child.stdout.close()  # the reader is gone before the first row is written
    err = child.stderr.read()
    child.stderr.close()
    assert (child.wait(timeout=30), err) == (1, b"")


def test_render_uses_the_configured_click_sounds(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "stage.toml"
    config.write_text("[click]\nlevel_db = -6.0\naccent = {frequency = 3000.0, peak = 0.5, decay_ms = 5.0, "
                      "length_ms = 10.0}\n")
    plain, loud = tmp_path / "plain.wav", tmp_path / "conf.wav"
    assert run(capsys, "render", DEMO, "--cue", "1M3", "--wav", plain)[0] == 0
    assert run(capsys, "render", DEMO, "--cue", "1M3", "--wav", loud, "--config", config)[0] == 0
    a, b = plain.read_bytes(), loud.read_bytes()
    assert len(a) == len(b)
    data_a, data_b = a[a.index(b"data") + 8 :], b[b.index(b"data") + 8 :]
    first = struct.unpack("<h", data_b[:2])[0]  # the first click: a warning, at half the level (-6 dB)
    assert first == round(32767 * 0.7 * 10 ** (-6 / 20))
    assert struct.unpack("<h", data_a[:2])[0] == round(32767 * 0.7)
    bad = tmp_path / "bad.toml"
    bad.write_text("[click]\nlevel_db = 6.0\n")
    code, _, err = run(capsys, "render", DEMO, "--cue", "1M3", "--wav", tmp_path / "x.wav", "--config", bad)
    assert code == 1
    assert "level_db" in err
