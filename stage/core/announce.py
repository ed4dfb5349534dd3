"""The schedule ahead: which streamers, punches and flutters screens must be told about, and when.

Screens draw streamers from their own synced clock, so each visual event is
sent before it starts, with the server-clock times it starts and ends at
under the current transport anchor.  :class:`Announcer` is pure: it is given
the anchor and ``now`` and answers what is due now and when to ask again.

Rules:
- an event is announced when it starts within ``horizon`` seconds, so with
  the loop on time every event is announced ``horizon`` (3 s) ahead, and at
  least ``lead`` (1 s) ahead while the loop is less than 2 s late;
- an event already under way (a streamer that started before ``now`` and
  ends after it) is announced too, so a screen that joins or a locate into
  a streamer still draws the rest of it;
- a new anchor (play, stop, locate, varispeed) voids every earlier
  announcement: screens drop the schedule they hold when the transport
  changes, and what lies ahead is announced again; an anchor that agrees
  with the one announcements were made under to within ``tolerance`` (2 ms)
  over the horizon (a chase correction) voids nothing;
- nothing is announced while the picture is stopped or running backwards.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stage.core.cuesheet import Cue
from stage.core.schedule import CueEvent, EventKind, cue_schedule, event_timecode
from stage.core.transport import Anchor

HORIZON = 3.0  # seconds: how far ahead events are announced
MIN_LEAD = 1.0  # seconds: the least notice a screen gets of an event, loop lateness included
TOLERANCE = 0.002  # seconds: anchors closer than this over the horizon are one anchor

_EPSILON = 1e-6

VISUAL_KINDS = frozenset({EventKind.STREAMER, EventKind.PUNCH, EventKind.FLUTTER})


@dataclass(frozen=True)
class Visual:
    """A streamer, punch or flutter punch at an absolute picture position.

    ``key`` names it for good (``"1M1#12"``: the cue and the event's index in
    the cue's schedule), so a screen can tell a re-announcement from a new
    event; ``position`` and ``length`` are picture seconds.
    """

    key: str
    cue: str
    kind: EventKind
    position: float
    length: float
    timecode: str
    bar: int | None
    beat: float | None
    color: str
    label: str

    @property
    def end(self) -> float:
        """Picture seconds where it ends (a streamer's punch; the start itself otherwise)."""
        return self.position + self.length


def visuals(cues: Iterable[Cue]) -> tuple[Visual, ...]:
    """Every streamer, punch and flutter of ``cues``, in picture order."""
    return visuals_of((cue, cue_schedule(cue), cue.id) for cue in cues)


def visuals_of(plan: Iterable[tuple[Cue, Sequence[CueEvent], str]]) -> tuple[Visual, ...]:
    """Every streamer, punch and flutter of each cue's given schedule (a pickup's, say), in picture order.

    Each item is a cue, its schedule and the key its events are named by
    (``"1M1"``; a pickup's ``"1M1@17.1"``, so a screen never takes one of its
    events for one of the cue's own).
    """
    out: list[Visual] = []
    for cue, events, tag in plan:
        for i, ev in enumerate(events):
            if ev.kind not in VISUAL_KINDS:
                continue
            out.append(
                Visual(
                    key=f"{tag}#{i}",
                    cue=cue.id,
                    kind=ev.kind,
                    position=float(cue.downbeat + ev.time),
                    length=float(ev.length),
                    timecode=str(event_timecode(cue, ev)),
                    bar=ev.bar,
                    beat=None if ev.beat is None else float(ev.beat),
                    color=ev.color,
                    label=ev.label,
                )
            )
    out.sort(key=lambda v: v.position)  # stable: the schedule's order at one instant
    return tuple(out)


@dataclass(frozen=True)
class Announcement:
    """A visual event with the server-clock times it starts and ends under one anchor.

    ``late`` is true when it was announced less than the minimum lead before
    it starts (right after a play or locate near it, or when it is under way).
    """

    visual: Visual
    start: float
    end: float
    late: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as sent to screens."""
        v = self.visual
        return {
            "key": v.key,
            "cue": v.cue,
            "kind": v.kind.value,
            "start": self.start,
            "end": self.end,
            "position": v.position,
            "length": v.length,
            "timecode": v.timecode,
            "bar": v.bar,
            "beat": v.beat,
            "color": v.color,
            "label": v.label,
            "late": self.late,
        }


@dataclass
class Announcer:
    """Decides what to announce, given the transport anchor and the time.

    ``offset`` (seconds) moves every time earlier, for screens whose picture
    shows late (``[http] screen_latency_ms``).  Times are those of the anchor
    the events were announced under (:attr:`anchor`).
    """

    events: tuple[Visual, ...] = ()
    horizon: float = HORIZON
    lead: float = MIN_LEAD
    offset: float = 0.0
    tolerance: float = TOLERANCE
    _anchor: Anchor | None = field(default=None, init=False)
    _announced: set[str] = field(default_factory=set, init=False)
    _positions: list[float] = field(default_factory=list, init=False)
    _longest: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.horizon <= self.lead or self.lead <= 0:
            raise ValueError(f"horizon {self.horizon} must exceed the lead {self.lead}, which must be positive")
        self.load(self.events)

    def load(self, events: Iterable[Visual]) -> None:
        """Announce these events from now on (another cue armed); forgets what was announced."""
        self.events = tuple(sorted(events, key=lambda v: v.position))
        self._positions = [v.position for v in self.events]
        self._longest = max((v.length for v in self.events), default=0.0)
        self._announced = set()
        self._anchor = None

    @property
    def anchor(self) -> Anchor | None:
        """The anchor the announcements so far were made under."""
        return self._anchor

    def _follow(self, anchor: Anchor, now: float) -> Anchor:
        """The anchor to announce under: the current one, unless ``anchor`` is within tolerance of it."""
        old = self._anchor
        if old is not None and old.speed > 0 and anchor.speed > 0:
            drift = max(abs(old.position(t) - anchor.position(t)) / anchor.speed for t in (now, now + self.horizon))
            if drift <= self.tolerance:
                return old
        if anchor != old:
            self._anchor = anchor
            self._announced = set()
        return anchor

    def _times(self, anchor: Anchor, v: Visual) -> tuple[float, float]:
        return anchor.time_of(v.position) - self.offset, anchor.time_of(v.end) - self.offset

    def due(self, anchor: Anchor, now: float) -> list[Announcement]:
        """The events to announce at ``now``: those starting within the horizon, not yet announced under ``anchor``."""
        anchor = self._follow(anchor, now)
        if anchor.speed <= 0:
            return []
        # Picture positions that start before now + horizon and end after now (offset applied to times).
        p_now = anchor.position(now + self.offset)
        p_until = anchor.position(now + self.offset + self.horizon)
        lo = bisect.bisect_left(self._positions, p_now - self._longest)
        hi = bisect.bisect_right(self._positions, p_until)
        out: list[Announcement] = []
        for v in self.events[lo:hi]:
            if v.key in self._announced or v.end < p_now or (v.length > 0 and v.end == p_now):
                continue
            start, end = self._times(anchor, v)
            self._announced.add(v.key)
            out.append(Announcement(v, start, end, late=start - now < self.lead))
        return out

    def ahead(self, anchor: Anchor, now: float) -> list[Announcement]:
        """Everything announced so far under ``anchor`` that has not ended by ``now`` (for a snapshot)."""
        anchor = self._follow(anchor, now)
        if anchor.speed <= 0:
            return []
        out = []
        for v in self.events:
            if v.key in self._announced:
                start, end = self._times(anchor, v)
                if end >= now:
                    out.append(Announcement(v, start, end, late=start - now < self.lead))
        return out

    def next_due(self, anchor: Anchor, now: float) -> float | None:
        """When to call :meth:`due` again: when the next unannounced event enters the horizon (None: never).

        A microsecond past the instant itself, so that rounding never leaves
        the event just outside the horizon when :meth:`due` is called then.
        """
        before = self._anchor
        anchor = self._follow(anchor, now)
        if anchor.speed <= 0:
            return None
        if anchor != before:
            return now
        p_until = anchor.position(now + self.offset + self.horizon)
        i = bisect.bisect_right(self._positions, p_until)
        while i < len(self.events):
            v = self.events[i]
            if v.key not in self._announced:
                return max(now, self._times(anchor, v)[0] - self.horizon + _EPSILON)
            i += 1
        return None
