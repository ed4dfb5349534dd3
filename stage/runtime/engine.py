"""The real-time engine: its own process, its own clock, deadlines from the transport.

Why a process: the service's asyncio loop may be busy fanning out to hundreds
of clients, and a thread of the same interpreter would wait on the GIL (5 ms
switch interval: a whole JACK period).  The engine process holds the JACK
client; JACK's process callback *is* the scheduler: each cycle it applies the
pending commands at the cycle's first frame, asks :class:`Playback` what falls
inside the cycle and writes each message at its exact frame; the audio click
(``<client>:click_audio``) starts each click's sound on the frame of its
note-on, from the same cycle.

The engine's time base is the JACK frame counter divided by the sample rate
(``time.monotonic()``-based cycles when JACK is unavailable).  Events leave
with monotonic times so the rest of the service never sees engine time.

Nothing in the callback blocks: commands arrive through a deque filled by a
reader thread, events leave through a deque drained by a sender thread.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from stage.core.chase import ChaseEstimator
from stage.core.clicksound import ClickSounds, ClickVoice
from stage.core.playback import ClickNotes, Playback, TimedClick, frame_of
from stage.core.timecode import parse_rate
from stage.core.transport import Anchor, InternalClock
from stage.core.watchdog import HEARTBEAT_INTERVAL
from stage.errors import MidiError
from stage.runtime import messages as m

log = logging.getLogger(__name__)

SOFT_SAMPLERATE = 48000
SOFT_BLOCKSIZE = 256
ANCHOR_REFRESH = 0.25  # seconds between anchor updates while chasing
STATS_INTERVAL = 1.0


@dataclass(frozen=True)
class EngineSettings:
    """What the engine process needs to know (picklable)."""

    rate: str = "24"
    source: str = "internal"  # "internal" | "mtc"
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


CLICK_AUDIO_PORT = "click_audio"


class EngineCore:
    """The per-cycle logic of the engine; the callback of :mod:`stage.adapters.jack_midi`."""

    def __init__(self, settings: EngineSettings, samplerate: int) -> None:
        self.settings = settings
        self.samplerate = samplerate
        self.rate = parse_rate(settings.rate)
        self.chasing = settings.source == "mtc"
        self.clock = InternalClock(settings.start_position)
        self.chase = ChaseEstimator(self.rate, freewheel_frames=settings.freewheel_frames) if self.chasing else None
        self.playback = Playback(
            self.rate,
            notes=settings.notes,
            click_latency=settings.click_latency,
            mtc_latency=settings.mtc_latency,
            mtc_master=settings.mtc_master and not self.chasing and settings.mtc_out,
            samplerate=samplerate,
        )
        self.voice = ClickVoice(settings.sounds.samples(samplerate))
        self.audio = False  # True once a driver renders the voice every cycle (JACK with click_audio)
        self.commands: collections.deque[m.Command] = collections.deque()
        self.outbox: collections.deque[tuple[str, Any]] = collections.deque()
        self.cycles = 0
        self.late = 0
        self.dropped = 0
        self.faults = 0  # cycles whose logic raised: caught, and the transport stopped
        self.position: float | None = None  # picture at the end of the last cycle (for the heartbeat)
        self._last_anchor: Anchor | None = None
        self._last_published = 0.0
        self._locates = (0, 0)
        self._sync_state = ""

    # Runs on the real-time thread.
    def __call__(
        self, frame0: int, nframes: int, inputs: Mapping[str, Sequence[tuple[int, bytes]]]
    ) -> Mapping[str, Sequence[tuple[int, bytes]]]:
        sr = self.samplerate
        t_a, t_b = frame0 / sr, (frame0 + nframes) / sr
        self.cycles += 1
        try:
            return self._cycle(inputs, t_a, t_b)
        except Exception as exc:  # a nonsense value must not end the clock: stop safely and go on cycling
            self._fault(exc, t_a)
            return {}

    def _cycle(
        self, inputs: Mapping[str, Sequence[tuple[int, bytes]]], t_a: float, t_b: float
    ) -> Mapping[str, Sequence[tuple[int, bytes]]]:
        sr = self.samplerate
        while self.commands:
            self._apply(self.commands.popleft(), t_a)
        anchor = self._transport(inputs, t_a)
        self.position = None if anchor is None else anchor.position(t_b)
        result = self.playback.cycle(anchor, t_a, t_b)
        self.late += result.late
        self.dropped += result.dropped
        if self.audio:
            for t, kind in result.onsets:
                self.voice.start(frame_of(t, sr), kind)
        for beat in result.beats:
            self.outbox.append(("beat", beat))
        out: dict[str, list[tuple[int, bytes]]] = {}
        for o in result.outputs:
            out.setdefault(o.port, []).append((frame_of(o.t, sr), o.data))
        return out

    # Runs on the real-time thread, right after __call__ for the same cycle.
    def render_audio(self, _port: str, frame0: int, out: memoryview[float]) -> None:
        """Fill the audio click port's buffer for the cycle starting at ``frame0``."""
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
            self.chase = ChaseEstimator(self.rate, freewheel_frames=self.settings.freewheel_frames)
            self._locates = (0, 0)
            self._sync_state = ""
        self.playback.locate()
        self.outbox.append(("fault", (exc, p, self.faults)))

    def _apply(self, cmd: m.Command, now: float) -> None:
        if isinstance(cmd, m.LoadClicks):
            self.playback.load(cmd.clicks)
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
        elif isinstance(cmd, m.Varispeed):
            self.clock.set_varispeed(cmd.speed, now)

    def _transport(self, inputs: Mapping[str, Sequence[tuple[int, bytes]]], t_a: float) -> Anchor | None:
        if self.chase is None:
            anchor: Anchor | None = self.clock.anchor
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
            if state.value != self._sync_state:
                self._sync_state = state.value
                self._sync_status()
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
            self.outbox.append(("anchor", anchor))
        self._last_anchor = anchor
        return anchor

    def _sync_status(self) -> None:
        if self.chase is not None:
            a = self.chase.anchor
            self.outbox.append(
                (
                    "sync",
                    m.SyncStatus(
                        state=self.chase.state.value,
                        locked=self.chase.locked,
                        speed=a.speed if a is not None else 0.0,
                        quarter_frames=self.chase.stats.quarter_frames,
                        locates=self.chase.stats.locates,
                    ),
                )
            )


class _SoftClock:
    """Cycles from ``time.monotonic()`` when JACK is not there.

    With ``outputs`` (the rtmidi fallback) each message is sent when its time
    comes, to the thread's precision; without, anchors and beats still flow and
    no MIDI goes out.
    """

    def __init__(
        self,
        handler: EngineCore,
        samplerate: int,
        blocksize: int,
        outputs: Mapping[str, Callable[[bytes], None]] | None = None,
    ) -> None:
        self.handler = handler
        self.samplerate = samplerate
        self.blocksize = blocksize
        self.outputs = dict(outputs or {})
        self.send_errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stage-softclock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sr = self.samplerate
        frame = round(time.monotonic() * sr)
        while not self._stop.is_set():
            out = self.handler(frame, self.blocksize, {})
            if self.outputs:
                for f, port, data in sorted((f, port, d) for port, evs in out.items() for f, d in evs):
                    delay = f / sr - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
                    try:
                        self.outputs[port](data)
                    except (MidiError, KeyError):
                        self.send_errors += 1
            frame += self.blocksize
            delay = frame / sr - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)

    def frames_to_monotonic(self, frame: int) -> float:
        return frame / self.samplerate

    def stats(self) -> tuple[int, int]:
        return 0, self.send_errors

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)


def _open_jack(settings: EngineSettings, events: multiprocessing.connection.Connection) -> tuple[EngineCore, Any]:
    from stage.adapters.jack_midi import JackMidi  # noqa: PLC0415 - only the engine process talks to JACK

    outputs = [p for p, on in (("mtc_out", settings.mtc_out), ("click_out", settings.click_out)) if on]
    inputs = ["mtc_in"] if settings.mtc_in else []
    audio = [CLICK_AUDIO_PORT] if settings.click_audio else []
    driver = JackMidi(settings.client, outputs=outputs, inputs=inputs, audio_outputs=audio, servername=settings.server)
    core = EngineCore(settings, driver.samplerate)
    driver.set_handler(core)
    if audio:
        core.audio = True
        driver.set_audio(core.render_audio)
    problems = []
    for ours, theirs in settings.connect:
        try:
            if ours == "mtc_in":
                driver.connect(theirs, driver.port_name(ours))
            else:
                driver.connect(driver.port_name(ours), theirs)
        except MidiError as exc:
            problems.append(str(exc))
    ports = tuple(driver.port_name(p) for p in [*outputs, *audio, *inputs])
    events.send(m.Ready(midi=True, samplerate=driver.samplerate, blocksize=driver.blocksize, ports=ports,
                        reason="; ".join(problems)))
    return core, driver


def _open_rtmidi(settings: EngineSettings, events: multiprocessing.connection.Connection) -> tuple[EngineCore, Any]:
    from stage.adapters.rtmidi_midi import RtMidiOut  # noqa: PLC0415 - the fallback, only when asked for

    opened: dict[str, RtMidiOut] = {}
    try:
        for port, on in (("mtc_out", settings.mtc_out), ("click_out", settings.click_out)):
            if on:
                opened[port] = RtMidiOut(settings.client, port, api=settings.rtmidi_api, servername=settings.server)
    except MidiError:
        for out in opened.values():
            out.close()
        raise
    core = EngineCore(settings, SOFT_SAMPLERATE)
    driver = _SoftClock(core, SOFT_SAMPLERATE, SOFT_BLOCKSIZE, {p: o.send for p, o in opened.items()})
    close = driver.close

    def close_all() -> None:
        close()
        for out in opened.values():
            out.close()

    driver.close = close_all  # type: ignore[method-assign]
    reason = "rtmidi fallback: messages go out to the sending thread's precision, no MTC input"
    events.send(m.Ready(midi=True, samplerate=SOFT_SAMPLERATE, blocksize=SOFT_BLOCKSIZE,
                        ports=tuple(o.name for o in opened.values()), reason=reason))
    return core, driver


def engine_main(settings: EngineSettings, commands: multiprocessing.connection.Connection,
                events: multiprocessing.connection.Connection) -> None:
    """Entry point of the engine process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when the engine stops
    logging.basicConfig(level=logging.INFO, format="engine %(levelname)s %(message)s")
    driver: Any
    try:
        if not settings.midi:
            _disabled()
        core, driver = (_open_rtmidi if settings.backend == "rtmidi" else _open_jack)(settings, events)
    except MidiError as exc:
        core = EngineCore(settings, SOFT_SAMPLERATE)
        driver = _SoftClock(core, SOFT_SAMPLERATE, SOFT_BLOCKSIZE)
        events.send(m.Ready(midi=False, samplerate=SOFT_SAMPLERATE, blocksize=SOFT_BLOCKSIZE, reason=str(exc)))
    stats: Callable[[], tuple[int, int]] = (
        driver.stats if isinstance(driver, _SoftClock) else lambda: (driver.xruns, driver.handler_errors)
    )
    source = settings.source
    done = threading.Event()

    def send_events() -> None:
        last_stats = last_beat = time.monotonic()
        while not done.is_set():
            while core.outbox:
                kind, item = core.outbox.popleft()
                if kind == "fault":
                    _log_fault(*item)
                    continue
                try:
                    ev = _translate(kind, item, driver.frames_to_monotonic, core.samplerate, source)
                except Exception:  # an event that cannot be told is dropped; the next ones still go
                    log.exception("engine event %s dropped", kind)
                    continue
                try:
                    events.send(ev)
                except (OSError, EOFError):
                    done.set()
                    return
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_INTERVAL:
                last_beat = now
                try:
                    events.send(m.Heartbeat(core.cycles, core.faults, core.position))
                except (OSError, EOFError):
                    done.set()
                    return
            if now - last_stats >= STATS_INTERVAL:
                last_stats = now
                xruns, errors = stats()
                try:
                    events.send(m.EngineStats(core.cycles, core.late, xruns, errors, core.dropped))
                except (OSError, EOFError):
                    done.set()
                    return
            time.sleep(0.002)

    sender = threading.Thread(target=send_events, name="stage-engine-events", daemon=True)
    sender.start()
    try:
        while not done.is_set():
            try:
                cmd = commands.recv()
            except (EOFError, OSError):
                break
            if isinstance(cmd, m.Shutdown):
                break
            core.commands.append(cmd)
    finally:
        done.set()
        driver.close()
        sender.join(timeout=1)


def _log_fault(exc: Exception, position: float, n: int) -> None:
    if n > 5 and n % 100:  # the first few, then one in a hundred: a fault every cycle must not flood the log
        return
    where = "the chase starts again" if math.isnan(position) else f"transport stopped at {position:.6f} s"
    log.error("engine cycle failed (fault %d): %r; %s", n, exc, where, exc_info=exc)


def _disabled() -> None:
    raise MidiError("MIDI is disabled ([midi] enabled = false)")


def _translate(kind: str, item: Any, to_mono: Callable[[int], float], sr: int, source: str) -> m.Event:
    if kind == "beat":
        c: TimedClick = item.click
        return m.BeatSounded(c.cue, c.bar, c.beat, c.kind.value, c.p, to_mono(frame_of(item.t, sr)))
    if kind == "anchor":
        a: Anchor | None = item
        if a is None:
            return m.TransportChanged(time.monotonic(), 0.0, 0.0, rolling=False, source=source)
        return m.TransportChanged(to_mono(frame_of(a.t0, sr)), a.p0, a.speed, rolling=a.rolling, source=source)
    ev: m.Event = item
    return ev


class EngineHandle:
    """The service's side of the engine process: send commands, receive events on a thread."""

    def __init__(self, settings: EngineSettings, on_event: Callable[[m.Event], None]) -> None:
        self.settings = settings
        self._on_event = on_event
        ctx = multiprocessing.get_context("spawn")
        self._cmd_recv, self._cmd_send = ctx.Pipe(duplex=False)
        self._evt_recv, self._evt_send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=engine_main,
            args=(settings, self._cmd_recv, self._evt_send),
            name="stage-engine",
            daemon=True,
        )
        self._reader = threading.Thread(target=self._read, name="stage-engine-reader", daemon=True)
        self._lock = threading.Lock()
        self.ready: m.Ready | None = None
        self._ready = threading.Event()

    def start(self, timeout: float = 15.0) -> m.Ready:
        """Start the engine process and wait until it runs."""
        self._process.start()
        self._reader.start()
        if not self._ready.wait(timeout) or self.ready is None:
            self.close()
            raise MidiError("the engine process did not start")
        return self.ready

    def send(self, cmd: m.Command) -> None:
        """Queue a command; returns at once."""
        with self._lock:
            self._cmd_send.send(cmd)

    def _read(self) -> None:
        while True:
            try:
                ev = self._evt_recv.recv()
            except (EOFError, OSError):
                return
            if isinstance(ev, m.Ready):
                self.ready = ev
                self._ready.set()
            try:
                self._on_event(ev)
            except Exception:
                log.exception("engine event handler failed")

    @property
    def alive(self) -> bool:
        """True while the engine process runs."""
        return self._process.is_alive()

    @property
    def pid(self) -> int | None:
        """The engine process's id (None before it started)."""
        return self._process.pid

    @property
    def sentinel(self) -> int:
        """A handle that becomes ready when the process ends (for :func:`multiprocessing.connection.wait`)."""
        return self._process.sentinel

    @property
    def exitcode(self) -> int | None:
        """How the process ended (negative: the signal that ended it); None while it runs."""
        return self._process.exitcode

    def answered(self) -> bool:
        """True when the engine sent something the reader thread has not taken yet (it is behind, not the engine)."""
        try:
            return self._evt_recv.poll(0)
        except (OSError, EOFError):
            return False

    def kill(self) -> None:
        """End the process at once (it is dead or not answering) and release its pipes."""
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=2)
        self._evt_send.close()
        self._reader.join(timeout=2)

    def close(self) -> None:
        """Stop the engine process."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self.send(m.Shutdown())
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=2)
        self._evt_send.close()
        self._reader.join(timeout=2)
