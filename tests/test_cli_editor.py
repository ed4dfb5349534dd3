"""The music editor's commands through ``python -m stage``: spot, tempo (--write) and info --pdf."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pypdf

from stage.core.cuesheet import load_cue_sheet

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "spotting"
EXAMPLE = REPO / "docs" / "examples" / "lighthouse-r2-session.txt"
DEMO = REPO / "config" / "demo-cues.toml"


def stage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stage", *(str(a) for a in args)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
    )


# -- spot ------------------------------------------------------------------------------------


def test_spot_pro_tools_names_every_unused_line_and_writes_a_valid_sheet(tmp_path: Path) -> None:
    out = tmp_path / "r3.toml"
    done = stage("spot", FIXTURES / "protools-2997df.txt", "-o", out)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [re.search(r"line (\d+)", line).group(1) for line in lines] == ["26", "31", "36"]  # type: ignore[union-attr]
    assert "'REEL 3 HEAD' at 01:00:00;00 lies outside every cue" in lines[0]
    assert done.stdout == f"wrote {out}: 2 cues, 4 hits, 3 lines not used\n"
    sheet = load_cue_sheet(out)
    assert sheet.rate.name == "29.97df"
    assert [(c.id, str(c.start), str(c.end), c.free) for c in sheet.cues] == [
        ("3M1", "01:00:59;28", "01:01:12;15", True),
        ("3M2", "01:02:00;02", "01:02:20;00", True),
    ]
    assert [(h.label, h.time * sheet.rate.fps) for h in sheet.cues[0].hits] == [
        # 01:00:59;28, ;29, then minute 1 begins at ;02 in drop-frame
        ("ship's bell", Fraction(2)), ("gull", Fraction(2 + 4 * 30 + 8)), ("rope snaps", Fraction(2 + 9 * 30 + 13))
    ]
    text = out.read_text(encoding="utf-8")
    assert "# ring twice\n" in text  # the comment, its tab now a space
    assert stage("validate", out).returncode == 0


def test_spot_csv_needs_a_rate_and_strict_fails_on_unused_lines(tmp_path: Path) -> None:
    source = FIXTURES / "spotting.csv"
    done = stage("spot", source)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"stage: {source}: a CSV marker list needs --rate\n"
    out = tmp_path / "r1.toml"
    done = stage("spot", source, "--rate", "24", "--tempo", "12-0", "--strict", "-o", out)
    assert done.returncode == 1
    assert re.findall(r"spotting.csv (line \d+): ", done.stderr) == ["line 6", "line 9", "line 11"]
    sheet = load_cue_sheet(out)  # written all the same: nothing usable is lost
    assert [(c.id, len(c.hits), c.free) for c in sheet.cues] == [("1M1", 3, False), ("1M2", 0, False)]


def test_spot_cues_only_prints_blocks_to_add(tmp_path: Path) -> None:
    done = stage("spot", FIXTURES / "protools-tracks-24.txt", "--cues-only")
    assert done.returncode == 0, done.stderr
    assert "[picture]" not in done.stdout
    assert done.stdout.count("[[cue]]") == 1
    assert 'label = "boat turns"' in done.stdout


# -- tempo -----------------------------------------------------------------------------------


def spotted_example(tmp_path: Path) -> Path:
    out = tmp_path / "r2.toml"
    assert stage("spot", EXAMPLE, "-o", out).returncode == 0
    return out


def test_tempo_ranks_steady_tempos_and_proposes_changes(tmp_path: Path) -> None:
    sheet = spotted_example(tmp_path)
    done = stage("tempo", sheet, "--cue", "2M1", "--range", "90-150", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    best = report["steady"][0]
    assert (best["tempo"], best["caught"], report["hits"]) == ("12-0", 4, 6)
    assert (report["rank"], best["on_frame"]) == ("editor", True)
    assert [h["caught"] for h in best["hits"]] == [True, True, True, False, False, True]
    assert best["hits"][0] == {"label": "lightning", "timecode": "01:10:04:00", "bar": 3, "beat": 1.0,
                               "error_frames": 0.0, "error_ms": 0.0, "caught": True}
    changes = report["changes"]
    assert changes["count"] == 1
    assert [(s["bar"], s["tempo"]) for s in changes["segments"]] == [(1, "12-0"), (9, "11-0")]
    assert all(h["caught"] and h["error_frames"] == 0 for h in changes["hits"])
    assert '[[cue.change]]\nbar = 9\ntempo = "11-0"\n' in changes["toml"]


ROUNDED = """\
[picture]
rate = "29.97"

[[cue]]
id = "8M1"
start = "01:00:00:00"
free = true
end = "01:00:40:00"
"""


def test_tempo_ranks_the_round_tempo_first_unless_asked_for_the_closest(tmp_path: Path) -> None:
    # 120 clicks a minute at 29.97 is 14.985 frames a click: each hit spotted to its nearest frame
    frames = [round(b * Fraction(30000, 1001) / 2) for b in (2, 5, 9, 14, 21, 30)]
    hits = "".join(f'\n[[cue.hit]]\nat = "01:00:{x // 30:02d}:{x % 30:02d}"\nlabel = "f{x}"\n' for x in frames)
    sheet = tmp_path / "rounded.toml"
    sheet.write_text(ROUNDED + hits, encoding="utf-8")
    args = ("tempo", sheet, "--cue", "8M1", "--range", "110-130", "--only", "bpm", "--top", "3")
    done = stage(*args)
    assert done.returncode == 0, done.stderr
    table = done.stdout.split("\n\n")[1].splitlines()
    assert table[2].split()[:2] == ["1", "120"]
    assert table[-2].startswith("on the frame, as close as spotting to whole frames can tell: 1. 120 (worst 0.45 f)")
    closest = json.loads(stage(*args, "--rank", "error", "--json").stdout)
    assert closest["rank"] == "error"
    assert closest["steady"][0]["tempo"] == 119.88
    assert stage(*args, "--rank", "loudest").returncode == 2


def test_tempo_write_keeps_comments_and_every_hit_lands_on_a_click(tmp_path: Path) -> None:
    sheet = spotted_example(tmp_path)
    done = stage("tempo", sheet, "--cue", "2M1", "--range", "90-150", "--write")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"wrote {sheet}: cue 2M1 at 12-0 from 01:10:00:00, 1 change"
    text = sheet.read_text(encoding="utf-8")
    assert text.startswith("# spotted from lighthouse-r2-session.txt\n")
    assert "# wide shot\n" in text
    assert "# biggest hit\n" in text
    assert "free" not in text
    cue = load_cue_sheet(sheet).cue("2M1")
    assert cue.clicks is not None
    for hit in cue.hits:
        bar, beat = cue.clicks.position_at(hit.time)
        assert beat.denominator == 1, f"{hit.label} at {bar}|{beat}"
    # stage info agrees: every hit on a whole beat
    info = json.loads(stage("info", sheet, "--cue", "2M1", "--json").stdout)
    assert [h["beat"] for h in info["cues"][0]["hits"]] == [1.0, 3.0, 2.0, 3.0, 4.0, 1.0]
    assert [(t["bar"], t["frame_click"]) for t in info["cues"][0]["tempos"]] == [(1, "12-0"), (9, "11-0")]


def test_tempo_refuses_to_write_over_hits_placed_by_bar(tmp_path: Path) -> None:
    sheet = tmp_path / "demo.toml"
    shutil.copy(DEMO, sheet)
    done = stage("tempo", sheet, "--cue", "1M1", "--write")
    assert done.returncode == 1
    assert "hit 2 is placed by bar|beat" in done.stderr
    assert sheet.read_text(encoding="utf-8") == DEMO.read_text(encoding="utf-8")


def test_tempo_bad_options_are_one_line() -> None:
    done = stage("tempo", DEMO, "--cue", "1M1", "--range", "5-700")
    assert done.returncode == 1
    assert done.stderr.startswith("stage: tempo range 5-700")
    done = stage("tempo", DEMO, "--cue", "1M1", "--tolerance", "one")
    assert done.returncode == 2


# -- info --pdf ------------------------------------------------------------------------------


def pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(path)
    return "\n".join(page.extract_text(extraction_mode="layout") for page in reader.pages)


def test_the_printed_breakdown_says_what_stage_info_and_the_event_list_say(tmp_path: Path) -> None:
    pdf = tmp_path / "1M1.pdf"
    done = stage("info", DEMO, "--cue", "1M1", "--pdf", pdf)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f"wrote {pdf}: 2 pages, 1 cue\n")
    text = pdf_text(pdf)
    rows = [line.split() for line in text.splitlines()]
    info = json.loads(stage("info", DEMO, "--cue", "1M1", "--json").stdout)["cues"][0]
    assert "01:00:10:00 → 01:01:31:16 length 1:21.771 (122+08)" in text
    # every bar's downbeat: the event list's timecode and seconds (to the millisecond)
    events = list(csv.DictReader(io.StringIO(stage("render", DEMO, "--cue", "1M1", "--events", "-").stdout)))
    downbeats = [e for e in events if e["kind"] == "click" and e["beat"] == "1"]
    assert len(downbeats) == info["bars"] == 40
    bar_rows = {r[0]: r for r in rows if len(r) >= 4 and r[0].isdigit() and re.fullmatch(r"\d\d:\d\d:\d\d:\d\d", r[1])}
    for e in downbeats:
        row = bar_rows[e["bar"]]
        assert row[1] == e["timecode"]
        assert Fraction(row[2]) == round(Fraction(e["seconds"]), 3)
    # every tempo change, and every hit with its bar|beat, timecode and footage
    for t in info["tempos"]:
        click = t["frame_click"] if t["frame_click_exact"] else "~" + t["frame_click"]
        assert any(r[:1] == [str(t["bar"])] and click in r and f"{t['clicks_per_minute']:.3f}" in r for r in rows)
    for h in info["hits"]:
        position = f"{h['bar']}|{h['beat']:g}"
        seconds = round(Fraction(h["time"]["exact"]), 3)
        assert any(r[:2] == [position, h["timecode"]] and Fraction(r[2]) == seconds and r[3] == h["feet"]
                   for r in rows if len(r) > 3), h
    # the cue's streamers land where the event list's punches are; the count-off is listed click by click
    punches = {e["timecode"] for e in events if e["kind"] == "punch"}
    streamer_rows = [r for r in rows if len(r) >= 6 and r[-1] in {"count-off", "downbeat", "end"}]
    assert {r[0] for r in streamer_rows} <= punches
    assert len(streamer_rows) == 3
    warnings = [e for e in events if e["kind"] == "warning"]
    assert len(warnings) == 8
    for e in warnings:
        seconds = round(Fraction(e["seconds"]), 3)
        assert any(r[:2] == [f"{e['bar']}|{e['beat']}", e["timecode"]] and Fraction(r[2]) == seconds
                   for r in rows if len(r) == 3)


def test_info_pdf_to_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    done = stage("info", DEMO, "--pdf", tmp_path / "no" / "such.pdf")
    assert done.returncode == 1
    assert done.stderr.startswith("stage: cannot write")


def test_the_worked_example_in_the_docs_is_what_the_commands_make(tmp_path: Path) -> None:
    session = tmp_path / EXAMPLE.name
    shutil.copy(EXAMPLE, session)
    sheet = tmp_path / "lighthouse-r2.toml"
    assert stage("spot", session, "-o", sheet).returncode == 0
    assert stage("tempo", sheet, "--cue", "2M1", "--range", "90-150", "--write").returncode == 0
    expected = (REPO / "docs" / "examples" / "lighthouse-r2.toml").read_text(encoding="utf-8")
    assert sheet.read_text(encoding="utf-8") == expected


RAMPED = """\
[picture]
rate = "24"

[[cue]]
id = "7M1"
start = "01:00:00:00"
free = true
end = "01:00:16:00"
"""


def test_tempo_ramps_into_a_change_where_a_step_cannot(tmp_path: Path) -> None:
    # On 12-0 for four bars, then an accel. over the 4 clicks before bar 5 into 10-0: bar 5 is at frame 188.
    frames = [24, 60, 96, 188, 248, 318]
    hits = "".join(f'\n[[cue.hit]]\nat = "01:00:{x // 24:02d}:{x % 24:02d}"\nlabel = "f{x}"\n' for x in frames)
    sheet = tmp_path / "ramp.toml"
    sheet.write_text(RAMPED + hits, encoding="utf-8")
    args = ("tempo", sheet, "--cue", "7M1", "--range", "100-160", "--only", "frame", "--tolerance", "0")
    steps = json.loads(stage(*args, "--json").stdout)["changes"]
    assert steps["count"] >= 2  # without ramps it takes more than one change
    done = stage(*args, "--ramps", "4", "--write")
    assert done.returncode == 0, done.stderr
    assert '[[cue.change]]\nbar = 5\ntempo = "10-0"\nramp = 4\n' in done.stdout
    info = json.loads(stage("info", sheet, "--json").stdout)["cues"][0]
    assert [(t["bar"], t["frame_click"], t["ramp"], t["ramp_kind"]) for t in info["tempos"]] == [
        (1, "12-0", 0, ""), (5, "10-0", 4, "accel.")
    ]
    assert [(h["bar"], h["beat"]) for h in info["hits"]] == [(1, 3.0), (2, 2.0), (3, 1.0), (5, 1.0), (6, 3.0), (8, 2.0)]
    assert stage("tempo", sheet, "--cue", "7M1", "--ramps", "3").returncode == 2


def test_spot_reads_windows_line_ends_and_mac_roman(tmp_path: Path) -> None:
    text = (FIXTURES / "protools-tracks-24.txt").read_text(encoding="utf-8")
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    done = stage("spot", crlf)
    assert done.returncode == 0, done.stderr
    assert 'label = "splash"' in done.stdout
    # Pro Tools' "TextEdit" export on a Mac: Mac Roman, where é is byte 0x8E
    roman = tmp_path / "roman.txt"
    roman.write_bytes(text.replace("splash", "café fight").encode("mac_roman"))
    done = stage("spot", roman)
    assert done.returncode == 0, done.stderr
    assert 'label = "café fight"' in done.stdout


def test_spot_adds_cues_to_a_sheet_once(tmp_path: Path) -> None:
    sheet = tmp_path / "lighthouse.toml"
    shutil.copy(DEMO, sheet)
    done = stage("spot", EXAMPLE, "--add-to", sheet)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"added to {sheet}: 1 cue, 6 hits, 0 lines not used\n"
    text = sheet.read_text(encoding="utf-8")
    assert text.startswith(DEMO.read_text(encoding="utf-8").rstrip("\n"))  # the sheet as it was, comments and all
    assert [c.id for c in load_cue_sheet(sheet).cues] == ["1M1", "1M2", "1M3", "2M1"]
    again = stage("spot", EXAMPLE, "--add-to", sheet)
    assert (again.returncode, again.stderr) == (1, "cue 2M1: id: used by another cue\n")
    assert sheet.read_text(encoding="utf-8") == text
    wrong_rate = stage("spot", EXAMPLE, "--add-to", sheet, "--rate", "24")
    assert wrong_rate.returncode == 1
    assert "is at 23.976 fps, the markers at 24" in wrong_rate.stderr
