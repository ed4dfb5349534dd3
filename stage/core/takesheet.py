"""The take sheet a music editor hands on: one row per take, as CSV or JSON.

Pure: takes in, text out.  Rows keep the order they are given in (the store
lists takes in the order they were logged).  Column names are part of the
public contract (``docs/takes.md``): new columns may be added at the end,
none is renamed.

CSV cells are text: empty for "none" (no pickup, no status yet, still
rolling), ``yes``/``no`` for wild, duration in seconds with three decimals,
the date and time of day the take rolled, and the notes joined as
``role: text | role: text``.  JSON keeps the types: numbers, booleans,
``null``, notes as a list of objects, and full ISO 8601 times.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from stage.core.session import Take

COLUMNS = (
    "cue",
    "take",
    "pickup_bar",
    "wild",
    "status",
    "tc_in",
    "tc_out",
    "duration",
    "date",
    "time_of_day",
    "notes",
    "revision",
    "picture_revision",
)

NOTE_SEPARATOR = " | "


def _local(at: datetime, tz: tzinfo | None) -> datetime:
    return at if tz is None else at.astimezone(tz)


def csv_row(take: Take, tz: tzinfo | None = None) -> dict[str, str]:
    """The take sheet row of ``take``, column → text; times shown in ``tz`` (default: as stored)."""
    started = _local(take.started_at, tz)
    return {
        "cue": take.cue,
        "take": str(take.number),
        "pickup_bar": "" if take.pickup_bar is None else str(take.pickup_bar),
        "wild": "yes" if take.wild else "no",
        "status": "" if take.status is None else take.status.value,
        "tc_in": take.tc_in,
        "tc_out": take.tc_out or "",
        "duration": "" if take.duration is None else f"{take.duration:.3f}",
        "date": started.date().isoformat(),
        "time_of_day": started.strftime("%H:%M:%S"),
        "notes": NOTE_SEPARATOR.join(f"{n.role.value}: {n.text}" for n in take.notes),
        "revision": take.revision or "",
        "picture_revision": take.picture_revision or "",
    }


def to_csv(takes: Iterable[Take], tz: tzinfo | None = None) -> str:
    """The take sheet as CSV (RFC 4180, CRLF line ends): a header of :data:`COLUMNS`, then one line per take."""
    out = io.StringIO()
    # RFC 4180 line ends: the csv module then quotes any CR or LF inside a note, so every reader splits rows right.
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for take in takes:
        writer.writerow(csv_row(take, tz))
    return out.getvalue()


def json_row(take: Take, tz: tzinfo | None = None) -> dict[str, Any]:
    """The take sheet row of ``take`` with JSON types; ``id``, ``version`` and full times besides the columns."""
    started = _local(take.started_at, tz)
    return {
        "cue": take.cue,
        "take": take.number,
        "pickup_bar": take.pickup_bar,
        "wild": take.wild,
        "status": None if take.status is None else take.status.value,
        "tc_in": take.tc_in,
        "tc_out": take.tc_out,
        "duration": take.duration,
        "date": started.date().isoformat(),
        "time_of_day": started.strftime("%H:%M:%S"),
        "notes": [{"role": n.role.value, "text": n.text, "at": _local(n.at, tz).isoformat()} for n in take.notes],
        "revision": take.revision,
        "picture_revision": take.picture_revision,
        "id": take.id,
        "version": take.version,
        "started_at": started.isoformat(),
        "ended_at": None if take.ended_at is None else _local(take.ended_at, tz).isoformat(),
    }


def to_json(takes: Iterable[Take], tz: tzinfo | None = None) -> str:
    """The take sheet as JSON: ``{"columns": [...], "takes": [row, ...]}``, indented, keys in column order."""
    document = {"columns": list(COLUMNS), "takes": [json_row(t, tz) for t in takes]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
