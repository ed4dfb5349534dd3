"""The engine's per-cycle logic, with no process, thread, clock or device: frame numbers in, messages out.

:class:`EngineCore` is JACK's process callback (or the soft clock's): each
cycle it applies the pending commands at the cycle's first frame, moves the
transport (internal clock, MTC or LTC chase), asks
:class:`~stage.core.playback.Playback` what falls inside the cycle and returns
each message at its frame; LTC read and written on audio ports is
:mod:`stage.runtime.ltcio`'s.  What the rest of the service must hear goes into
:attr:`EngineCore.outbox` as typed events (:data:`CoreEvent`); after a cycle
that put any there it calls :attr:`EngineCore.wake`, which must never block
(:mod:`stage.runtime.engine` writes one byte to a non-blocking pipe).
Time is the frame number divided by the sample rate, an argument of every
call: tests drive it with plain numbers.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from stage.core.chase import ChaseEstimator, ChaseSource
from stage.core.clicksound import ClickSounds, ClickVoice
from stage.core.playback import Beat, ClickNotes, Playback, frame_of
from stage.core.timecode import parse_rate
from stage.core.transport import Anchor, InternalClock
from stage.runtime import messages as m
from stage.runtime.enginemmc import EngineMmc, MmcCountsOut, MmcIn
from stage.runtime.ltcio import LTC_IN_PORT, LTC_OUT_PORT, LtcDecoding, LtcEncoding, LtcInput, LtcOutput

ANCHOR_REFRESH = 0.25  # seconds between anchor updates while chasing
CHASED = ("mtc", "ltc")  # the sources that are chased rather than commanded


@dataclass(frozen=True)
class EngineSettings:
    """What the engine process needs to know (picklable)."""

    rate: str = "24"
    source: str = "internal"  # "internal" | "mtc" | "ltc"
    mtc_master: bool = True
    freewheel_frames: int = 0
    midi: bool = True
    backend: Literal["jack", "rtmidi"] = "jack"
    rtmidi_api: Literal["alsa", "jack"] = "alsa"  # with backend "rtmidi"
    client: str = "stage"
    server: str | None = None
    mtc_out: bool = True
    mtc_in: bool = True
    click_out: bool = True
    connect: tuple[tuple[str, str], ...] = ()  # (our port short name, peer port)
    notes: ClickNotes = field(default_factory=ClickNotes)
    click_latency: float = 0.0
    mtc_latency: float = 0.0
    click_audio: bool = True  # the audio click port, with JACK
    sounds: ClickSounds = field(default_factory=ClickSounds)
    start_position: float = 0.0  # picture seconds the internal clock starts (stopped) at: a restart resumes there
    ltc_out: bool = False  # write LTC on <client>:ltc_out while master (with JACK)
    ltc_level_db: float = -18.0
    ltc_user_bits: int = 0  # binary group 1 in the low four bits
    ltc_latency: float = 0.0  # LTC is written this much early
    mmc: bool = False  # <client>:mmc_out and <client>:mmc_in (docs/mmc.md)
    mmc_device: int = 0x7F  # the device id MMC in must be addressed to (or 127, all-call)


CLICK_AUDIO_PORT = "click_audio"


class EngineCore:
    """The per-cycle logic of the engine; the callback of :mod:`stage.adapters.jack_midi`."""

    def __init__(self, settings: EngineSettings, samplerate: int) -> None:
        self.settings = settings
        self.samplerate = samplerate
        self.rate = parse_rate(settings.rate)
        self.chasing = settings.source in CHASED
        self.clock = InternalClock(settings.start_position)
        self.chase = self._new_chase() if self.chasing else None
        self.ltc_in: LtcInput | None = None  # reading <client>:ltc_in (source "ltc", with JACK)
        self.ltc_out: LtcOutput | None = None  # writing <client>:ltc_out (master, with JACK)
        self.playback = Playback(
            self.rate,
            notes=settings.notes,
            click_latency=settings.click_latency,
            mtc_latency=settings.mtc_latency,
            mtc_master=settings.mtc_master and not self.chasing and settings.mtc_out,
            samplerate=samplerate,
        )
        self.voice = ClickVoice(settings.sounds.samples(samplerate))
        self.mmc = EngineMmc(settings.mmc_device) if settings.mmc else None
        self.audio = False  # True once a driver renders the voice every cycle (JACK with click_audio)
        self.commands: collections.deque[m.Command] = collections.deque()
        self.outbox: collections.deque[CoreEvent] = collections.deque()
        self.wake: Callable[[], None] = no_wake  # told after a cycle that put events in the outbox; never blocks
        self.cycles = 0
        self.late = 0
        self.dropped = 0
        self.faults = 0  # cycles whose logic raised: caught, and the transport stopped
        self.position: float | None = None  # picture at the end of the last cycle (for the heartbeat)
        self._last_anchor: Anchor | None = None
        self._last_published = 0.0
        self._locates = (0, 0)
        self._sync_state = ""
        self._user_bits: str | None = None  # the LTC user bits last told (a change is told, at most every refresh)
        self._bits_told = 0.0

    def _new_chase(self) -> ChaseEstimator:
        source: ChaseSource = "ltc" if self.settings.source == "ltc" else "mtc"
        return ChaseEstimator(self.rate, source=source, freewheel_frames=self.settings.freewheel_frames)

    def attach_ltc(self, decoder: LtcDecoding | None = None, encoder: LtcEncoding | None = None) -> None:
        """Read LTC with ``decoder`` (chasing LTC), write it with ``encoder`` (master); before the first cycle."""
        if decoder is not None and self.settings.source == "ltc":
            self.ltc_in = LtcInput(decoder)
        if encoder is not None and not self.chasing:
            self.ltc_out = LtcOutput(encoder, self.rate, self.samplerate, latency=self.settings.ltc_latency)

    # Runs on the real-time thread, right before __call__ for the same cycle.
    def read_audio(self, port: str, frame0: int, samples: memoryview[float]) -> None:
        """Take an audio input port's samples for the cycle starting at ``frame0``."""
        if port == LTC_IN_PORT and self.ltc_in is not None:
            self.ltc_in.read(frame0, samples)

    # Runs on the real-time thread.
    def __call__(
        self, frame0: int, nframes: int, inputs: Mapping[str, Sequence[tuple[int, bytes]]]
    ) -> Mapping[str, Sequence[tuple[int, bytes]]]:
        sr = self.samplerate
        t_a, t_b = frame0 / sr, (frame0 + nframes) / sr
        self.cycles += 1
        waiting = len(self.outbox)
        try:
            return self._cycle(inputs, t_a, t_b)
        except Exception as exc:  # a nonsense value must not end the clock: stop safely and go on cycling
            self._fault(exc, t_a)
            return {}
        finally:
            if len(self.outbox) != waiting:
                self.wake()

    def _cycle(
        self, inputs: Mapping[str, Sequence[tuple[int, bytes]]], t_a: float, t_b: float
    ) -> Mapping[str, Sequence[tuple[int, bytes]]]:
        sr = self.samplerate
        while self.commands:
            self._apply(self.commands.popleft(), t_a)
        anchor = self._transport(inputs, t_a)
        self.position = None if anchor is None else anchor.position(t_b)
        result = self.playback.cycle(anchor, t_a, t_b)
        if self.ltc_out is not None:
            self.ltc_out.cycle(anchor, t_a, t_b)
        self.late += result.late
        self.dropped += result.dropped
        if self.audio:
            for t, kind in result.onsets:
                self.voice.start(frame_of(t, sr), kind)
        for beat in result.beats:
            self.outbox.append(BeatOut(beat))
        out: dict[str, list[tuple[int, bytes]]] = {}
        for o in result.outputs:
            out.setdefault(o.port, []).append((frame_of(o.t, sr), o.data))
        if self.mmc is not None:
            self.mmc.cycle(inputs, t_a, sr, out, self.outbox.append)
        return out

    # Runs on the real-time thread, right after __call__ for the same cycle.
    def render_audio(self, port: str, frame0: int, out: memoryview[float]) -> None:
        """Fill an audio output port's buffer (the click, or LTC) for the cycle starting at ``frame0``."""
        if port == LTC_OUT_PORT and self.ltc_out is not None:
            self.ltc_out.render(frame0, out)
        else:
            self.voice.render(frame0, out)

    def _fault(self, exc: Exception, now: float) -> None:
        """Stop the transport where picture is (or last was, sanely) after the cycle logic raised.

        The internal clock starts afresh there, stopped, at varispeed 1.0 (the
        speed may be what failed); a chase starts from nothing and locks
        again.  The sender thread logs it: nothing here may block.
        """
        self.faults += 1
        if self.chase is None:
            a = self.clock.anchor
            p = next((v for v in (a.position(now), a.p0) if math.isfinite(v)), 0.0)
            self.clock = InternalClock()
            self.clock.locate(p, now)
        else:
            p = math.nan
            self.chase = self._new_chase()
            self._locates = (0, 0)
            self._sync_state = ""
        self.playback.locate()
        if self.ltc_out is not None:
            self.ltc_out.locate()
        self.outbox.append(FaultOut(exc, p, self.faults))

    def _apply(self, cmd: m.Command, now: float) -> None:
        if isinstance(cmd, m.LoadClicks):
            self.playback.load(cmd.clicks)
            return
        if isinstance(cmd, m.SendMmc):
            if self.mmc is not None:  # MMC goes to the master while chasing: before the rule below
                self.mmc.send(cmd.messages)
            return
        if self.chasing:
            return  # picture is driven from outside; only clicks may change
        if isinstance(cmd, m.Play):
            self.clock.play(now)
        elif isinstance(cmd, m.Stop):
            self.clock.stop(now)
        elif isinstance(cmd, m.Locate):
            self.clock.locate(cmd.position, now)
            self.playback.locate()
            if self.ltc_out is not None:
                self.ltc_out.locate()
        elif isinstance(cmd, m.Varispeed):
            self.clock.set_varispeed(cmd.speed, now)

    def _transport(self, inputs: Mapping[str, Sequence[tuple[int, bytes]]], t_a: float) -> Anchor | None:
        if self.chase is None:
            anchor: Anchor | None = self.clock.anchor
        else:
            if self.chase.source == "ltc":
                for read in self.ltc_in.take() if self.ltc_in is not None else ():  # None: no LTC port to read
                    self.chase.receive_frame(read, self.samplerate)
            else:
                for frame, data in inputs.get("mtc_in", ()):
                    self.chase.receive(data, frame / self.samplerate)
            state = self.chase.poll(t_a)
            stats = self.chase.stats
            if (stats.locates, stats.locks) != self._locates:
                # a locate, or a relock after the stream broke off: either way picture may have jumped
                self._locates = (stats.locates, stats.locks)
                self.playback.locate()
            anchor = self.chase.anchor
            bits = self.chase.user_bits
            if state.value != self._sync_state or (bits != self._user_bits and t_a - self._bits_told >= ANCHOR_REFRESH):
                self._sync_state, self._user_bits, self._bits_told = state.value, bits, t_a
                self.outbox.append(_sync_status(self.chase))
        # Commands publish every new anchor; a chased anchor moves every quarter
        # frame, so it goes out on a change of speed or state, or every ANCHOR_REFRESH.
        if anchor != self._last_anchor and (
            self.chase is None
            or self._last_anchor is None
            or anchor is None
            or anchor.speed != self._last_anchor.speed
            or t_a - self._last_published >= ANCHOR_REFRESH
        ):
            self._last_published = t_a
            self.outbox.append(AnchorOut(anchor))
        self._last_anchor = anchor
        return anchor


@dataclass(frozen=True)
class BeatOut:
    """A click the cycle scheduled (its engine time and what it is)."""

    beat: Beat


@dataclass(frozen=True)
class AnchorOut:
    """A new transport anchor in engine time (None: no picture, the chase lost it)."""

    anchor: Anchor | None


@dataclass(frozen=True)
class FaultOut:
    """A cycle's logic raised: the transport was stopped at ``position`` (NaN: the chase starts again)."""

    exc: Exception
    position: float
    count: int


CoreEvent = BeatOut | AnchorOut | m.SyncStatus | FaultOut | MmcIn | MmcCountsOut
"""What the engine core tells the rest of the service, oldest first in its outbox (the chase's state as sent)."""


def _sync_status(chase: ChaseEstimator) -> m.SyncStatus:
    """The chase's state, as the service hears it."""
    a = chase.anchor
    return m.SyncStatus(
        state=chase.state.value,
        locked=chase.locked,
        speed=a.speed if a is not None else 0.0,
        quarter_frames=chase.stats.quarter_frames,
        locates=chase.stats.locates,
        source=chase.source,
        frames=chase.stats.frames,
        user_bits=chase.user_bits,
    )


def no_wake() -> None:
    """The default :attr:`EngineCore.wake` (and the one left when the engine closes): nobody waits."""
