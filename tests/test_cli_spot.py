"""stage spot on the markers of every cutting room: each format by its content, the colour map, a list with no cue,
every fixture broken every way (never a traceback), and a sheet written out as each format and read back."""

from __future__ import annotations

import codecs
import csv
import io
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from opentimelineio import opentime
from peers.aaffiles import Locator, write_locators

from stage.cli import main
from stage.core.breakdown import plural
from stage.core.cuesheet import CueSheet, load_cue_sheet, parse_cue_sheet
from stage.core.markerformats import Format
from stage.core.timecode import RATES, Rate, Timecode

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "spotting"

Spotted = list[tuple[str, str, str, str, list[tuple[str, str]]]]


def stage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stage", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=120)


def spot_here(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """``stage spot`` in this process (the same code as the command, without starting Python each time)."""
    code = main(["spot", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def spotted(sheet: CueSheet) -> Spotted:
    """Each cue's id, title, start and end, and its hits as (timecode, label)."""
    return [(c.id, c.title, str(c.start), str(c.end),
             [(str(Timecode.at(c.downbeat + h.time, sheet.rate)), h.label) for h in c.hits]) for c in sheet.cues]


def avid_aaf(path: Path) -> Path:
    return write_locators(path, "R13 spot", Fraction(24000, 1001), 86400, [
        Locator(240, "13M1 Tide\nslow strings", "green"), Locator(300, "wave", "yellow"), Locator(600, "13M1", "red"),
        Locator(800, "13M2 Calm", "blue", length=480), Locator(900, "gull", "magenta"), Locator(2000, "after", "cyan"),
    ])


# -- every format, told by its content -------------------------------------------------------------

CASES = {
    "avid-markers-2997df.txt": (("--rate", "29.97"), "29.97df", [
        ("6M1", "Tide Turns", "01:00:59;28", "01:01:12;15",
         [("01:01:00;02", "gull cries"), ("01:01:04;10", 'the "Mary Rose" sails'), ("01:01:06;00", "rope snaps")]),
        ("6M2", "Night", "01:01:20;00", "01:01:36;00", [("01:01:30;00", "door")]),
    ], ["line 1", "line 6", "line 10", "line 11"]),
    "premiere-markers-24.csv": (("--rate", "24"), "24", [
        ("7M1", "Harbour", "01:00:10:00", "01:00:20:00", [("01:00:12:12", "ferry horn"), ("01:00:14:00", "splash")]),
        ("7M2", "Chase", "01:00:30:00", "01:00:45:00", [("01:00:33:00", "crash"), ("01:00:35:00", "boom")]),
    ], ["line 9", "line 10"]),
    "spreadsheet-semicolon.csv": (("--rate", "24"), "24", [
        ("8M1", "Opening", "01:00:05:00", "01:00:12:00",
         [("01:00:07:12", "wind"), ("01:00:09:00", 'the "lighthouse"')]),
    ], ["line 1", "line 7"]),
    "resolve-markers-24.edl": (("--rate", "24"), "24", [
        ("9M1", "Lantern", "01:00:10:00", "01:00:20:00",
         [("01:00:12:12", "door slams"), ("01:00:15:00", "lamp flickers")]),
        ("9M2", "Storm", "01:00:30:00", "01:00:50:00", [("01:00:36:00", "rain on glass"), ("01:00:41:00", "thunder")]),
    ], ["event 1", "event 8"]),
    "resolve-markers-2997df.edl": (("--rate", "29.97"), "29.97df", [
        ("10M1", "", "01:00:59;28", "01:01:10;00", [("01:01:00;02", "minute one")]),
    ], []),
    "fcp7-markers-2997df.xml": ((), "29.97df", [
        ("11M1", "Fog", "01:00:00;00", "01:01:10;00", [("01:01:00;02", "bell"), ("01:01:02;00", "splash")]),
        ("11M2", "Drift", "01:01:20;00", "01:01:40;00",
         [("01:01:25;00", "gull"), ("01:01:28;02", "a note with no name")]),
    ], ["marker 7"]),
    "fcpx-markers-24.fcpxml": ((), "24", [
        ("12M1", "Pier", "01:00:10:00", "01:00:20:00", [("01:00:12:06", "splash"), ("01:00:15:12", "boat turns")]),
        ("12M2", "Wake", "01:00:30:00", "01:00:50:00", [("01:00:37:12", "bell")]),
    ], ["clip marker 7"]),
    "r13.aaf": ((), "23.976", [
        ("13M1", "Tide", "01:00:10:00", "01:00:25:00", [("01:00:12:12", "wave")]),
        ("13M2", "Calm", "01:00:33:08", "01:00:53:08", [("01:00:37:12", "gull")]),
    ], ["locator 6"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_spot_reads_each_cutting_rooms_markers_by_their_content(tmp_path: Path, name: str) -> None:
    args, rate, cues, places = CASES[name]
    # A name that says nothing true of the content: the format is told by what the file holds.
    source = tmp_path / "markers.csv"
    if name.endswith(".aaf"):
        avid_aaf(source)
    else:
        shutil.copy(FIXTURES / name, source)
    out = tmp_path / "sheet.toml"
    done = stage("spot", source, *args, "-o", out)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert [line.split(" ", 2)[2].split(":")[0] for line in done.stderr.splitlines()] == places
    hits = sum(len(c[4]) for c in cues)
    assert done.stdout.startswith(f"wrote {out}: {plural(len(cues), 'cue')}, {plural(hits, 'hit')}, ")
    sheet = load_cue_sheet(out)
    assert sheet.rate.name == rate
    assert spotted(sheet) == cues


def test_spot_format_given_by_name_and_a_wrong_one(capsys: pytest.CaptureFixture[str]) -> None:
    avid = FIXTURES / "avid-markers-2997df.txt"
    code, out, _ = spot_here(capsys, avid, "--format", "avid", "--rate", "29.97", "--cues-only")
    assert code == 0
    assert out.count("[[cue]]") == 2
    code, _, err = spot_here(capsys, avid, "--format", "premiere", "--rate", "29.97")
    assert code == 1
    assert "line 1: columns: not Premiere Pro's marker header" in err
    code, _, err = spot_here(capsys, avid, "--format", "edl")
    assert (code, err) == (1, f"stage: {avid}: an EDL needs --rate\n")


# -- what colours say ----------------------------------------------------------------------------


def test_spot_colour_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    avid = FIXTURES / "avid-markers-2997df.txt"
    # blue markers left out: 6M2's spanning marker goes, and 'door' falls outside every cue
    code, out, err = spot_here(capsys, avid, "--rate", "29.97", "--colour", "green=start,red=end,blue=skip",
                               "--cues-only")
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("id = ")] == ['id = "6M1"']
    assert "line 9: marker: 'door' at 01:01:30;00 lies outside every cue" in err
    # colours that say nothing: 6M1's green and red markers are hits (outside every cue); 6M2 spans its marker
    code, out, err = spot_here(capsys, avid, "--rate", "29.97", "--color", "none", "--cues-only")
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("id = ")] == ['id = "6M2"']
    assert "line 2: marker: '6M1 Tide Turns' at 01:00:59;28 lies outside every cue" in err
    coloured = tmp_path / "coloured.csv"
    coloured.write_text("timecode,name,colour\n01:00:00:00,1M1 Tide,green\n01:00:05:00,1M1,red\n", encoding="utf-8")
    assert spot_here(capsys, coloured, "--rate", "24")[0] == 0
    code, _, err = spot_here(capsys, coloured, "--rate", "24", "--colour", "none")
    assert code == 1
    assert "a cue needs a marker named '<ID> start' and one named '<ID> end', or one marker named" in err
    code, _, err = spot_here(capsys, avid, "--rate", "29.97", "--colour", "red=loud")
    assert (code, err) == (1, "stage: colour map 'red=loud': 'loud' is not a role (start, end, hit, skip)\n")


# -- a list with no cue ------------------------------------------------------------------------------


def test_a_list_with_no_cue_is_an_error_that_says_what_was_expected(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text("name,comment,timecode\ndoor,,01:00:01:00\nlamp,,01:00:02:00\n", encoding="utf-8")
    code, out, err = spot_here(capsys, notes, "--rate", "24")
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (
        f"stage: {notes}: no cue could be made from its 2 markers (read as a CSV marker list): a cue needs a marker "
        "named '<ID> start' (or a green one named '<ID> [title]') and one named '<ID> end' (or a red one named "
        "'<ID> [title]'), or one marker named '<ID> [title]' that spans it; the markers between are its hits")
    notes.write_text("Reel 1 spotting\nbring the harp in early\n", encoding="utf-8")
    code, _, err = spot_here(capsys, notes, "--rate", "24")
    assert code == 1
    assert err.splitlines()[-1] == (
        f"stage: {notes}: no marker could be read as a CSV marker list: expected a row of column titles (timecode "
        "or tc or time or in; name or marker; comment, notes or description; kind) or rows of timecode,name,comment")


# -- every fixture broken every way ----------------------------------------------------------------


def broken(data: bytes, rng: random.Random, binary: bool) -> list[tuple[str, bytes]]:
    """The file cut short, re-encoded and garbled, each way once."""
    n = len(data)
    cuts = [("a third", data[: n // 3]), ("half", data[: n // 2]), ("all but its end", data[:-7]),
            ("its start lost", data[5:]), ("empty", b"")]
    flips = bytearray(data)
    for i in rng.sample(range(n), max(1, n // 50)):
        flips[i] = rng.randrange(256)
    garbled = [("bytes flipped", bytes(flips)), ("a chunk gone", data[: n // 3] + data[2 * n // 3 :])]
    if binary:
        return cuts + garbled
    text = data.decode("utf-16") if data.startswith(codecs.BOM_UTF16_LE) else data.decode("utf-8-sig")
    recoded = [("UTF-16 without its mark", text.encode("utf-16-le")), ("UTF-16 big-endian", text.encode("utf-16")),
               ("Windows-1252", text.encode("cp1252", errors="replace")), ("a UTF-8 mark", codecs.BOM_UTF8 + data),
               ("carriage returns", text.replace("\n", "\r").encode())]
    garbled += [("NULs", data.replace(b"0", b"\x00")), ("tabs for commas", data.replace(b"\t", b",")),
                ("lines doubled", b"\n".join(line + b"\n" + line for line in data.split(b"\n"))),
                ("quotes opened", data.replace(b" ", b' "', 3)), ("a long line", data + b"x" * 200_000 + b"\n")]
    return cuts + recoded + garbled


def test_no_marker_list_broken_any_way_ends_in_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(22)
    sources = {name: ((FIXTURES / name).read_bytes(), args) for name, (args, *_) in CASES.items()
               if not name.endswith(".aaf")}
    sources["r13.aaf"] = (avid_aaf(tmp_path / "r13.aaf").read_bytes(), ())
    sources["protools-2997df.txt"] = ((FIXTURES / "protools-2997df.txt").read_bytes(), ())
    sources["spotting.csv"] = ((FIXTURES / "spotting.csv").read_bytes(), ("--rate", "24"))
    codes: list[int] = []
    for name, (data, args) in sources.items():
        for how, mangled in broken(data, rng, binary=name.endswith(".aaf")):
            path = tmp_path / f"mangled{Path(name).suffix}"
            path.write_bytes(mangled)
            # read as told by its content, and (garbled) as every format, as a user who names the wrong one
            for fmt in ("auto", *(f.value for f in Format if how == "bytes flipped")):
                code, _, err = spot_here(capsys, path, "--format", fmt, *args, "-o", tmp_path / "o.toml")
                codes.append(code)
                assert code in {0, 1}, (name, how, fmt)
                assert code == 0 or err.strip(), (name, how, fmt)  # a refusal says why
    # broken files still give cues where enough of them is left: the readers got past their first lines
    assert len(codes) > 150
    assert codes.count(0) > 40


# -- a sheet out and back --------------------------------------------------------------------------

SHEET_24 = """\
[picture]
title = "Round Trip"
rate = "24"

[[cue]]
id = "1M1"
title = "Main Title"
start = "01:00:10:00"
tempo = "12-0"
bars = 12
notes = "waltz, slow"

[[cue.hit]]
bar = 3
label = "door slams"

[[cue.hit]]
at = "01:00:20:07"
label = 'the keeper, "turning"'

[[cue]]
id = "1M2"
start = "01:00:40:00"
free = true
end = "01:01:02:12"
notes = "strings alone"

[[cue.hit]]
at = "01:00:45:03"
label = "lamp"
"""

SHEET_DF = """\
[picture]
rate = "29.97df"

[[cue]]
id = "2M1"
title = "Tide"
start = "01:00:59;28"
free = true
end = "01:01:30;00"
notes = "low"

[[cue.hit]]
at = "01:01:00;02"
label = "minute one"

[[cue.hit]]
at = "01:01:10;00"
label = "ten"
"""

# (frame, name, comment) of each marker the sheet's cues and hits make
Markers = list[tuple[int, str, str]]


def sheet_markers(sheet: CueSheet) -> Markers:
    out: Markers = []
    for cue in sheet.cues:
        out.append((cue.start.frame_count, f"{cue.id} start {cue.title}".strip(), cue.notes))
        out += [(Timecode.at(cue.downbeat + h.time, sheet.rate).frame_count, h.label, "") for h in cue.hits]
        out.append((cue.end.frame_count, f"{cue.id} end", ""))
    return out


def tc(frames: int, rate: Rate) -> str:
    return str(Timecode.from_frames(frames, rate))


def as_csv(markers: Markers, rate: Rate, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["timecode", "name", "comment"])
    writer.writerows([tc(f, rate), name, comment] for f, name, comment in markers)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def as_avid(markers: Markers, rate: Rate, path: Path) -> None:
    """Avid's export: a line break in a comment is a bare carriage return, which the csv module would not write."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n")
    writer.writerows(["music editor", tc(f, rate), "V1", "white", name + ("\x1e" + comment if comment else ""), 1]
                     for f, name, comment in markers)
    path.write_bytes(buffer.getvalue().replace("\x1e", "\r").encode("utf-8"))


def as_premiere(markers: Markers, rate: Rate, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\r\n")
    writer.writerow(["Marker Name", "Description", "In", "Out", "Duration", "Marker Type"])
    writer.writerows([name, comment, tc(f, rate), tc(f, rate), "00:00:00:00", "Comment"]
                     for f, name, comment in markers)
    path.write_bytes(buffer.getvalue().encode("utf-16"))


def fps(rate: Rate) -> float:
    return float(rate.fps)


def as_edl(markers: Markers, rate: Rate, path: Path) -> None:
    """Resolve's marker EDL: a one-frame event a marker, its note, colour, name and length on the line after."""
    timeline = otio.schema.Timeline(name="round trip")
    track = otio.schema.Track(name="V")
    timeline.tracks.append(track)
    for k, (f, name, comment) in enumerate(sorted(markers), start=1):
        clip = otio.schema.Clip(name=f"M{k}", source_range=opentime.TimeRange(
            opentime.RationalTime(f, fps(rate)), opentime.RationalTime(1, fps(rate))))
        clip.metadata["cmx_3600"] = {"reel": "001", "comments": [f"{comment} |C:ResolveColorBlue |M:{name} |D:1"]}
        track.append(clip)
    path.write_text(otio.adapters.write_to_string(timeline, "cmx_3600", rate=fps(rate)), encoding="utf-8")


def as_fcp7(markers: Markers, rate: Rate, path: Path) -> None:
    first = min(f for f, _, _ in markers)
    timeline = otio.schema.Timeline(name="round trip", global_start_time=opentime.RationalTime(first, fps(rate)))
    track = otio.schema.Track(name="V1")
    timeline.tracks.append(track)
    track.append(otio.schema.Gap(source_range=opentime.TimeRange(
        opentime.RationalTime(0, fps(rate)), opentime.RationalTime(max(f for f, _, _ in markers) - first + 1,
                                                                   fps(rate)))))
    for f, name, comment in markers:
        timeline.tracks.markers.append(otio.schema.Marker(name=name, marked_range=opentime.TimeRange(
            opentime.RationalTime(f - first, fps(rate)), opentime.RationalTime(0, fps(rate))),
            metadata={"fcp_xml": {"comment": comment}}))
    path.write_text(otio.adapters.write_to_string(timeline, "fcp_xml"), encoding="utf-8")


def as_fcpxml(markers: Markers, rate: Rate, path: Path) -> None:
    """Markers on the picture's clip, as Final Cut keeps them (it has no timeline markers)."""
    first, last = min(f for f, _, _ in markers), max(f for f, _, _ in markers)
    whole = opentime.TimeRange(opentime.RationalTime(0, fps(rate)), opentime.RationalTime(last + 100, fps(rate)))
    timeline = otio.schema.Timeline(name="round trip")
    track = otio.schema.Track(name="V1")
    timeline.tracks.append(track)
    track.append(otio.schema.Gap(source_range=opentime.TimeRange(opentime.RationalTime(0, fps(rate)),
                                                                 opentime.RationalTime(first, fps(rate)))))
    clip = otio.schema.Clip(name="picture", media_reference=otio.schema.ExternalReference(
        target_url="file:///media/picture.mov", available_range=whole), source_range=opentime.TimeRange(
        opentime.RationalTime(first, fps(rate)), opentime.RationalTime(last - first + 1, fps(rate))))
    clip.markers.extend(otio.schema.Marker(name=name, marked_range=opentime.TimeRange(
        opentime.RationalTime(f, fps(rate)), opentime.RationalTime(1, fps(rate)))) for f, name, _ in markers)
    track.append(clip)
    path.write_text(otio.adapters.write_to_string(timeline, "fcpx_xml"), encoding="utf-8")


def as_aaf(markers: Markers, rate: Rate, path: Path) -> None:
    first = min(f for f, _, _ in markers)
    write_locators(path, "round trip", rate.fps, first, [
        Locator(f - first, name + ("\n" + comment if comment else ""), "white") for f, name, comment in markers])


WRITERS: dict[str, Callable[[Markers, Rate, Path], None]] = {
    "csv": as_csv, "avid": as_avid, "premiere": as_premiere, "edl": as_edl, "fcp7": as_fcp7, "fcpxml": as_fcpxml,
    "aaf": as_aaf,
}


@pytest.mark.parametrize(("sheet_text", "fmt"), [
    *(pytest.param(SHEET_24, fmt, id=f"24-{fmt}") for fmt in WRITERS),
    # FCPXML is refused but at 24 and 48 fps
    *(pytest.param(SHEET_DF, fmt, id=f"29.97df-{fmt}") for fmt in WRITERS if fmt != "fcpxml"),
])
def test_a_sheets_hits_written_as_each_format_come_back_as_the_same_cues_and_hits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sheet_text: str, fmt: str
) -> None:
    sheet = parse_cue_sheet(sheet_text)
    source = tmp_path / f"markers.{fmt}"
    WRITERS[fmt](sheet_markers(sheet), sheet.rate, source)
    out = tmp_path / "back.toml"
    code, _, err = spot_here(capsys, source, "--rate", sheet.rate.name, "-o", out)
    assert (code, err) == (0, "")
    back = load_cue_sheet(out)
    assert back.rate == sheet.rate
    assert spotted(back) == spotted(sheet)
    # the notes come back too, where the format keeps a start marker's comment (FCPXML drops notes)
    if fmt != "fcpxml":
        assert [c.notes for c in back.cues] == [c.notes for c in sheet.cues]
    assert [h.label for c in back.cues for h in c.hits] == [h.label for c in sheet.cues for h in c.hits]
    assert back.rate is RATES[sheet.rate.name]
