"""The take log as files a session hands on: the take sheet, the DAW's markers and an EDL of the circled takes.

One table of formats for every edge that exports (``stage takes export``, ``GET /api/takes/export``, the
engineer's console):

- ``csv`` and ``json``: the take sheet (:mod:`stage.core.takesheet`), every take;
- ``midi-markers``: a Standard MIDI File with a marker per take (:func:`stage.adapters.midifile.marker_file`),
  every take unless a selection is given;
- ``edl``: a CMX 3600 EDL (:func:`stage.core.takemarks.edl_text`), the circled takes unless a selection is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Literal, get_args

from stage.adapters.midifile import marker_file
from stage.core.session import Take
from stage.core.takemarks import Selection, edl_text, select, take_markers
from stage.core.takesheet import to_csv, to_json
from stage.core.timecode import Rate
from stage.errors import SessionError

__all__ = ["BINARY", "DEFAULT_SELECTION", "FORMATS", "NEEDS_RATE", "TakeFile", "TakeFormat", "take_file"]

TakeFormat = Literal["csv", "json", "midi-markers", "edl"]
FORMATS: tuple[TakeFormat, ...] = get_args(TakeFormat)
BINARY = frozenset({"midi-markers"})  # not for a terminal
NEEDS_RATE = frozenset({"midi-markers", "edl"})  # they count the take log's timecode in frames
DEFAULT_SELECTION: dict[TakeFormat, Selection] = {
    "csv": Selection.ALL, "json": Selection.ALL, "midi-markers": Selection.ALL, "edl": Selection.CIRCLED,
}
_MEDIA = {
    "csv": ("text/csv; charset=utf-8", "takes.csv"),
    "json": ("application/json", "takes.json"),
    "midi-markers": ("audio/midi", "takes-markers.mid"),
    "edl": ("text/plain; charset=us-ascii", "takes.edl"),
}


@dataclass(frozen=True)
class TakeFile:
    """An export: its bytes, what they are and the file name to save them under."""

    data: bytes
    media_type: str
    filename: str


def take_file(
    takes: Sequence[Take],
    fmt: TakeFormat,
    *,
    rate: Rate | None = None,
    tz: tzinfo | None = None,
    selection: Selection | None = None,
    title: str = "",
) -> TakeFile:
    """``takes`` (in the order they were logged) as ``fmt``; ``rate`` is the picture's, which the take log's
    timecode is counted at (the formats in :data:`NEEDS_RATE` need it)."""
    chosen = select(takes, selection or DEFAULT_SELECTION[fmt])
    media, name = _MEDIA[fmt]
    if fmt == "csv":
        data = to_csv(chosen, tz).encode("utf-8")
    elif fmt == "json":
        data = to_json(chosen, tz).encode("utf-8")
    elif rate is None:
        raise SessionError(f"{fmt} needs the picture's rate: the take log keeps timecode, not the rate it counts at")
    elif fmt == "midi-markers":
        data = marker_file(take_markers(chosen, rate), rate, title or "takes")
    else:
        data = edl_text(chosen, rate, title).encode("ascii")
    return TakeFile(data, media, name)
