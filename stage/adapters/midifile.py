"""Standard MIDI Files: a cue's click track out, a DAW's tempo map and markers in.

This is the only module that imports :mod:`mido` for files.

**Writing** (:func:`write_smf`): a type 1 file whose tick 0 is the cue's
first click (the first warning click when there is a count-off).  One click
is its note value in ticks (960 a quarter note), so a DAW's bar grid falls on
the clicks, and the tempo map is chosen click by click so that every click
lands on its exact time: each ``set_tempo`` (whole microseconds per quarter)
is rounded against the *exact* time still to go, so rounding never
accumulates.  Track 0 holds the name, the ``smpte_offset`` (the first click's
picture time), the time signatures, the tempo map and a marker per hit;
track 1 the click notes on the GM percussion channel.

**Markers** (:func:`marker_file`): a take's marker per take, counted in
frames (see :data:`MARKER_TICKS_PER_FRAME`), for a DAW's memory locations.

**Reading** (:func:`read_smf`): the tempo map, time signatures, markers and
SMPTE offset of a DAW-exported file, as a :class:`~stage.core.smfimport.SmfMap`;
:func:`~stage.core.smfimport.import_cue` and
:func:`~stage.core.smfimport.cue_toml` (pure, in core) make a ``[[cue]]``
block of the cue sheet from it.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import mido

from stage.core.cuesheet import Cue
from stage.core.smfimport import MIDI_CLOCKS_PER_WHOLE, SmfMap, SmpteOffset, TimeSignature, smpte_offset
from stage.core.takemarks import TakeMarker
from stage.core.tempo import ClickKind, Meter, format_click_unit
from stage.core.timecode import Rate
from stage.errors import MidiError, RenderError

__all__ = [
    "ACCENT_NOTE",
    "CHANNEL",
    "NORMAL_NOTE",
    "NOTES",
    "TICKS_PER_BEAT",
    "WARNING_NOTE",
    "SmfMap",
    "SmpteOffset",
    "TimeSignature",
    "click_file",
    "marker_file",
    "read_smf",
    "smpte_offset",
    "write_smf",
]

TICKS_PER_BEAT = 960  # per quarter note
CHANNEL = 9  # "channel 10", General MIDI percussion (mido counts from 0)
ACCENT_NOTE = 76  # Hi Wood Block: beat 1 of a bar
NORMAL_NOTE = 77  # Low Wood Block: the other clicks
WARNING_NOTE = 75  # Claves: count-off
NOTES = {ClickKind.ACCENT: ACCENT_NOTE, ClickKind.NORMAL: NORMAL_NOTE, ClickKind.WARNING: WARNING_NOTE}
VELOCITIES = {ClickKind.ACCENT: 127, ClickKind.NORMAL: 100, ClickKind.WARNING: 110}
MAX_TEMPO = 0xFFFFFF  # set_tempo carries 24 bits of microseconds per quarter note
_US = 1_000_000

# -- writing ---------------------------------------------------------------------------


def _click_ticks(meter: Meter) -> int:
    ticks = meter.click * 4 * TICKS_PER_BEAT
    if ticks.denominator != 1:
        raise RenderError(f"a {format_click_unit(meter.click)} click is not a whole number of ticks")
    return int(ticks)


def _clocks_per_click(meter: Meter) -> int:
    clocks = meter.click * MIDI_CLOCKS_PER_WHOLE
    # A dotted 32nd has no whole number of MIDI clocks: fall back to the denominator.
    return int(clocks) if clocks.denominator == 1 else MIDI_CLOCKS_PER_WHOLE // meter.denominator


def _text(value: str) -> str:
    """Meta text as the file's latin-1 can carry it."""
    return value.encode("latin-1", errors="replace").decode("latin-1")


@dataclass(frozen=True)
class _Placed:
    tick: int
    order: int  # same tick: meta before notes, note-offs before note-ons
    message: Any


def click_file(cue: Cue) -> mido.MidiFile:
    """The click track of ``cue`` as a type 1 :class:`mido.MidiFile` (see the module docstring)."""
    if cue.clicks is None:
        raise RenderError(f"cue {cue.id} is in free timing: it has no click to render (its event list still works)")
    clicks = cue.clicks.clicks
    s0 = cue.first_time
    start = cue.downbeat + s0
    if start < 0:
        raise RenderError(f"cue {cue.id}: its first click falls before 00:00:00:00")

    name = f"{cue.id} {cue.title}".strip()
    offset = smpte_offset(start, cue.rate)
    conductor: list[_Placed] = [
        _Placed(0, 0, mido.MetaMessage("track_name", name=_text(name))),
        _Placed(0, 1, mido.MetaMessage("smpte_offset", **asdict(offset))),
    ]
    notes: list[_Placed] = [_Placed(0, 0, mido.MetaMessage("track_name", name=_text(f"{cue.id} click")))]

    ticks: list[int] = []
    tick = 0
    elapsed = Fraction(0)  # time of ``tick`` as the file's integer tempos play it
    tempo: int | None = None
    meter: Meter | None = None
    for i, c in enumerate(clicks):
        k = _click_ticks(c.meter)
        ticks.append(tick)
        if c.meter != meter:
            meter = c.meter
            conductor.append(_Placed(tick, 2, _time_signature(meter)))
        target = (clicks[i + 1].time if i + 1 < len(clicks) else c.time + c.length) - s0
        # Round against the exact time still to go: the error stays within one rounding, never grows.
        us_per_quarter = round((target - elapsed) * _US * TICKS_PER_BEAT / k)
        if not 0 < us_per_quarter <= MAX_TEMPO:
            raise RenderError(f"cue {cue.id}: bar {c.bar} is too slow for a MIDI tempo")
        if us_per_quarter != tempo:
            tempo = us_per_quarter
            conductor.append(_Placed(tick, 3, mido.MetaMessage("set_tempo", tempo=tempo)))
        elapsed += Fraction(us_per_quarter * k, _US * TICKS_PER_BEAT)
        note, velocity = NOTES[c.kind], VELOCITIES[c.kind]
        notes.append(_Placed(tick, 2, mido.Message("note_on", channel=CHANNEL, note=note, velocity=velocity)))
        notes.append(_Placed(tick + k // 4, 1, mido.Message("note_off", channel=CHANNEL, note=note, velocity=0)))
        tick += k

    times = [c.time for c in clicks]
    for hit in sorted(cue.hits, key=lambda h: h.time):
        i = max(0, bisect.bisect_right(times, hit.time) - 1)
        c = clicks[i]
        at = ticks[i] + round((hit.time - c.time) / c.length * _click_ticks(c.meter))
        conductor.append(_Placed(at, 4, mido.MetaMessage("marker", text=_text(hit.label))))

    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT, charset="latin1")
    mid.tracks.append(_track(conductor, end=tick))
    mid.tracks.append(_track(notes, end=tick))
    return mid


def _time_signature(meter: Meter) -> Any:
    return mido.MetaMessage(
        "time_signature",
        numerator=meter.numerator,
        denominator=meter.denominator,
        clocks_per_click=_clocks_per_click(meter),
        notated_32nd_notes_per_beat=8,
    )


def _track(events: list[_Placed], end: int) -> mido.MidiTrack:
    track = mido.MidiTrack()
    now = 0
    for e in sorted(events, key=lambda e: (e.tick, e.order)):
        track.append(e.message.copy(time=e.tick - now))
        now = e.tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


def write_smf(path: str | Path, cue: Cue) -> None:
    """Write the click track of ``cue`` as a Standard MIDI File."""
    click_file(cue).save(Path(path))


# A marker file counts in frames: a quarter note is one timecode second's frames, played in exactly the time
# those frames last (1 001 000 µs at 23.976 and 29.97, 1 000 000 µs at 24, 25 and 30), and a frame is
# MARKER_TICKS_PER_FRAME ticks (960 a quarter at 24, 1000 at 25, 1200 at 30), so every marker is on its frame.
MARKER_TICKS_PER_FRAME = 40


def marker_file(markers: Sequence[TakeMarker], rate: Rate, title: str = "takes") -> bytes:
    """The takes' markers as a type 1 Standard MIDI File (bytes) that a DAW imports as memory locations.

    Track 0 holds the name, the ``smpte_offset`` (the first marker's hour, so a
    DAW spots tick 0 there), 4/4, the one tempo and a ``marker`` per take.
    """
    tempo = Fraction(_US * rate.nominal) / rate.fps
    if tempo.denominator != 1 or tempo > MAX_TEMPO:
        raise RenderError(f"a marker file cannot keep frames exact at {rate} fps")
    first = markers[0].frame if markers else 0
    hour = first - first % (rate.frames_per_10min * 6)
    offset = smpte_offset(Fraction(hour) / rate.fps, rate)
    events = [
        _Placed(0, 0, mido.MetaMessage("track_name", name=_text(title))),
        _Placed(0, 1, mido.MetaMessage("smpte_offset", **asdict(offset))),
        _Placed(0, 2, mido.MetaMessage("time_signature", numerator=4, denominator=4, clocks_per_click=24,
                                       notated_32nd_notes_per_beat=8)),
        _Placed(0, 3, mido.MetaMessage("set_tempo", tempo=int(tempo))),
    ]
    events += [_Placed((m.frame - hour) * MARKER_TICKS_PER_FRAME, 4, mido.MetaMessage("marker", text=_text(m.name)))
               for m in markers]
    end = max((e.tick for e in events), default=0)
    mid = mido.MidiFile(type=1, ticks_per_beat=rate.nominal * MARKER_TICKS_PER_FRAME, charset="latin1")
    mid.tracks.append(_track(events, end=end))
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()


# -- reading ---------------------------------------------------------------------------


def read_smf(path: str | Path) -> SmfMap:
    """Read the time map of an SMF; raises :class:`MidiError` on anything that is not one."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise MidiError(f"cannot read {p}: {exc.strerror or exc}") from exc
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError … on bad bytes
        raise MidiError(f"{p} is not a Standard MIDI File ({exc or type(exc).__name__})") from exc
    if mid.ticks_per_beat <= 0:
        raise MidiError(f"{p}: SMPTE time division is not supported (re-export with ticks per quarter note)")
    if mid.type == 2:
        raise MidiError(f"{p}: a type 2 MIDI file has no common tempo map")
    return _time_map(mid)


def _time_map(mid: mido.MidiFile) -> SmfMap:
    tempos: dict[int, int] = {}
    signatures: dict[int, TimeSignature] = {}
    markers: list[tuple[int, str]] = []
    smpte: SmpteOffset | None = None
    name = ""
    end = 0
    for n, track in enumerate(mid.tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            end = max(end, tick)
            if msg.type == "set_tempo":
                tempos[tick] = msg.tempo
            elif msg.type == "time_signature":
                signatures[tick] = TimeSignature(tick, msg.numerator, msg.denominator, msg.clocks_per_click)
            elif msg.type == "marker":
                markers.append((tick, msg.text))
            elif msg.type == "smpte_offset" and smpte is None:
                smpte = SmpteOffset(msg.frame_rate, msg.hours, msg.minutes, msg.seconds, msg.frames, msg.sub_frames)
            elif msg.type == "track_name" and n == 0 and not name:
                name = msg.name
    tempos.setdefault(0, 500_000)  # the SMF default: 120 quarter notes a minute
    signatures.setdefault(0, TimeSignature(0, 4, 4, 24))
    return SmfMap(
        ticks_per_beat=mid.ticks_per_beat,
        tempos=tuple(sorted(tempos.items())),
        signatures=tuple(sorted(signatures.values(), key=lambda s: s.tick)),
        markers=tuple(sorted(markers, key=lambda m: m[0])),
        smpte=smpte,
        name=name,
        end_tick=end,
    )
