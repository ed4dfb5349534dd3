"""A marker list read from its file, whatever program wrote it: its format told by content, then its reader.

The text lists are read by the core (:mod:`stage.core.protools`,
:mod:`stage.core.markertables`); the interchange files by
:mod:`stage.adapters.timelinefile`, imported only when one is read
(OpenTimelineIO takes a moment to load).  Every refusal names the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from stage.core.markerformats import Format, decode_text, sniff
from stage.core.markertables import read_avid, read_csv, read_premiere
from stage.core.protools import read_pro_tools
from stage.core.spotting import MarkerList, Role
from stage.core.timecode import Rate
from stage.errors import StageError

__all__ = ["DESCRIPTIONS", "read_marker_file", "why_no_cue"]

# What each format is called in a message.
DESCRIPTIONS = {
    Format.PROTOOLS: "a Pro Tools session text",
    Format.CSV: "a CSV marker list",
    Format.AVID: "an Avid marker list",
    Format.PREMIERE: "a Premiere Pro marker list",
    Format.EDL: "an EDL",
    Format.FCP7: "FCP 7 XML",
    Format.FCPXML: "FCPXML",
    Format.AAF: "an AAF",
}

_TABLES: dict[Format, Callable[[str, Rate], MarkerList]] = {
    Format.CSV: read_csv,
    Format.AVID: read_avid,
    Format.PREMIERE: read_premiere,
}

# What a list of each format must hold for stage to find markers in it.
_EXPECTED = {
    Format.PROTOOLS: "its M A R K E R S  L I S T I N G with markers in it",
    Format.CSV: "a row of column titles (timecode or tc or time or in; name or marker; comment, notes or "
    "description; kind) or rows of timecode,name,comment",
    Format.AVID: "lines of user, timecode, track, colour, comment and duration, separated by tabs",
    Format.PREMIERE: "Premiere's header, then a marker a line",
    Format.EDL: "events each followed by Resolve's |C:… |M:… |D:… line, or * LOC: lines",
    Format.FCP7: "<marker> elements on the sequence or its clips",
    Format.FCPXML: "<marker> elements on the project's clips",
    Format.AAF: "locators on the sequence",
}


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_marker_file(path: Path, fmt: Format | None, rate: Rate | None) -> tuple[Format, MarkerList]:
    """The file's format (``None``: told by its content) and its markers; ``rate`` as ``--rate`` gives it."""
    data = _read(path)
    try:
        fmt = sniff(data) if fmt is None else fmt
        return fmt, _markers(fmt, path, data, rate)
    except StageError as exc:
        raise StageError(f"{path}: {exc}") from exc


def _markers(fmt: Format, path: Path, data: bytes, rate: Rate | None) -> MarkerList:
    if fmt is Format.PROTOOLS:
        return read_pro_tools(decode_text(data), rate)
    if rate is None and fmt in {*_TABLES, Format.EDL}:
        raise StageError(f"{DESCRIPTIONS[fmt]} needs --rate")
    if fmt in _TABLES:
        assert rate is not None
        return _TABLES[fmt](decode_text(data), rate)
    from stage.adapters.timelinefile import read_interchange  # noqa: PLC0415 - OpenTimelineIO loads slowly

    return read_interchange(fmt, path, data, rate)


def why_no_cue(fmt: Format, markers: MarkerList, colours: Mapping[str, Role]) -> str:
    """Why a list gave no cue, and what was expected of it (under the colour map in use)."""
    if not markers.markers:
        return f"no marker could be read as {DESCRIPTIONS[fmt]}: expected {_EXPECTED[fmt]}"

    def coloured(role: Role) -> str:
        names = " or ".join(sorted(c for c, r in colours.items() if r is role))
        return f" (or a {names} one named '<ID> [title]')" if names else ""

    return (f"no cue could be made from its {len(markers.markers)} markers (read as {DESCRIPTIONS[fmt]}): a cue "
            f"needs a marker named '<ID> start'{coloured(Role.START)} and one named '<ID> end'{coloured(Role.END)}, "
            "or one marker named '<ID> [title]' that spans it; the markers between are its hits")
