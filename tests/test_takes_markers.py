"""``stage takes export --format midi-markers|edl``: the takes as a DAW's markers and an EDL, read back by
programs that are not ours — ``midicsv`` for the MIDI file, pycmx and OpenTimelineIO for the EDL — on SQLite
and PostgreSQL, at 23.976, 25 and 29.97 drop-frame."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pycmx
import pytest
from test_takes_export import config, pg_database  # noqa: F401 -- the url fixture's PostgreSQL database

from stage.adapters.store import open_store
from stage.cli import main
from stage.core.session import Role, Take
from stage.core.timecode import Timecode, parse_rate

T0 = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)

Row = tuple[str, int, str, str, str | None, int | None]  # cue, take, tc in, tc out, status, pickup bar

# Across an hour, onto a drop-frame minute, two takes of one cue.
TAKES: dict[str, list[Row]] = {
    "23.976": [("1M1", 1, "00:59:58:12", "01:00:40:03", "breakdown", None),
               ("1M1", 2, "00:59:58:12", "01:01:10:20", "print", None),
               ("1M2", 1, "01:02:03:04", "01:02:40:00", "print", 17)],
    "25": [("1M1", 1, "09:59:59:24", "10:00:31:00", "print", None),
           ("2M1", 1, "10:12:00:00", "10:12:30:13", "hold", None)],
    "29.97df": [("1M1", 1, "01:00:59;28", "01:01:00;02", "false start", None),
                ("1M1", 2, "01:00:59;28", "01:02:00;02", "print", None),
                ("1M3", 1, "01:10:00;00", "01:10:45;16", None, 9)],
}


def log(url: str, rows: list[Row]) -> None:
    async def run() -> None:
        async with await open_store(url) as store:
            for cue, number, tc_in, tc_out, status, pickup in rows:
                take = await store.insert_take(Take(cue, number, tc_in, T0, pickup_bar=pickup))
                await store.end_take(replace(take, tc_out=tc_out, ended_at=T0, duration=1.0))
                if status:
                    await store.update_take(take.id or 0, {"status": status, "note": f"{cue} take {number}"},
                                            Role.ENGINEER, T0)

    asyncio.run(run())


def midicsv(path: Path) -> list[list[str]]:
    exe = shutil.which("midicsv")
    if exe is None:
        pytest.fail("'midicsv' is not installed: apt-get install midicsv", pytrace=False)
    text = subprocess.run([exe, str(path)], capture_output=True, check=True, text=True, encoding="latin-1").stdout
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), skipinitialspace=True)]


@pytest.mark.parametrize("rate_name", sorted(TAKES))
def test_the_marker_file_puts_every_take_on_its_frame(url: str, tmp_path: Path, rate_name: str) -> None:
    rate = parse_rate(rate_name)
    log(url, TAKES[rate_name])
    out = tmp_path / "markers.mid"
    assert main(["takes", "export", "--format", "midi-markers", "--rate", rate_name, "-o", str(out),
                 "--config", str(config(tmp_path, url))]) == 0
    rows = midicsv(out)
    header = next(r for r in rows if r[2] == "Header")
    ppq = int(header[5])
    (tempo,) = [int(r[3]) for r in rows if r[2] == "Tempo"]
    (smpte,) = [[int(x) for x in r[3:8]] for r in rows if r[2] == "SMPTE_offset"]
    hour_byte, minutes, seconds, frames, _hundredths = smpte
    rate_code, hours = hour_byte >> 5, hour_byte & 0x1F
    assert rate_code == {"23.976": 0, "25": 1, "29.97df": 2}[rate_name]
    offset = Timecode.parse(f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}", rate).frame_count
    marks = []
    for r in rows:
        if r[2] == "Marker_t":
            elapsed = Fraction(int(r[1]) * tempo, ppq * 1_000_000)  # seconds from the file's start
            frame = offset + elapsed * rate.fps
            assert frame.denominator == 1, f"{r[3]} is between frames"
            marks.append((str(Timecode.from_frames(int(frame), rate)), r[3]))
    words = {"print": "circled", None: None}
    expected = sorted(
        (str(Timecode.parse(tc_in, rate)),
         " ".join(w for w in (f"{cue}-{n}", f"pickup b{p}" if p else None, words.get(s, s)) if w))
        for cue, n, tc_in, _out, s, p in TAKES[rate_name]
    )
    assert marks == expected
    assert hours == int(expected[0][0][:2])  # the file starts on the first marker's hour


@pytest.mark.parametrize("rate_name", sorted(TAKES))
def test_the_edl_is_read_by_other_parsers_with_the_take_logs_timecode(url: str, tmp_path: Path, rate_name: str) -> None:
    rate = parse_rate(rate_name)
    log(url, TAKES[rate_name])
    out = tmp_path / "takes.edl"
    assert main(["takes", "export", "--format", "edl", "--rate", rate_name, "--title", "The Lighthouse",
                 "-o", str(out), "--config", str(config(tmp_path, url))]) == 0
    circled = sorted((str(Timecode.parse(a, rate)), str(Timecode.parse(b, rate)), f"{c}-{n}")
                     for c, n, a, b, s, _p in TAKES[rate_name] if s == "print")
    with out.open(encoding="ascii") as f:
        edl = pycmx.parse_cmx3600(f)
    assert edl.title == "The Lighthouse"
    got = [(e.source_in, e.source_out, e.record_in, e.record_out, e.clip_name, e.source)
           for ev in edl.events for e in ev.edits]
    assert [(a, b, name.split()[0]) for a, b, _ri, _ro, name, _reel in got] == circled
    assert all((a, b) == (ri, ro) for a, b, ri, ro, _n, _r in got)
    assert all(len(reel) <= 8 for *_x, reel in got)
    # OpenTimelineIO's CMX 3600 reader: every clip's source range is the take log's, to the frame.
    timeline = otio.adapters.read_from_file(str(out), rate=float(rate.fps))
    clips = [c for track in timeline.tracks for c in track if isinstance(c, otio.schema.Clip)]
    read = sorted((otio.opentime.to_frames(c.source_range.start_time, float(rate.fps)),
                   otio.opentime.to_frames(c.source_range.end_time_exclusive(), float(rate.fps))) for c in clips)
    assert read == [(Timecode.parse(a, rate).frame_count, Timecode.parse(b, rate).frame_count) for a, b, _n in circled]


def test_all_takes_and_kept_takes(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log(url, TAKES["23.976"])
    assert main(["takes", "export", "--format", "edl", "--takes", "all", "--rate", "23.976",
                 "--config", str(config(tmp_path, url))]) == 0
    text = capsys.readouterr().out
    assert [line.split()[1] for line in text.splitlines() if line[:3].isdigit()] == ["1M1_T01", "1M1_T02", "1M2_T01"]


def test_the_rate_comes_from_the_cue_sheet_or_is_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'takes.db'}"
    log(url, TAKES["25"])
    cfg = config(tmp_path, url)
    assert main(["takes", "export", "--format", "edl", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "edl needs the picture's rate: give --rate R or --cues CUES" in err
    sheet = tmp_path / "cues.toml"
    sheet.write_text('[picture]\nrate = "25"\n[[cue]]\nid = "1M1"\nstart = "10:00:00:00"\ntempo = 120\nbars = 4\n',
                     encoding="utf-8")
    assert main(["takes", "export", "--format", "edl", "--cues", str(sheet), "--config", str(cfg)]) == 0
    assert "001  1M1_T01  A     C        09:59:59:24 10:00:31:00" in capsys.readouterr().out
    # A rate the take log's timecode cannot be counted at: the take and its timecode named.
    assert main(["takes", "export", "--format", "edl", "--rate", "24", "--config", str(cfg)]) == 1
    assert capsys.readouterr().err == (
        "stage: take 1M1-1: 09:59:59:24: frame 24 does not exist at 24 fps (frames 00-23) "
        "(is the picture rate 24 right?)\n")


def test_no_takes_is_an_empty_but_valid_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'takes.db'}"
    log(url, [])
    out = tmp_path / "none.mid"
    assert main(["takes", "export", "--format", "midi-markers", "--rate", "24", "-o", str(out),
                 "--config", str(config(tmp_path, url))]) == 0
    assert [r[2] for r in midicsv(out) if r[2] == "Marker_t"] == []


def test_the_marker_file_is_not_written_to_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'takes.db'}"
    log(url, TAKES["25"])
    main_fd, terminal_fd = os.openpty()
    with os.fdopen(terminal_fd, "w") as terminal:
        monkeypatch.setattr(sys, "stdout", terminal)
        code = main(["takes", "export", "--format", "midi-markers", "--rate", "25",
                     "--config", str(config(tmp_path, url))])
    os.close(main_fd)
    assert code == 2
    assert "midi-markers is a binary file: give -o FILE or redirect standard output" in capsys.readouterr().err
