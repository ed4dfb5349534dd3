"""Tempos, meters and the click map of a cue: bar|beat ↔ time, exactly.

A *click* is one beat of the click track; its *length* is the time from it to
the next click.  Tempo is always a click length in real seconds (a
:class:`~fractions.Fraction`): frame clicks ``"F-E"`` count picture frames and
eighths of a frame at the actual rate, plain numbers are clicks per minute.

Times in a :class:`ClickMap` are seconds relative to the cue's downbeat (bar 1,
beat 1): count-off clicks have negative times.
"""

from __future__ import annotations

import bisect
import enum
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from stage.core.timecode import Rate
from stage.errors import TempoError

MIN_CLICKS_PER_MINUTE = 10
MAX_CLICKS_PER_MINUTE = 600

_FRAME_CLICK_RE = re.compile(r"^\s*(\d{1,3})-([0-7])\s*$")
_NUMBER_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:bpm)?\s*$", re.IGNORECASE)


def parse_tempo(value: str | float, rate: Rate) -> Fraction:
    """Click length in seconds of ``"12-0"`` (frame click), ``120``, ``117.55`` or ``"96bpm"``."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TempoError(f"{value!r} is not a tempo (a frame click such as \"12-0\" or clicks per minute such as 120)")
    if isinstance(value, str):
        m = _FRAME_CLICK_RE.match(value)
        if m:
            frames = int(m.group(1)) + Fraction(int(m.group(2)), 8)
            if frames == 0:
                raise TempoError(f"frame click {value!r} has no length")
            length = frames / rate.fps
            _check_range(60 / length, value)
            return length
        n = _NUMBER_RE.match(value)
        if n is None:
            raise TempoError(
                f"{value!r} is not a tempo (a frame click \"F-E\" with E in eighths 0-7, or clicks per minute)"
            )
        bpm = Fraction(n.group(1))
    else:
        bpm = Fraction(str(value))
    _check_range(bpm, value)
    return 60 / bpm


def _check_range(bpm: Fraction, value: object) -> None:
    if not MIN_CLICKS_PER_MINUTE <= bpm <= MAX_CLICKS_PER_MINUTE:
        raise TempoError(
            f"tempo {value!r} is {float(bpm):.3f} clicks per minute, "
            f"outside {MIN_CLICKS_PER_MINUTE}-{MAX_CLICKS_PER_MINUTE}"
        )


def frame_click(length: Fraction, rate: Rate) -> str:
    """The nearest frame click ``"F-E"`` of a click length (as music editors quote it)."""
    eighths = round(length * rate.fps * 8)
    return f"{eighths // 8}-{eighths % 8}"


def frame_click_length(length: Fraction, rate: Rate) -> Fraction:
    """The click length of the nearest frame click (:func:`frame_click`) to ``length``."""
    return Fraction(round(length * rate.fps * 8), 8) / rate.fps


def clicks_per_minute(length: Fraction) -> Fraction:
    """Real-time clicks per minute of a click length."""
    return 60 / length


_METER_RE = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")
_CLICK_UNIT_RE = re.compile(r"^\s*(1|2|4|8|16|32)(\.?)\s*$")


def parse_click_unit(value: str | int) -> Fraction:
    """Note value of a click in whole notes: ``"4"`` → 1/4, ``"8"`` → 1/8, ``"4."`` → 3/8."""
    m = _CLICK_UNIT_RE.match(str(value))
    if m is None:
        raise TempoError(f"click {value!r} is not a note value (1, 2, 4, 8, 16 or 32, dotted with a trailing '.')")
    unit = Fraction(1, int(m.group(1)))
    return unit * Fraction(3, 2) if m.group(2) else unit


def format_click_unit(unit: Fraction) -> str:
    """Inverse of :func:`parse_click_unit`."""
    if unit.numerator == 3:
        return f"{unit.denominator // 2}."
    return str(unit.denominator)


@dataclass(frozen=True)
class Meter:
    """A time signature and the note value that gets a click."""

    numerator: int
    denominator: int
    click: Fraction

    def __post_init__(self) -> None:
        if self.denominator not in (1, 2, 4, 8, 16, 32):
            raise TempoError(f"meter {self.numerator}/{self.denominator}: the denominator must be 1, 2, 4, 8, 16 or 32")
        if not 1 <= self.numerator <= 32:
            raise TempoError(f"meter {self.numerator}/{self.denominator}: the numerator must be 1-32")
        per_bar = Fraction(self.numerator, self.denominator) / self.click
        if per_bar.denominator != 1:
            raise TempoError(
                f"meter {self}: a bar does not hold a whole number of {format_click_unit(self.click)} clicks"
            )

    @classmethod
    def parse(cls, meter: str, click: str | int | None = None) -> Meter:
        """``Meter.parse("6/8", "4.")``: clicks on the denominator unless ``click`` says otherwise."""
        m = _METER_RE.match(meter) if isinstance(meter, str) else None
        if m is None:
            raise TempoError(f"{meter!r} is not a meter (write it as \"4/4\", \"7/8\" …)")
        num, den = int(m.group(1)), int(m.group(2))
        unit = parse_click_unit(click) if click is not None else Fraction(1, den) if den else Fraction(0)
        if den == 0:
            raise TempoError(f"meter {meter!r}: the denominator must be 1, 2, 4, 8, 16 or 32")
        return cls(num, den, unit)

    @property
    def clicks_per_bar(self) -> int:
        """Clicks in one bar."""
        return int(Fraction(self.numerator, self.denominator) / self.click)

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


class ClickKind(enum.Enum):
    """The three sounds of a click track."""

    ACCENT = "accent"  # beat 1 of a bar
    NORMAL = "normal"
    WARNING = "warning"  # count-off


@dataclass(frozen=True)
class Click:
    """One click: where it is in the music, when it sounds (relative to the downbeat), how long until the next."""

    bar: int
    beat: int
    time: Fraction
    length: Fraction
    kind: ClickKind
    meter: Meter


@dataclass(frozen=True)
class TempoChange:
    """A tempo and/or meter change at bar|beat, optionally ramped over the clicks before it."""

    bar: int
    beat: int = 1
    length: Fraction | None = None  # new click length; None keeps the tempo
    meter: Meter | None = None
    ramp: int = 0


@dataclass(frozen=True)
class Segment:
    """A stretch of steady tempo and meter, for the cue breakdown."""

    bar: int
    beat: int
    time: Fraction
    length: Fraction
    meter: Meter
    ramp: int


class ClickMap:
    """Every click of a cue, count-off included, with exact times; bar|beat ↔ time both ways."""

    def __init__(
        self,
        length: Fraction,
        meter: Meter,
        changes: Iterable[TempoChange] = (),
        *,
        bars: int | None = None,
        end: Fraction | None = None,
        countoff: int = 0,
    ) -> None:
        if (bars is None) == (end is None):
            raise TempoError("a click map needs exactly one of bars or end")
        if bars is not None and bars < 1:
            raise TempoError(f"bars must be at least 1, not {bars}")
        if end is not None and end <= 0:
            raise TempoError("the end must come after the downbeat")
        if countoff < 0:
            raise TempoError(f"countoff must be 0 or more bars, not {countoff}")
        self.countoff = countoff
        self.segments: list[Segment] = []
        body = self._build(length, meter, sorted(changes, key=lambda c: (c.bar, c.beat)), bars, end)
        warnings = [
            Click(
                bar=1 - countoff + i // meter.clicks_per_bar,
                beat=1 + i % meter.clicks_per_bar,
                time=-length * (countoff * meter.clicks_per_bar - i),
                length=length,
                kind=ClickKind.WARNING,
                meter=meter,
            )
            for i in range(countoff * meter.clicks_per_bar)
        ]
        self.clicks: list[Click] = warnings + body
        self._times = [c.time for c in self.clicks]
        self._index = {(c.bar, c.beat): i for i, c in enumerate(self.clicks)}
        last = self.clicks[-1]
        self.end: Fraction = end if end is not None else last.time + last.length
        self.bars: int = bars if bars is not None else last.bar

    def _build(
        self,
        length: Fraction,
        meter: Meter,
        changes: list[TempoChange],
        bars: int | None,
        end: Fraction | None,
    ) -> list[Click]:
        pending = {(c.bar, c.beat): c for c in changes}
        if len(pending) != len(changes):
            raise TempoError("two changes at the same bar and beat")
        clicks: list[Click] = []
        bar, beat, t = 1, 1, Fraction(0)
        since_change = 0  # clicks since the last change: what a ramp may use
        self.segments.append(Segment(1, 1, t, length, meter, 0))
        while True:
            if bars is not None and bar > bars:
                break
            if end is not None and t >= end:
                break
            change = pending.pop((bar, beat), None)
            if change is not None:
                at = (bar, beat)
                if change.meter is not None:
                    if beat != 1:
                        raise TempoError(f"bar {bar} beat {beat}: a meter changes only on beat 1", at=at, field="meter")
                    meter = change.meter
                if change.length is not None and change.ramp:
                    if change.ramp > since_change:
                        raise TempoError(
                            f"bar {bar}: a ramp over {change.ramp} clicks needs {change.ramp} clicks before it, "
                            f"only {since_change} since the previous change",
                            at=at,
                            field="ramp",
                        )
                    t = self._ramp(clicks, length, change.length, change.ramp)
                    if end is not None and t > end:
                        raise TempoError(
                            f"bar {bar}: the ramp into it pushes its clicks past the end of the cue",
                            at=at,
                            field="ramp",
                        )
                if change.length is not None:
                    length = change.length
                self.segments.append(Segment(bar, beat, t, length, meter, change.ramp))
                since_change = 0
            if end is not None and t >= end:
                break
            kind = ClickKind.ACCENT if beat == 1 else ClickKind.NORMAL
            clicks.append(Click(bar, beat, t, length, kind, meter))
            t += length
            since_change += 1
            beat += 1
            if beat > meter.clicks_per_bar:
                bar, beat = bar + 1, 1
        if pending:
            first = min(pending)
            raise TempoError(
                f"a change at bar {first[0]} beat {first[1]} lies beyond the end of the cue", at=first, field="bar"
            )
        return clicks

    @staticmethod
    def _ramp(clicks: list[Click], old: Fraction, new: Fraction, n: int) -> Fraction:
        """Re-time the last ``n`` clicks as a ramp from ``old`` to ``new``; return the time after them."""
        first = len(clicks) - n
        t = clicks[first].time
        for k in range(1, n + 1):
            c = clicks[first + k - 1]
            step = old + (new - old) * k / (n + 1)
            clicks[first + k - 1] = Click(c.bar, c.beat, t, step, c.kind, c.meter)
            t += step
        return t

    # -- queries -----------------------------------------------------------------

    @property
    def downbeat_index(self) -> int:
        """Index of bar 1 beat 1 in :attr:`clicks`."""
        return self.countoff * self.clicks[0].meter.clicks_per_bar

    def time_of(self, bar: int, beat: Fraction | int = 1) -> Fraction:
        """Time of ``bar``|``beat`` relative to the downbeat; a fractional beat lies between clicks."""
        beat = Fraction(beat)
        whole = math.floor(beat)
        if whole < 1:
            raise TempoError(f"beat {beat} does not exist (beats count from 1)")
        i = self._index.get((bar, whole))
        if i is not None:
            c = self.clicks[i]
            return c.time + (beat - whole) * c.length
        # Before the first click or after the last: count on from it at its length and meter.
        first, last = self.clicks[0], self.clicks[-1]
        before = (bar, whole) < (first.bar, first.beat)
        if not before and (bar, whole) <= (last.bar, last.beat):
            raise TempoError(f"bar {bar} has no beat {whole}")
        c = first if before else last
        per_bar = c.meter.clicks_per_bar
        if whole > per_bar:
            raise TempoError(f"bar {bar} has {per_bar} beats, not {whole}")
        steps = (bar - c.bar) * per_bar + (whole - c.beat)
        return c.time + (steps + beat - whole) * c.length

    def position_at(self, time: Fraction) -> tuple[int, Fraction]:
        """Bar and (fractional) beat at ``time`` relative to the downbeat."""
        i = bisect.bisect_right(self._times, time) - 1
        c = self.clicks[max(i, 0)]
        # Before the first click or after the last: count on from it at its length and meter.
        steps = math.floor((time - c.time) / c.length) if i in (-1, len(self.clicks) - 1) else 0
        per_bar = c.meter.clicks_per_bar
        index = (c.bar - 1) * per_bar + (c.beat - 1) + steps
        bar, beat0 = divmod(index, per_bar)
        frac = (time - c.time - steps * c.length) / c.length
        return bar + 1, beat0 + 1 + frac

    def count_in(self, bar: int, beat: int = 1, bars: int | None = None) -> list[Click]:
        """The warning clicks that count the players into ``bar``|``beat`` (a pickup).

        ``bars`` bars of them (the count-off's by default), at the length and
        meter of the click on ``bar``|``beat``: the tempo in force there, so a
        change at that very bar is counted in at its new tempo.  The last one
        lies a click length before ``bar``|``beat``; each is numbered with the
        bar and beat it stands for, counting back from there.
        """
        bars = self.countoff if bars is None else bars
        if not 0 <= bars <= 16:
            raise TempoError(f"a count-in is 0 to 16 bars, not {bars}")
        if bar < 1:
            raise TempoError(f"a pickup is from bar 1 or later, not bar {bar}")
        i = self._index.get((bar, beat))
        if i is None:
            raise TempoError(f"the cue has no bar {bar} beat {beat} (bars 1 to {self.bars})")
        c = self.clicks[i]
        per_bar = c.meter.clicks_per_bar
        n = bars * per_bar
        at = (bar - 1) * per_bar + (beat - 1)
        out = []
        for k in range(n):
            steps = n - k
            b, bt = divmod(at - steps, per_bar)
            out.append(Click(b + 1, bt + 1, c.time - steps * c.length, c.length, ClickKind.WARNING, c.meter))
        return out

    def click_at_or_after(self, time: Fraction) -> int:
        """Index of the first click at or after ``time`` (len(clicks) when none)."""
        return bisect.bisect_left(self._times, time)
