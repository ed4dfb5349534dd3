"""The event list of a cue as CSV: one row per scheduled event, in time order.

Columns ``kind,bar,beat,timecode,seconds`` come first (the public contract),
then ``label,color,length``.  ``seconds`` is real time relative to the
downbeat with 9 decimals (negative before it); ``timecode`` is the picture
frame the event falls in; ``length`` is a streamer's duration in seconds.
Bar and beat are empty for a free-timing cue.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from stage.core.breakdown import decimal_text
from stage.core.cuesheet import Cue
from stage.core.schedule import CueEvent, EventKind, cue_schedule, event_timecode

__all__ = ["COLUMNS", "SECONDS_PLACES", "EventRow", "event_rows", "events_csv"]

COLUMNS = ("kind", "bar", "beat", "timecode", "seconds", "label", "color", "length")
SECONDS_PLACES = 9
BEAT_PLACES = 3

_CLICKS = (EventKind.CLICK, EventKind.WARNING)


@dataclass(frozen=True)
class EventRow:
    """One CSV row, every cell already text."""

    kind: str
    bar: str
    beat: str
    timecode: str
    seconds: str
    label: str
    color: str
    length: str

    def cells(self) -> tuple[str, ...]:
        """The cells in :data:`COLUMNS` order."""
        return (self.kind, self.bar, self.beat, self.timecode, self.seconds, self.label, self.color, self.length)


def event_row(cue: Cue, ev: CueEvent) -> EventRow:
    """The row of one event of ``cue``."""
    bar = beat = ""
    if ev.bar is not None and ev.beat is not None:
        bar = str(ev.bar)
        # Clicks sit on whole beats by construction; anything else is a position between them.
        places = 0 if ev.kind in _CLICKS else BEAT_PLACES
        beat = decimal_text(ev.beat, places, trim=True)
    return EventRow(
        kind=ev.kind.value,
        bar=bar,
        beat=beat,
        timecode=str(event_timecode(cue, ev)),
        seconds=decimal_text(ev.time, SECONDS_PLACES),
        label=ev.label,
        color=ev.color,
        length=decimal_text(ev.length, SECONDS_PLACES) if ev.length else "",
    )


def event_rows(cue: Cue, events: Sequence[CueEvent] | None = None) -> list[EventRow]:
    """Rows for ``events`` (the cue's whole schedule when not given), in the order given."""
    return [event_row(cue, ev) for ev in (cue_schedule(cue) if events is None else events)]


def events_csv(cue: Cue) -> str:
    """The cue's event list as CSV text with a header row (``\\n`` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(row.cells() for row in event_rows(cue))
    return out.getvalue()
