"""The picture library against Debian's ffmpeg and PyAV: cutting rooms' files in, proxies checked from outside.

Every cut is made in the test (the ``cuts`` fixture, tests/peers/cuts.py:
frame k shows k as a block code).  An import's proxy is checked by other means
than the ones that made it (tests/picturecheck.py); the cuts at every rate and
in every container go through the command line (tests/test_cli_picture.py)
and the upload (tests/adapters/test_picture_http.py).  Bad cuts must be refused by name with the current
picture kept and nothing left behind, a full disk included (a tmpfs the test
mounts, as root).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import wave
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from peers.cuts import Cut, make_cut, make_vfr, truncate
from peers.disk import small_disk
from picturecheck import check_proxy

from stage.adapters import media
from stage.adapters.pictures import PictureLibrary
from stage.core.cut import Probe
from stage.core.timecode import RATES
from stage.errors import DiskFull, NotFound, PictureError, SessionError, Unavailable

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def check(library: PictureLibrary, revision: str, cut: Cut) -> None:
    """The revision's proxy and index against the cut, from outside (tests/picturecheck.py)."""
    index = json.loads(library.file(revision, "index.json").read_text())
    check_proxy(library.file(revision, "proxy.mp4"), index, cut, library.revision(revision).start_frame)


def test_an_import_reports_each_step_and_checks_out(tmp_path: Path, cuts: dict[str, Cut]) -> None:
    cut = cuts["mxf"]
    library = PictureLibrary(tmp_path / "picture")
    steps: list[tuple[str, int, int]] = []
    picture = library.import_cut(cut.path, rate=RATES["23.976"], now=NOW, step=lambda *a: steps.append(a)).picture
    assert (picture.rate.name, str(picture.start), picture.frames) == ("23.976", "00:59:58:00", cut.frames)
    assert (picture.source["container"], picture.source["codec"]) == ("MXF", "dnxhd (DNXHR LB)")
    assert picture.imported_at == "2026-01-05T10:00:00+00:00"
    assert library.current() == picture  # its proxy checked from outside: tests/test_cli_picture.py
    last = {s: (d, t) for s, d, t in steps}
    size = cut.path.stat().st_size
    assert last == {"hashing": (size, size), "reading": (size, size), "encoding": (cut.frames, cut.frames),
                    "indexing": (cut.frames, cut.frames)}
    order = ["hashing", "reading", "encoding", "indexing"]
    assert [s for s, _, _ in steps] == sorted((s for s, _, _ in steps), key=order.index)


def test_revisions_follow_one_another_and_the_layout_is_the_documented_one(tmp_path: Path,
                                                                           cuts: dict[str, Cut]) -> None:
    library = PictureLibrary(tmp_path / "picture")
    assert library.current() is None
    first = library.import_cut(cuts["r23"].path, rate=RATES["23.976"], now=NOW).picture
    second = library.import_cut(cuts["bare"].path, rate=RATES["23.976"], now=NOW, start="01:00:00:00").picture
    assert [first.revision[:2], second.revision[:2]] == ["1-", "2-"]
    assert second.revision.endswith(second.source["sha256"][:6])
    assert (str(second.start), second.source["start_given"]) == ("01:00:00:00", True)
    assert json.loads((tmp_path / "picture" / "current.json").read_text()) == {"revision": second.revision}
    assert sorted(p.name for p in (tmp_path / "picture").iterdir()) == sorted(
        [".lock", "current.json", first.revision, second.revision])
    assert sorted(p.name for p in (tmp_path / "picture" / second.revision).iterdir()) == [
        "index.json", "picture.json", "proxy.mp4"]
    assert [p.revision for p in library.revisions()] == [first.revision, second.revision]
    for bad in ("../picture", "1-zzzzzz", first.revision + "/../x"):
        with pytest.raises(NotFound):
            library.file(bad, "proxy.mp4")
    with pytest.raises(NotFound, match=r"not 'picture\.json'"):
        library.file(first.revision, "picture.json")


def wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\0\0" * 4800)
    return path


def test_bad_cuts_are_refused_by_name_and_the_current_picture_stays(tmp_path: Path, cuts: dict[str, Cut]) -> None:
    library = PictureLibrary(tmp_path / "picture")
    current = library.import_cut(cuts["r23"].path, rate=RATES["23.976"], now=NOW).picture
    made = tmp_path / "bad"
    made.mkdir()
    text = made / "notes.mov"
    text.write_text("spotting notes, not a movie\n")
    truncated_mov = truncate(Path(shutil.copy(cuts["r23"].path, made / "cut_short.mov")))
    truncated_mxf = truncate(Path(shutil.copy(cuts["mxf"].path, made / "cut_short.mxf")))
    refusals = [
        (text, "23.976", None, r"^notes.mov is not a video ffmpeg can read: "),
        (wav(made / "guide.wav"), "23.976", None, r"^guide.wav is not a video: it holds audio and no picture$"),
        (truncated_mov, "23.976", None, r"^cut_short.mov is truncated: its movie header \(moov\) is missing"),
        (truncated_mxf, "23.976", None, r"^cut_short.mxf is truncated or damaged: 1 frame\(s\) are cut short"),
        (make_vfr(made / "phone.mp4"), "25", None,
         r"^phone.mp4 has a variable frame rate: frame \d+ lasts 80.000 ms where most last 40.000 ms"),
        (cuts["r25"].path, "23.976", None,
         r"^reel1_25.mov runs at 25 fps and the cue sheet's \[picture\] rate is 23.976: "),
        (cuts["df"].path, "29.97", None,
         (r"^reel1_2997df.mov's timecode 00:59:58;00 is drop-frame \(29.97df\) and the cue sheet's \[picture\] rate "
         r"is 29.97")),
        (cuts["bare"].path, "23.976", None,
         r"^reel1_no_tc.mov has no timecode \(no tmcd track, no timecode in its header\): give its first frame's "),
        (made / "missing.mov", "23.976", None, r"^missing.mov: no such file$"),
    ]
    for path, rate, start, message in refusals:
        with pytest.raises(PictureError, match=message):
            library.import_cut(path, rate=RATES[rate], now=NOW, start=start)
        assert library.current() == current
        assert sorted(p.name for p in library.root.iterdir()) == sorted([".lock", "current.json", current.revision])


def test_what_a_dead_import_left_is_removed_and_a_directory_that_cannot_be_written_is_named(
    tmp_path: Path, cuts: dict[str, Cut],
) -> None:
    library = PictureLibrary(tmp_path / "picture")
    (library.root / ".7-abcdef.partial").mkdir(parents=True)  # the process died making its proxy
    (library.root / ".7-abcdef.partial" / "proxy.mp4").write_bytes(b"\0" * 1000)
    (library.root / ".upload-0123456789ab").write_bytes(b"half a cut")  # the service died receiving it
    library.remove_uploads()
    picture = library.import_cut(cuts["r23"].path, rate=RATES["23.976"], now=NOW).picture
    assert picture.revision.startswith("1-")
    assert sorted(p.name for p in library.root.iterdir()) == sorted([".lock", "current.json", picture.revision])
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(Unavailable, match=r"^the picture directory .*/file/picture cannot be written: Not a dir"):
        PictureLibrary(tmp_path / "file" / "picture").import_cut(cuts["r23"].path, rate=RATES["23.976"], now=NOW)


def test_one_import_at_a_time_from_any_process(tmp_path: Path, cuts: dict[str, Cut]) -> None:
    library = PictureLibrary(tmp_path / "picture")
    library.root.mkdir()
    with (library.root / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another stage's import would
        with pytest.raises(SessionError, match=r"another import into .* is under way"):
            library.import_cut(cuts["r23"].path, rate=RATES["23.976"], now=NOW)
    assert library.current() is None


def test_a_disk_that_fills_while_the_proxy_is_made_keeps_the_current_picture(tmp_path: Path,
                                                                             cuts: dict[str, Cut]) -> None:
    small = make_cut(tmp_path / "small.mov", "23.976", "00:59:58:00", 1.0, size=(160, 90))
    big = cuts["r23"]  # its proxy is some 40 kB: more than is left
    with small_disk(tmp_path / "disk", "32k") as disk:
        library = PictureLibrary(disk / "picture")
        current = library.import_cut(small.path, rate=RATES["23.976"], now=NOW).picture
        used = shutil.disk_usage(disk).used
        with pytest.raises(DiskFull) as caught:
            library.import_cut(big.path, rate=RATES["23.976"], now=NOW)
        assert str(caught.value) == ("the disk filled while making the proxy of reel1_23976.mov (no space left on "
                                     "device): nothing was kept, the current picture stays")
        assert library.current() == current
        assert sorted(p.name for p in library.root.iterdir()) == sorted([".lock", "current.json", current.revision])
        assert shutil.disk_usage(disk).used == used  # the partial proxy is gone
        check(library, current.revision, small)


def test_probe_reads_the_timecode_track_and_every_frames_time(cuts: dict[str, Cut]) -> None:
    found: Probe = media.probe(cuts["df"].path)
    assert (found.container, found.codec, found.width, found.height) == ("QuickTime", "prores (LT)", 320, 180)
    assert found.timecode == "00:59:58;00"
    assert found.time_base == Fraction(1, 30000)
    assert found.stamps == tuple(range(0, 60 * 1001, 1001))
    mxf = media.probe(cuts["mxf"].path)
    assert (mxf.container, mxf.timecode, mxf.time_base) == ("MXF", "00:59:58:00", Fraction(1001, 24000))
    assert media.probe(cuts["bare"].path).timecode is None
