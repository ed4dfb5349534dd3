"""The running service: cue sheet, engine process, event bus, and the commands on them.

The asyncio side never sits on the timing path: commands go to the engine
process through a pipe and return at once; engine events come back on a
reader thread and are handed to the loop with ``call_soon_threadsafe``.
The engine is supervised (:mod:`stage.runtime.supervisor`): its state is
:attr:`Service.engine_status`, told to :attr:`Service.engine_listeners` and
carried by every ``transport`` event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from stage.config import Config
from stage.core.cuesheet import Cue, CueSheet
from stage.core.playback import ClickNotes, TimedClick
from stage.core.timecode import Timecode, frame_at
from stage.core.transport import Anchor
from stage.core.watchdog import EngineState
from stage.errors import NotFound, SessionError
from stage.runtime import messages as m
from stage.runtime.bus import EventBus
from stage.runtime.engine import EngineSettings
from stage.runtime.supervisor import EngineStatus, Supervisor

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 2.0  # seconds the engine has to confirm a locate


def engine_settings(config: Config, rate: str) -> EngineSettings:
    """The engine's settings from the service configuration, for picture at ``rate``."""
    midi = config.midi
    ch = midi.channel - 1
    connect = tuple(
        [("mtc_out", p) for p in midi.connect_mtc_out]
        + [("click_out", p) for p in midi.connect_click_out]
        + [("mtc_in", p) for p in midi.connect_mtc_in]
    )
    return EngineSettings(
        rate=rate,
        source=config.clock.source,
        mtc_master=config.clock.master,
        freewheel_frames=config.clock.freewheel_frames,
        midi=midi.enabled,
        backend=midi.backend,
        rtmidi_api=midi.rtmidi_api,
        client=midi.client,
        server=midi.server,
        mtc_out=midi.mtc_out,
        mtc_in=midi.mtc_in,
        click_out=midi.click_out,
        connect=connect,
        notes=ClickNotes(
            channel=ch,
            accent=(midi.accent.note, midi.accent.velocity),
            normal=(midi.click.note, midi.click.velocity),
            warning=(midi.warning.note, midi.warning.velocity),
            length=midi.note_ms / 1000,
        ),
        click_latency=midi.latency_ms / 1000,
        mtc_latency=midi.mtc_latency_ms / 1000,
    )


def cue_clicks(cue: Cue) -> list[TimedClick]:
    """The clicks of ``cue`` at absolute picture positions."""
    if cue.clicks is None:
        return []
    base = cue.downbeat
    return [TimedClick(float(base + c.time), c.kind, cue.id, c.bar, c.beat) for c in cue.clicks.clicks]


@dataclass(frozen=True)
class TransportView:
    """The transport as the rest of the service sees it (monotonic clock)."""

    anchor: Anchor
    rolling: bool
    source: str


TransportListener = Callable[[TransportView, TransportView], None]
"""Told ``(before, after)`` on the loop each time the engine reports a new transport anchor."""

ArmCheck = Callable[[str | None], None]
"""Asked before a cue is armed (``None``: disarm); raises :class:`SessionError` to refuse."""

EngineListener = Callable[[EngineStatus], None]
"""Told on the loop each time the engine's state changes (before the transport it left behind is published)."""


class Service:
    """Owns the engine and the bus; the one place commands come through.

    Other parts of the service (the take logger) follow the transport through
    :attr:`transport_listeners` and may veto arming through :attr:`arm_checks`.
    """

    def __init__(self, config: Config, sheet: CueSheet, *, engine: bool = True) -> None:
        self.config = config
        self.sheet = sheet
        self.rate = sheet.rate
        self.bus = EventBus()
        self.armed: Cue | None = None
        idle = Anchor(time.monotonic(), 0.0, 0.0)
        self.transport = TransportView(idle, rolling=False, source=config.clock.source)
        self.current_cue: Cue | None = None
        self.engine_ready: m.Ready | None = None
        self.stats: m.EngineStats | None = None
        self.sync: m.SyncStatus | None = None
        self.last_beat: m.BeatSounded | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cue_timer: asyncio.TimerHandle | None = None
        self.transport_listeners: list[TransportListener] = []
        self.arm_checks: list[ArmCheck] = []
        self.engine_listeners: list[EngineListener] = []
        settings = engine_settings(config, sheet.rate.name)
        self._engine = Supervisor(settings, self._from_engine_thread, self._from_supervisor) if engine else None
        self.engine_status = EngineStatus(EngineState.STARTING if engine else EngineState.DISABLED)
        if config.clock.rate is not None and config.clock.rate != sheet.rate.name:
            log.warning("config [clock] rate %s differs from the cue sheet's %s: using the sheet's",
                        config.clock.rate, sheet.rate.name)

    # -- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the engine process and load every cue's clicks."""
        self._loop = asyncio.get_running_loop()
        if self._engine is not None:
            ready = await asyncio.to_thread(self._engine.start)
            if ready.midi:
                log.info("engine: JACK MIDI at %d Hz, %d frames a cycle: %s",
                         ready.samplerate, ready.blocksize, ", ".join(ready.ports))
                if ready.reason:
                    log.warning("engine: %s", ready.reason)
            else:
                log.warning("engine: running without MIDI: %s", ready.reason)
        self._load_clicks()
        self._track_cue()

    async def stop(self) -> None:
        """Stop the engine process."""
        if self._cue_timer is not None:
            self._cue_timer.cancel()
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)

    # -- commands ------------------------------------------------------------------

    def cue(self, cue_id: str) -> Cue:
        """The cue ``cue_id`` or :class:`NotFound`."""
        try:
            return self.sheet.cue(cue_id)
        except KeyError as exc:
            raise NotFound(str(exc.args[0])) from None

    def arm(self, cue_id: str | None) -> Cue | None:
        """Arm a cue (None: disarm, every cue clicks)."""
        cue = self.cue(cue_id) if cue_id is not None else None
        for check in tuple(self.arm_checks):
            check(cue.id if cue is not None else None)
        self.armed = cue
        self._load_clicks()
        self.bus.publish("session", {"armed": self.armed.id if self.armed else None})
        return self.armed

    def play(self) -> None:
        """Roll the internal clock."""
        self._internal_only("play")
        self._send(m.Play())

    def stop_transport(self) -> None:
        """Stop the internal clock."""
        self._internal_only("stop")
        self._send(m.Stop())

    def locate(self, position: float) -> None:
        """Jump to picture seconds ``position``."""
        self._internal_only("locate")
        if position < 0:
            raise SessionError("cannot locate before 00:00:00:00")
        self._send(m.Locate(position))

    async def located(self, position: float) -> TransportView:
        """Wait until the engine reports the transport at ``position``: call right after a locate.

        The engine applies a locate on its next cycle; until then the anchor
        is the old one.  :class:`SessionError` if it has not answered within :data:`CONFIRM_TIMEOUT`.
        """
        assert self._loop is not None
        done: asyncio.Future[TransportView] = self._loop.create_future()

        def hear(_before: TransportView, after: TransportView) -> None:
            if abs(after.anchor.p0 - position) < 1e-9 and not done.done():
                done.set_result(after)

        self.transport_listeners.append(hear)
        try:
            async with asyncio.timeout(CONFIRM_TIMEOUT):
                return await done
        except TimeoutError:
            msg = f"the engine did not confirm the locate within {CONFIRM_TIMEOUT:g} s"
            raise SessionError(msg) from None
        finally:
            self.transport_listeners.remove(hear)

    def locate_timecode(self, text: str) -> float:
        """Jump to a timecode; returns picture seconds."""
        position = float(Timecode.parse(text, self.rate).picture_seconds)
        self.locate(position)
        return position

    def locate_bar(self, bar: int, beat: float = 1, cue_id: str | None = None) -> float:
        """Jump to bar|beat of ``cue_id`` (or the armed cue)."""
        cue = self.cue(cue_id) if cue_id else self.armed
        if cue is None:
            raise SessionError("no cue is armed: arm one or name the cue to locate to a bar")
        if cue.clicks is None:
            raise SessionError(f"cue {cue.id} is free timing: it has no bars")
        position = float(cue.downbeat + cue.clicks.time_of(bar, Fraction(str(beat))))
        self.locate(position)
        return position

    def varispeed(self, speed: float) -> None:
        """Set the internal clock's speed."""
        self._internal_only("varispeed")
        if not -4.0 <= speed <= 4.0 or speed == 0:
            raise SessionError(f"varispeed {speed} is out of range (non-zero, -4 to 4)")
        self._send(m.Varispeed(speed))

    def position(self, now: float | None = None) -> float:
        """Picture seconds now."""
        return self.transport.anchor.position(time.monotonic() if now is None else now)

    def timecode(self, now: float | None = None) -> Timecode:
        """Timecode of the frame the picture is in now."""
        p = max(self.position(now), 0.0)
        return Timecode.from_frames(frame_at(p, self.rate), self.rate)

    def transport_state(self) -> dict[str, Any]:
        """The transport as plain data."""
        now = time.monotonic()
        a = self.transport.anchor
        return {
            "rolling": self.transport.rolling,
            "source": self.transport.source,
            "speed": a.speed,
            "position": self.position(now),
            "timecode": str(self.timecode(now)),
            "anchor": {"t0": a.t0, "p0": a.p0, "speed": a.speed},
            "server_time": now,
            "armed": self.armed.id if self.armed else None,
            "cue": self.current_cue.id if self.current_cue else None,
            "midi": bool(self.engine_ready and self.engine_ready.midi),
            "sync": None if self.sync is None else {"state": self.sync.state, "locked": self.sync.locked},
            "engine": {k: v for k, v in self.engine_status.as_dict().items() if k in ("state", "restarts", "reason")},
        }

    # -- engine events -------------------------------------------------------------

    def _from_engine_thread(self, ev: m.Event) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_engine_event, ev)
        elif isinstance(ev, m.Ready):
            self.engine_ready = ev

    def _from_supervisor(self, status: EngineStatus) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_engine_status, status)
        else:
            self.engine_status = status

    def _on_engine_status(self, status: EngineStatus) -> None:
        before, self.engine_status = self.engine_status, status
        if (before.state, before.restarts) == (status.state, status.restarts):
            return  # only the fault count moved: health shows it, nobody else needs telling
        for listener in tuple(self.engine_listeners):
            try:
                listener(status)
            except Exception:  # one broken listener must not keep the others from hearing
                log.exception("engine listener failed")
        self.bus.publish("transport", self.transport_state())

    def _on_engine_event(self, ev: m.Event) -> None:
        if isinstance(ev, m.Ready):
            self.engine_ready = ev
        elif isinstance(ev, m.TransportChanged):
            before = self.transport
            self.transport = TransportView(Anchor(ev.t0, ev.p0, ev.speed), ev.rolling, ev.source)
            self.bus.publish("transport", self.transport_state())
            self._track_cue()
            for listener in tuple(self.transport_listeners):
                try:
                    listener(before, self.transport)
                except Exception:  # one broken listener must not keep the others from hearing
                    log.exception("transport listener failed")
        elif isinstance(ev, m.BeatSounded):
            self.last_beat = ev
            self.bus.publish("beat", {"cue": ev.cue, "bar": ev.bar, "beat": ev.beat, "kind": ev.kind,
                                      "position": ev.p, "time": ev.t})
        elif isinstance(ev, m.SyncStatus):
            self.sync = ev
            self.bus.publish("sync", {"state": ev.state, "locked": ev.locked, "speed": ev.speed,
                                      "quarter_frames": ev.quarter_frames, "locates": ev.locates})
        elif isinstance(ev, m.EngineStats):
            self.stats = ev

    # -- cue tracking --------------------------------------------------------------

    def _track_cue(self) -> None:
        """Publish cue entered/left now, and set a timer for the next boundary."""
        if self._cue_timer is not None:
            self._cue_timer.cancel()
            self._cue_timer = None
        now = time.monotonic()
        p = self.position(now)
        inside = next((c for c in self.sheet.cues if _span(c)[0] <= p < _span(c)[1]), None)
        if inside is not self.current_cue:
            if self.current_cue is not None:
                self.bus.publish("cue", {"event": "left", "cue": self.current_cue.id, "position": p})
            if inside is not None:
                self.bus.publish("cue", {"event": "entered", "cue": inside.id, "position": p})
            self.current_cue = inside
        a = self.transport.anchor
        if not a.rolling or self._loop is None:
            return
        edges = [e for c in self.sheet.cues for e in _span(c)]
        ahead = [e for e in edges if (e - p) * a.speed > 0]
        if ahead:
            target = min(ahead, key=lambda e: abs(e - p))
            self._cue_timer = self._loop.call_at(a.time_of(target) + 1e-4, self._track_cue)

    def _load_clicks(self) -> None:
        cues = [self.armed] if self.armed is not None else list(self.sheet.cues)
        clicks = tuple(c for cue in cues for c in cue_clicks(cue))
        if self._engine is not None:
            self._engine.send(m.LoadClicks(clicks))  # kept for the next engine while none runs

    def _send(self, cmd: m.Command) -> None:
        if self._engine is None:
            raise SessionError("the engine is not running")
        self._engine.send(cmd)  # EngineUnavailable while it restarts

    def _internal_only(self, what: str) -> None:
        if self.config.clock.source != "internal":
            raise SessionError(f"cannot {what}: picture is chased from MTC ([clock] source = \"mtc\")")


def _span(cue: Cue) -> tuple[float, float]:
    """Picture seconds from the cue's first click (or start) to its end."""
    return float(cue.downbeat + cue.first_time), float(cue.downbeat + cue.end_time)
