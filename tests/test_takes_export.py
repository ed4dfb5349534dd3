"""``stage takes export``: the take sheet of the take log named in the config, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from peers.postgres import PG_ADMIN

from stage.adapters.store import open_store
from stage.cli import main
from stage.core.session import Role, Take

ROOT = Path(__file__).resolve().parents[1]

T0 = datetime(2026, 3, 2, 13, 30, 5, 250000, tzinfo=UTC)

HEADER = "cue,take,pickup_bar,wild,status,tc_in,tc_out,duration,date,time_of_day,notes,revision,picture_revision\r\n"
ROWS = (
    "1M1,1,,no,false_start,01:00:10:00,01:00:12:06,2.250,2026-03-02,14:30:05,,,\r\n"
    '1M1,2,33,no,print,01:01:14:00,01:01:52:12,38.500,2026-03-02,14:31:05,"conductor: lovely, horns | '
    'editor: use bar 40 from take 1",5e1f00c0ffee,4-1f9a2c\r\n'
    "1M2,1,,yes,,01:05:00:00,,,2026-03-02,14:32:05,,,\r\n"
)


def _pg(statement: str) -> None:
    async def run() -> None:
        try:
            admin = await asyncpg.connect(PG_ADMIN, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is needed for these tests and is not reachable: {exc!r}")
        try:
            await admin.execute(statement)
        finally:
            await admin.close()

    asyncio.run(run())


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A scratch PostgreSQL database for each test (conftest's ``url`` runs every test on it and on SQLite),
    made without an event loop: these tests are synchronous and the command runs its own."""
    name = f"stage_test_{secrets.token_hex(6)}"
    _pg(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time is Paris (UTC+1 in March): times of day are shown in it."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def log_takes(url: str) -> None:
    async def run() -> None:
        async with await open_store(url) as store:
            one = await store.insert_take(Take("1M1", 1, "01:00:10:00", T0))
            await store.end_take(replace(one, tc_out="01:00:12:06", ended_at=T0, duration=2.25))
            await store.update_take(one.id or 0, {"status": "fs"}, Role.ENGINEER, T0)
            two = await store.insert_take(
                Take("1M1", 2, "01:01:14:00", T0.replace(minute=31), pickup_bar=33, revision="5e1f00c0ffee",
                     picture_revision="4-1f9a2c")
            )
            await store.end_take(replace(two, tc_out="01:01:52:12", ended_at=T0, duration=38.5))
            await store.update_take(two.id or 0, {"status": "circled", "note": "lovely, horns"}, Role.CONDUCTOR, T0)
            await store.update_take(two.id or 0, {"note": "use bar 40 from take 1"}, Role.EDITOR, T0)
            await store.insert_take(Take("1M2", 1, "01:05:00:00", T0.replace(minute=32), wild=True))

    asyncio.run(run())


def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "stage.toml"
    path.write_text(f'[takes]\ndatabase = "{url}"\n', encoding="utf-8")
    return path


def test_csv_is_the_take_sheet_in_local_time(
    url: str, tmp_path: Path, paris: None, capsys: pytest.CaptureFixture[str]
) -> None:
    log_takes(url)
    assert main(["takes", "export", "--config", str(config(tmp_path, url))]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (HEADER + ROWS, "")
    assert main(["takes", "export", "--format", "csv", "--config", str(config(tmp_path, url))]) == 0
    assert capsys.readouterr().out == HEADER + ROWS


def test_json_keeps_the_types(url: str, tmp_path: Path, paris: None, capsys: pytest.CaptureFixture[str]) -> None:
    log_takes(url)
    assert main(["takes", "export", "--format", "json", "--config", str(config(tmp_path, url))]) == 0
    sheet = json.loads(capsys.readouterr().out)
    assert sheet["columns"] == HEADER.strip().split(",")
    second = sheet["takes"][1]
    assert {k: second[k] for k in sheet["columns"] if k != "notes"} == {
        "cue": "1M1",
        "take": 2,
        "pickup_bar": 33,
        "wild": False,
        "status": "print",
        "tc_in": "01:01:14:00",
        "tc_out": "01:01:52:12",
        "duration": 38.5,
        "date": "2026-03-02",
        "time_of_day": "14:31:05",
        "revision": "5e1f00c0ffee",
        "picture_revision": "4-1f9a2c",
    }
    assert second["notes"] == [
        {"role": "conductor", "text": "lovely, horns", "at": "2026-03-02T14:30:05.250000+01:00"},
        {"role": "editor", "text": "use bar 40 from take 1", "at": "2026-03-02T14:30:05.250000+01:00"},
    ]
    assert (second["started_at"], second["version"]) == ("2026-03-02T14:31:05.250000+01:00", 2)
    assert [(t["cue"], t["take"], t["tc_out"]) for t in sheet["takes"]] == [
        ("1M1", 1, "01:00:12:06"),
        ("1M1", 2, "01:01:52:12"),
        ("1M2", 1, None),
    ]


def test_without_a_config_the_default_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paris: None, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    log_takes("sqlite:///stage-takes.db")
    assert main(["takes", "export"]) == 0
    assert capsys.readouterr().out == HEADER + ROWS


def test_a_database_that_is_not_there_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, "postgresql://postgres@127.0.0.1/stage_no_such_database")
    assert main(["takes", "export", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("stage: take store postgresql+asyncpg://postgres@127.0.0.1/stage_no_such_database: ")
    assert 'database "stage_no_such_database" does not exist' in err
    assert err.count("\n") == 1


def test_a_sqlite_log_that_is_not_there_is_one_line_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-takes.db"
    path = config(tmp_path, f"sqlite:///{missing}")
    assert main(["takes", "export", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"stage: no take log at {missing} (nothing recorded with this [takes] database yet?)\n"
    assert not missing.exists()


def test_a_bad_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["takes", "export", "--format", "xml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stage takes export: error: argument --format: invalid choice: 'xml' (choose from ")
    assert err.endswith(" (see stage takes export --help)\n")


def test_the_installed_command_prints_the_sheet(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'takes.db'}"
    log_takes(url)
    done = subprocess.run(
        [sys.executable, "-m", "stage", "takes", "export", "--config", str(config(tmp_path, url))],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "TZ": "Europe/Paris"},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == (HEADER + ROWS).encode()
