"""The schedule of a cue: every warning click, click, streamer, punch and flutter punch, in time order.

Conventions (Auricle, Figure 53 Streamers): a yellow streamer into the first
warning click, a green one into the downbeat, a red one into the cue's end,
each ending in a punch; a hit's streamer ends in its punch; a flutter of n
punches is centred on the hit and replaces its single punch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction

from stage.core.cuesheet import DOWNBEAT_COLOR, END_COLOR, FIRST_WARNING_COLOR, Cue
from stage.core.tempo import ClickKind
from stage.core.timecode import Timecode


class EventKind(enum.Enum):
    """What happens at a scheduled instant."""

    STREAMER = "streamer"
    PUNCH = "punch"
    FLUTTER = "flutter"
    WARNING = "warning"
    CLICK = "click"


# Same instant: the visual cue lands first in the list, then the click.
_ORDER = {k: i for i, k in enumerate(EventKind)}


@dataclass(frozen=True)
class CueEvent:
    """One scheduled event; ``time`` is seconds relative to the cue's downbeat.

    A streamer's ``time`` is its start and ``length`` its duration (it ends at
    ``time + length``).  ``bar``/``beat`` are where the event falls in the
    music (None for a free-timing cue); ``accent`` marks downbeat clicks.
    """

    kind: EventKind
    time: Fraction
    bar: int | None = None
    beat: Fraction | None = None
    accent: bool = False
    color: str = ""
    length: Fraction = Fraction(0)
    label: str = ""

    @property
    def end(self) -> Fraction:
        """When the event ends (the punch instant of a streamer)."""
        return self.time + self.length


def cue_schedule(cue: Cue) -> list[CueEvent]:
    """Every event of ``cue`` in time order."""
    events: list[CueEvent] = []

    def place(kind: EventKind, time: Fraction, **kw: object) -> None:
        bar: int | None = None
        beat: Fraction | None = None
        if cue.clicks is not None:
            bar, beat = cue.clicks.position_at(time)
        events.append(CueEvent(kind, time, bar, beat, **kw))  # type: ignore[arg-type]

    def streamer_into(target: Fraction, length: Fraction | None, color: str, label: str, punch: bool) -> None:
        if length is not None:
            place(EventKind.STREAMER, target - length, color=color, length=length, label=label)
        if punch:
            place(EventKind.PUNCH, target, color=color, label=label)

    if cue.clicks is not None:
        for c in cue.clicks.clicks:
            kind = EventKind.WARNING if c.kind is ClickKind.WARNING else EventKind.CLICK
            events.append(
                CueEvent(kind, c.time, c.bar, Fraction(c.beat), accent=c.kind is ClickKind.ACCENT)
            )
        if cue.clicks.countoff:
            streamer_into(cue.first_time, cue.streamer, FIRST_WARNING_COLOR, "count-off", cue.punch)
    streamer_into(Fraction(0), cue.streamer, DOWNBEAT_COLOR, "downbeat" if not cue.free else "start", cue.punch)
    streamer_into(cue.end_time, cue.streamer, END_COLOR, "end", cue.punch)

    for hit in cue.hits:
        streamer_into(hit.time, hit.streamer, hit.color, hit.label, hit.punch and not hit.flutter)
        if hit.flutter:
            half = hit.flutter // 2
            for i in range(-half, half + 1):
                place(EventKind.FLUTTER, hit.time + i * cue.flutter_spacing, color=hit.color, label=hit.label)

    events.sort(key=lambda e: (e.time, _ORDER[e.kind]))
    return events


def event_timecode(cue: Cue, event: CueEvent) -> Timecode:
    """The picture frame ``event`` falls in."""
    return Timecode.at(cue.downbeat + event.time, cue.rate)
