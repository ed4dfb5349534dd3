"""The schedule of a cue: every warning click, click, streamer, punch and flutter punch, in time order.

Conventions (Auricle, Figure 53 Streamers): a yellow streamer into the first
warning click, a green one into the downbeat, a red one into the cue's end,
each ending in a punch; a hit's streamer ends in its punch; a flutter of n
punches is centred on the hit and replaces its single punch.

A pickup ("from bar 17") has a schedule of its own (:func:`pickup_schedule`):
a count-in of warning clicks at bar 17's tempo and meter, shown as a
count-off is (yellow into its first click, green into bar 17), then the cue
from bar 17 on.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from fractions import Fraction

from stage.core.cuesheet import DOWNBEAT_COLOR, END_COLOR, FIRST_WARNING_COLOR, Cue
from stage.core.tempo import ClickKind
from stage.core.timecode import Timecode
from stage.errors import TempoError


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


def _event(
    cue: Cue, kind: EventKind, time: Fraction, color: str, label: str, length: Fraction = Fraction(0)
) -> CueEvent:
    bar, beat = cue.position_at(time)
    return CueEvent(kind, time, bar, beat, color=color, length=length, label=label)


def _streamer_into(
    cue: Cue, target: Fraction, length: Fraction | None, color: str, label: str, punch: bool
) -> list[CueEvent]:
    """A streamer of ``length`` (None: none) ending at ``target``, and the punch there if ``punch``."""
    out = []
    if length is not None:
        out.append(_event(cue, EventKind.STREAMER, target - length, color, label, length))
    if punch:
        out.append(_event(cue, EventKind.PUNCH, target, color, label))
    return out


def cue_schedule(cue: Cue) -> list[CueEvent]:
    """Every event of ``cue`` in time order."""
    events: list[CueEvent] = []
    if cue.clicks is not None:
        for c in cue.clicks.clicks:
            kind = EventKind.WARNING if c.kind is ClickKind.WARNING else EventKind.CLICK
            events.append(CueEvent(kind, c.time, c.bar, Fraction(c.beat), accent=c.kind is ClickKind.ACCENT))
        if cue.clicks.countoff:
            events += _streamer_into(cue, cue.first_time, cue.streamer, FIRST_WARNING_COLOR, "count-off", cue.punch)
    label = "downbeat" if not cue.free else "start"
    events += _streamer_into(cue, Fraction(0), cue.streamer, DOWNBEAT_COLOR, label, cue.punch)
    events += _streamer_into(cue, cue.end_time, cue.streamer, END_COLOR, "end", cue.punch)

    for hit in cue.hits:
        events += _streamer_into(cue, hit.time, hit.streamer, hit.color, hit.label, hit.punch and not hit.flutter)
        if hit.flutter:
            half = hit.flutter // 2
            for i in range(-half, half + 1):
                events.append(_event(cue, EventKind.FLUTTER, hit.time + i * cue.flutter_spacing, hit.color, hit.label))

    events.sort(key=lambda e: (e.time, _ORDER[e.kind]))
    return events


@dataclass(frozen=True)
class Pickup:
    """A pickup of cue ``cue`` from ``bar``|``beat``, counted in with ``bars`` bars of warning clicks."""

    cue: str
    bar: int
    beat: int = 1
    bars: int = 2

    def as_dict(self) -> dict[str, object]:
        """Plain data."""
        return {"cue": self.cue, "bar": self.bar, "beat": self.beat, "countin": self.bars}


def pickup_schedule(cue: Cue, pickup: Pickup) -> list[CueEvent]:
    """The schedule of a pickup: the count-in into ``bar``|``beat``, then every event of ``cue`` from there on.

    Clicks before the pickup are left out (the count-in stands in their
    place), and so are streamers, punches and flutters that end before it.
    """
    if cue.clicks is None:
        raise TempoError(f"cue {cue.id} is free timing: it has no bars to pick up from")
    warnings = cue.clicks.count_in(pickup.bar, pickup.beat, pickup.bars)
    target = cue.clicks.time_of(pickup.bar, pickup.beat)
    events = [
        e for e in cue_schedule(cue)
        if (e.time >= target if e.kind in (EventKind.WARNING, EventKind.CLICK) else e.end >= target)
    ]  # fmt: skip
    events += [CueEvent(EventKind.WARNING, c.time, c.bar, Fraction(c.beat)) for c in warnings]

    if warnings:
        events += _streamer_into(cue, warnings[0].time, cue.streamer, FIRST_WARNING_COLOR, "count-in", cue.punch)
    events += _streamer_into(cue, target, cue.streamer, DOWNBEAT_COLOR, f"bar {pickup.bar}", cue.punch)
    events.sort(key=lambda e: (e.time, _ORDER[e.kind]))
    return events


def click_kind(e: CueEvent) -> ClickKind:
    """The sound a warning click or click of a schedule makes (downbeats accented)."""
    if e.kind is EventKind.WARNING:
        return ClickKind.WARNING
    return ClickKind.ACCENT if e.accent else ClickKind.NORMAL


def first_click(events: list[CueEvent]) -> Fraction | None:
    """Time of the first warning click or click of a schedule (None: it has none)."""
    return next((e.time for e in events if e.kind in (EventKind.WARNING, EventKind.CLICK)), None)


REVISION_LENGTH = 12  # hex digits of a cue's revision


def cue_revision(cue: Cue) -> str:
    """A short content hash of what ``cue`` plays and shows: its start, end and every event of its schedule.

    Two sheets give a cue the same revision exactly when its clicks, streamers,
    punches and flutters are the same (a new title or notes change nothing the
    orchestra hears or sees).  A take records the revision it was recorded under.
    """
    h = hashlib.sha256()
    h.update(f"{cue.id}|{cue.start.picture_seconds}|{cue.end_time}\n".encode())
    for e in cue_schedule(cue):
        line = f"{e.kind.value}|{e.time}|{e.bar}|{e.beat}|{e.accent}|{e.color}|{e.length}|{e.label}\n"
        h.update(line.encode())
    return h.hexdigest()[:REVISION_LENGTH]


def event_timecode(cue: Cue, event: CueEvent) -> Timecode:
    """The picture frame ``event`` falls in."""
    return cue.timecode_at(event.time)
