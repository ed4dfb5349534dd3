"""A DAW's tempo map as a cue: the pure half of reading a Standard MIDI File.

:func:`stage.adapters.midifile.read_smf` reads a file into an
:class:`SmfMap` (tempo map, time signatures, markers, SMPTE offset); here,
with no file and no MIDI library, :func:`import_cue` infers the cue from it
(its start, count-off, tempo changes, ramps, meters and hits) and
:func:`cue_toml` writes it as a ``[[cue]]`` block of the cue sheet.
:class:`SmpteOffset` is the offset's value both ways.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from stage.core.breakdown import decimal_text
from stage.core.tempo import (
    MAX_CLICKS_PER_MINUTE,
    MIN_CLICKS_PER_MINUTE,
    Meter,
    TempoChange,
    clicks_per_minute,
    format_click_unit,
    frame_click,
    frame_click_length,
)
from stage.core.timecode import Rate, Timecode, hmsf_to_frames, parse_rate
from stage.errors import MidiError, RenderError, TempoError

_US = 1_000_000
MIDI_CLOCKS_PER_WHOLE = 96  # 24 per quarter note

# The frame rate an SMPTE offset is written at; 23.976 and 29.97 non-drop travel as 24 and 30 labels.
SMPTE_RATES: dict[str, float] = {"23.976": 24, "24": 24, "25": 25, "29.97df": 29.97, "29.97": 30, "30": 30}
# And back, when the command line does not name the rate.
_RATE_OF_SMPTE: dict[float, str] = {24: "24", 25: "25", 29.97: "29.97df", 30: "30"}


@dataclass(frozen=True)
class SmpteOffset:
    """An SMF ``smpte_offset``: timecode plus hundredths of a frame."""

    frame_rate: float  # 24, 25, 29.97 (drop) or 30, as the file labels it
    hours: int
    minutes: int
    seconds: int
    frames: int
    sub_frames: int  # 1/100 frame

    def picture_seconds(self, rate: Rate) -> Fraction:
        """Picture time at the actual ``rate``."""
        if not self.frames < rate.nominal or self.sub_frames > 99:
            raise MidiError(f"SMPTE offset frame {self.frames}.{self.sub_frames:02d} does not exist at {rate} fps")
        frames = hmsf_to_frames(self.hours, self.minutes, self.seconds, self.frames, rate)
        return (frames + Fraction(self.sub_frames, 100)) / rate.fps


def smpte_offset(seconds: Fraction, rate: Rate) -> SmpteOffset:
    """The SMPTE offset of picture time ``seconds``, to the nearest hundredth of a frame."""
    if rate.name not in SMPTE_RATES:
        raise RenderError(f"a MIDI file's SMPTE offset cannot express {rate} fps (only {', '.join(SMPTE_RATES)})")
    hundredths = round(seconds * rate.fps * 100)
    frame, sub = divmod(hundredths, 100)
    tc = Timecode.from_frames(frame, rate)
    return SmpteOffset(SMPTE_RATES[rate.name], tc.hours, tc.minutes, tc.seconds, tc.frames, sub)


@dataclass(frozen=True)
class TimeSignature:
    """A ``time_signature`` event at an absolute tick."""

    tick: int
    numerator: int
    denominator: int
    clocks_per_click: int


@dataclass(frozen=True)
class SmfMap:
    """What an SMF says about time: tempo map, meters, markers, offset, name, and where it ends."""

    ticks_per_beat: int
    tempos: tuple[tuple[int, int], ...]  # (tick, microseconds per quarter); the first at tick 0
    signatures: tuple[TimeSignature, ...]  # the first at tick 0
    markers: tuple[tuple[int, str], ...]
    smpte: SmpteOffset | None
    name: str
    end_tick: int  # the last tick any track reaches

    @functools.cached_property
    def _anchors(self) -> tuple[list[int], list[Fraction]]:
        """Each tempo's tick and the time it starts at."""
        ticks = [t for t, _ in self.tempos]
        starts = [Fraction(0)]
        for (at, tempo), (upto, _) in itertools.pairwise(self.tempos):
            starts.append(starts[-1] + (upto - at) * Fraction(tempo, _US * self.ticks_per_beat))
        return ticks, starts

    def seconds(self, tick: Fraction | int) -> Fraction:
        """Exact time of ``tick`` from the file's start."""
        ticks, starts = self._anchors
        i = max(0, bisect.bisect_right(ticks, tick) - 1)
        at, tempo = self.tempos[i]
        return starts[i] + (tick - at) * Fraction(tempo, _US * self.ticks_per_beat)


# -- import: time map → cue ------------------------------------------------------------

# Clicks whose lengths differ by less than this are one steady tempo: integer tempos
# round each click by up to a few microseconds, and a DAW never means that as a change.
STEADY = Fraction(10, _US)
MAX_BARS = 9999  # a cue longer than this is a file that runs on past its music
# Ramps found on import span at most this many clicks (longer ones come in as a change per click).
LONGEST_RAMP = 32


@dataclass(frozen=True)
class _FileClick:
    bar: int  # counted in the file, from 1
    beat: int
    tick: Fraction
    ticks: Fraction
    meter: Meter
    length: Fraction  # seconds until the next click


@dataclass(frozen=True)
class ImportedHit:
    """A marker, as a hit placed by bar and beat."""

    bar: int
    beat: Fraction
    label: str


@dataclass(frozen=True)
class ImportedCue:
    """A cue read from an SMF, ready to be written as a ``[[cue]]`` block."""

    id: str
    title: str
    start: Timecode
    length: Fraction  # the first click length
    meter: Meter
    bars: int
    countoff: int | None  # None: leave it to the sheet's default
    changes: tuple[TempoChange, ...]
    hits: tuple[ImportedHit, ...]
    warnings: tuple[str, ...]  # what the user should check


def _meter(sig: TimeSignature) -> Meter:
    """The cue-sheet meter of a time signature: the click on ``clocks_per_click`` when it is meant."""
    try:
        plain = Meter(sig.numerator, sig.denominator, Fraction(1, sig.denominator))
    except TempoError as exc:
        raise MidiError(f"time signature at tick {sig.tick}: {exc}") from exc
    unit = Fraction(sig.clocks_per_click, MIDI_CLOCKS_PER_WHOLE)
    note = unit.numerator == 1 and unit.denominator in (1, 2, 4, 8, 16, 32)
    dotted = unit.numerator == 3 and unit.denominator in (4, 8, 16, 32, 64)
    # 24 clocks (a quarter) is what most DAWs write whatever the meter; only take it at face value in x/4.
    if not (note or dotted) or (sig.clocks_per_click == 24 and sig.denominator != 4):
        return plain
    try:
        return Meter(sig.numerator, sig.denominator, unit)
    except TempoError:
        return plain


def _file_clicks(smf: SmfMap, bars: int | None) -> Iterator[_FileClick]:
    """Every click of the file from tick 0, bar by bar: ``bars`` bars, or every bar that starts before its end."""
    signatures = list(smf.signatures)
    tick = Fraction(0)
    bar = 1
    while bar == 1 or (bar <= bars if bars is not None else tick < smf.end_tick):
        if bar > MAX_BARS:
            raise MidiError(f"the file runs past {MAX_BARS} bars: give the cue's length (--bars)")
        while len(signatures) > 1 and signatures[1].tick <= tick:
            signatures.pop(0)
        meter = _meter(signatures[0])
        ticks = meter.click * 4 * smf.ticks_per_beat
        bar_end = tick + meter.clicks_per_bar * ticks
        if len(signatures) > 1 and tick < signatures[1].tick < bar_end:
            inside = signatures[1].tick
            raise MidiError(f"the time signature at tick {inside} falls inside bar {bar}, not on a bar line")
        for beat in range(1, meter.clicks_per_bar + 1):
            at = tick + (beat - 1) * ticks
            yield _FileClick(bar, beat, at, ticks, meter, smf.seconds(at + ticks) - smf.seconds(at))
        tick = bar_end
        bar += 1


def import_cue(
    smf: SmfMap,
    cue_id: str,
    *,
    rate: Rate | str | None = None,
    start: Timecode | str | None = None,
    title: str | None = None,
    countoff: int | None = None,
    bars: int | None = None,
) -> ImportedCue:
    """The cue an SMF's time map describes.

    ``countoff`` bars at the start of the file are the count-off: the cue's bar 1
    is the file's bar ``countoff + 1`` (None: no count-off in the file, and the
    block leaves the count-off to the sheet's default).  ``start`` is the timecode of that
    downbeat; without it, the file's SMPTE offset places it (rounded to the
    nearest frame).  ``rate`` defaults to the SMPTE offset's frame rate.
    """
    warnings: list[str] = []
    if rate is None:
        if smf.smpte is None:
            raise MidiError("the file has no SMPTE offset: give the picture rate (--rate)")
        rate = parse_rate(_RATE_OF_SMPTE[smf.smpte.frame_rate])
        warnings.append(f"rate {rate} assumed from the file's SMPTE offset: give --rate to be sure")
    rate = parse_rate(rate)
    skip = countoff or 0
    if skip < 0 or (bars is not None and bars < 1):
        raise MidiError("countoff must be 0 or more and bars 1 or more")
    clicks = list(_file_clicks(smf, None if bars is None else bars + skip))
    body = [c for c in clicks if c.bar > skip]
    if not body:
        raise MidiError(f"the file has no bars after a count-off of {skip} bar(s)")
    downbeat = body[0]
    if any(c.meter != downbeat.meter for c in clicks if c.bar <= skip):
        warnings.append("the count-off bars change meter: the cue's count-off uses its first meter")

    start_tc = _start(smf, downbeat, rate, start, warnings)
    changes, first_length = _changes(body)
    hits = _hits(smf, clicks, skip, warnings)
    return ImportedCue(
        id=cue_id,
        title=title if title is not None else _title(smf.name, cue_id),
        start=start_tc,
        length=first_length,
        meter=downbeat.meter,
        bars=body[-1].bar - skip,
        countoff=countoff,
        changes=tuple(changes),
        hits=tuple(hits),
        warnings=tuple(warnings),
    )


def _start(
    smf: SmfMap, downbeat: _FileClick, rate: Rate, start: Timecode | str | None, warnings: list[str]
) -> Timecode:
    if start is not None:
        return start if isinstance(start, Timecode) else Timecode.parse(start, rate)
    if smf.smpte is None:
        raise MidiError("the file has no SMPTE offset: give the downbeat's timecode (--start)")
    at = smf.smpte.picture_seconds(rate) + smf.seconds(downbeat.tick)
    frame = round(at * rate.fps)
    tc = Timecode.from_frames(frame, rate)
    off = (at - tc.picture_seconds) * 1000
    if abs(off) >= Fraction(1, 2):
        warnings.append(f"the downbeat falls {decimal_text(off, 1)} ms from {tc}: start rounded to that frame")
    return tc


def _changes(body: list[_FileClick]) -> tuple[list[TempoChange], Fraction]:
    """Group the cue's clicks into steady stretches; each stretch after the first is a change."""
    groups: list[list[_FileClick]] = []
    for c in body:
        g = groups[-1] if groups else None
        if g is None or (c.beat == 1 and c.meter != g[0].meter) or abs(c.length - g[0].length) > STEADY:
            groups.append([c])
        else:
            g.append(c)
    # The mean of a stretch undoes the per-click rounding of integer tempos.
    lengths = [sum((c.length for c in g), Fraction(0)) / len(g) for g in groups]
    for g, length in zip(groups, lengths, strict=True):
        where = f"bar {g[0].bar}" + (f" beat {g[0].beat}" if g[0].beat != 1 else "")
        if length <= 0:
            raise MidiError(f"{where}: a tempo of 0 stops the music")
        cpm = clicks_per_minute(length)
        if not MIN_CLICKS_PER_MINUTE <= cpm <= MAX_CLICKS_PER_MINUTE:
            raise MidiError(
                f"{where}: {float(cpm):.3f} clicks per minute is outside "
                f"{MIN_CLICKS_PER_MINUTE}-{MAX_CLICKS_PER_MINUTE}"
            )
    countoff = body[0].bar - 1
    ramps = _ramps(groups, lengths)
    absorbed = {j for i, n in ramps.items() for j in range(i - n, i)}
    changes = []
    previous = 0  # the group whose tempo and meter are in force
    for i in range(1, len(groups)):
        if i in absorbed:
            continue
        first, before = groups[i][0], groups[previous][0]
        ramp = ramps.get(i, 0)
        same_tempo = not ramp and _tempo_text(lengths[i]) == _tempo_text(lengths[previous])
        changes.append(
            TempoChange(
                bar=first.bar - countoff,
                beat=first.beat,
                length=None if same_tempo else lengths[i],
                meter=first.meter if first.meter != before.meter else None,
                ramp=ramp,
            )
        )
        previous = i
    return changes, lengths[0]


def _ramps(groups: list[list[_FileClick]], lengths: list[Fraction]) -> dict[int, int]:
    """Linear ramps: group index → n, where the n one-click groups before it step from the tempo before them.

    A ramp over n clicks from length a into b gives its k-th click a + (b - a)·k/(n + 1).
    """
    ramps: dict[int, int] = {}
    i = len(groups) - 1
    while i >= 2:
        most = 0
        while most < LONGEST_RAMP and i - most - 2 >= 0 and len(groups[i - most - 1]) == 1:
            most += 1
        for n in range(most, 0, -1):
            a, b = lengths[i - n - 1], lengths[i]
            steady = groups[i - n - 1][0].meter
            fits = all(
                groups[i - n - 1 + k][0].meter == steady
                and abs(lengths[i - n - 1 + k] - (a + (b - a) * k / (n + 1))) <= STEADY
                for k in range(1, n + 1)
            )
            if fits:
                ramps[i] = n
                i -= n
                break
        i -= 1
    return ramps


def _hits(smf: SmfMap, clicks: list[_FileClick], countoff: int, warnings: list[str]) -> list[ImportedHit]:
    ticks = [c.tick for c in clicks]
    last = clicks[-1]
    end = last.tick + last.ticks
    hits = []
    for tick, text in smf.markers:
        label = text.strip() or f"marker at tick {tick}"
        if tick > end:
            warnings.append(f"marker {label!r} lies after the last bar: left out")
            continue
        if tick == end:  # on the cue's end: beat 1 of the bar after the last
            hits.append(ImportedHit(last.bar + 1 - countoff, Fraction(1), label))
            continue
        c = clicks[max(0, bisect.bisect_right(ticks, tick) - 1)]
        hits.append(ImportedHit(c.bar - countoff, c.beat + (tick - c.tick) / c.ticks, label))
    return hits


def _title(name: str, cue_id: str) -> str:
    name = name.strip()
    if name == cue_id:
        return ""
    return name.removeprefix(f"{cue_id} ").strip()


# -- the [[cue]] block -----------------------------------------------------------------


def _toml_string(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _tempo_text(length: Fraction) -> str:
    return decimal_text(clicks_per_minute(length), 4, trim=True)


def _tempo_line(length: Fraction, rate: Rate) -> str:
    line = f"tempo = {_tempo_text(length)}"
    if abs(frame_click_length(length, rate) - length) <= STEADY:
        line += f"  # {frame_click(length, rate)}"
    return line


def _click_line(meter: Meter, inherited: Fraction) -> list[str]:
    return [f'click = "{format_click_unit(meter.click)}"'] if meter.click != inherited else []


def cue_toml(cue: ImportedCue) -> str:
    """The ``[[cue]]`` block (with its changes and hits) as TOML text."""
    rate = cue.start.rate
    lines = ["[[cue]]", f"id = {_toml_string(cue.id)}"]
    if cue.title:
        lines.append(f"title = {_toml_string(cue.title)}")
    lines += [f'start = "{cue.start}"', _tempo_line(cue.length, rate), f'meter = "{cue.meter}"']
    cue_click = Fraction(1, cue.meter.denominator)
    lines += _click_line(cue.meter, cue_click)
    explicit_click = cue.meter.click != cue_click
    lines.append(f"bars = {cue.bars}")
    if cue.countoff is not None:
        lines.append(f"countoff = {cue.countoff}")
    for ch in cue.changes:
        lines += ["", "[[cue.change]]", f"bar = {ch.bar}"]
        if ch.beat != 1:
            lines.append(f"beat = {ch.beat}")
        if ch.length is not None:
            lines.append(_tempo_line(ch.length, rate))
        if ch.ramp:
            lines.append(f"ramp = {ch.ramp}")
        if ch.meter is not None:
            lines.append(f'meter = "{ch.meter}"')
            # A change inherits the cue's click key, or else clicks on its own denominator.
            inherited = cue.meter.click if explicit_click else Fraction(1, ch.meter.denominator)
            lines += _click_line(ch.meter, inherited)
    for hit in cue.hits:
        lines += ["", "[[cue.hit]]", f"bar = {hit.bar}"]
        if hit.beat != 1:
            lines.append(f"beat = {decimal_text(hit.beat, 3, trim=True)}")
        lines.append(f"label = {_toml_string(hit.label)}")
    return "\n".join(lines) + "\n"
