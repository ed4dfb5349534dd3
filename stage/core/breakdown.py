"""The cue breakdown a music editor prints: per cue its length, bars, tempos, meters and hits.

:func:`cue_breakdown` builds plain data (for ``stage info`` and the REST API);
:func:`format_breakdown` lays it out as aligned text; :func:`breakdown_dict`
makes it JSON-ready.  Footage is 35 mm feet and frames counted from the cue's
start: the downbeat is ``0+00`` and count-off positions are negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from stage.core.cuesheet import Cue, CueSheet, Hit
from stage.core.tempo import Meter, clicks_per_minute, format_click_unit, frame_click, frame_click_length
from stage.core.timecode import Timecode, format_feet, seconds_to_frame

__all__ = [
    "CueBreakdown",
    "HitRow",
    "TempoRow",
    "breakdown_dict",
    "cue_breakdown",
    "decimal_text",
    "footage",
    "format_breakdown",
    "format_cue",
    "format_duration",
    "format_position",
    "meter_text",
    "plural",
    "sheet_breakdown",
    "sheet_heading",
    "text_table",
]


def decimal_text(value: Fraction | int, places: int, *, trim: bool = False) -> str:
    """``value`` with ``places`` decimals, rounded exactly (half to even); ``trim`` drops trailing zeros."""
    scaled = round(Fraction(value) * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, rest = divmod(abs(scaled), 10**places)
    if places == 0:
        return f"{sign}{whole}"
    digits = f"{rest:0{places}d}"
    if trim:
        digits = digits.rstrip("0")
        if not digits:
            return f"{sign}{whole}"
    return f"{sign}{whole}.{digits}"


def format_duration(seconds: Fraction) -> str:
    """``m:ss.fff`` (milliseconds rounded), as a cue length is quoted."""
    ms = round(seconds * 1000)
    sign = "-" if ms < 0 else ""
    minutes, rest = divmod(abs(ms), 60_000)
    return f"{sign}{minutes}:{rest // 1000:02d}.{rest % 1000:03d}"


def format_position(bar: int | None, beat: Fraction | None) -> str:
    """``bar|beat`` with the beat to at most 3 decimals: ``12|3``, ``8|2.25``; empty with no bar (free timing)."""
    if bar is None or beat is None:
        return ""
    return f"{bar}|{decimal_text(beat, 3, trim=True)}"


def plural(n: int, word: str) -> str:
    """``1 bar``, ``2 bars``."""
    return f"{n} {word}{'s' if n != 1 else ''}"


def meter_text(meter: Meter) -> str:
    """``4/4``, or ``6/8 in 4.`` when the click is not the denominator."""
    if meter.click == Fraction(1, meter.denominator):
        return str(meter)
    return f"{meter} in {format_click_unit(meter.click)}"


@dataclass(frozen=True)
class TempoRow:
    """A stretch of steady tempo and meter, from ``bar``|``beat`` on."""

    bar: int
    beat: int
    time: Fraction  # relative to the downbeat
    length: Fraction  # click length in seconds
    frame_click: str  # nearest frame click, "12-0"
    exact: bool  # True when the frame click is the exact tempo
    clicks_per_minute: Fraction
    meter: Meter
    ramp: int  # clicks before this row ramping into it (0: a step change)
    ramp_kind: str  # "accel.", "rit." or "" (no ramp, or a ramp to the same tempo)

    @property
    def where(self) -> str:
        """The bar, or ``bar|beat`` when the row starts off the downbeat."""
        return str(self.bar) if self.beat == 1 else format_position(self.bar, Fraction(self.beat))

    @property
    def click(self) -> str:
        """The frame click, marked ``~`` when it only approximates the tempo."""
        return self.frame_click if self.exact else f"~{self.frame_click}"


@dataclass(frozen=True)
class HitRow:
    """A hit as the breakdown lists it."""

    label: str
    time: Fraction  # relative to the downbeat
    bar: int | None
    beat: Fraction | None
    timecode: Timecode
    feet: str  # footage from the cue's start
    color: str
    flutter: int
    streamer: Fraction | None

    @property
    def extras(self) -> str:
        """Its colour, flutter and a missing streamer: ``red, flutter 3, no streamer``."""
        extras = [self.color]
        if self.flutter:
            extras.append(f"flutter {self.flutter}")
        if self.streamer is None:
            extras.append("no streamer")
        return ", ".join(extras)


@dataclass(frozen=True)
class CueBreakdown:
    """Everything the breakdown says about one cue."""

    id: str
    title: str
    notes: str
    free: bool
    start: Timecode
    end: Timecode
    length: Fraction  # seconds from the downbeat to the end
    length_feet: str
    bars: int | None
    countoff: int
    countoff_start: Timecode | None  # the first warning click, when there is a count-off
    tempos: tuple[TempoRow, ...]
    hits: tuple[HitRow, ...]

    @property
    def heading(self) -> str:
        """The id, and the title after it."""
        return f"{self.id}  {self.title}" if self.title else self.id

    @property
    def countoff_text(self) -> str:
        """``count-off 2 bars from 00:59:58:00``, or ``no count-off``."""
        if not self.countoff:
            return "no count-off"
        return f"count-off {plural(self.countoff, 'bar')} from {self.countoff_start}"


def footage(cue: Cue, time: Fraction) -> str:
    """Feet+frames from the cue's start to the frame ``time`` (relative to the downbeat) falls in."""
    frame = seconds_to_frame(cue.downbeat + time, cue.rate)
    return format_feet(frame - cue.start.frame_count)


def cue_breakdown(cue: Cue) -> CueBreakdown:
    """The breakdown of one cue."""
    rate = cue.rate
    tempos: list[TempoRow] = []
    previous: Fraction | None = None
    if cue.clicks is not None:
        for seg in cue.clicks.segments:
            kind = ""
            if seg.ramp and previous is not None and seg.length != previous:
                kind = "rit." if seg.length > previous else "accel."
            tempos.append(
                TempoRow(
                    bar=seg.bar,
                    beat=seg.beat,
                    time=seg.time,
                    length=seg.length,
                    frame_click=frame_click(seg.length, rate),
                    exact=frame_click_length(seg.length, rate) == seg.length,
                    clicks_per_minute=clicks_per_minute(seg.length),
                    meter=seg.meter,
                    ramp=seg.ramp,
                    ramp_kind=kind,
                )
            )
            previous = seg.length
    countoff = cue.clicks.countoff if cue.clicks is not None else 0
    return CueBreakdown(
        id=cue.id,
        title=cue.title,
        notes=cue.notes,
        free=cue.free,
        start=cue.start,
        end=cue.end,
        length=cue.end_time,
        length_feet=footage(cue, cue.end_time),
        bars=cue.clicks.bars if cue.clicks is not None else None,
        countoff=countoff,
        countoff_start=cue.timecode_at(cue.first_time) if countoff else None,
        tempos=tuple(tempos),
        hits=tuple(_hit_row(cue, h) for h in sorted(cue.hits, key=lambda h: h.time)),
    )


def _hit_row(cue: Cue, hit: Hit) -> HitRow:
    bar, beat = cue.position_at(hit.time)
    return HitRow(
        label=hit.label,
        time=hit.time,
        bar=bar,
        beat=beat,
        timecode=cue.timecode_at(hit.time),
        feet=footage(cue, hit.time),
        color=hit.color,
        flutter=hit.flutter,
        streamer=hit.streamer,
    )


def sheet_breakdown(sheet: CueSheet, cue_ids: Sequence[str] = ()) -> list[CueBreakdown]:
    """Breakdowns of the cues named (all cues, in time order, when none are); unknown ids raise ``KeyError``."""
    cues = [sheet.cue(i) for i in cue_ids] if cue_ids else list(sheet.cues)
    return [cue_breakdown(c) for c in cues]


# -- text ------------------------------------------------------------------------------


def text_table(rows: Sequence[Sequence[str]], indent: str) -> list[str]:
    """Left-aligned columns, two spaces apart, no trailing blanks."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def format_cue(b: CueBreakdown) -> list[str]:
    """The text lines of one cue's breakdown."""
    lines = [b.heading, f"  {b.start} → {b.end}   length {format_duration(b.length)}  ({b.length_feet})"]
    if b.free:
        lines.append("  free timing")
    else:
        lines.append(f"  {plural(b.bars or 0, 'bar')}, {b.countoff_text}")
    if b.notes:
        lines.append(f"  notes: {b.notes}")
    if b.tempos:
        rows = [["bar", "click", "clicks/min", "meter", ""]]
        for t in b.tempos:
            ramp = f"{t.ramp_kind or 'ramp'} over the {plural(t.ramp, 'click')} before" if t.ramp else ""
            rows.append([t.where, t.click, decimal_text(t.clicks_per_minute, 3), meter_text(t.meter), ramp])
        lines.append("  tempo")
        lines.extend(text_table(rows, "    "))
    if b.hits:
        rows = [["bar|beat", "timecode", "feet", "hit"]]
        rows += [[format_position(h.bar, h.beat), str(h.timecode), h.feet, f"{h.label} ({h.extras})"] for h in b.hits]
        if b.free:
            rows = [row[1:] for row in rows]  # no bars: no bar|beat column
        lines.append("  hits")
        lines.extend(text_table(rows, "    "))
    return lines


def sheet_heading(sheet: CueSheet) -> str:
    """The sheet's title and rate: ``Title — 23.976 fps``, ``(untitled) — 29.97df fps drop-frame``."""
    drop = " drop-frame" if sheet.rate.drop else ""
    return f"{sheet.title or '(untitled)'} — {sheet.rate} fps{drop}"


def format_breakdown(sheet: CueSheet, breakdowns: Sequence[CueBreakdown]) -> str:
    """The whole breakdown as text: the sheet's title and rate, then each cue."""
    lines = [f"{sheet_heading(sheet)}, {plural(len(breakdowns), 'cue')}"]
    for b in breakdowns:
        lines.append("")
        lines.extend(format_cue(b))
    return "\n".join(lines) + "\n"


# -- JSON ------------------------------------------------------------------------------


def breakdown_dict(b: CueBreakdown) -> dict[str, Any]:
    """A JSON-ready form: times as seconds (float) and as exact ``"p/q"`` strings."""
    return {
        "id": b.id,
        "title": b.title,
        "notes": b.notes,
        "free": b.free,
        "start": str(b.start),
        "end": str(b.end),
        "length": _seconds(b.length),
        "length_text": format_duration(b.length),
        "length_feet": b.length_feet,
        "bars": b.bars,
        "countoff": b.countoff,
        "countoff_start": str(b.countoff_start) if b.countoff_start is not None else None,
        "tempos": [
            {
                "bar": t.bar,
                "beat": t.beat,
                "time": _seconds(t.time),
                "click_length": _seconds(t.length),
                "frame_click": t.frame_click,
                "frame_click_exact": t.exact,
                "clicks_per_minute": float(t.clicks_per_minute),
                "meter": str(t.meter),
                "click": format_click_unit(t.meter.click),
                "ramp": t.ramp,
                "ramp_kind": t.ramp_kind,
            }
            for t in b.tempos
        ],
        "hits": [
            {
                "label": h.label,
                "time": _seconds(h.time),
                "bar": h.bar,
                "beat": float(h.beat) if h.beat is not None else None,
                "timecode": str(h.timecode),
                "feet": h.feet,
                "color": h.color,
                "flutter": h.flutter,
                "streamer": _seconds(h.streamer) if h.streamer is not None else None,
            }
            for h in b.hits
        ],
    }


def _seconds(value: Fraction) -> dict[str, Any]:
    exact = f"{value.numerator}/{value.denominator}" if value.denominator != 1 else str(value.numerator)
    return {"seconds": float(value), "exact": exact}
