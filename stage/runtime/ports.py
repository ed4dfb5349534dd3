"""What the runtime needs of the systems outside it, as protocols the runtime owns.

The adapters implement them (:class:`stage.adapters.store.TakeStore` is the
take log on SQLite or PostgreSQL); the composition root (:mod:`stage.app`)
hands the runtime one.  The runtime never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from stage.core.session import Role, Take, TakeEdit


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
