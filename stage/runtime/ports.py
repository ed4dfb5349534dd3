"""What the runtime needs of the systems outside it, as protocols the runtime owns.

The adapters implement them (:class:`stage.adapters.store.TakeStore` is the
take log on SQLite or PostgreSQL); the composition root (:mod:`stage.app`)
hands the runtime one.  The runtime never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any, Protocol

from stage.core.session import Role, Take, TakeEdit
from stage.runtime.enginecore import EngineCore, EngineSettings


class TakeStore(Protocol):
    """The durable take log: every write is committed before it returns.

    Errors: :class:`~stage.errors.StoreError` and its kinds (a refusal when the
    store answered no, an outage when it could not be reached);
    :class:`~stage.errors.NotFound` for an unknown take.
    """

    url: str  # where the log is, as configured (passwords hidden): for health and messages

    async def next_take_number(self, cue: str) -> int:
        """The number the next take of ``cue`` gets."""

    async def next_take_numbers(self, cues: Iterable[str] | None = None) -> dict[str, int]:
        """The next take number of each of ``cues`` (None: every cue in the log)."""

    async def insert_take(self, take: Take) -> Take:
        """Log a new take; it comes back with its id."""

    async def end_take(self, take: Take) -> Take:
        """Log the end of a take already stored."""

    async def update_take(
        self,
        take_id: int,
        changes: Mapping[str, object],
        role: Role,
        at: datetime,
        expected_version: int | None = None,
    ) -> tuple[Take, tuple[TakeEdit, ...]]:
        """Edit a take as ``role`` at ``at``; the take after the edit and the changes made."""

    async def get_take(self, take_id: int) -> Take:
        """One take by id."""

    async def list_takes(self, cue: str | None = None) -> list[Take]:
        """Every take (of ``cue``), in the order they were logged."""

    async def history(self, take_id: int) -> list[TakeEdit]:
        """Every edit of one take, oldest first."""


class DriverOpener(Protocol):
    """Opens the engine's MIDI/audio backend, in the engine process (:func:`stage.runtime.engine.engine_main`).

    It builds the :class:`EngineCore` at the backend's sample rate, hands it
    the backend's cycles, sends one :class:`~stage.runtime.messages.Ready` on
    ``events`` and returns the core with the driver (which has ``close()`` and
    ``frames_to_monotonic(frame)``, and ``xruns`` with ``handler_errors`` or a
    ``stats()`` as :class:`~stage.runtime.engine.SoftClock` has).  Raises
    :class:`~stage.errors.MidiError` when the backend is not there: the engine
    then runs on its own clock without MIDI.

    The engine process is spawned, so the opener must pickle: a function
    defined at the top level of a module (pickled by its name, imported again
    in the child), as :func:`stage.adapters.engine_drivers.open_driver` is.
    """

    def __call__(self, settings: EngineSettings, events: Connection) -> tuple[EngineCore, Any]:
        """The core and the opened driver."""


class Timings(Protocol):
    """Where the runtime says how long its promises took: the metrics adapter turns each into a histogram.

    Called on the event loop, once per take written or acknowledged: an
    implementation only records (no I/O, nothing that waits).
    """

    def acknowledged(self, what: str, seconds: float) -> None:
        """A control edge's ``what`` (``roll``, ``stop``) was answered with its take committed, ``seconds`` after
        it was asked."""

    def committed(self, seconds: float, *, ok: bool) -> None:
        """One write of a take to the store took ``seconds`` (``ok``: it landed; else it waits for a retry)."""


class NoTimings:
    """:class:`Timings` that records nothing (no metrics wanted)."""

    def acknowledged(self, what: str, seconds: float) -> None:
        """Nothing."""

    def committed(self, seconds: float, *, ok: bool) -> None:
        """Nothing."""
