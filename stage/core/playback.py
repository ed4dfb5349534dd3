"""What the engine sends in one cycle: click notes and MTC, at exact times.

Pure: the real-time adapter calls :meth:`Playback.cycle` once per audio cycle
with the cycle's time window ``[t_a, t_b)`` on the engine clock and the current
transport :class:`~stage.core.transport.Anchor`; it gets back the messages to
write, each with the engine time it must be written at, and the beats it just
scheduled.  Nothing here reads a clock, so the same code is tested with plain
numbers and runs inside the JACK process callback.

Rules:
- deadlines come from the anchor, never from accumulated sleeps;
- every message is sent once: a cursor remembers the next click and the next
  quarter frame, so anchor corrections while chasing neither skip nor repeat
  one; a locate moves the cursors without catching up;
- each output is sent its latency early (``position(t + latency)``);
- nothing new sounds when stopped or in reverse; note-offs still go out;
- as MTC master, a full frame goes out on every locate, start and stop.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from stage.core.mtc import full_frame, quarter_frame_message, quarter_frame_position
from stage.core.tempo import ClickKind
from stage.core.timecode import Rate, Timecode, frame_at
from stage.core.transport import Anchor

# A message overdue by more than this is dropped rather than sent late: after a
# jump the picture has moved on, and a burst of old clicks is worse than none.
CATCH_UP_LIMIT = 0.050

CLICK_PORT = "click_out"
MTC_PORT = "mtc_out"


@dataclass(frozen=True)
class ClickNotes:
    """MIDI notes of the three click sounds; ``channel`` is 0-based (9 = GM percussion)."""

    channel: int = 9
    accent: tuple[int, int] = (76, 127)
    normal: tuple[int, int] = (77, 100)
    warning: tuple[int, int] = (75, 90)
    length: float = 0.020  # seconds from note-on to note-off

    def note_on(self, kind: ClickKind) -> bytes:
        """The note-on of a click of ``kind``."""
        note, velocity = {
            ClickKind.ACCENT: self.accent,
            ClickKind.NORMAL: self.normal,
            ClickKind.WARNING: self.warning,
        }[kind]
        return bytes((0x90 | self.channel, note, velocity))

    def note_off(self, on: bytes) -> bytes:
        """The note-off matching note-on ``on``."""
        return bytes((0x80 | self.channel, on[1], 0))


@dataclass(frozen=True)
class TimedClick:
    """A click at an absolute picture position (seconds since 00:00:00:00)."""

    p: float
    kind: ClickKind
    cue: str
    bar: int
    beat: int


@dataclass(frozen=True)
class Output:
    """A MIDI message to write on ``port`` at engine time ``t``."""

    t: float
    port: str
    data: bytes


@dataclass(frozen=True)
class Beat:
    """A click that was just scheduled; ``t`` is when it sounds (latency included)."""

    click: TimedClick
    t: float


@dataclass
class CycleResult:
    """Everything one cycle produced."""

    outputs: list[Output] = field(default_factory=list)
    beats: list[Beat] = field(default_factory=list)
    onsets: list[tuple[float, ClickKind]] = field(default_factory=list)  # each click's note-on time: the audio's too
    late: int = 0  # messages whose time had already passed when the cycle began: sent at its start
    dropped: int = 0  # messages overdue by more than CATCH_UP_LIMIT: not sent


class Playback:
    """Turns transport anchors into click notes and MTC, cycle by cycle."""

    def __init__(
        self,
        rate: Rate,
        *,
        notes: ClickNotes | None = None,
        click_latency: float = 0.0,
        mtc_latency: float = 0.0,
        mtc_master: bool = False,
        samplerate: int = 48000,
    ) -> None:
        self.rate = rate
        self.samplerate = samplerate
        self.notes = notes or ClickNotes()
        self.click_latency = click_latency
        self.mtc_latency = mtc_latency
        self.mtc_master = mtc_master
        self._clicks: list[TimedClick] = []
        self._positions: list[float] = []
        self._next_click: int | None = None
        self._next_q: int | None = None
        self._note_offs: list[tuple[float, bytes]] = []
        self._last_anchor: Anchor | None = None
        self._full_frame_due = mtc_master

    def load(self, clicks: Sequence[TimedClick]) -> None:
        """Replace the clicks to play (any order); playing resumes from where the picture is."""
        self._clicks = sorted(clicks, key=lambda c: c.p)
        self._positions = [c.p for c in self._clicks]
        self._next_click = None

    def locate(self) -> None:
        """The transport jumped: restart the cursors where it now is, and resend a full frame."""
        self._next_click = None
        self._next_q = None
        self._full_frame_due = self.mtc_master

    def cycle(self, anchor: Anchor | None, t_a: float, t_b: float) -> CycleResult:
        """Messages due in ``[t_a, t_b)`` for ``anchor`` (None: no picture)."""
        out = CycleResult()
        self._flush_note_offs(t_a, t_b, out)
        prev, self._last_anchor = self._last_anchor, anchor
        if anchor is None or anchor.speed <= 0:
            self._next_click = self._next_q = None
            if prev is not None and prev.speed > 0 and anchor is not None and anchor.speed == 0:
                self._full_frame_due = self.mtc_master  # a stop: the slave parks on the exact frame
            if anchor is not None and self._full_frame_due:
                self._send_full_frame(anchor.position(t_a), t_a, out)
            return out
        if prev is None or prev.speed <= 0:
            self._full_frame_due = self.mtc_master  # a start: the slave gets a full frame first
        start = max(t_a, anchor.t0)
        self._clicks_in(anchor, start, t_a, t_b, out)
        if self.mtc_master:
            if self._full_frame_due:
                self._send_full_frame(anchor.position(start), t_a, out)
            self._mtc_in(anchor, start, t_a, t_b, out)
        out.outputs.sort(key=lambda o: o.t)
        return out

    # The cursors are indices (next click, next quarter frame), not positions: an
    # index cannot be rounded past the message it stands for.

    def _clicks_in(self, anchor: Anchor, start: float, t_a: float, t_b: float, out: CycleResult) -> None:
        lat = self.click_latency
        if self._next_click is None:
            self._next_click = bisect.bisect_left(self._positions, anchor.position(start))
        i = self._next_click
        while i < len(self._clicks):
            click = self._clicks[i]
            sound = anchor.time_of(click.p)
            t = sound - lat
            if not self._before(t, t_b):
                break
            i += 1
            due = self._due(t, t_a, out)
            if due is None:
                continue
            t = due
            on = self.notes.note_on(click.kind)
            out.outputs.append(Output(t, CLICK_PORT, on))
            out.onsets.append((t, click.kind))
            self._note_offs.append((t + self.notes.length, self.notes.note_off(on)))
            out.beats.append(Beat(click, sound))
        self._next_click = i
        self._flush_note_offs(t_a, t_b, out)

    def _mtc_in(self, anchor: Anchor, start: float, t_a: float, t_b: float, out: CycleResult) -> None:
        lat = self.mtc_latency
        if self._next_q is None:
            self._next_q = math.ceil(Fraction(anchor.position(start)) * 4 * self.rate.fps)
        q = self._next_q
        while True:
            t = anchor.time_of(float(quarter_frame_position(q, self.rate))) - lat
            if not self._before(t, t_b):
                break
            q += 1
            due = self._due(t, t_a, out)
            if due is not None:
                out.outputs.append(Output(due, MTC_PORT, quarter_frame_message(q - 1, self.rate)))
        self._next_q = q

    def _due(self, t: float, t_a: float, out: CycleResult) -> float | None:
        """When a message meant for ``t`` goes out in the cycle starting at ``t_a``; None: dropped.

        Overdue by more than :data:`CATCH_UP_LIMIT`: dropped.  A sample or more
        before the cycle: late, sent on its first sample.  Counted in ``out``.
        """
        if t < t_a - CATCH_UP_LIMIT:
            out.dropped += 1
            return None
        if self._before(t, t_a):  # on the cycle's first sample is on time, not late
            out.late += 1
            return t_a
        return t

    def _before(self, t: float, t_b: float) -> bool:
        """True when ``t`` falls on a sample before the one that starts at ``t_b``."""
        return frame_of(t, self.samplerate) < frame_of(t_b, self.samplerate)

    def _send_full_frame(self, position: float, t: float, out: CycleResult) -> None:
        frame = frame_at(max(position, 0.0), self.rate)
        out.outputs.append(Output(t, MTC_PORT, full_frame(Timecode.from_frames(frame, self.rate))))
        self._full_frame_due = False

    def _flush_note_offs(self, t_a: float, t_b: float, out: CycleResult) -> None:
        due = [n for n in self._note_offs if self._before(n[0], t_b)]
        if due:
            self._note_offs = [n for n in self._note_offs if not self._before(n[0], t_b)]
            out.outputs.extend(Output(max(t, t_a), CLICK_PORT, data) for t, data in due)


# Frames as far off as this are "never" (about 3 million years at 48 kHz): a time past them, infinite
# or NaN (a deadline divided by a speed near zero) is clamped rather than allowed to stop the clock thread.
NEVER = 2**62


def frame_of(t: float, samplerate: int) -> int:
    """The sample frame of engine time ``t``: the nearest one, so inter-onset error stays within half a sample.

    A time beyond :data:`NEVER` frames either way (or NaN, taken as never) gives ±:data:`NEVER`.
    """
    x = t * samplerate + 0.5
    if -NEVER < x < NEVER:
        return math.floor(x)
    return -NEVER if x < 0 else NEVER
