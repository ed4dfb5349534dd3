"""The takes as a DAW and an editor read them: a marker per take, and an EDL of the circled ones.

Pure: takes in, markers or text out.

**Markers** (:func:`take_markers`): one per take at its timecode in, named
``1M1-3 circled`` (cue, take, then what the take is: ``pickup b17``,
``wild``, its status in words), in picture order.  The MIDI file adapter
writes them as a Standard MIDI File that Pro Tools imports as memory
locations.

**EDL** (:func:`edl_text`): a CMX 3600 edit decision list with one event per
take on the audio channel, the take's timecode in and out as both its source
and its record timecode (a take is laid where it was played to picture), a
reel name of at most eight characters (``1M1_T03``), and the take's full name,
status and notes as comment lines.  It is written here, by the format's own
rules, rather than through OpenTimelineIO's CMX 3600 writer, which needs a
video track (takes are sound), infers drop-frame from the rate alone (29.97
non-drop would be written as drop), writes no ``FCM`` line, and places events
one after another on a track, so two takes of the same bars could not both
keep their timecode.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from stage.core.session import Take, TakeStatus
from stage.core.timecode import Rate, Timecode
from stage.errors import SessionError, TimecodeError

__all__ = ["REEL_LENGTH", "Selection", "TakeMarker", "edl_text", "marker_name", "reel_name", "select", "take_markers"]

REEL_LENGTH = 8  # CMX 3600's reel field
_TITLE_LENGTH = 70  # the longest TITLE line most readers take

# A status as a music editor says it on a marker ("print" is the circled take).
STATUS_WORDS = {
    TakeStatus.FALSE_START: "false start",
    TakeStatus.BREAKDOWN: "breakdown",
    TakeStatus.INCOMPLETE: "incomplete",
    TakeStatus.COMPLETE: "complete",
    TakeStatus.HOLD: "hold",
    TakeStatus.PRINT: "circled",
}


class Selection(enum.Enum):
    """Which takes an export carries."""

    CIRCLED = "circled"  # the printed takes
    KEPT = "kept"  # circled and held
    ALL = "all"  # every take

    def admits(self, take: Take) -> bool:
        """True when ``take`` belongs in this selection."""
        if self is Selection.ALL:
            return True
        kept = {TakeStatus.PRINT} if self is Selection.CIRCLED else {TakeStatus.PRINT, TakeStatus.HOLD}
        return take.status in kept


@dataclass(frozen=True)
class TakeMarker:
    """A take's marker: the picture frame it rolled at (counted from 00:00:00:00) and its name."""

    frame: int
    name: str
    take: Take


def marker_name(take: Take) -> str:
    """``1M1-3``, then ``pickup b17``, ``wild`` and the status in words where the take has them."""
    words = [take.label]
    if take.pickup_bar is not None:
        words.append(f"pickup b{take.pickup_bar}")
    if take.wild:
        words.append("wild")
    if take.status is not None:
        words.append(STATUS_WORDS[take.status])
    return " ".join(words)


def _frame(take: Take, text: str, rate: Rate) -> int:
    try:
        return Timecode.parse(text, rate).frame_count
    except TimecodeError as exc:
        raise SessionError(f"take {take.label}: {exc} (is the picture rate {rate} right?)") from None


def select(takes: Iterable[Take], selection: Selection) -> list[Take]:
    """The takes ``selection`` admits, in the order given."""
    return [t for t in takes if selection.admits(t)]


def take_markers(takes: Iterable[Take], rate: Rate) -> list[TakeMarker]:
    """A marker per take at its timecode in, in picture order (then cue and take number)."""
    marks = [TakeMarker(_frame(t, t.tc_in, rate), marker_name(t), t) for t in takes]
    return sorted(marks, key=lambda m: (m.frame, m.take.cue, m.take.number))


def _ascii(text: str) -> str:
    """EDLs are ASCII: accents dropped (é → e), anything else that is not ASCII a '?', no line breaks."""
    kept = [c if ord(c) < 128 else "?" for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)]
    return " ".join("".join(kept).split())


def reel_name(take: Take) -> str:
    """A reel name of at most :data:`REEL_LENGTH` characters that tells the take: ``1M1_T03``, ``12M10T03``,
    ``4M12A_3``; failing those, the take's number in the log (``T0000042``)."""
    cue = _ascii(take.cue).replace(" ", "_").upper()
    for name in (f"{cue}_T{take.number:02d}", f"{cue}T{take.number:02d}", f"{cue}_{take.number}",
                 f"{cue}{take.number}"):
        if len(name) <= REEL_LENGTH:
            return name
    return f"T{take.id or 0:07d}"[:REEL_LENGTH]


def edl_text(takes: Iterable[Take], rate: Rate, title: str = "") -> str:
    """A CMX 3600 EDL with one event per take that has ended on a later frame than it began, in picture order.

    ``FCM`` says whether the timecode is drop-frame; drop-frame timecode is
    written with ``;`` before the frames.  Each event is followed by ``* FROM
    CLIP NAME:`` (the take's marker name) and ``* COMMENT:`` lines (status,
    pickup, notes: ASCII, one line each).
    """
    lines = [f"TITLE: {_ascii(title)[:_TITLE_LENGTH]}" if title else "TITLE: takes",
             f"FCM: {'DROP FRAME' if rate.drop else 'NON-DROP FRAME'}", ""]
    events: list[tuple[int, int, Take]] = []
    for take in takes:
        if take.tc_out is None:
            continue  # still rolling: no out point yet
        start, end = _frame(take, take.tc_in, rate), _frame(take, take.tc_out, rate)
        if end > start:
            events.append((start, end, take))
    events.sort(key=lambda e: (e[0], e[2].cue, e[2].number))
    for n, (start, end, take) in enumerate(events, 1):
        tc_in, tc_out = str(Timecode.from_frames(start, rate)), str(Timecode.from_frames(end, rate))
        lines.append(f"{n:03d}  {reel_name(take):<8} A     C        {tc_in} {tc_out} {tc_in} {tc_out}")
        lines.append(f"* FROM CLIP NAME: {_ascii(marker_name(take))}")
        lines.extend(f"* COMMENT: {_ascii(f'{note.role.value}: {note.text}')}" for note in take.notes if note.text)
    return "\n".join(lines) + "\n"
