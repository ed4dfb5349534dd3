"""``stage picture import`` and ``stage picture show``: the cutting room's files in through the command line.

Every cut (the session's ``cuts``: ProRes at 23.976, 25 and 29.97df, DNxHR in
MXF, H.264 in MP4, a timecode track at 00:59:58:00) is imported against a
sheet at its rate and its proxy checked from outside (tests/picturecheck.py).
Refusals exit 1 with one line on stderr and leave the current picture.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from peers.cuts import Cut
from picturecheck import check_proxy

from stage.cli import main
from stage.cli_picture import ProgressBar
from stage.core.timecode import RATES, Timecode

ROOT = Path(__file__).resolve().parents[1]


def sheet(tmp: Path, rate: str, start: str = "00:59:59:00") -> Path:
    path = tmp / f"sheet-{rate}.toml"
    path.write_text(f'[picture]\nrate = "{rate}"\n[[cue]]\nid = "1M1"\nstart = "{start}"\ntempo = "12-0"\n'
                    'meter = "4/4"\nbars = 1\ncountoff = 0\n')
    return path


def config(tmp: Path) -> Path:
    path = tmp / "stage.toml"
    path.write_text(f'[picture]\ndir = "{tmp / "picture"}"\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("key", "rate", "start"), [
    ("r23", "23.976", "00:59:58:00"),
    ("r25", "25", "00:59:58:00"),
    ("df", "29.97df", "00:59:58;00"),
    ("mxf", "23.976", "00:59:58:00"),
    ("mp4", "23.976", "00:59:58:00"),
])
def test_each_cut_is_imported_and_its_proxy_is_frame_for_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cuts: dict[str, Cut], key: str, rate: str, start: str,
) -> None:
    cut = cuts[key]
    code, out, err = run(capsys, "picture", "import", cut.path, "--cues", sheet(tmp_path, rate), "--config",
                         config(tmp_path))
    assert code == 0, err
    revision = out.split("picture revision ", 1)[1].split(":", 1)[0]
    assert out.startswith(f"imported picture revision {revision}: {cut.path.name}, {cut.frames} frames at {rate} fps "
                          f"from {start} to ")
    folder = tmp_path / "picture" / revision
    assert f"proxy {folder / 'proxy.mp4'} (" in out
    # Not a terminal: plain progress lines, each step from its start to its end.
    assert "stage: making the proxy: 100% " in err
    assert f"({cut.frames}/{cut.frames} frames)" in err
    assert "\r" not in err
    check_proxy(folder / "proxy.mp4", json.loads((folder / "index.json").read_text()), cut,
                Timecode.parse(start, RATES[rate]).frame_count)


def test_refusals_exit_1_with_one_line_and_keep_the_current_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cuts: dict[str, Cut],
) -> None:
    cues, conf = sheet(tmp_path, "23.976"), config(tmp_path)
    assert run(capsys, "picture", "import", cuts["r23"].path, "--cues", cues, "--config", conf)[0] == 0
    code, shown, _ = run(capsys, "picture", "show", "--config", conf)
    assert code == 0
    for argv, line in [
        ((cuts["r25"].path,), ("stage: reel1_25.mov runs at 25 fps and the cue sheet's [picture] rate is 23.976: the "
                              "cut and the sheet must be at one rate (conform the cut, or correct the sheet)")),
        ((cuts["bare"].path,), ("stage: reel1_no_tc.mov has no timecode (no tmcd track, no timecode in its header): "
                               "give its first frame's timecode (stage picture import --start HH:MM:SS:FF, or PUT "
                               "/api/picture?start=HH:MM:SS:FF)")),
        ((cuts["bare"].path, "--start", "01:00:00:24"), ("stage: 01:00:00:24: frame 24 does not exist at 23.976 fps "
                                                        "(frames 00-23)")),
    ]:
        code, out, err = run(capsys, "picture", "import", *argv, "--cues", cues, "--config", conf)
        assert (code, out) == (1, "")
        assert err.splitlines()[-1] == line
        assert not [x for x in err.splitlines() if not x.startswith("stage: ")]
        assert run(capsys, "picture", "show", "--config", conf)[1] == shown
    # Where the file has no timecode, --start gives it; the warning names the cue the cut does not cover.
    code, out, err = run(capsys, "picture", "import", cuts["bare"].path, "--start", "01:00:00:00", "--cues", cues,
                         "--config", conf)
    assert code == 0
    assert "from 01:00:00:00 to 01:00:01:23" in out
    assert err.splitlines()[-1] == ("stage: warning: cue 1M1 (00:59:59:00 to 01:00:01:00) runs outside the cut "
                                    "(01:00:00:00 to 01:00:01:23)")
    code, out, err = run(capsys, "picture", "import", cuts["r23"].path, "--start", "00:59:59:00", "--cues", cues,
                         "--config", conf)
    assert code == 0
    assert "stage: --start 00:59:59:00 replaces the file's own timecode 00:59:58:00" in err.splitlines()
    code, out, _ = run(capsys, "picture", "show", "--config", conf)
    assert out.startswith("current picture revision 3-")
    assert "also kept: 1-" in out
    record = json.loads(run(capsys, "picture", "show", "--config", conf, "--json")[1])
    assert (record["revision"][:2], record["start"], record["source"]["start_given"]) == ("3-", "00:59:59:00", True)
    assert record["source"]["timecode"] == "00:59:58:00"


def test_show_with_nothing_imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "picture", "show", "--config", config(tmp_path)) == (
        0, f"no picture imported in {tmp_path / 'picture'}\n", "")
    assert run(capsys, "picture", "show", "--config", config(tmp_path), "--json") == (0, "null\n", "")


def test_the_command_runs_as_installed_and_says_it_on_stderr(tmp_path: Path, cuts: dict[str, Cut]) -> None:
    done = subprocess.run([sys.executable, "-m", "stage", "picture", "import", str(cuts["df"].path), "--cues",
                           str(sheet(tmp_path, "29.97")), "--config", str(config(tmp_path))],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        "stage: reel1_2997df.mov's timecode 00:59:58;00 is drop-frame (29.97df) and the cue sheet's [picture] rate "
        "is 29.97: the cut and the sheet must count timecode alike")


def test_the_bar_on_a_terminal_is_redrawn_in_place() -> None:
    out = io.StringIO()
    clock = iter(x / 4 for x in range(100))  # a draw every quarter second: none skipped
    bar = ProgressBar(out, tty=True, clock=lambda: next(clock))
    for done in range(0, 241, 24):
        bar("encoding", done, 240)
    bar.end()
    text = out.getvalue()
    assert text.startswith("\rmaking the proxy  [------------------------------]   0%  0/240 frames\x1b[K")
    assert "\rmaking the proxy  [###############---------------]  50%  120/240 frames\x1b[K" in text
    assert text.endswith("\rmaking the proxy  [##############################] 100%  240/240 frames\x1b[K\n")
    assert text.count("\n") == 1
