"""The cue breakdown on paper: what the conductor's and the copyist's page says, as rows of text.

:func:`paper_cue` gathers one cue's breakdown (:mod:`stage.core.breakdown`) and
schedule (:mod:`stage.core.schedule`) into titled tables of strings; an
adapter lays them out (``stage.adapters.pdfsheet``).  Seconds are real time
from the downbeat with three decimals, negative before it; feet+frames count
from the cue's start, as in ``stage info``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from stage.core.breakdown import (
    cue_breakdown,
    decimal_text,
    footage,
    format_duration,
    format_position,
    meter_text,
    sheet_heading,
)
from stage.core.cuesheet import Cue, CueSheet
from stage.core.schedule import EventKind, cue_schedule
from stage.core.tempo import ClickKind

__all__ = ["PaperCue", "PaperTable", "paper_cue", "seconds_text"]


@dataclass(frozen=True)
class PaperTable:
    """A titled table: a header row and its rows, every cell text."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    emphasis: tuple[int, ...] = ()  # rows to set in bold (a tempo or meter change)


@dataclass(frozen=True)
class PaperCue:
    """One cue's pages: a heading, summary lines, and its tables."""

    heading: str
    subtitle: str
    lines: tuple[str, ...]
    tables: tuple[PaperTable, ...]


def seconds_text(value: Fraction) -> str:
    """Seconds from the downbeat with three decimals (exact, half to even)."""
    return decimal_text(value, 3)


def _tc(cue: Cue, time: Fraction) -> str:
    return str(cue.timecode_at(time))


def paper_cue(sheet: CueSheet, cue: Cue) -> PaperCue:
    """The printable breakdown of ``cue``."""
    b = cue_breakdown(cue)
    lines = [f"{b.start} → {b.end}    length {format_duration(b.length)}  ({b.length_feet})"]
    if b.free:
        lines.append("free timing: no click")
    else:
        lines.append(f"{b.bars} bars, {b.countoff_text}")
    if b.notes:
        lines.append(f"notes: {b.notes}")
    tables: list[PaperTable] = []
    rows: list[tuple[str, ...]]
    if b.tempos:
        rows = []
        for t in b.tempos:
            ramp = f"{t.ramp_kind or 'ramp'} over {t.ramp} clicks before" if t.ramp else ""
            rows.append((t.where, _tc(cue, t.time), seconds_text(t.time), t.click,
                         decimal_text(t.clicks_per_minute, 3), meter_text(t.meter), ramp))
        tables.append(PaperTable("Tempo and meter", ("bar", "timecode", "seconds", "click", "clicks/min", "meter", ""),
                                 tuple(rows)))
    if b.hits:
        rows = [(format_position(h.bar, h.beat), str(h.timecode), seconds_text(h.time), h.feet, h.label, h.extras)
                for h in b.hits]
        tables.append(PaperTable("Hits", ("bar|beat", "timecode", "seconds", "feet", "hit", ""), tuple(rows)))
    if cue.clicks is not None:
        changes = {(t.bar, t.beat): t for t in b.tempos}
        in_bar: dict[int, list[str]] = {}
        for h in b.hits:
            if h.bar is not None and h.beat is not None:
                in_bar.setdefault(h.bar, []).append(f"{decimal_text(h.beat, 3, trim=True)}: {h.label}")
        rows = []
        bold: list[int] = []
        for c in cue.clicks.clicks:
            if c.beat != 1 or c.kind is ClickKind.WARNING:
                continue
            change = changes.get((c.bar, 1))
            note = ""
            if change is not None:
                click = change.frame_click if change.exact else f"{decimal_text(change.clicks_per_minute, 3)}/min"
                note = f"{click}  {meter_text(change.meter)}" + (f"  {change.ramp_kind}" if change.ramp_kind else "")
                bold.append(len(rows))
            hits = "; ".join(in_bar.get(c.bar, []))
            rows.append((str(c.bar), _tc(cue, c.time), seconds_text(c.time), footage(cue, c.time), note, hits))
        tables.append(PaperTable("Bars", ("bar", "timecode", "seconds", "feet", "tempo, meter", "hits (beat)"),
                                 tuple(rows),
                                 tuple(bold)))
    streamers: list[tuple[str, ...]] = []
    warnings: list[tuple[str, ...]] = []
    for e in cue_schedule(cue):
        if e.kind is EventKind.STREAMER:
            streamers.append((_tc(cue, e.end), format_position(*cue.position_at(e.end)), _tc(cue, e.time),
                              decimal_text(e.length, 3) + " s", e.color, e.label))
        elif e.kind is EventKind.WARNING:
            warnings.append((format_position(e.bar, e.beat), _tc(cue, e.time), seconds_text(e.time)))
    if streamers:
        tables.append(PaperTable("Streamers", ("lands", "bar|beat", "starts", "length", "colour", "into"),
                                 tuple(streamers)))
    if warnings:
        tables.append(PaperTable("Warning clicks (count-off)", ("bar|beat", "timecode", "seconds"), tuple(warnings)))
    if cue.free:
        # A free-timing cue has no bars: leave out the bar|beat columns rather than print them empty.
        tables = [_without(t, "bar|beat") for t in tables]
    return PaperCue(b.heading, sheet_heading(sheet), tuple(lines), tuple(tables))


def _without(table: PaperTable, column: str) -> PaperTable:
    if column not in table.header:
        return table
    i = table.header.index(column)
    return PaperTable(table.title, table.header[:i] + table.header[i + 1 :],
                      tuple(r[:i] + r[i + 1 :] for r in table.rows), table.emphasis)
