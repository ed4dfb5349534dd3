"""The take log's session state machine: rehearse or record, the roll, takes and their numbers, their edits.

Pure: no clock reads, no I/O.  Wall-clock time (``at``, a timezone-aware
``datetime``) and picture positions (:class:`~stage.core.timecode.Timecode`)
are arguments; every command returns the events it caused and raises
:class:`~stage.errors.SessionError` (or :class:`~stage.errors.NotFound`) with
the reason when it is not allowed now.

Take numbers count up per cue and are never reused.  The session keeps the
counters in memory; the store, which holds every take ever logged, seeds them
when a cue sheet is loaded (``load(ids, next_numbers=...)``) so numbering goes
on across restarts, and its unique ``(cue, number)`` constraint is the last
word if two controllers ever disagree.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from fractions import Fraction

from stage.core.limits import MAX_BAR
from stage.core.timecode import Timecode
from stage.errors import NotFound, SessionError


class Mode(enum.Enum):
    """What rolling does: rehearse (no take) or record (a new take)."""

    REHEARSE = "rehearse"
    RECORD = "record"


class TakeStatus(enum.Enum):
    """How a take turned out; a take has no status (``None``) until someone sets one."""

    FALSE_START = "false_start"  # stopped within the first bars
    BREAKDOWN = "breakdown"  # stopped part-way through
    INCOMPLETE = "incomplete"  # ran on but did not cover the whole cue (or pickup)
    COMPLETE = "complete"  # played through
    HOLD = "hold"  # a keeper, second choice
    PRINT = "print"  # the circled take

    @classmethod
    def parse(cls, value: TakeStatus | str) -> TakeStatus:
        """The status named by ``value``: ``"print"``, ``"PRINT"``, ``"circled"``, ``"false start"``…"""
        if isinstance(value, TakeStatus):
            return value
        if not isinstance(value, str):
            raise SessionError(f"a take status must be text, not {value!r}")
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        key = _STATUS_ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise SessionError(f"unknown take status {value!r} (known: {known})") from None


_STATUS_ALIASES = {"circled": "print", "circle": "print", "printed": "print", "held": "hold", "fs": "false_start"}


class Role(enum.Enum):
    """Who is asking; see :data:`PERMISSIONS` for what each role may do."""

    CONDUCTOR = "conductor"
    ENGINEER = "engineer"
    EDITOR = "editor"
    MUSICIAN = "musician"


class Action(enum.Enum):
    """Things a role may be allowed to do; the value reads in an error message."""

    ARM = "arm cues or change mode"
    PLAY = "roll or stop in rehearse"
    RECORD = "roll or stop in record"
    SET_STATUS = "set a take's status or marks"
    WRITE_NOTES = "write take notes"
    EDIT_CUES = "replace the cue sheet"
    PAIR = "hand a role's token to another device"
    IMPORT_PICTURE = "import a cut"


PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    # The recordist hands out the tokens (a pairing code from the engineer's console); the cut comes in through
    # the music editor's machine or the recordist's, never a tablet on the podium.
    Role.CONDUCTOR: frozenset(Action) - {Action.PAIR, Action.IMPORT_PICTURE},
    Role.ENGINEER: frozenset(Action),
    # The music editor runs picture and keeps the take sheet, but the recordist owns the record button.
    Role.EDITOR: frozenset({Action.ARM, Action.PLAY, Action.SET_STATUS, Action.WRITE_NOTES, Action.EDIT_CUES,
                            Action.IMPORT_PICTURE}),
    Role.MUSICIAN: frozenset(),  # the musicians' screens are read-only
}


def allowed(role: Role, action: Action) -> bool:
    """True when ``role`` may do ``action``."""
    return action in PERMISSIONS[role]


def a_role(role: Role) -> str:
    """The role with its article, as every message names it: ``an editor``, ``a conductor``."""
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def refusal(role: Role, action: Action) -> str:
    """Why ``role`` is refused ``action``, as every edge words it: ``an editor may not roll or stop in record``."""
    return f"{a_role(role)} may not {action.value}"


def require(role: Role | None, action: Action) -> None:
    """Raise :class:`SessionError` unless ``role`` may do ``action``; ``None`` is the system itself."""
    if role is not None and not allowed(role, action):
        raise SessionError(refusal(role, action))


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise SessionError(f"{name} must be a timezone-aware datetime, not {value!r}")


@dataclass(frozen=True)
class Note:
    """A note on a take, signed with its author's role."""

    role: Role
    text: str
    at: datetime

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise SessionError("a note needs some text")
        _aware("a note's time", self.at)


@dataclass(frozen=True)
class Take:
    """One take of a cue, as logged.

    ``id`` is given by the store (``None`` until stored).  ``tc_in``/``tc_out``
    are the picture timecodes where recording rolled and stopped; ``duration``
    is seconds of picture between them (``None`` while rolling).  ``version``
    counts the edits made to the take.  ``revision`` is the revision of the
    cue it was recorded under (:func:`stage.core.schedule.cue_revision`),
    ``picture_revision`` the picture's (:class:`stage.core.cut.Picture`).
    """

    cue: str
    number: int
    tc_in: str
    started_at: datetime
    pickup_bar: int | None = None
    wild: bool = False
    status: TakeStatus | None = None
    tc_out: str | None = None
    ended_at: datetime | None = None
    duration: float | None = None
    notes: tuple[Note, ...] = ()
    id: int | None = None
    version: int = 0
    revision: str | None = None
    picture_revision: str | None = None

    def __post_init__(self) -> None:
        if not self.cue:
            raise SessionError("a take needs a cue")
        if self.number < 1:
            raise SessionError(f"take {self.label}: take numbers start at 1")
        if self.pickup_bar is not None and not 1 <= self.pickup_bar <= MAX_BAR:
            raise SessionError(f"take {self.label}: pickup bar must be 1 to {MAX_BAR}, not {self.pickup_bar}")
        if (self.tc_out is None) != (self.ended_at is None):
            raise SessionError(f"take {self.label}: tc_out and ended_at are set together when the take ends")
        if self.duration is not None and self.duration < 0:
            raise SessionError(f"take {self.label}: duration {self.duration} is negative")
        if self.version < 0:
            raise SessionError(f"take {self.label}: version {self.version} is negative")
        _aware(f"take {self.label}: started_at", self.started_at)
        _aware(f"take {self.label}: ended_at", self.ended_at)

    @property
    def label(self) -> str:
        """``1M1-3``: cue and take number, as called on the talkback."""
        return f"{self.cue}-{self.number}"

    @property
    def ended(self) -> bool:
        """True once recording stopped."""
        return self.ended_at is not None


@dataclass(frozen=True)
class TakeEdit:
    """One changed field of a take: who (role), when, which field, old → new (as text)."""

    take_id: int | None
    field: str
    old: str | None
    new: str | None
    role: Role
    at: datetime


# Which action each editable field needs.  "note" appends a note rather than replacing anything.
EDITABLE: Mapping[str, Action] = {
    "status": Action.SET_STATUS,
    "pickup_bar": Action.SET_STATUS,
    "wild": Action.SET_STATUS,
    "note": Action.WRITE_NOTES,
}


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _checked(take: Take, name: str, value: object) -> object:
    """The value ``name`` gets from ``value``, or a clear refusal."""
    if name == "status":
        return None if value is None else TakeStatus.parse(value)  # type: ignore[arg-type]
    if name == "pickup_bar":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BAR:
            raise SessionError(f"take {take.label}: pickup bar must be a bar number (1 to {MAX_BAR}), not {value!r}")
        return value
    if name == "wild":
        if not isinstance(value, bool):
            raise SessionError(f"take {take.label}: wild must be true or false, not {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise SessionError(f"take {take.label}: a note needs some text, not {value!r}")
    return value.strip()


def apply_edit(
    take: Take, changes: Mapping[str, object], role: Role, at: datetime
) -> tuple[Take, tuple[TakeEdit, ...]]:
    """Apply ``changes`` (field → new value) made by ``role`` at ``at`` to ``take``.

    Returns the new take and one :class:`TakeEdit` per field that really
    changed (setting a field to the value it has records nothing).  ``note``
    appends a note.  The version goes up by one when anything changed.
    Refuses unknown fields, bad values and roles without the right.
    """
    _aware("an edit's time", at)
    for name in changes:
        if name not in EDITABLE:
            editable = ", ".join(EDITABLE)
            raise SessionError(f"take {take.label}: {name!r} cannot be edited (editable: {editable})")
    for name in changes:
        require(role, EDITABLE[name])
    updates: dict[str, object] = {}
    notes = list(take.notes)
    edits: list[TakeEdit] = []
    for name, raw in changes.items():
        value = _checked(take, name, raw)
        if name == "note":
            assert isinstance(value, str)
            notes.append(Note(role, value, at))
            edits.append(TakeEdit(take.id, "note", None, value, role, at))
            continue
        old = updates.get(name, getattr(take, name))
        if old == value:
            continue
        updates[name] = value
        edits.append(TakeEdit(take.id, name, _as_text(old), _as_text(value), role, at))
    if not edits:
        return take, ()
    new = replace(take, **updates, notes=tuple(notes), version=take.version + 1)  # type: ignore[arg-type]
    return new, tuple(edits)


# Events: what a command changed, for the store, the screens and the log.


@dataclass(frozen=True)
class ModeChanged:
    """Rolling will now rehearse or record."""

    mode: Mode


@dataclass(frozen=True)
class TakeStarted:
    """Recording rolled: store the take, then acknowledge it."""

    take: Take


@dataclass(frozen=True)
class TakeEnded:
    """Recording stopped: the take has its timecode out, end time and duration."""

    take: Take


Event = ModeChanged | TakeStarted | TakeEnded


@dataclass
class _Roll:
    cue: str
    position: Timecode
    take: Take | None  # None when rehearsing


class Session:
    """The take log's session: the cues on the sheet, the mode, the roll and its take, the next numbers.

    Which cue is armed is the service's to know (one owner): a roll names its cue.

    Commands take an optional ``role``: the control edges pass the caller's
    role and get :class:`SessionError` when it may not do that; ``None`` is
    the system itself (a stop because picture stopped, a restart).
    """

    def __init__(self) -> None:
        self._cues: tuple[str, ...] = ()
        self._mode = Mode.REHEARSE
        self._roll: _Roll | None = None
        self._next: dict[str, int] = {}

    @property
    def cues(self) -> tuple[str, ...]:
        """The cue ids that can be armed, in cue-sheet order."""
        return self._cues

    @property
    def mode(self) -> Mode:
        """Rehearse (the default: nothing is logged by accident) or record."""
        return self._mode

    @property
    def rolling(self) -> bool:
        """True between ``roll`` and ``stop``."""
        return self._roll is not None

    @property
    def take(self) -> Take | None:
        """The take being recorded, if any."""
        return None if self._roll is None else self._roll.take

    def next_number(self, cue: str) -> int:
        """The number the next take of ``cue`` will get."""
        return self._next.get(cue, 1)

    def needs(self, *, stopping: bool = False) -> Action:
        """What rolling (``stopping``: stopping) needs now: RECORD where it starts or ends a take, else PLAY."""
        recording = self.take is not None if stopping else self._mode is Mode.RECORD
        return Action.RECORD if recording else Action.PLAY

    def busy(self) -> str:
        """What the roll is doing, for a refusal ("recording take 1M1-3", "rehearsing 1M1"); empty when stopped."""
        if self._roll is None:
            return ""
        if self._roll.take is not None:
            return f"recording take {self._roll.take.label}"
        return f"rehearsing {self._roll.cue}"

    def load(
        self, cue_ids: Iterable[str], next_numbers: Mapping[str, int] | None = None, *, role: Role | None = None
    ) -> None:
        """Make ``cue_ids`` the cues that can be rolled.

        ``next_numbers`` (cue → next take number, from the store) raises the
        counters; they never go down, so a reload never reuses a number.
        """
        require(role, Action.ARM)
        if self._roll is not None:
            raise SessionError(f"cannot load a cue sheet while {self.busy()}: stop first")
        ids = tuple(cue_ids)
        seen: set[str] = set()
        for cue in ids:
            if not isinstance(cue, str) or not cue.strip():
                raise SessionError(f"cue id {cue!r} is empty")
            if cue in seen:
                raise SessionError(f"cue {cue} appears twice on the cue sheet")
            seen.add(cue)
        for cue, number in (next_numbers or {}).items():
            if number < 1:
                raise SessionError(f"cue {cue}: next take number must be 1 or more, not {number}")
            self._next[cue] = max(self._next.get(cue, 1), number)
        self._cues = ids

    def set_mode(self, mode: Mode, *, role: Role | None = None) -> tuple[Event, ...]:
        """Choose whether rolling rehearses or records."""
        require(role, Action.ARM)
        if self._roll is not None:
            raise SessionError(f"cannot switch to {mode.value} while {self.busy()}: stop first")
        if mode is self._mode:
            return ()
        self._mode = mode
        return (ModeChanged(mode),)

    def roll(
        self,
        cue: str,
        position: Timecode,
        at: datetime,
        pickup_bar: int | None = None,
        wild: bool = False,
        *,
        role: Role | None = None,
        revision: str | None = None,
        picture_revision: str | None = None,
    ) -> tuple[Event, ...]:
        """Roll ``cue`` (the armed one) at picture ``position`` (wall-clock ``at``).

        In record mode a new take starts (``TakeStarted``); in rehearse mode
        nothing is logged.  ``pickup_bar`` marks a pickup ("from bar 33"),
        ``wild`` a take recorded off picture, ``revision`` the cue's revision,
        ``picture_revision`` the picture's.
        """
        require(role, self.needs())
        if self._roll is not None:
            raise SessionError(f"already {self.busy()}")
        if cue not in self._cues:
            raise NotFound(f"cue {cue} is not on the cue sheet")
        if pickup_bar is not None and (isinstance(pickup_bar, bool) or not 1 <= pickup_bar <= MAX_BAR):
            raise SessionError(f"pickup bar must be 1 to {MAX_BAR}, not {pickup_bar!r}")
        _aware("roll time", at)
        if self._mode is Mode.REHEARSE:
            self._roll = _Roll(cue, position, None)
            return ()
        number = self.next_number(cue)
        take = Take(cue, number, str(position), at, pickup_bar=pickup_bar, wild=wild, revision=revision,
                    picture_revision=picture_revision)
        self._next[cue] = number + 1
        self._roll = _Roll(cue, position, take)
        return (TakeStarted(take),)

    def stored(self, take: Take) -> None:
        """Adopt the store's copy of the take being recorded (it has the id), so ``TakeEnded`` carries it."""
        current = self.take
        if current is None or (take.cue, take.number) != (current.cue, current.number):
            raise SessionError(f"take {take.label} is not the take being recorded")
        assert self._roll is not None
        self._roll.take = take

    def stop(self, position: Timecode, at: datetime, *, role: Role | None = None) -> tuple[Event, ...]:
        """Stop at picture ``position``; a take being recorded ends (``TakeEnded``)."""
        if self._roll is None:
            raise SessionError("not rolling")
        require(role, self.needs(stopping=True))
        if position.rate != self._roll.position.rate:
            raise SessionError(
                f"stop position is at {position.rate} fps but {self.busy()} rolled at {self._roll.position.rate}"
            )
        _aware("stop time", at)
        take = self._roll.take
        if take is None:
            self._roll = None
            return ()
        # A locate backwards during the take would give a negative length; it covered no picture forward.
        seconds = max(position.picture_seconds - self._roll.position.picture_seconds, Fraction(0))
        ended = replace(take, tc_out=str(position), ended_at=at, duration=float(seconds))
        self._roll = None
        return (TakeEnded(ended),)

    def crashed(self) -> Take | None:
        """The engine died while rolling: the roll is over, and the take being recorded, if any, is returned as is.

        Nothing is made up: the take keeps no timecode out, no end time and
        no duration, exactly as a crash of the whole service leaves it in the
        take log.  Its number stays used.  No event: there is no end to store.
        """
        if self._roll is None:
            return None
        take, self._roll = self._roll.take, None
        return take
