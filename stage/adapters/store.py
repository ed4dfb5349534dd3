"""The take store: every take and every edit, durable before a call returns.

SQLAlchemy 2 Core, async: SQLite through aiosqlite (the default, in WAL mode
with ``synchronous=FULL`` on every connection) or PostgreSQL through asyncpg
(default durability: ``synchronous_commit=on``).  This is the only module that
imports SQLAlchemy.

Concurrent edits never lose an update: an edit reads, checks and writes its
take in one transaction that holds the take's row lock (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite's write lock, taken at ``BEGIN IMMEDIATE``), and
the write itself is guarded by the version it read.  Every change lands in the
``take_edits`` history in the same transaction.

Take numbers are unique per cue in the database (a unique constraint), so a
crash between choosing a number and inserting the take can never duplicate it.

The schema carries its version in ``schema_version``; :data:`MIGRATIONS` are
applied in order, in one transaction, when a store is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from stage.core.limits import MAX_ID, valid_id
from stage.core.session import Note, Role, Take, TakeEdit, TakeStatus, apply_edit
from stage.errors import NotFound, StageError, StoreError, StoreRefused, StoreUnavailable

DEFAULT_URL = "sqlite:///stage-takes.db"
DEFAULT_TIMEOUT = 5.0  # seconds: connecting, and waiting for a lock or a statement

# --- the schema as it is now (what queries use) -------------------------------------------------

_META = MetaData()

takes = Table(
    "takes",
    _META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cue", String(32), nullable=False),
    Column("number", Integer, nullable=False),
    Column("pickup_bar", Integer),
    Column("wild", Boolean, nullable=False),
    Column("status", String(16)),
    Column("tc_in", String(16), nullable=False),
    Column("tc_out", String(16)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("duration", Float),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("revision", String(64)),
    Column("picture_revision", String(64)),
    UniqueConstraint("cue", "number", name="takes_cue_number"),
)

take_edits = Table(
    "take_edits",
    _META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("take_id", Integer, ForeignKey("takes.id"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("old", Text),
    Column("new", Text),
    Column("role", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

take_notes = Table(
    "take_notes",
    _META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("take_id", Integer, ForeignKey("takes.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

schema_version = Table("schema_version", MetaData(), Column("version", Integer, nullable=False))


# --- migrations: each step takes the schema from version n to n + 1 -----------------------------
# Steps build their own table snapshots: they must keep doing what they did when they were written.


def _v1_takes_and_history(conn: Connection) -> None:
    """Takes, unique per cue and number, and the history of their edits (notes lived only there)."""
    meta = MetaData()
    Table(
        "takes",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("cue", String(32), nullable=False),
        Column("number", Integer, nullable=False),
        Column("pickup_bar", Integer),
        Column("wild", Boolean, nullable=False),
        Column("status", String(16)),
        Column("tc_in", String(16), nullable=False),
        Column("tc_out", String(16)),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("ended_at", DateTime(timezone=True)),
        Column("duration", Float),
        UniqueConstraint("cue", "number", name="takes_cue_number"),
    )
    Table(
        "take_edits",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("take_id", Integer, ForeignKey("takes.id"), nullable=False),
        Column("field", String(32), nullable=False),
        Column("old", Text),
        Column("new", Text),
        Column("role", String(16), nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Index("take_edits_take", "take_id"),
    )
    meta.create_all(conn)


def _v2_notes_and_versions(conn: Connection) -> None:
    """Notes get their own table (filled from the history) and takes a version (their edits so far)."""
    meta = MetaData()
    Table("takes", meta, Column("id", Integer, primary_key=True))  # only for the foreign key
    notes = Table(
        "take_notes",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("take_id", Integer, ForeignKey("takes.id"), nullable=False),
        Column("role", String(16), nullable=False),
        Column("text", Text, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Index("take_notes_take", "take_id"),
    )
    notes.create(conn)
    conn.execute(text("ALTER TABLE takes ADD COLUMN version INTEGER NOT NULL DEFAULT 0"))
    conn.execute(
        text(
            "INSERT INTO take_notes (take_id, role, text, at) "
            "SELECT take_id, role, new, at FROM take_edits WHERE field = 'note' ORDER BY id"
        )
    )
    conn.execute(
        text("UPDATE takes SET version = (SELECT count(*) FROM take_edits WHERE take_edits.take_id = takes.id)")
    )


def _v3_cue_revisions(conn: Connection) -> None:
    """Takes record the revision of the cue they were recorded under (older takes: unknown, NULL)."""
    conn.execute(text("ALTER TABLE takes ADD COLUMN revision VARCHAR(64)"))


def _v4_picture_revisions(conn: Connection) -> None:
    """Takes record the picture revision they were recorded against (older takes: unknown, NULL)."""
    conn.execute(text("ALTER TABLE takes ADD COLUMN picture_revision VARCHAR(64)"))


MIGRATIONS: Sequence[Callable[[Connection], None]] = (
    _v1_takes_and_history,
    _v2_notes_and_versions,
    _v3_cue_revisions,
    _v4_picture_revisions,
)

_PG_MIGRATION_LOCK = 0x7374_6167_6500  # "stage": one migrator at a time per database


def _migrate(conn: Connection, target: int | None = None) -> int:
    """Bring the schema up to ``target`` (default: the newest) in the caller's transaction; returns the version."""
    target = len(MIGRATIONS) if target is None else target
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
    schema_version.create(conn, checkfirst=True)
    found = conn.execute(select(schema_version.c.version)).scalar()
    if found is None:
        conn.execute(insert(schema_version).values(version=0))
        found = 0
    if found > len(MIGRATIONS):
        raise StoreError(
            f"the take database has schema version {found}, newer than this stage knows ({len(MIGRATIONS)}): "
            "upgrade stage"
        )
    for version in range(found, target):
        MIGRATIONS[version](conn)
        conn.execute(update(schema_version).values(version=version + 1))
    return max(found, target)


# --- engines -------------------------------------------------------------------------------------

_SQLITE_NAMES = {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}
_PG_NAMES = {"postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2"}
_READ_ONLY = "stage_read_only"


def _engine(url: str, timeout: float, sqlite_synchronous: str, *, create: bool = True) -> AsyncEngine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"{url!r} is not a database URL (use sqlite:///PATH or postgresql://USER@HOST/DATABASE)"
        ) from None
    name = parsed.drivername
    if name in _SQLITE_NAMES:
        if parsed.database in (None, "", ":memory:"):
            raise StoreError(f"{url!r}: the take log must live in a file (sqlite:///PATH), not in memory")
        if not create and not Path(parsed.database).is_file():
            raise StoreError(f"no take log at {parsed.database} (nothing recorded with this [takes] database yet?)")
        engine = create_async_engine(
            parsed.set(drivername="sqlite+aiosqlite"),
            connect_args={"timeout": timeout},  # how long to wait for another writer's lock
        )
        _sqlite_events(engine, sqlite_synchronous)
        return engine
    if name in _PG_NAMES:
        return create_async_engine(
            parsed.set(drivername="postgresql+asyncpg"),
            connect_args={"timeout": timeout, "command_timeout": 2 * timeout},
            pool_pre_ping=True,  # a restarted server costs one reconnect, not one failed take
            pool_timeout=2 * timeout,
        )
    raise StoreError(
        f"unsupported take database {parsed.render_as_string(hide_password=True)!r} "
        "(use sqlite:///PATH or postgresql://USER@HOST/DATABASE)"
    )


def _sqlite_events(engine: AsyncEngine, synchronous: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions into our own hands (the driver's implicit BEGIN comes too late for DDL
        # and never takes the write lock up front).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            mode = cursor.fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"SQLite refused WAL mode (journal_mode is {mode})")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        # Writers take the write lock at BEGIN: an edit's read and write can never interleave with another's.
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


# --- rows ↔ takes --------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _from_db(value: datetime) -> datetime:
    # SQLite keeps no offset: everything is written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _take_row(take: Take) -> dict[str, Any]:
    return {
        "cue": take.cue,
        "number": take.number,
        "pickup_bar": take.pickup_bar,
        "wild": take.wild,
        "status": None if take.status is None else take.status.value,
        "tc_in": take.tc_in,
        "tc_out": take.tc_out,
        "started_at": _utc(take.started_at),
        "ended_at": None if take.ended_at is None else _utc(take.ended_at),
        "duration": take.duration,
        "version": take.version,
        "revision": take.revision,
        "picture_revision": take.picture_revision,
    }


def _note_row(take_id: int, note: Note) -> dict[str, Any]:
    return {"take_id": take_id, "role": note.role.value, "text": note.text, "at": _utc(note.at)}


def _edit_row(take_id: int, e: TakeEdit) -> dict[str, Any]:
    return {"take_id": take_id, "field": e.field, "old": e.old, "new": e.new, "role": e.role.value, "at": _utc(e.at)}


def _take(row: Any, notes: Sequence[Note]) -> Take:
    return Take(
        cue=row.cue,
        number=row.number,
        tc_in=row.tc_in,
        started_at=_from_db(row.started_at),
        pickup_bar=row.pickup_bar,
        wild=bool(row.wild),
        status=None if row.status is None else TakeStatus(row.status),
        tc_out=row.tc_out,
        ended_at=None if row.ended_at is None else _from_db(row.ended_at),
        duration=row.duration,
        notes=tuple(notes),
        id=row.id,
        version=row.version,
        revision=row.revision,
        picture_revision=row.picture_revision,
    )


def _note(row: Any) -> Note:
    return Note(Role(row.role), row.text, _from_db(row.at))


def _edit(row: Any) -> TakeEdit:
    return TakeEdit(row.take_id, row.field, row.old, row.new, Role(row.role), _from_db(row.at))


def _reason(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    words = str(orig).strip().splitlines()
    detail = words[0] if words else ""
    return f"{type(orig).__name__}: {detail}" if detail else type(orig).__name__


@contextlib.asynccontextmanager
async def _guard(url: str, what: str) -> AsyncIterator[None]:
    """Turn whatever the driver raises (its errors, OSError, timeouts) into one clear StoreUnavailable."""
    try:
        yield
    except StageError:
        raise
    except Exception as exc:
        raise StoreUnavailable(f"take store {url}: could not {what}: {_reason(exc)}") from exc


def known_take(take_id: int) -> None:
    """:class:`NotFound` for an id no take can have: the database is never asked about a number it cannot hold."""
    if not valid_id(take_id):
        raise NotFound(f"no take with id {take_id} (ids run from 1 to {MAX_ID})")


# --- the store -----------------------------------------------------------------------------------


class TakeStore:
    """Every take and every edit, in SQLite or PostgreSQL.  Open with :func:`open_store`.

    Every write is committed before its call returns: acknowledge a take only
    after :meth:`insert_take` returned.  A refusal (a duplicate, a stale
    version) raises :class:`StoreRefused`; a database that fails or cannot be
    reached :class:`StoreUnavailable`, with the database (password hidden) and
    the reason; unknown takes raise :class:`NotFound`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = engine.execution_options(**{_READ_ONLY: True})
        self.url = engine.url.render_as_string(hide_password=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _notes(self, conn: AsyncConnection, take_ids: Iterable[int]) -> dict[int, list[Note]]:
        ids = list(take_ids)
        found: dict[int, list[Note]] = {i: [] for i in ids}
        if ids:
            rows = await conn.execute(select(take_notes).where(take_notes.c.take_id.in_(ids)).order_by(take_notes.c.id))
            for row in rows:
                found[row.take_id].append(_note(row))
        return found

    async def _get(self, conn: AsyncConnection, take_id: int, *, lock: bool = False) -> Take:
        known_take(take_id)
        query = select(takes).where(takes.c.id == take_id)
        row = (await conn.execute(query.with_for_update() if lock else query)).one_or_none()
        if row is None:
            raise NotFound(f"no take with id {take_id}")
        return _take(row, (await self._notes(conn, [take_id]))[take_id])

    async def durability(self) -> str:
        """What the database promises at commit, e.g. ``journal_mode=wal synchronous=2``."""
        async with _guard(self.url, "read its settings"), self._reads.connect() as conn:
            if conn.dialect.name == "sqlite":
                mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
                sync = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
                return f"journal_mode={mode} synchronous={sync}"
            commit = (await conn.exec_driver_sql("SHOW synchronous_commit")).scalar()
            fsync = (await conn.exec_driver_sql("SHOW fsync")).scalar()
            return f"synchronous_commit={commit} fsync={fsync}"

    async def schema_version(self) -> int:
        """The schema version of the database."""
        async with _guard(self.url, "read the schema version"), self._reads.connect() as conn:
            return int((await conn.execute(select(schema_version.c.version))).scalar_one())

    async def next_take_number(self, cue: str) -> int:
        """The number the next take of ``cue`` gets: one more than the highest ever logged."""
        return (await self.next_take_numbers([cue]))[cue]

    async def next_take_numbers(self, cues: Iterable[str] | None = None) -> dict[str, int]:
        """Next take number per cue, for ``cues`` (default: every cue with a take); seeds a session."""
        wanted = None if cues is None else list(cues)
        query = select(takes.c.cue, func.max(takes.c.number)).group_by(takes.c.cue)
        if wanted is not None:
            query = query.where(takes.c.cue.in_(wanted))
        async with _guard(self.url, "read take numbers"), self._reads.connect() as conn:
            found = {cue: top + 1 for cue, top in await conn.execute(query)}
        if wanted is not None:
            return {cue: found.get(cue, 1) for cue in wanted}
        return found

    async def insert_take(self, take: Take) -> Take:
        """Store a new take; returns it with its id once it is committed."""
        if take.id is not None:
            raise StoreRefused(f"take {take.label} is already stored (id {take.id})")
        async with _guard(self.url, f"store take {take.label}"):
            try:
                async with self._engine.begin() as conn:
                    result = await conn.execute(insert(takes).values(**_take_row(take)))
                    key = result.inserted_primary_key
                    assert key is not None
                    take_id = int(key[0])
                    for note in take.notes:
                        await conn.execute(insert(take_notes).values(_note_row(take_id, note)))
            except IntegrityError:
                free = await self.next_take_number(take.cue)
                raise StoreRefused(f"take {take.label} is already in the take log (next free number: {free})") from None
        return replace(take, id=take_id)

    async def end_take(self, take: Take) -> Take:
        """Record where and when ``take`` ended (found by id, else by cue and number); returns the stored take.

        Edits made while it was rolling (status, notes) are kept: only the
        end fields are written.
        """
        if not take.ended:
            raise StoreRefused(f"take {take.label} has not ended")
        if take.id is not None:
            known_take(take.id)
            where = takes.c.id == take.id
        else:
            where = (takes.c.cue == take.cue) & (takes.c.number == take.number)
        assert take.ended_at is not None
        async with _guard(self.url, f"end take {take.label}"), self._engine.begin() as conn:
            result = await conn.execute(
                update(takes)
                .where(where)
                .values(tc_out=take.tc_out, ended_at=_utc(take.ended_at), duration=take.duration)
                .returning(takes.c.id)
            )
            take_id = result.scalar_one_or_none()
            if take_id is None:
                raise NotFound(f"take {take.label} is not in the take log")
            return await self._get(conn, take_id)

    async def update_take(
        self,
        take_id: int,
        changes: Mapping[str, object],
        role: Role,
        at: datetime,
        expected_version: int | None = None,
    ) -> tuple[Take, tuple[TakeEdit, ...]]:
        """Edit a take as ``role`` (see :func:`stage.core.session.apply_edit`) and log every change.

        One transaction holds the take's lock from read to commit, so two
        roles editing at once both land: the later one sees the earlier one's
        result.  With ``expected_version`` the edit is refused if anyone
        changed the take since that version was read.
        """
        async with _guard(self.url, f"edit take {take_id}"), self._engine.begin() as conn:
            take = await self._get(conn, take_id, lock=True)
            if expected_version is not None and take.version != expected_version:
                raise StoreRefused(
                    f"take {take.label} was changed meanwhile (now version {take.version}, "
                    f"edit made on version {expected_version}): reload it and edit again"
                )
            new, edits = apply_edit(take, changes, role, at)
            if not edits:
                return take, ()
            result = await conn.execute(
                update(takes)
                .where((takes.c.id == take_id) & (takes.c.version == take.version))
                .values(status=_take_row(new)["status"], pickup_bar=new.pickup_bar, wild=new.wild, version=new.version)
            )
            if result.rowcount != 1:  # the lock makes this impossible; the version guard makes sure
                raise StoreRefused(f"take {take.label} was changed meanwhile: edit again")
            for note in new.notes[len(take.notes) :]:
                await conn.execute(insert(take_notes).values(_note_row(take_id, note)))
            await conn.execute(insert(take_edits), [_edit_row(take_id, e) for e in edits])
        return new, tuple(replace(e, take_id=take_id) for e in edits)

    async def get_take(self, take_id: int) -> Take:
        """The take with id ``take_id``."""
        async with _guard(self.url, f"read take {take_id}"), self._reads.connect() as conn:
            return await self._get(conn, take_id)

    async def list_takes(self, cue: str | None = None) -> list[Take]:
        """Every take (of ``cue``), in the order they were logged."""
        query = select(takes).order_by(takes.c.id)
        if cue is not None:
            query = query.where(takes.c.cue == cue)
        async with _guard(self.url, "list takes"), self._reads.connect() as conn:
            rows = (await conn.execute(query)).all()
            notes = await self._notes(conn, [row.id for row in rows])
        return [_take(row, notes[row.id]) for row in rows]

    async def history(self, take_id: int) -> list[TakeEdit]:
        """Every edit of a take, oldest first."""
        known_take(take_id)
        async with _guard(self.url, f"read the history of take {take_id}"), self._reads.connect() as conn:
            if (await conn.execute(select(takes.c.id).where(takes.c.id == take_id))).first() is None:
                raise NotFound(f"no take with id {take_id}")
            rows = await conn.execute(
                select(take_edits).where(take_edits.c.take_id == take_id).order_by(take_edits.c.id)
            )
            return [_edit(row) for row in rows]

    async def close(self) -> None:
        """Close every connection."""
        await self._engine.dispose()


async def _open(url: str, *, connect_timeout: float = DEFAULT_TIMEOUT, sqlite_synchronous: str = "FULL",
                create: bool = True) -> TakeStore:
    engine = _engine(url, connect_timeout, sqlite_synchronous, create=create)
    store = TakeStore(engine)
    deadline = time.monotonic() + connect_timeout
    try:
        while True:
            try:
                async with _guard(store.url, "open the take database"), engine.begin() as conn:
                    await conn.run_sync(_migrate)
                break
            except StoreError as exc:
                if not (_locked(exc) and engine.dialect.name == "sqlite" and time.monotonic() < deadline):
                    raise
                # A new SQLite file: its switch to WAL needs the file to itself for an instant, and SQLite
                # refuses it at once, without waiting its busy timeout, while another connection (another
                # stage, `stage takes export`) is opening the same file.  Once one switch is done it is never
                # needed again, so trying again a moment later succeeds.
                await asyncio.sleep(0.01)
    except BaseException:
        await engine.dispose()
        raise
    return store


def _locked(exc: StoreError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, DBAPIError) and "database is locked" in str(cause.orig)


async def open_store(url: str = DEFAULT_URL, *, connect_timeout: float = DEFAULT_TIMEOUT,
                     create: bool = True) -> TakeStore:
    """Open (and create or migrate) the take database at ``url``.

    ``sqlite:///PATH`` and ``sqlite+aiosqlite:///PATH`` (a relative PATH is
    from the working directory; ``sqlite:////abs/path`` for an absolute one),
    ``postgresql://…`` and ``postgresql+asyncpg://…``.  ``connect_timeout`` bounds
    connecting and waiting for locks, so a database that is down gives a
    :class:`StoreError` within seconds instead of a hang.  With ``create``
    false, a SQLite file that does not exist is a :class:`StoreError`
    (readers such as ``stage takes export`` must not leave an empty log behind).
    """
    return await _open(url, connect_timeout=connect_timeout, create=create)


# --- backups ------------------------------------------------------------------------------------


def backup_take_log(url: str, dest: Path) -> str:
    """Copy the take log at ``url`` to ``dest`` while the stage may be writing to it; what was copied, in words.

    SQLite: the online backup API (a consistent copy of the whole file, taken
    page by page while writers go on; ``dest`` is a SQLite file that opens as
    the take log).  PostgreSQL: ``pg_dump --format=custom`` (one consistent
    snapshot; ``pg_restore`` puts it back).  A copy is written next to ``dest``
    and renamed over it only once it is whole.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"{url!r} is not a database URL") from None
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        if parsed.drivername in _SQLITE_NAMES:
            source = Path(parsed.database or "")
            if not source.is_file():
                raise StoreError(f"no take log at {source} (nothing recorded with this [takes] database yet?)")
            with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
                    contextlib.closing(sqlite3.connect(partial)) as out:
                src.backup(out)
                takes_copied = out.execute("SELECT count(*) FROM takes").fetchone()[0]
            what = f"{takes_copied} takes from {source} (SQLite online backup)"
        elif parsed.drivername in _PG_NAMES:
            pg_dump = shutil.which("pg_dump")
            if pg_dump is None:
                raise StoreError("pg_dump is not installed (Debian: postgresql-client)")
            plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            done = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--file", str(partial), plain],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise StoreError(f"pg_dump of {parsed.render_as_string(hide_password=True)} failed: "
                                 f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
            what = f"{parsed.render_as_string(hide_password=True)} (pg_dump, custom format: restore with pg_restore)"
        else:
            raise StoreError(f"unsupported take database {parsed.render_as_string(hide_password=True)!r}")
        partial.replace(dest)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot back the take log up to {dest}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return what
