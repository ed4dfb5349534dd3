"""The live services the fuzzers hammer: one on SQLite for the session, and one per take database for REST."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from peers.postgres import PG_ADMIN
from peers.wait import SCALE

from fuzz.livestage import LiveStage, live_stage


def _admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5 * SCALE)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStage]:
    """``stage serve`` with every transport on, its take log on SQLite."""
    tmp = tmp_path_factory.mktemp("live")
    with live_stage(tmp, f"sqlite:///{tmp / 'takes.db'}") as stage:
        yield stage


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStage]:
    """``stage serve`` on a fresh SQLite file, then on a scratch PostgreSQL database."""
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    if request.param == "sqlite":
        with live_stage(tmp, f"sqlite:///{tmp / 'takes.db'}") as stage:
            yield stage
        return
    name = f"stage_fuzz_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        with live_stage(tmp, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}") as stage:
            yield stage
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
