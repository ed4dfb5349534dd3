"""What is drawn over the picture at a moment, as Video Sync draws it: the streamer movie's half of the contract.

The ``/picture`` page and the streamer movie draw the same overlay
(docs/picture.md): a streamer is a bar the whole height of the picture,
about 1.2 % of its width, whose leading edge reaches the far edge (or the
centre) exactly at the hit, with its label in capitals beside it below the
block-code strips; a punch is a disc at the centre (25 % of the height for a
hit, 15 % for a flutter, 35 % and a ring for the cue's own count-off,
downbeat and end) shown for :data:`PUNCH_TIME`; burnt-in text runs along the
bottom in a translucent band: timecode at the left, bar|beat (or the
count-off's count) at the right, the cue in the middle.

The timing rules are the page's (``lib/schedule.js``): at time ``t`` of
frames ``dt`` apart a streamer shows from its start until half a frame past
its end, its head where picture is at ``t`` and held at the far edge for that
half frame; a punch shows from half a frame before its instant (so the frame
nearest the hit is the first to show it) for :data:`PUNCH_TIME`.  Times are
exact (``Fraction``); positions come out in pixels as floats, rounded only by
whoever paints them.

Pure: :class:`Overlay` is built once from a cue's schedule and answers
:meth:`Overlay.at` for any time; nothing here reads a clock or a file.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from stage.core.cuesheet import Cue
from stage.core.schedule import CueEvent, EventKind
from stage.core.tempo import ClickKind
from stage.core.timecode import Timecode
from stage.errors import RenderError

__all__ = [
    "BAR_SHARE",
    "COLORS",
    "MIN_BAR",
    "PUNCH_SHARES",
    "PUNCH_TIME",
    "SHOW_DEFAULT",
    "SHOW_WORDS",
    "Bar",
    "Direction",
    "Disc",
    "FrameOverlay",
    "Label",
    "Mark",
    "Overlay",
    "bar_width",
    "clock_text",
    "color_rgb",
    "head_x",
    "marks",
    "parse_show",
    "punch_age",
    "punch_radius",
    "streamer_progress",
]

PUNCH_TIME = Fraction(1, 8)  # seconds a punch stays on screen: the lane's and the page's PUNCH_TIME (0.125)
BAR_SHARE = Fraction(12, 1000)  # a streamer's width as a share of the picture's width …
MIN_BAR = 6  # … and never under this many pixels
PUNCH_SHARES = (Fraction(15, 100), Fraction(25, 100), Fraction(35, 100))  # diameters: flutter, hit, the cue's own
RING_SCALE = 1.3  # the cue's own punch: a ring around the disc at this many radii …
RING_SHARE = 0.12  # … this share of the radius wide (at least RING_MIN px)
RING_MIN = 3.0
LABEL_TOP = 0.22  # a label's top, as a share of the height: below the cut's block-code strips (the top fifth)
LABEL_SHARE = 0.055  # a label's size, and the burnt-in text's, as shares of the height (at least 12 px)
TEXT_SHARE = 0.06
MIN_TEXT = 12.0
NOTICE_SHARE = 0.075  # the notice over a frame with no picture, and the line under it
DETAIL_SHARE = 0.045

# The cue sheet's colour names as the screens draw them on black (the page's lib/colors.js).
COLORS: dict[str, tuple[int, int, int]] = {
    "white": (0xFF, 0xFF, 0xFF),
    "yellow": (0xFF, 0xD4, 0x00),
    "green": (0x2B, 0xDC, 0x4A),
    "red": (0xFF, 0x3B, 0x30),
    "blue": (0x4F, 0x8C, 0xFF),
    "cyan": (0x19, 0xE3, 0xFF),
    "magenta": (0xFF, 0x4D, 0xFF),
    "orange": (0xFF, 0x9A, 0x1A),
    "purple": (0xB3, 0x6B, 0xFF),
}

# The labels of the cue's own streamers and punches (schedule.py): their punches are the large, ringed ones.
_CUE_LABELS = frozenset({"count-off", "downbeat", "start", "end"})

SHOW_WORDS = ("streamers", "punches", "flutters", "timecode", "bars", "countoff", "cue")
SHOW_DEFAULT = frozenset(SHOW_WORDS)  # a movie burns everything in unless told otherwise


class Direction(enum.Enum):
    """Which way streamers cross: left to right, right to left, or from both edges to the centre."""

    LTR = "ltr"
    RTL = "rtl"
    CENTRE = "centre"


def parse_show(text: str) -> frozenset[str]:
    """The ``--overlay`` words (``streamers,punches,timecode``, ``all``, ``none``) as a set of :data:`SHOW_WORDS`."""
    words: set[str] = set()
    for raw in text.split(","):
        word = raw.strip().lower()
        if word in ("", "none"):
            continue
        if word == "all":
            words |= SHOW_DEFAULT
        elif word in SHOW_WORDS:
            words.add(word)
        else:
            raise RenderError(f"--overlay: {raw.strip()!r} is not something the movie draws "
                              f"(one or more of {', '.join(SHOW_WORDS)}, or all, or none)")
    return frozenset(words)


def color_rgb(name: str) -> tuple[int, int, int]:
    """The RGB of a cue-sheet colour: a name of :data:`COLORS` or ``#rrggbb`` (anything else draws white)."""
    if name in COLORS:
        return COLORS[name]
    if len(name) == 7 and name[0] == "#":
        try:
            return int(name[1:3], 16), int(name[3:5], 16), int(name[5:7], 16)
        except ValueError:
            pass
    return COLORS["white"]


# -- the timing rules --------------------------------------------------------------------------------------------


def streamer_progress(t: Fraction, start: Fraction, end: Fraction, dt: Fraction) -> Fraction | None:
    """How far a streamer from ``start`` to ``end`` has come at ``t`` (0 … 1), for frames ``dt`` apart; None
    while it does not show (before its start, and from half a frame past its end)."""
    if t < start or t >= end + dt / 2:
        return None
    return min(Fraction(1), (t - start) / (end - start)) if end > start else Fraction(1)


def punch_age(t: Fraction, instant: Fraction, dt: Fraction) -> Fraction | None:
    """How long a punch at ``instant`` has shown at ``t`` (from half a frame before it), for frames ``dt`` apart;
    None while it does not show."""
    age = t - (instant - dt / 2)
    return age if 0 <= age < PUNCH_TIME else None


def head_x(progress: Fraction, width: int, direction: Direction) -> float:
    """Where a streamer's leading edge is, in pixels from the left, at ``progress``: the far edge (or the centre)
    at 1.  For ``centre`` this is the head coming from the left; its mirror, ``width - x``, comes from the right."""
    if direction is Direction.RTL:
        return float(width * (1 - progress))
    if direction is Direction.CENTRE:
        return float(width * progress / 2)
    return float(width * progress)


def bar_width(width: int) -> float:
    """A streamer's width in pixels on a picture ``width`` pixels wide."""
    return max(float(MIN_BAR), float(width * BAR_SHARE))


def punch_radius(height: int, size: int) -> float:
    """A punch's radius in pixels: ``size`` 0 a flutter, 1 a hit, 2 the cue's own."""
    return float(height * PUNCH_SHARES[size] / 2)


def clock_text(seconds: Fraction) -> str:
    """Seconds as a free-timing cue burns them in, to the tenth: ``12.3``, ``1:05.0``, ``−0.5`` (the page's)."""
    sign = "−" if seconds < 0 else ""
    tenths = math.floor(abs(seconds) * 10)
    whole, frac = divmod(tenths, 10)
    minutes, secs = divmod(whole, 60)
    return f"{sign}{minutes}:{secs:02d}.{frac}" if minutes else f"{sign}{secs}.{frac}"


# -- what one moment shows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """A streamer or punch of a cue in picture seconds: a streamer runs from ``start`` to ``end`` (its hit); a
    punch's ``start`` and ``end`` are both its instant.  ``size``: 0 a flutter, 1 a hit, 2 the cue's own."""

    kind: EventKind
    start: Fraction
    end: Fraction
    color: str
    label: str
    size: int


def marks(cue: Cue, events: Iterable[CueEvent]) -> tuple[Mark, ...]:
    """The streamers, punches and flutter punches of ``events`` (a schedule of ``cue``), in picture seconds."""
    out = []
    for e in events:
        if e.kind not in (EventKind.STREAMER, EventKind.PUNCH, EventKind.FLUTTER):
            continue
        size = 0 if e.kind is EventKind.FLUTTER else 2 if e.label in _CUE_LABELS else 1
        at = cue.downbeat + e.time
        out.append(Mark(e.kind, at, at + e.length, e.color, e.label, size))
    return tuple(sorted(out, key=lambda m: m.start))


@dataclass(frozen=True)
class Bar:
    """A streamer's bar, the picture's whole height: its left edge and width in pixels."""

    left: float
    width: float
    color: tuple[int, int, int]


@dataclass(frozen=True)
class Disc:
    """A punch at the picture's centre: its radius, and a ring's radius and width (0: no ring)."""

    radius: float
    color: tuple[int, int, int]
    ring: float = 0.0
    ring_width: float = 0.0


@dataclass(frozen=True)
class Label:
    """A streamer's label (capitals) with its top at ``y``: it ends at ``x`` (``right``) or starts there."""

    text: str
    x: float
    y: float
    right: bool
    color: tuple[int, int, int]


@dataclass(frozen=True)
class FrameOverlay:
    """Everything drawn over one frame, in the picture's pixels, in drawing order: bars, discs, labels, the
    burnt-in texts ('' for none), and a notice in the middle when there is no picture to show."""

    bars: tuple[Bar, ...] = ()
    discs: tuple[Disc, ...] = ()
    labels: tuple[Label, ...] = ()
    left: str = ""
    centre: str = ""
    right: str = ""
    notice: str = ""
    detail: str = ""


class Overlay:
    """What to draw over a ``width`` × ``height`` picture at any time, from a cue and one of its schedules.

    ``show`` holds the :data:`SHOW_WORDS` to draw; ``cut`` is the span of
    picture frames the cut covers (first, count), outside which the frame
    carries a notice instead of a picture (None: no notice).
    """

    def __init__(self, cue: Cue, events: Sequence[CueEvent], width: int, height: int, *,
                 direction: Direction = Direction.LTR, show: frozenset[str] = SHOW_DEFAULT,
                 cut: tuple[int, int] | None = None) -> None:
        self.cue = cue
        self.width, self.height = width, height
        self.direction = direction
        self.show = show
        self.cut = cut
        self.marks = marks(cue, events)
        self._discs = {m: self._disc(m) for m in self.marks if m.kind is not EventKind.STREAMER}
        self._starts = [m.start for m in self.marks]
        # A mark shows at most this long after its start: the search for what shows at t starts that far back.
        self._longest = max((m.end - m.start for m in self.marks), default=Fraction(0)) + PUNCH_TIME
        clicks = cue.clicks.clicks if cue.clicks is not None else ()
        self._clicks = clicks
        self._click_times = [c.time for c in clicks]
        self._warnings = sum(1 for c in clicks if c.kind is ClickKind.WARNING)
        self._bar = bar_width(width)
        self._label_y = height * LABEL_TOP

    def at(self, t: Fraction, dt: Fraction) -> FrameOverlay:
        """What shows at picture time ``t`` (seconds since 00:00:00:00) on frames ``dt`` seconds apart."""
        bars: list[Bar] = []
        discs: list[Disc] = []
        labels: list[Label] = []
        lo = bisect.bisect_left(self._starts, t - self._longest - dt)
        hi = bisect.bisect_right(self._starts, t + dt)
        for m in self.marks[lo:hi]:
            if m.kind is EventKind.STREAMER:
                if "streamers" in self.show:
                    progress = streamer_progress(t, m.start, m.end, dt)
                    if progress is not None:
                        self._streamer(m, progress, bars, labels)
            elif ("flutters" if m.kind is EventKind.FLUTTER else "punches") in self.show and punch_age(
                t, m.start, dt
            ) is not None:
                discs.append(self._discs[m])
        notice, detail = self._notice(t)
        return FrameOverlay(tuple(bars), tuple(discs), tuple(labels), self._timecode(t),
                            self.cue.id if "cue" in self.show else "", self.count_text(t), notice, detail)

    def _streamer(self, m: Mark, progress: Fraction, bars: list[Bar], labels: list[Label]) -> None:
        x = head_x(progress, self.width, self.direction)
        color = color_rgb(m.color)
        bar = self._bar
        # The bar trails its leading edge: left of it going right, right of it going left; centre, one each side.
        bars.append(Bar(x if self.direction is Direction.RTL else x - bar, bar, color))
        if self.direction is Direction.CENTRE:
            bars.append(Bar(self.width - x, bar, color))
        if m.label:
            # Beside the bar on the side it comes from, so that it never runs ahead of the bar into the hit.
            rtl = self.direction is Direction.RTL
            labels.append(Label(m.label.upper(), x + bar * 1.5 if rtl else x - bar * 1.5, self._label_y,
                                not rtl, color))

    def _disc(self, m: Mark) -> Disc:
        """A punch's disc (made once per mark: it never changes)."""
        r = punch_radius(self.height, m.size)
        if m.size == 2:  # the cue's own: a ring as well, so it is told by shape as well as by size and colour
            return Disc(r, color_rgb(m.color), r * RING_SCALE, max(RING_MIN, r * RING_SHARE))
        return Disc(r, color_rgb(m.color))

    def _timecode(self, t: Fraction) -> str:
        return str(Timecode.at(t, self.cue.rate)) if "timecode" in self.show and t >= 0 else ""

    def count_text(self, t: Fraction) -> str:
        """The right of the band at ``t``: ``12 | 3`` in the music, ``COUNT-OFF 2`` in the count-off (the
        warning clicks left, this one included), a free-timing cue's seconds; '' before the first click, from
        the end on, and when ``bars`` and ``countoff`` are not shown."""
        cue = self.cue
        rel = t - cue.downbeat
        if rel < cue.first_time or rel >= cue.end_time:
            return ""
        if cue.free:
            return clock_text(rel) if "bars" in self.show else ""
        i = bisect.bisect_right(self._click_times, rel) - 1
        click = self._clicks[i]
        if click.kind is ClickKind.WARNING:
            return f"COUNT-OFF {self._warnings - i}" if self.show & {"bars", "countoff"} else ""
        return f"{click.bar} | {click.beat}" if "bars" in self.show else ""

    def _notice(self, t: Fraction) -> tuple[str, str]:
        if self.cut is None:
            return "", ""
        first, count = self.cut
        frame = math.floor(t * self.cue.rate.fps)
        rate = self.cue.rate
        if frame < first:
            return "BEFORE THE CUT", f"picture starts at {Timecode.from_frames(first, rate)}"
        if frame >= first + count:
            return "END OF THE CUT", f"picture ends at {Timecode.from_frames(first + count - 1, rate)}"
        return "", ""
