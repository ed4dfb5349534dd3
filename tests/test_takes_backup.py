"""``stage takes backup``: a copy of the take log taken while takes are written holds every take acknowledged
before it began, and opens (SQLite) or restores (PostgreSQL, pg_restore) as a take log."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from peers.postgres import PG_ADMIN
from test_takes_export import _pg, config, pg_database  # noqa: F401 -- the url fixture's PostgreSQL database

from stage.adapters.store import open_store
from stage.cli import main
from stage.core.session import Take

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Writer(threading.Thread):
    """Logs take after take on its own loop, as a stage does, noting each one the store acknowledged."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.acknowledged: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        async def write() -> None:
            async with await open_store(self.url) as store:
                n = 0
                while not self.stop.is_set():
                    n += 1
                    await store.insert_take(Take("1M1", n, "01:00:10:00", T0))
                    self.acknowledged.append(n)

        try:
            asyncio.run(write())
        except BaseException as exc:  # reported by the test
            self.error = exc


async def numbers(url: str) -> list[int]:
    async with await open_store(url, create=False) as store:
        return [t.number for t in await store.list_takes()]


def test_a_backup_taken_while_takes_are_written_keeps_every_acknowledged_take(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = Writer(url)
    writer.start()
    deadline = time.monotonic() + 30
    while len(writer.acknowledged) < 20 and writer.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    before = list(writer.acknowledged)
    dest = tmp_path / "backup"
    assert main(["takes", "backup", str(dest), "--config", str(config(tmp_path, url))]) == 0
    writer.stop.set()
    writer.join(30)
    assert writer.error is None
    assert len(before) >= 20
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {dest}: ")
    if url.startswith("sqlite"):
        assert "SQLite online backup" in out
        copy = f"sqlite:///{dest}"
        with contextlib.closing(sqlite3.connect(dest)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    else:
        assert "pg_dump" in out
        name = f"stage_restore_{secrets.token_hex(6)}"
        _pg(f'CREATE DATABASE "{name}"')
        copy = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
        restore = shutil.which("pg_restore")
        assert restore is not None, "pg_restore is not installed: apt-get install postgresql-client"
        subprocess.run([restore, "--no-owner", "--dbname", copy, str(dest)], check=True, capture_output=True)
    try:
        copied = asyncio.run(numbers(copy))
    finally:
        if not url.startswith("sqlite"):
            _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert set(before) <= set(copied)  # every take acknowledged before the backup began is in it
    assert set(copied) <= set(writer.acknowledged)  # and nothing that never was
    assert copied == sorted(copied)


def test_a_log_that_is_not_there_is_one_line_and_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.db"
    dest = tmp_path / "copy.db"
    assert main(["takes", "backup", str(dest), "--config", str(config(tmp_path, f"sqlite:///{missing}"))]) == 1
    assert capsys.readouterr().err == (
        f"stage: no take log at {missing} (nothing recorded with this [takes] database yet?)\n")
    assert not dest.exists()
    assert not missing.exists()


def test_a_destination_that_cannot_be_written_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'takes.db'}"
    asyncio.run(numbers_after_one(url))
    dest = tmp_path / "no-such-dir" / "copy.db"
    assert main(["takes", "backup", str(dest), "--config", str(config(tmp_path, url))]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"stage: cannot back the take log up to {dest}: ")
    assert err.count("\n") == 1


async def numbers_after_one(url: str) -> None:
    async with await open_store(url) as store:
        await store.insert_take(Take("1M1", 1, "01:00:10:00", T0))
