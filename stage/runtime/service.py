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
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from stage.config import Config
from stage.core import limits
from stage.core.cuesheet import Cue, CueSheet
from stage.core.cut import Picture
from stage.core.ltc import MAX_NOMINAL, parse_user_bits
from stage.core.mmc import MmcStats
from stage.core.playback import ClickNotes, TimedClick
from stage.core.protocol import Topic
from stage.core.schedule import (
    CueEvent,
    EventKind,
    Pickup,
    click_kind,
    cue_revision,
    cue_schedule,
    first_click,
    pickup_schedule,
)
from stage.core.timecode import Rate, Timecode, frame_at
from stage.core.transport import Anchor
from stage.core.watchdog import EngineState
from stage.errors import ConfigError, NotFound, SessionError, StageError, TempoError, TimecodeError
from stage.runtime import messages as m
from stage.runtime.bus import EventBus
from stage.runtime.enginecore import EngineSettings
from stage.runtime.master import Master
from stage.runtime.ports import DriverOpener
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
        + [("click_audio", p) for p in config.click.connect]
        + [("ltc_out", p) for p in config.ltc.connect_out]
        + [("ltc_in", p) for p in config.ltc.connect_in]
        + [("mmc_out", p) for p in config.mmc.connect_out]
        + [("mmc_in", p) for p in config.mmc.connect_in]
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
        click_audio=config.click.audio,
        sounds=config.click.sounds(),
        ltc_out=config.ltc.out,
        ltc_level_db=config.ltc.level_db,
        ltc_user_bits=parse_user_bits(config.ltc.user_bits),
        ltc_latency=config.ltc.latency_ms / 1000,
        mmc=config.mmc.enabled,
        mmc_device=config.mmc.device_id,
    )


def check_clock(config: Config, rate: Rate) -> None:
    """:class:`ConfigError` when the configured clock cannot run at the picture's ``rate``.

    A chased source must be able to carry the rate: MTC and LTC stop at 30
    frames a second (their frame numbers have two tens bits).
    """
    source = config.clock.source
    if source != "internal" and rate.nominal > MAX_NOMINAL:
        raise ConfigError(f"[clock] source = \"{source}\": {source.upper()} cannot carry {rate} fps picture "
                          "(23.976, 24, 25, 29.97, 29.97df or 30 only)")


def cue_clicks(cue: Cue, events: list[CueEvent] | None = None) -> list[TimedClick]:
    """The clicks of ``cue`` (or of its schedule ``events``, a pickup's say) at absolute picture positions."""
    base = cue.downbeat
    if events is None:
        if cue.clicks is None:
            return []
        return [TimedClick(float(base + c.time), c.kind, cue.id, c.bar, c.beat) for c in cue.clicks.clicks]
    return [
        TimedClick(float(base + e.time), click_kind(e), cue.id, e.bar or 0, int(e.beat or 0))
        for e in events
        if e.kind in (EventKind.WARNING, EventKind.CLICK)
    ]


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

SheetCheck = Callable[[CueSheet], None]
"""Told of a new cue sheet before it replaces the running one; raises :class:`SessionError` to refuse."""

SessionDetail = Callable[[], dict[str, Any]]
"""The take log's part of the session state: ``mode``, ``rolling``, ``take``, ``next_take``, ``unstored``."""

PictureCheck = Callable[[], None]
"""Asked before a new picture revision replaces the current one; raises :class:`SessionError` to refuse."""

EngineListener = Callable[[EngineStatus], None]
"""Told on the loop each time the engine's state changes (before the transport it left behind is published)."""

MmcListener = Callable[[m.MmcReceived], None]
"""Told on the loop of each MMC command for this stage that arrived on ``<client>:mmc_in``."""


class Service:
    """Owns the engine, the bus and the session's state (the armed cue, the pickup cued up, the plan).

    Commands reach it through :class:`~stage.runtime.commands.Controls`, the one
    way in.  Other parts of the service (the take logger) follow the transport
    through :attr:`transport_listeners` and may veto arming through :attr:`arm_checks`.

    ``open_driver`` opens the engine's backend in the engine process (the
    composition root gives :func:`stage.adapters.engine_drivers.open_driver`);
    ``None`` runs no engine at all.
    """

    def __init__(self, config: Config, sheet: CueSheet, *, open_driver: DriverOpener | None) -> None:
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
        self.last_beat: m.BeatSounded | None = None  # the latest click: what shows the engine is clicking
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cue_timer: asyncio.TimerHandle | None = None
        self.pickup: Pickup | None = None  # the pickup cued up on the armed cue; None: from the top
        self._pickup_once = False  # cued up by a play: back to the top once picture stops
        self.plan_revision = 0  # goes up whenever what the engine plays and screens show changes
        self.transport_listeners: list[TransportListener] = []
        self.arm_checks: list[ArmCheck] = []
        self.sheet_checks: list[SheetCheck] = []
        self.session_detail: SessionDetail | None = None  # the take logger's, while one runs
        self.revisions = {c.id: cue_revision(c) for c in sheet.cues}  # cue → revision of its current version
        self.picture: Picture | None = None  # the current cut (docs/picture.md); takes record its revision
        self.picture_checks: list[PictureCheck] = []
        self.engine_listeners: list[EngineListener] = []
        check_clock(config, sheet.rate)
        settings = engine_settings(config, sheet.rate.name)
        self._engine = (
            Supervisor(settings, self._from_engine_thread, self._from_supervisor, open_driver=open_driver)
            if open_driver is not None
            else None
        )
        self.engine_status = EngineStatus(EngineState.STARTING if self._engine else EngineState.DISABLED)
        self.mmc_listeners: list[MmcListener] = []
        self.mmc_counts: m.MmcCounts | None = None  # what the engine's MMC reader has met
        self.mmc_in_detail: Callable[[], dict[str, Any]] | None = None  # the MMC edge's part of mmc_state, if one runs
        self.master = self._master() if config.mmc.enabled and config.clock.source != "internal" else None
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
        self.pickup, self._pickup_once = None, False
        self._replan()
        return self.armed

    def replace_sheet(self, sheet: CueSheet) -> list[str]:
        """Make ``sheet`` (validated already) the running cue sheet; returns the ids of the cues it revised.

        Refused while picture rolls (a take keeps the sheet it started on) and
        for a sheet at another picture rate (the engine runs at one).  The armed
        cue stays armed if it is still on the sheet, with its pickup if that
        bar still exists; the engine and the screens get the new schedule at once.
        """
        if self.transport.rolling:
            raise SessionError("cannot replace the cue sheet while picture rolls: stop first")
        if sheet.rate != self.rate:
            raise SessionError(
                f"the new cue sheet is at {sheet.rate} fps, the running one at {self.rate}: "
                "a new picture rate needs a restart"
            )
        for check in tuple(self.sheet_checks):
            check(sheet)
        revisions = {c.id: cue_revision(c) for c in sheet.cues}
        changed = [cue for cue, rev in revisions.items() if self.revisions.get(cue) != rev]
        armed = next((c for c in sheet.cues if self.armed is not None and c.id == self.armed.id), None)
        pickup = self.pickup
        if pickup is not None and armed is not None:
            try:
                pickup_schedule(armed, pickup)
            except StageError:
                pickup = None
        self.sheet, self.revisions = sheet, revisions
        self.armed, self.pickup = armed, pickup if armed is not None else None
        self._pickup_once = self._pickup_once and self.pickup is not None
        self._replan()
        self._track_cue()
        return changed

    def check_picture_change(self) -> None:
        """:class:`SessionError` unless a new picture revision may replace the current one now (not while
        picture rolls or is starting: a take keeps the picture it started on)."""
        if self.transport.rolling:
            raise SessionError("cannot change the picture while picture rolls: stop first")
        for check in tuple(self.picture_checks):
            check()

    def replace_picture(self, picture: Picture | None) -> None:
        """Make ``picture`` (imported and checked already) the current one and tell everyone.

        Refused while picture rolls, and for a cut at another rate than the sheet's.
        """
        self.check_picture_change()
        if picture is not None and picture.rate != self.rate:
            raise SessionError(f"picture {picture.revision} is at {picture.rate} fps, the cue sheet at {self.rate}")
        self.picture = picture
        self.publish_session()

    def cue_top(self, *, locate: bool = True) -> float | None:
        """Cue up the armed cue from the top; with ``locate`` (internal clock) locate to its pre-roll.

        Returns the position located to (None: not located).
        """
        cue = self._cueable("from the top")
        self.pickup, self._pickup_once = None, False
        self._replan()
        return self._locate_preroll(cue) if locate else None

    def cue_pickup(
        self, bar: int, beat: int = 1, bars: int | None = None, *, locate: bool = True, once: bool = False
    ) -> float | None:
        """Cue up a pickup of the armed cue from ``bar``|``beat`` with a count-in of ``bars`` bars.

        The count-in (the cue's count-off bars by default) is in the clicks and
        the screens' schedule from now on, wherever picture rolls from, until
        another cue-up or arm (``once``: until picture next stops); with
        ``locate`` (internal clock) picture goes to its pre-roll.  Returns the
        position located to (None: not located).
        """
        cue = self._cueable("cue a pickup")
        if cue.clicks is None:
            raise SessionError(f"cue {cue.id} is free timing: it has no bars to pick up from")
        if not 1 <= bar <= cue.clicks.bars:
            raise SessionError(f"cue {cue.id} has bars 1 to {cue.clicks.bars}: no bar {bar}")
        pickup = Pickup(cue.id, bar, beat, cue.clicks.countoff if bars is None else bars)
        pickup_schedule(cue, pickup)  # refuses a beat the bar lacks, a count-in out of range
        self.pickup, self._pickup_once = pickup, once
        self._replan()
        return self._locate_preroll(cue) if locate else None

    def schedule_of(self, cue: Cue) -> list[CueEvent]:
        """What ``cue`` plays and shows now: its own schedule, or the pickup's cued up on it."""
        if self.pickup is not None and self.pickup.cue == cue.id:
            return pickup_schedule(cue, self.pickup)
        return cue_schedule(cue)

    def plan(self) -> list[tuple[Cue, list[CueEvent], str]]:
        """Every cue that plays now (the armed one, or all of them) with its schedule and the key naming it."""
        cues = [self.armed] if self.armed is not None else list(self.sheet.cues)
        return [(c, self.schedule_of(c), self._key(c)) for c in cues]

    def _key(self, cue: Cue) -> str:
        p = self.pickup
        return f"{cue.id}@{p.bar}.{p.beat}" if p is not None and p.cue == cue.id else cue.id

    def preroll_position(self, cue: Cue) -> float:
        """Picture seconds ``[clock] preroll`` before the first warning click (or click) of ``cue`` as cued up."""
        first = first_click(self.schedule_of(cue))
        at = cue.downbeat + (first if first is not None else Fraction(0))
        return max(float(at) - self.config.clock.preroll, 0.0)

    def _cueable(self, what: str) -> Cue:
        if self.armed is None:
            raise SessionError(f"no cue is armed: arm one to {what}")
        if self.transport.rolling:
            raise SessionError(f"cannot {what} while picture rolls: stop first")
        return self.armed

    def _locate_preroll(self, cue: Cue) -> float | None:
        if self.config.clock.source != "internal" and self.master is None:
            return None  # picture is chased: the count-in waits wherever the master rolls from
        position = self.preroll_position(cue)
        self.locate(position)
        return position

    def session_state(self) -> dict[str, Any]:
        """The session as plain data, the one shape every edge answers and every transport carries.

        Armed cue, the pickup cued up, the plan's revision, the picture rate, the current picture revision
        (its rate, first frame and length, or None), and the take log's
        part (:attr:`session_detail`): mode, rolling, the take being recorded,
        the next take number, the writes not stored yet.
        """
        return {
            "armed": self.armed.id if self.armed else None,
            "pickup": None if self.pickup is None else self.pickup.as_dict(),
            "plan": self.plan_revision,
            "revision": None if self.armed is None else self.revisions.get(self.armed.id),
            "rate": self.rate.as_dict(),
            "picture": None if self.picture is None else self.picture.session_json(),
            **(self.session_detail or self._no_take_log)(),
        }

    def _no_take_log(self) -> dict[str, Any]:
        return {"mode": "rehearse", "rolling": self.transport.rolling, "take": None, "next_take": None,
                "unstored": 0}

    def publish_session(self) -> None:
        """Tell everyone the session state (after anything in it changed)."""
        self.bus.publish(Topic.SESSION, self.session_state())

    def _replan(self) -> None:
        """Load what plays now into the engine and tell everyone (screens re-read the schedule)."""
        self.plan_revision += 1
        self._load_clicks()
        self.publish_session()
        self.bus.publish(Topic.TRANSPORT, self.transport_state())  # it names the armed cue too

    def play(self) -> None:
        """Roll the internal clock (chasing, with ``[mmc]``: the master; :meth:`answered` waits for it)."""
        if self.master is not None:
            self.master.play()
            return
        self._internal_only("play")
        self._send(m.Play())

    def stop_transport(self) -> None:
        """Stop the internal clock (chasing, with ``[mmc]``: the master; :meth:`answered` waits for it)."""
        if self.master is not None:
            self.master.stop()
            return
        self._internal_only("stop")
        self._send(m.Stop())

    def locate(self, position: float) -> None:
        """Jump to picture seconds ``position`` (chasing, with ``[mmc]``: send the master there)."""
        if self.master is None:
            self._internal_only("locate")
        if position < 0:
            raise SessionError("cannot locate before 00:00:00:00")
        if not limits.valid_position(position, self.rate):
            raise TimecodeError(f"picture {position:.6g} s is past 24:00:00:00: timecode ends there")
        if self.master is not None:
            self.master.locate(position)
            return
        self._send(m.Locate(position))

    async def answered(self) -> dict[str, Any] | None:
        """The timecode master's answer to the last command it was sent, heard in the chase (``docs/mmc.md``).

        A report (where the chase locked, when); :class:`~stage.errors.MasterError`
        saying why not within ``[mmc] lock_timeout``; None when stage drives
        no master.
        """
        return None if self.master is None else await self.master.answered()

    @property
    def mmc_sent(self) -> int:
        """How many commands have gone to the master by MMC (0 when stage drives none)."""
        return 0 if self.master is None else self.master.sent

    def where(self, position: float) -> dict[str, Any]:
        """The armed cue's bar and beat at picture ``position`` (None for both without a cue with bars armed)."""
        cue = self.armed
        if cue is None or cue.clicks is None or not math.isfinite(position):
            return {"cue": None, "bar": None, "beat": None}
        bar, beat = cue.clicks.position_at(Fraction(position) - cue.downbeat)
        return {"cue": cue.id, "bar": bar, "beat": math.floor(beat)}

    def mmc_state(self) -> dict[str, Any] | None:
        """MMC as health shows it: where it goes, and what was read on ``<client>:mmc_in`` (None without ``[mmc]``)."""
        if not self.config.mmc.enabled:
            return None
        counts = self.mmc_counts or m.MmcCounts(MmcStats())
        read = {**dataclasses.asdict(counts.stats), "problem": counts.problem}
        return {"to_master": self.master is not None, "device_id": self.config.mmc.device_id,
                "sent": self.mmc_sent, "in": {**read, **(self.mmc_in_detail() if self.mmc_in_detail else {})}}

    def _master(self) -> Master:
        client, source = self.config.midi.client, self.config.clock.source
        return Master(self.config.mmc, self.rate, self._send, recording=self._recording, where=self.where,
                      source=source, ports=(f"{client}:mmc_out", f"{client}:{source}_in"))

    def _recording(self) -> bool:
        return bool((self.session_detail or self._no_take_log)()["mode"] == "record")

    async def located(self, position: float) -> TransportView:
        """Wait until the engine reports the transport at ``position``: call right after a locate.

        The engine applies a locate on its next cycle; until then the anchor
        is the old one.  :class:`SessionError` if it has not answered within
        :data:`CONFIRM_TIMEOUT`.  A master driven by MMC is waited for as
        :meth:`answered` waits (:class:`~stage.errors.MasterError`).
        """
        if self.master is not None:
            await self.master.answered()
            return self.transport
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
        if not limits.MIN_BAR <= bar <= limits.MAX_BAR:
            raise TempoError(f"bar {bar} does not exist (bars {limits.MIN_BAR} to {limits.MAX_BAR})")
        position = float(cue.downbeat + cue.clicks.time_of(bar, Fraction(str(beat))))
        self.locate(position)
        return position

    def varispeed(self, speed: float) -> None:
        """Set the internal clock's speed."""
        self._internal_only("varispeed")
        if not limits.valid_speed(speed):
            raise SessionError(
                f"varispeed {speed} is out of range ({limits.MIN_SPEED:g} to {limits.MAX_SPEED:g} either way)"
            )
        self._send(m.Varispeed(speed))

    def position(self, now: float | None = None) -> float:
        """Picture seconds now."""
        return self.transport.anchor.position(time.monotonic() if now is None else now)

    def timecode(self, now: float | None = None) -> Timecode:
        """Timecode of the frame the picture is in now."""
        p = max(self.position(now), 0.0)
        return Timecode.from_frames(frame_at(p, self.rate), self.rate)

    def clock_state(self) -> dict[str, Any]:
        """Where picture's timecode comes from (``internal``, ``mtc``, ``ltc``) and the chase's lock, for health."""
        sync = self.sync
        return {"source": self.config.clock.source, "state": None if sync is None else sync.state,
                "locked": sync is not None and sync.locked, "user_bits": None if sync is None else sync.user_bits}

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
            "sync": None if self.sync is None else {"state": self.sync.state, "locked": self.sync.locked,
                                                    "user_bits": self.sync.user_bits},
            "engine": {k: v for k, v in self.engine_status.as_dict().items() if k in ("state", "restarts", "reason")},
            "mmc": None if not self.config.mmc.enabled else {
                "to_master": self.master is not None, "device_id": self.config.mmc.device_id,
                "lock_timeout": self.config.mmc.lock_timeout},
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
        self.bus.publish(Topic.TRANSPORT, self.transport_state())

    def _on_engine_event(self, ev: m.Event) -> None:
        if isinstance(ev, m.Ready):
            self.engine_ready = ev
        elif isinstance(ev, m.TransportChanged):
            before = self.transport
            self.transport = TransportView(Anchor(ev.t0, ev.p0, ev.speed), ev.rolling, ev.source)
            self.bus.publish(Topic.TRANSPORT, self.transport_state())
            self._track_cue()
            for listener in tuple(self.transport_listeners):
                try:
                    listener(before, self.transport)
                except Exception:  # one broken listener must not keep the others from hearing
                    log.exception("transport listener failed")
            if before.rolling and not ev.rolling and self._pickup_once:
                self.pickup, self._pickup_once = None, False  # a one-roll pickup is over: back to the top
                self._replan()
            self._tell_master()
        elif isinstance(ev, m.BeatSounded):
            self.last_beat = ev
            self.bus.publish(Topic.BEAT, {"cue": ev.cue, "bar": ev.bar, "beat": ev.beat, "kind": ev.kind,
                                      "position": ev.p, "time": ev.t})
        elif isinstance(ev, m.SyncStatus):
            self.sync = ev
            self.bus.publish(Topic.SYNC, {"state": ev.state, "locked": ev.locked, "speed": ev.speed,
                                          "quarter_frames": ev.quarter_frames, "locates": ev.locates,
                                          "source": ev.source, "frames": ev.frames, "user_bits": ev.user_bits})
            self._tell_master()
        elif isinstance(ev, m.MmcReceived):
            for mmc_listener in tuple(self.mmc_listeners):
                try:
                    mmc_listener(ev)
                except Exception:  # one broken listener must not keep the others from hearing
                    log.exception("MMC listener failed")
        elif isinstance(ev, m.MmcCounts):
            self.mmc_counts = ev
        elif isinstance(ev, m.EngineStats):
            self.stats = ev

    def _tell_master(self) -> None:
        """The master driven by MMC hears every change of the chased transport and of the chase's lock."""
        if self.master is not None and self.transport.source != "internal":
            a = self.transport.anchor
            self.master.heard(a.t0, a.p0, a.speed, None if self.sync is None else self.sync.state)

    # -- cue tracking --------------------------------------------------------------

    def _track_cue(self) -> None:
        """Publish cue entered/left now, and set a timer for the next boundary."""
        if self._cue_timer is not None:
            self._cue_timer.cancel()
            self._cue_timer = None
        now = time.monotonic()
        p = self.position(now)
        inside = next((c for c in self.sheet.cues if _span(c)[0] <= p < _span(c)[1]), None)
        if _id(inside) != _id(self.current_cue):  # by id: a revised sheet's cue is the same cue
            if self.current_cue is not None:
                self.bus.publish(Topic.CUE, {"event": "left", "cue": self.current_cue.id, "position": p})
            if inside is not None:
                self.bus.publish(Topic.CUE, {"event": "entered", "cue": inside.id, "position": p})
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
        clicks = tuple(c for cue, events, _ in self.plan() for c in cue_clicks(cue, events))
        if self._engine is not None:
            self._engine.send(m.LoadClicks(clicks))  # kept for the next engine while none runs

    def _send(self, cmd: m.Command) -> None:
        if self._engine is None:
            raise SessionError("the engine is not running")
        self._engine.send(cmd)  # EngineUnavailable while it restarts

    def _internal_only(self, what: str) -> None:
        source = self.config.clock.source
        if source != "internal":
            raise SessionError(f"cannot {what}: picture is chased from {source.upper()} "
                               f"([clock] source = \"{source}\")")


def _id(cue: Cue | None) -> str | None:
    return None if cue is None else cue.id


def _span(cue: Cue) -> tuple[float, float]:
    """Picture seconds from the cue's first click (or start) to its end."""
    return float(cue.downbeat + cue.first_time), float(cue.downbeat + cue.end_time)
