"""The machine's real PostgreSQL, one scratch database per use, dropped afterwards.

``STAGE_TEST_POSTGRES`` names the server's admin database (default: the local
``test`` database, trust auth). An unreachable server raises
`PostgresUnavailable` with the reason: a test using it fails, never skips, and
a benchmark can say so and go on.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
from peers.wait import SCALE

PG_ADMIN = os.environ.get("STAGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server cannot be reached."""


@contextlib.asynccontextmanager
async def scratch_database(admin_url: str = PG_ADMIN, prefix: str = "stage_test") -> AsyncIterator[str]:
    """Create ``<prefix>_<random>``, yield its URL, drop it (even with sessions still open)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        admin = await asyncpg.connect(admin_url, timeout=5 * SCALE)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise PostgresUnavailable(f"PostgreSQL at {admin_url} is needed and is not reachable: {exc!r}") from exc
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
