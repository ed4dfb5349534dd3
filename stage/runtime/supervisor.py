"""The engine supervised: its heartbeat watched, its death noticed, a new one started and the transport brought back.

The engine process sends a heartbeat from its sender thread (never from the
timing path, which waits on nothing).  A watcher thread here waits on the
process's sentinel, so an exit (SIGKILL, a crash of the interpreter) is seen
at once, and asks the :class:`~stage.core.watchdog.Watchdog` every
:data:`CHECK_INTERVAL` whether the heartbeats or the cycles they count have
stopped (a hung process, a dead soft-clock thread, a JACK callback no longer
called).

A silence of :data:`~stage.core.watchdog.HEARTBEAT_TIMEOUT` makes the engine
*stalled*: ``on_status`` is told, commands are refused, nothing else is done
(a host too busy to run it for a moment must not cost the take); an engine
that answers again is ``running`` again.  An exit, or a silence of
:data:`~stage.core.watchdog.GIVE_UP_AFTER`, makes it dead.  When the engine
is dead the supervisor

1. says so (:class:`EngineStatus` ``restarting`` to ``on_status``), then hands
   on a transport event that stops picture where it was when the engine was
   last seen cycling (listeners end a take that was rolling);
2. kills what is left of the process and starts a new one: the internal
   clock starts where the last heartbeat put picture (at most
   :data:`~stage.core.watchdog.HEARTBEAT_INTERVAL` before the death, and
   past any click the engine sent), stopped (a varispeed is not carried over: it may be
   what killed the engine); a chase starts from nothing and locks again on
   the incoming MTC;
3. gives the new engine the clicks the service last loaded, and only then
   says ``running`` again: a command never reaches an engine without its
   clicks.

An engine that keeps dying is restarted after growing delays
(:class:`~stage.core.watchdog.RestartPolicy`).  Meanwhile commands are
refused with :class:`~stage.errors.EngineUnavailable` (ask again); clicks
loaded meanwhile are kept for the new engine.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing.connection
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stage.core.transport import Anchor
from stage.core.watchdog import GIVE_UP_AFTER, HEARTBEAT_TIMEOUT, EngineState, RestartPolicy, Watchdog
from stage.errors import EngineUnavailable
from stage.runtime import messages as m
from stage.runtime.engine import EngineHandle
from stage.runtime.enginecore import EngineSettings
from stage.runtime.ports import DriverOpener

log = logging.getLogger(__name__)

CHECK_INTERVAL = 0.02  # seconds between looks at the heartbeat
START_TIMEOUT = 15.0  # seconds an engine process has to come up
MIDI_RETRY = 3.0  # seconds a restart keeps trying for MIDI when the engine before had it (JACK frees a name late)


@dataclass(frozen=True)
class EngineStatus:
    """The engine as health, screens and transports are told of it."""

    state: EngineState
    restarts: int = 0  # how many times it was restarted since the service started
    reason: str = ""  # why it last died (empty if it never did)
    since: float = 0.0  # monotonic time the state began
    pid: int | None = None
    faults: int = 0  # cycles of the running engine whose logic raised (caught; the transport stopped)

    @property
    def up(self) -> bool:
        """True when the engine takes commands (or the service runs without one by design)."""
        return self.state in (EngineState.RUNNING, EngineState.DISABLED)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (``/api/health``, the ``transport`` topic)."""
        return {"state": self.state.value, "restarts": self.restarts, "reason": self.reason, "since": self.since,
                "pid": self.pid, "faults": self.faults}


def exit_reason(exitcode: int | None) -> str:
    """How an engine process ended, in words."""
    if exitcode is None:
        return "the engine process ended"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the engine process was killed by {name}"
    return f"the engine process exited with status {exitcode}"


def resume_position(
    seen: float | None, anchor: Anchor | None, fallback: float = 0.0, *, sounded: float | None = None,
    samplerate: int = 48000,
) -> float:
    """Where picture was when the engine was last seen cycling: where the new engine starts, stopped.

    ``seen`` is the position its last heartbeat reported (the end of a cycle,
    in the engine's own time); without one, where ``anchor`` (the last
    transport it reported) stood, else ``fallback``.  ``sounded`` is the
    position of the last click the engine sent under ``anchor``: picture was
    at least a sample past it (it may have gone out after the last
    heartbeat), so rolling again never sounds it twice.  As the heartbeat
    is at most one interval old, no click is skipped either.
    """
    candidates = (seen, None if anchor is None else anchor.p0, fallback)
    p = next((v for v in candidates if v is not None and math.isfinite(v)), 0.0)
    if anchor is not None and anchor.speed > 0 and sounded is not None and sounded >= p:
        p = sounded + anchor.speed / samplerate
    return p


class Supervisor:
    """Runs the engine process (:class:`~stage.runtime.engine.EngineHandle`), watches it, restarts it.

    It stands where the service held the handle: :meth:`start`, :meth:`send`,
    :attr:`alive`, :meth:`close`.  ``on_event`` gets the engine's events
    (heartbeats excepted) on the engine's reader thread; ``on_status`` gets
    each :class:`EngineStatus` on the watcher thread.  ``open_driver`` opens
    the backend in each engine process it starts (:class:`DriverOpener`).
    """

    def __init__(
        self,
        settings: EngineSettings,
        on_event: Callable[[m.Event], None],
        on_status: Callable[[EngineStatus], None],
        *,
        open_driver: DriverOpener,
        timeout: float = HEARTBEAT_TIMEOUT,
        give_up: float = GIVE_UP_AFTER,
        policy: RestartPolicy | None = None,
        start_timeout: float = START_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._open_driver = open_driver
        self._on_event = on_event
        self._on_status = on_status
        self._watchdog = Watchdog(timeout, give_up)
        self._policy = policy or RestartPolicy()
        self._start_timeout = start_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._handle: EngineHandle | None = None
        self._generation = 0  # events of an engine that was replaced are dropped
        self._clicks: m.LoadClicks | None = None  # the latest clicks loaded …
        self._delivered: m.LoadClicks | None = None  # … and the ones the running engine has
        self._anchor: Anchor | None = None
        self._sounded: float | None = None  # the last click sent under that anchor
        self._seen: float | None = None  # picture at the end of the last cycle, from the last heartbeat
        self._samplerate = 48000
        self._started_at = 0.0
        self._status = EngineStatus(EngineState.STARTING, since=clock())
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None
        self.first_ready: m.Ready | None = None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> m.Ready:
        """Start the engine process, wait until it runs, then watch it (blocking; :class:`MidiError` if it fails)."""
        ready = self._spawn(self.settings, self._start_timeout if timeout is None else timeout)
        self.first_ready = ready
        self._give_clicks_and_run()
        self._watcher = threading.Thread(target=self._watch, name="stage-engine-watch", daemon=True)
        self._watcher.start()
        return ready

    def close(self) -> None:
        """Stop watching and stop the engine process."""
        self._closing.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=self._start_timeout + 5)
        self._drop_handle()
        self._set(EngineState.STOPPED)

    # -- commands --------------------------------------------------------------------------------

    @property
    def status(self) -> EngineStatus:
        """The engine's state now."""
        return self._status

    @property
    def alive(self) -> bool:
        """True while an engine runs and takes commands."""
        return self._status.state is EngineState.RUNNING

    @property
    def pid(self) -> int | None:
        """The running engine process's id."""
        handle = self._handle
        return None if handle is None else handle.pid

    def send(self, cmd: m.Command) -> None:
        """Queue a command for the engine; returns at once.

        Clicks are kept and handed to every later engine, so they are never
        refused; anything else while no engine runs is :class:`EngineUnavailable`.
        """
        with self._lock:
            if isinstance(cmd, m.LoadClicks):
                self._clicks = cmd
            handle = self._handle if self._status.state is EngineState.RUNNING else None
        if handle is None:
            if isinstance(cmd, m.LoadClicks):
                return  # the engine gets them when it runs again
            raise EngineUnavailable(self._unavailable())
        try:
            handle.send(cmd)  # outside the lock: a full pipe to a hung engine must not hold up the watcher
        except OSError as exc:
            if isinstance(cmd, m.LoadClicks):
                return
            raise EngineUnavailable(f"the engine did not take the command ({exc}); it is being restarted") from None
        if isinstance(cmd, m.LoadClicks):
            with self._lock:
                self._delivered = cmd

    def _unavailable(self) -> str:
        s = self._status
        if s.state is EngineState.RESTARTING:
            return f"the engine is restarting ({s.reason}): ask again in a moment"
        if s.state is EngineState.STALLED:
            return f"the engine is not answering ({s.reason}): ask again in a moment"
        return f"the engine is {s.state.value}"

    # -- the engine's events (its reader thread) --------------------------------------------------

    def _event(self, generation: int, ev: m.Event) -> None:
        status: EngineStatus | None = None
        with self._lock:
            if generation != self._generation:
                return
            if isinstance(ev, m.Heartbeat):
                self._watchdog.beat(self._clock(), ev.cycles)
                self._seen = ev.position
                if ev.faults != self._status.faults:  # told at most once a heartbeat, however many cycles failed
                    self._status = status = dataclasses.replace(self._status, faults=ev.faults)
            elif isinstance(ev, m.TransportChanged):
                self._anchor = Anchor(ev.t0, ev.p0, ev.speed)
                self._sounded = None
            elif isinstance(ev, m.BeatSounded):
                self._sounded = ev.p
        if status is not None:
            self._on_status(status)
        elif not isinstance(ev, m.Heartbeat):
            self._on_event(ev)

    # -- watching and restarting (the watcher thread) ---------------------------------------------

    def _spawn(self, settings: EngineSettings, timeout: float) -> m.Ready:
        with self._lock:
            self._generation += 1
            generation = self._generation
        handle = EngineHandle(settings, lambda ev: self._event(generation, ev), open_driver=self._open_driver)
        ready = handle.start(timeout)  # MidiError (and the process closed) if it does not come up
        with self._lock:
            self._handle = handle
            self._delivered = None
            self._samplerate = ready.samplerate
            now = self._clock()
            self._watchdog.started(now)
            self._started_at = now
        return ready

    def _give_clicks_and_run(self) -> None:
        """Hand the engine the latest clicks, then take commands: clicks loaded meanwhile are not lost."""
        while True:
            with self._lock:
                handle, clicks = self._handle, self._clicks
                if clicks is self._delivered or handle is None:
                    self._status = status = dataclasses.replace(
                        self._status, state=EngineState.RUNNING, since=self._clock(),
                        pid=None if handle is None else handle.pid)
                    break
            assert clicks is not None
            try:
                handle.send(clicks)
            except OSError:
                return  # died already: the watcher sees it on its next look
            with self._lock:
                self._delivered = clicks
        self._on_status(status)

    def _watch(self) -> None:
        while not self._closing.is_set():
            handle = self._handle
            if handle is None:
                log.error("engine: no engine to watch any more; commands will be refused")
                return
            ended = multiprocessing.connection.wait([handle.sentinel], timeout=CHECK_INTERVAL)
            if self._closing.is_set():
                return
            if ended:
                handle.kill()  # reaps it: its exit code is known from here on
            with self._lock:
                verdict = None if ended else self._watchdog.verdict(self._clock())
                state = self._status.state
            if verdict is not None and handle.answered():
                continue  # heartbeats wait in the pipe: this process was too busy to read them, the engine is fine
            try:
                if ended or (verdict is not None and verdict.dead):
                    self._restart(handle, exit_reason(handle.exitcode) if ended or verdict is None else verdict.reason)
                elif verdict is not None and state is EngineState.RUNNING:
                    self._stalled(verdict.reason)
                elif verdict is None and state is EngineState.STALLED:
                    log.warning("engine: answering again")
                    self._give_clicks_and_run()  # recovered: commands again, with the clicks loaded meanwhile
            except Exception:  # the watcher must outlive anything a restart meets
                log.exception("engine: restarting failed")

    def _stalled(self, reason: str) -> None:
        with self._lock:
            self._status = status = dataclasses.replace(self._status, state=EngineState.STALLED, reason=reason,
                                                        since=self._clock())
        log.error("engine: %s; it is given %g s to answer before it is replaced", reason, self._watchdog.give_up)
        self._on_status(status)

    def _restart(self, dead: EngineHandle, reason: str) -> None:
        now = self._clock()
        with self._lock:
            self._generation += 1  # whatever the old engine still says is not heard
            self._handle = None
            position = resume_position(self._seen, self._anchor, self.settings.start_position,
                                       sounded=self._sounded, samplerate=self._samplerate)
            self._anchor, self._sounded, self._seen = Anchor(now, position, 0.0), None, position
            restarts = self._status.restarts + 1
            self._status = status = EngineStatus(EngineState.RESTARTING, restarts, reason, now, None)
        log.error("engine: %s; restarting it (restart %d), picture stopped at %.6f s", reason, restarts, position)
        self._on_status(status)
        self._on_event(m.TransportChanged(now, position, 0.0, rolling=False, source=self.settings.source))
        dead.kill()
        settings = self.settings
        if settings.source == "internal":
            settings = dataclasses.replace(settings, start_position=position)
        delay = self._policy.delay(self._started_at, now)
        midi_until = self._clock() + MIDI_RETRY
        while True:
            if self._closing.wait(delay) if delay > 0 else self._closing.is_set():
                return
            try:
                ready = self._spawn(settings, self._start_timeout)
            except Exception as exc:  # whatever stopped this start, the next one may work
                log.error("engine: the new engine did not start (%s)", exc)  # noqa: TRY400 -- the reason says it all
                delay = self._policy.failed_start()
                continue
            had_midi = self.first_ready is not None and self.first_ready.midi
            if had_midi and not ready.midi and self._clock() < midi_until:
                # JACK may still hold the dead engine's client name for a moment: try again for MIDI.
                self._drop_handle()
                delay = 0.1
                continue
            if had_midi and not ready.midi:
                log.error("engine: restarted without MIDI: %s", ready.reason)
            break
        log.info("engine: running again (pid %s)", self.pid)
        self._give_clicks_and_run()

    def _drop_handle(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
            self._generation += 1
        if handle is not None:
            handle.close()

    def _set(self, state: EngineState) -> None:
        with self._lock:
            self._status = status = dataclasses.replace(self._status, state=state, since=self._clock(), pid=None)
        self._on_status(status)


__all__ = ["CHECK_INTERVAL", "MIDI_RETRY", "START_TIMEOUT", "EngineStatus", "Supervisor", "exit_reason",
           "resume_position"]
