"""The take logger: the session state machine between the transport, the take store and the control edges.

The :class:`~stage.core.session.Session` follows the transport, not the
buttons: a take starts on the engine's *rolling* edge (timecode in is where
picture really rolled) and ends on its *stopped* edge (timecode out is where
it really stopped), whoever caused the edge — a REST play/stop, another
control edge, or MTC that started or stopped by itself.  Control commands
(:meth:`TakeLogger.play`, :meth:`TakeLogger.stop`) send the engine its
command, wait for the edge, and return only once the take is committed.

Every store write goes through one writer task, in the order the session
produced them, so a take's end can never overtake its insert.  A write the
database refused (down, unreachable) is kept and retried until it lands: the
take is not acknowledged meanwhile (the caller gets the
:class:`~stage.errors.StoreError`), but it is not lost while the service runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from stage.core.cuesheet import CueSheet
from stage.core.protocol import Topic
from stage.core.session import (
    Event,
    Mode,
    Role,
    Session,
    Take,
    TakeEdit,
    TakeEnded,
    TakeStarted,
)
from stage.core.takesheet import json_row
from stage.core.timecode import Timecode, frame_at
from stage.core.watchdog import EngineState
from stage.errors import (
    EngineUnavailable,
    MasterError,
    NotFound,
    SessionError,
    StoreError,
    StoreRefused,
    StoreUnavailable,
    TransportTimeout,
)
from stage.runtime.ports import NoTimings, TakeStore, Timings
from stage.runtime.service import Service, TransportView
from stage.runtime.supervisor import EngineStatus
from stage.runtime.tasks import stop_task

log = logging.getLogger(__name__)

ROLL_TIMEOUT = 2.0  # seconds the engine has to report that it rolled or stopped
RETRY_INTERVAL = 1.0  # seconds between attempts to store writes the database refused



class _Kind(enum.Enum):
    START = "started"
    END = "ended"


@dataclass
class _Write:
    kind: _Kind
    take: Take
    done: asyncio.Future[Take] | None


@dataclass
class _PendingRoll:
    future: asyncio.Future[asyncio.Future[Take] | None]
    pickup_bar: int | None
    wild: bool


def take_json(take: Take, tz: tzinfo | None = None) -> dict[str, Any]:
    """A take as JSON: the take sheet row (:func:`~stage.core.takesheet.json_row`) plus its label."""
    return {"label": take.label, **json_row(take, tz)}


def edit_json(edit: TakeEdit) -> dict[str, Any]:
    """One history entry as JSON."""
    return {"field": edit.field, "old": edit.old, "new": edit.new, "role": edit.role.value, "at": edit.at.isoformat()}


class TakeLogger:
    """Logs takes from the transport's edges; the one way control edges roll, stop and edit in a session.

    ``tz`` is the zone dates and times of day are shown in (default: the
    machine's local zone).  ``wall`` and ``monotonic`` are the clocks (for
    tests that want to pin them).
    """

    def __init__(
        self,
        service: Service,
        store: TakeStore,
        *,
        roll_timeout: float = ROLL_TIMEOUT,
        retry_interval: float = RETRY_INTERVAL,
        tz: tzinfo | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.store = store
        self.session = Session()
        self.tz = tz if tz is not None else datetime.now().astimezone().tzinfo
        self._roll_timeout = roll_timeout
        self._retry_interval = retry_interval
        self._wall = wall
        self._monotonic = monotonic
        self._command = asyncio.Lock()
        self._roll: _PendingRoll | None = None
        self._stop: asyncio.Future[asyncio.Future[Take] | None] | None = None
        self._ignore_rolls_until = 0.0  # after a play timed out: a late roll before this (monotonic) is not logged
        self._last_end: asyncio.Future[Take] | None = None
        self._writes: asyncio.Queue[_Write] = asyncio.Queue()
        self._backlog: dict[tuple[str, int], _Write] = {}
        self._ids: dict[tuple[str, int], int] = {}  # takes stored and not ended yet: (cue, number) → id
        self._renumbered = False  # another controller logged takes: count on from the store's numbers
        self._writer: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()  # set while no write waits, none in the backlog either
        self._drained.set()
        self.timings: Timings = NoTimings()  # how long acknowledgements and commits take (the metrics' figures)

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Seed take numbers from the store, follow the transport, start the writer."""
        ids = [c.id for c in self.service.sheet.cues]
        self.session.load(ids, await self.store.next_take_numbers(ids))
        for take in await self.store.list_takes():
            if take.ended_at is None:  # the service stopped (crashed, or was killed) while it rolled
                log.warning("take %s-%d (in %s) was still rolling when the service stopped: its end is unknown",
                            take.cue, take.number, take.tc_in)
        self.service.transport_listeners.append(self._on_transport)
        self.service.engine_listeners.append(self._on_engine)
        self.service.arm_checks.append(self._check_arm)
        self.service.sheet_checks.append(self._check_sheet)
        self.service.picture_checks.append(self._check_picture)
        self.service.session_detail = self._detail
        self._writer = asyncio.create_task(self._write_loop(), name="stage-take-writer")
        self.service.publish_session()  # the mode and next take numbers are known from now on

    async def close(self, grace: float = 5.0) -> None:
        """Stop following the transport; give queued writes ``grace`` seconds to land."""
        with contextlib.suppress(ValueError):
            self.service.transport_listeners.remove(self._on_transport)
        with contextlib.suppress(ValueError):
            self.service.engine_listeners.remove(self._on_engine)
        with contextlib.suppress(ValueError):
            self.service.arm_checks.remove(self._check_arm)
        with contextlib.suppress(ValueError):
            self.service.sheet_checks.remove(self._check_sheet)
        with contextlib.suppress(ValueError):
            self.service.picture_checks.remove(self._check_picture)
        if self.service.session_detail == self._detail:
            self.service.session_detail = None
        if self._writer is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._drained.wait()
        await stop_task(self._writer, "the take writer")
        self._writer = None
        if self._backlog:
            lost = ", ".join(f"{cue}-{n}" for cue, n in self._backlog)
            log.error("closing with takes the database never accepted: %s", lost)

    # -- state -----------------------------------------------------------------------------------

    @property
    def unstored(self) -> int:
        """How many takes have writes the database has not accepted yet."""
        return len(self._backlog)

    def _detail(self) -> dict[str, Any]:
        """The take log's part of the session state: mode, rolling, the take being recorded, next number."""
        take = self.session.take
        armed = self.service.armed.id if self.service.armed is not None else None
        return {
            "mode": self.session.mode.value,
            "rolling": self.session.rolling,
            "take": self.as_json(take),
            "next_take": None if armed is None else self.session.next_number(armed),
            "unstored": self.unstored,
        }

    def as_json(self, take: Take | None) -> dict[str, Any] | None:
        """``take`` as JSON (:func:`take_json`) in the take log's time zone; None stays None."""
        return None if take is None else take_json(take, self.tz)

    # -- commands --------------------------------------------------------------------------------

    async def set_mode(self, mode: Mode) -> None:
        """Rehearse or record from the next roll on (refused while rolling)."""
        async with self._command:
            if self.session.set_mode(mode):
                self.service.publish_session()

    async def play(
        self,
        *,
        pickup_bar: int | None = None,
        wild: bool = False,
        locate: bool = True,
        pickup_beat: int = 1,
        countin: int | None = None,
        from_top: bool = False,
    ) -> Take | None:
        """Roll; in record mode return the new take once it is committed (rehearse: ``None``).

        ``from_top`` cues the armed cue up from the top and rolls from its
        pre-roll.  ``pickup_bar`` cues up a pickup from that bar (and
        ``pickup_beat``), counted in with ``countin`` bars of warning clicks
        (the cue's count-off by default); with ``locate`` picture first jumps
        to the pre-roll before the count-in, without it the take rolls from
        wherever the conductor located.  ``wild`` marks a take off picture.
        The caller has checked the role (:meth:`~stage.core.session.Session.needs`).
        """
        asked = self._monotonic()
        async with self._command:
            recording = self.session.mode is Mode.RECORD
            if self.service.transport.rolling:
                if recording:
                    busy = self.session.busy()
                    raise SessionError(f"picture is already rolling{f' ({busy})' if busy else ''}: stop first")
                return None
            cue = self.service.armed
            if recording and cue is None:
                raise SessionError("no cue is armed: arm the cue to record first")
            if recording and self._renumbered:
                await self._recount()
            if from_top:
                self.service.cue_top(locate=True)
            elif pickup_bar is not None:
                if cue is None:
                    raise SessionError("no cue is armed: a pickup bar needs the cue it is a bar of")
                self.service.cue_pickup(pickup_bar, pickup_beat, countin, locate=locate, once=True)
            loop = asyncio.get_running_loop()
            pending = _PendingRoll(loop.create_future(), pickup_bar, wild)
            self._roll, self._ignore_rolls_until = pending, 0.0
            try:
                self.service.play()
                await self._master_rolled(pending)
                written = await self._edge(pending.future, "roll")
            finally:
                if self._roll is pending:
                    self._roll = None
            return None if written is None else self._timed("roll", asked, await written)

    async def stop(self) -> Take | None:
        """Stop; a take being recorded ends, and is returned once its end is committed.

        The caller has checked the role (:meth:`~stage.core.session.Session.needs`).
        """
        asked = self._monotonic()
        async with self._command:
            if not self.service.transport.rolling:
                if not self.session.rolling:
                    raise SessionError("not rolling")
                # Picture stopped without the session hearing of it: end the take where picture stands.
                self._stopped(self.service.transport)
                written = self._last_end
                return None if written is None else self._timed("stop", asked, await written)
            future: asyncio.Future[asyncio.Future[Take] | None] = asyncio.get_running_loop().create_future()
            self._stop = future
            try:
                self.service.stop_transport()
                await self.service.answered()  # a master driven by MMC: until the chase shows it stopped
                written = await self._edge(future, "stop")
            finally:
                if self._stop is future:
                    self._stop = None
            return None if written is None else self._timed("stop", asked, await written)

    def _timed(self, what: str, asked: float, take: Take) -> Take:
        """``take``, committed: how long after ``asked`` its ``what`` was answered goes to the timings."""
        self.timings.acknowledged(what, self._monotonic() - asked)
        return take

    async def _recount(self) -> None:
        try:
            numbers = await self.store.next_take_numbers(self.session.cues)
        except StoreError:
            return  # the database is away: the session's own count goes on
        self.session.load(self.session.cues, numbers)
        self._renumbered = False

    async def _master_rolled(self, pending: _PendingRoll) -> None:
        """With a master driven by MMC, wait until the chase locks where it was sent (the roll's edge comes with it).

        If it did not roll, a roll that comes late is not logged and the master
        is told to stop, as when the engine does not roll; if it rolled from
        somewhere else the take it started goes on (it follows picture) and the
        refusal says where.
        """
        try:
            await self.service.answered()
        except MasterError:
            if not pending.future.done():
                self._ignore_rolls_until = self._monotonic() + max(1.0, self._roll_timeout)
                with contextlib.suppress(SessionError):
                    self.service.stop_transport()
            raise

    async def _edge(
        self, future: asyncio.Future[asyncio.Future[Take] | None], what: str
    ) -> asyncio.Future[Take] | None:
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._roll_timeout)
        except TimeoutError:
            if what == "roll":
                # Should the engine roll after all, that roll was never acknowledged: don't log it.
                self._ignore_rolls_until = self._monotonic() + max(1.0, self._roll_timeout)
                with contextlib.suppress(SessionError):
                    self.service.stop_transport()
            raise TransportTimeout(
                f"the engine did not {what} within {self._roll_timeout:g} s"
                + (": nothing was recorded" if what == "roll" else "")
            ) from None

    async def edit(
        self, take_id: int, changes: Mapping[str, object], role: Role, expected_version: int | None = None
    ) -> tuple[Take, tuple[TakeEdit, ...]]:
        """Edit a take as ``role`` (fields: :data:`~stage.core.session.EDITABLE`); committed when it returns."""
        take, edits = await self.store.update_take(take_id, changes, role, self._wall(), expected_version)
        if edits:
            data = {"event": "edited", "take": take_json(take, self.tz), "edits": [edit_json(e) for e in edits]}
            self.service.bus.publish(Topic.TAKE, data)
        return take, edits

    # -- reading ---------------------------------------------------------------------------------

    async def takes(self, cue: str | None = None) -> list[Take]:
        """Every take (of ``cue``) in the order they were logged; an unknown cue with no takes is :class:`NotFound`."""
        found = await self.store.list_takes(cue)
        if cue is not None and not found and cue not in self.session.cues:
            known = ", ".join(self.session.cues) or "none"
            raise NotFound(f"cue {cue} is not on the cue sheet and has no takes (cues: {known})")
        return found

    async def take(self, take_id: int) -> tuple[Take, list[TakeEdit]]:
        """A take and its history."""
        return await self.store.get_take(take_id), await self.store.history(take_id)

    # -- the transport's edges (on the loop, from the service) -----------------------------------

    def _on_transport(self, before: TransportView, after: TransportView) -> None:
        if after.rolling and not before.rolling:
            self._rolled(after)
        elif before.rolling and not after.rolling:
            self._stopped(after)

    def _on_engine(self, status: EngineStatus) -> None:
        """The engine died: a take that was rolling ends as a crash leaves it (no end), before picture is seen to stop.

        Its row is already in the take log with an empty timecode out, which
        is how the take log marks a take a crash cut off (a restart of the
        service names those too); nothing more is written, nothing made up.
        """
        if status.state is not EngineState.RESTARTING:
            return
        cause = f"the engine stopped ({status.reason})"
        pending, self._roll = self._roll, None
        if pending is not None and not pending.future.done():
            pending.future.set_exception(EngineUnavailable(f"{cause} before picture rolled: nothing was recorded"))
        stop, self._stop = self._stop, None
        take = self.session.crashed()
        self._last_end = None
        if take is not None:
            log.warning("take %s (in %s) was rolling when %s: it ends as a crash leaves it, its end unknown",
                        take.label, take.tc_in, cause)
            self.service.bus.publish(Topic.TAKE, {"event": "crashed", "take": take_json(take, self.tz)})
        if stop is not None and not stop.done():
            if take is None:
                stop.set_result(None)  # a rehearsal: picture has stopped, which is what was asked
            else:
                stop.set_exception(EngineUnavailable(f"{cause}: take {take.label} keeps no timecode out"))

    def _rolled(self, view: TransportView) -> None:
        pending, self._roll = self._roll, None
        if pending is None and self._monotonic() < self._ignore_rolls_until:
            self._ignore_rolls_until = 0.0
            log.warning("picture rolled after its play timed out: not logged")
            return
        wild = pending.wild if pending else False
        cued = self.service.pickup
        # the pickup cued up (by this play or before it, or for a roll the MTC master started) is the take's
        pickup = cued.bar if cued is not None else pending.pickup_bar if pending else None
        written: asyncio.Future[Take] | None = None
        try:
            for event in self._roll_session(view, pickup, wild):
                if isinstance(event, TakeStarted):
                    written = self._enqueue(_Kind.START, event.take)
        except SessionError as exc:
            if pending is not None and not pending.future.done():
                pending.future.set_exception(exc)
            else:
                log.warning("%s", exc)
            return
        if written is not None:
            self.service.publish_session()  # a take is being recorded; the next one has the next number
        if pending is not None and not pending.future.done():
            pending.future.set_result(written)

    def _roll_session(self, view: TransportView, pickup: int | None, wild: bool) -> tuple[Event, ...]:
        cue = self.service.armed
        if cue is None:
            if self.session.mode is Mode.RECORD:
                raise SessionError("picture rolled in record mode with no cue armed: no take logged")
            return ()  # a rehearsal of the whole sheet: nothing to follow
        picture = self.service.picture
        return self.session.roll(cue.id, self._position(view), self._wall_at(view.anchor.t0), pickup, wild,
                                 revision=self.service.revisions.get(cue.id),
                                 picture_revision=None if picture is None else picture.revision)

    def _stopped(self, view: TransportView) -> None:
        pending, self._stop = self._stop, None
        written: asyncio.Future[Take] | None = None
        if self.session.rolling:
            for event in self.session.stop(self._position(view), self._wall_at(view.anchor.t0)):
                if isinstance(event, TakeEnded):
                    written = self._enqueue(_Kind.END, event.take)
            self.service.publish_session()
        self._last_end = written
        if pending is not None and not pending.done():
            pending.set_result(written)

    def _check_arm(self, cue_id: str | None) -> None:
        if self._roll is not None:
            raise SessionError(f"cannot arm {cue_id or 'nothing'} while picture is starting: stop first")
        if self.session.rolling:
            raise SessionError(f"cannot {f'arm {cue_id}' if cue_id else 'disarm'} while {self.session.busy()}: "
                               "stop first")

    def _check_sheet(self, sheet: CueSheet) -> None:
        """A new cue sheet: its cues are the ones that can be armed (refused while a take rolls or starts)."""
        if self._roll is not None:
            raise SessionError("cannot replace the cue sheet while picture is starting: stop first")
        self.session.load([c.id for c in sheet.cues])  # refuses while rolling, with the reason
        self._renumbered = True  # cues new to the session: their numbers come from the store at the next take

    def _check_picture(self) -> None:
        """A new picture revision: not while a take rolls or starts (a take keeps the picture it started on)."""
        if self._roll is not None:
            raise SessionError("cannot change the picture while picture is starting: stop first")
        if self.session.rolling:
            raise SessionError(f"cannot change the picture while {self.session.busy()}: stop first")

    def _position(self, view: TransportView) -> Timecode:
        rate = self.service.rate
        return Timecode.from_frames(frame_at(max(view.anchor.p0, 0.0), rate), rate)

    def _wall_at(self, t: float) -> datetime:
        return self._wall() - timedelta(seconds=max(self._monotonic() - t, 0.0))

    # -- the writer ------------------------------------------------------------------------------

    def _enqueue(self, kind: _Kind, take: Take) -> asyncio.Future[Take]:
        done: asyncio.Future[Take] = asyncio.get_running_loop().create_future()
        # Nobody may be waiting (a take MTC started): its failure is logged, not left unretrieved.
        done.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._drained.clear()
        self._writes.put_nowait(_Write(kind, take, done))
        return done

    async def _write_loop(self) -> None:
        while True:
            try:
                write = await asyncio.wait_for(self._writes.get(), self._retry_interval if self._backlog else None)
            except TimeoutError:
                for key in list(self._backlog):
                    await self._write(self._backlog[key])
            else:
                await self._write(write)
            if self._writes.empty() and not self._backlog:
                self._drained.set()

    async def _write(self, write: _Write) -> None:
        take = write.take
        key = (take.cue, take.number)
        earlier = self._backlog.get(key)
        if earlier is not None and earlier is not write:
            # The take's earlier write never landed: this one carries everything, and its insert first.
            write = _Write(earlier.kind, take, write.done)
            if earlier.done is not None and not earlier.done.done():
                earlier.done.set_exception(StoreRefused(f"take {take.label}: superseded by a later write"))
        retry = earlier is not None
        began = self._monotonic()
        try:
            stored = await self._store(write, retry=retry)
        except Exception as exc:  # whatever it was, the take stays for another try
            self.timings.committed(self._monotonic() - began, ok=False)
            new = key not in self._backlog
            self._backlog[key] = write
            if new:
                # The session's `unstored` went up: screens showing the take being recorded say it is not stored.
                self.service.publish_session()
            if isinstance(exc, StoreError):
                log.warning("take %s: %s", take.label, exc)
            else:
                log.exception("take %s: storing failed", take.label)
            if write.done is not None and not write.done.done():
                kept = StoreUnavailable(
                    f"take {take.label} is not in the take log yet ({exc}); it is kept and stored "
                    "as soon as the database answers"
                )
                kept.__cause__ = exc
                write.done.set_exception(kept)
            return
        self.timings.committed(self._monotonic() - began, ok=True)
        self._backlog.pop(key, None)
        if stored.ended:
            self._ids.pop(key, None)
        else:
            assert stored.id is not None  # the store gives ids
            self._ids[key] = stored.id
        current = self.session.take
        if current is not None and (current.cue, current.number) == (stored.cue, stored.number):
            self.session.stored(replace(current, id=stored.id))
        event = _Kind.END if stored.ended else _Kind.START
        self.service.bus.publish(Topic.TAKE, {"event": event.value, "take": take_json(stored, self.tz)})
        # The session's state (rolling, the take being recorded, the next number) changed with it: screens that
        # show "take 3" or "next take 4" read it from the session topic.
        self.service.publish_session()
        if write.done is not None and not write.done.done():
            write.done.set_result(stored)

    async def _store(self, write: _Write, *, retry: bool) -> Take:
        take = write.take
        if write.kind is _Kind.END:
            # The end of a take whose insert landed: by the id the insert got (this copy may predate it).
            take_id = self._ids.get((take.cue, take.number), take.id)
            return await self.store.end_take(replace(take, id=take_id))
        for _ in range(3):
            try:
                return await self.store.insert_take(replace(take, id=None))
            except StoreError as exc:
                if not isinstance(exc, StoreRefused):
                    raise
            # The number is taken.  By this very take, when an earlier attempt committed but its answer was lost:
            if retry:
                for logged in await self.store.list_takes(take.cue):
                    if (logged.number, logged.tc_in, logged.started_at) == (take.number, take.tc_in, take.started_at):
                        return await self.store.end_take(replace(take, id=logged.id)) if take.ended else logged
            # … else by another controller on the same database: the take is logged under the next free number.
            free = await self.store.next_take_number(take.cue)
            log.warning("take %s: its number is in the take log already; logged as %s-%d", take.label, take.cue, free)
            self._renumbered = True
            take = replace(take, number=free)
        raise StoreRefused(f"take {write.take.label}: no free take number after three tries")


__all__ = [
    "ROLL_TIMEOUT",
    "TakeLogger",
    "edit_json",
    "take_json",
]
