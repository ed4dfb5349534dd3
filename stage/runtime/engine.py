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
reader thread, events leave through a deque drained by a sender thread.  The
sender sleeps until the callback has something for it: after such a cycle
the callback writes one byte to a non-blocking pipe (a full pipe means the
sender is already due to wake, so the byte is not needed), and the sender
wakes from ``select`` on its other end.  No polling, so an event leaves the
moment its cycle ends.  The per-cycle logic is :mod:`stage.runtime.enginecore`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from stage.core.playback import TimedClick, frame_of
from stage.core.watchdog import HEARTBEAT_INTERVAL
from stage.errors import MidiError
from stage.runtime import messages as m
from stage.runtime.enginecore import (
    AnchorOut,
    BeatOut,
    CoreEvent,
    EngineCore,
    EngineSettings,
    FaultOut,
    no_wake,
)
from stage.runtime.enginemmc import MmcCountsOut, MmcIn
from stage.runtime.ports import DriverOpener

log = logging.getLogger(__name__)

SOFT_SAMPLERATE = 48000
SOFT_BLOCKSIZE = 256
STATS_INTERVAL = 1.0


class SoftClock:
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


def engine_main(settings: EngineSettings, commands: multiprocessing.connection.Connection,
                events: multiprocessing.connection.Connection, open_driver: DriverOpener) -> None:
    """Entry point of the engine process; ``open_driver`` opens the MIDI/audio backend (an adapter's)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when the engine stops
    logging.basicConfig(level=logging.INFO, format="engine %(levelname)s %(message)s")
    driver: Any
    try:
        if not settings.midi:
            _disabled()
        core, driver = open_driver(settings, events)
    except MidiError as exc:
        core = EngineCore(settings, SOFT_SAMPLERATE)
        driver = SoftClock(core, SOFT_SAMPLERATE, SOFT_BLOCKSIZE)
        events.send(m.Ready(midi=False, samplerate=SOFT_SAMPLERATE, blocksize=SOFT_BLOCKSIZE, reason=str(exc)))
    stats: Callable[[], tuple[int, int]] = (
        driver.stats if isinstance(driver, SoftClock) else lambda: (driver.xruns, driver.handler_errors)
    )
    source = settings.source
    done = threading.Event()
    woken, wake = os.pipe()
    os.set_blocking(wake, False)  # the real-time thread writes here: never wait
    os.set_blocking(woken, False)
    core.wake = lambda: _poke(wake)

    def send(ev: m.Event) -> bool:
        """Send one event; False once the service's end is gone (and then the engine stops)."""
        try:
            events.send(ev)
        except (OSError, EOFError):
            done.set()
            return False
        return True

    def send_events() -> None:
        last_stats = last_beat = time.monotonic()
        while not done.is_set():
            with contextlib.suppress(BlockingIOError):
                os.read(woken, 4096)  # before draining: a cycle that ends meanwhile writes again
            while core.outbox:
                item = core.outbox.popleft()
                if isinstance(item, FaultOut):
                    _log_fault(item.exc, item.position, item.count)
                    continue
                try:
                    ev = _translate(item, driver.frames_to_monotonic, core.samplerate, source)
                except Exception:  # an event that cannot be told is dropped; the next ones still go
                    log.exception("engine event %r dropped", item)
                    continue
                if not send(ev):
                    return
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_INTERVAL:
                last_beat = now
                if not send(m.Heartbeat(core.cycles, core.faults, core.position)):
                    return
            if now - last_stats >= STATS_INTERVAL:
                last_stats = now
                xruns, errors = stats()
                chase = core.chase  # read from this thread: a float the real-time thread last wrote, whole
                error = chase.error if chase is not None else None
                if not send(m.EngineStats(core.cycles, core.late, xruns, errors, core.dropped, error)):
                    return
            due = min(last_beat + HEARTBEAT_INTERVAL, last_stats + STATS_INTERVAL) - time.monotonic()
            select.select([woken], [], [], max(due, 0.0))  # until a cycle has events, or a report is due

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
        _poke(wake)
        driver.close()
        sender.join(timeout=1)
        core.wake = no_wake
        os.close(wake)
        os.close(woken)


def _log_fault(exc: Exception, position: float, n: int) -> None:
    if n > 5 and n % 100:  # the first few, then one in a hundred: a fault every cycle must not flood the log
        return
    where = "the chase starts again" if math.isnan(position) else f"transport stopped at {position:.6f} s"
    log.error("engine cycle failed (fault %d): %r; %s", n, exc, where, exc_info=exc)


def _disabled() -> None:
    raise MidiError("MIDI is disabled ([midi] enabled = false)")


def _poke(fd: int) -> None:
    """Wake the sender: one byte, never waiting (a full pipe wakes it already)."""
    with contextlib.suppress(BlockingIOError, OSError):
        os.write(fd, b"\0")


def _translate(item: CoreEvent, to_mono: Callable[[int], float], sr: int, source: str) -> m.Event:
    match item:
        case BeatOut(beat):
            c: TimedClick = beat.click
            return m.BeatSounded(c.cue, c.bar, c.beat, c.kind.value, c.p, to_mono(frame_of(beat.t, sr)))
        case AnchorOut(None):
            return m.TransportChanged(time.monotonic(), 0.0, 0.0, rolling=False, source=source)
        case AnchorOut(a) if a is not None:
            return m.TransportChanged(to_mono(frame_of(a.t0, sr)), a.p0, a.speed, rolling=a.rolling, source=source)
        case m.SyncStatus():
            return item
        case MmcIn(message):
            return m.MmcReceived(message, to_mono(frame_of(message.t, sr)))
        case MmcCountsOut(stats, problem):
            return m.MmcCounts(stats, problem)
    raise AssertionError(item)  # pragma: no cover - faults are logged, not sent


class EngineHandle:
    """The service's side of the engine process: send commands, receive events on a thread."""

    def __init__(
        self, settings: EngineSettings, on_event: Callable[[m.Event], None], *, open_driver: DriverOpener
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        ctx = multiprocessing.get_context("spawn")
        self._cmd_recv, self._cmd_send = ctx.Pipe(duplex=False)
        self._evt_recv, self._evt_send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=engine_main,
            args=(settings, self._cmd_recv, self._evt_send, open_driver),
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
        """Stop the engine process: asked to, then killed if it has not ended within 5 s."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self.send(m.Shutdown())
            self._process.join(timeout=5)
        self.kill()

