from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from stage.core.session import Note, Role, Take, TakeStatus
from stage.core.takesheet import COLUMNS, csv_row, to_csv, to_json

T0 = datetime(2026, 3, 2, 23, 30, 5, 250000, tzinfo=UTC)

PRINTED = Take(
    "1M1",
    3,
    "01:00:10:00",
    T0,
    pickup_bar=33,
    status=TakeStatus.PRINT,
    tc_out="01:00:52:12",
    ended_at=T0 + timedelta(seconds=43),
    duration=42.5,
    notes=(Note(Role.CONDUCTOR, "lovely horns", T0), Note(Role.ENGINEER, 'clip, bar 12 "vln"', T0)),
    id=7,
    version=3,
    revision="0123456789ab",
    picture_revision="3-1f9a2c",
)
ROLLING = Take("2M1", 1, "02:00:00;02", T0 + timedelta(minutes=5), wild=True, id=8)


def test_columns_are_stable() -> None:
    assert COLUMNS == (
        "cue",
        "take",
        "pickup_bar",
        "wild",
        "status",
        "tc_in",
        "tc_out",
        "duration",
        "date",
        "time_of_day",
        "notes",
        "revision",
        "picture_revision",
    )


def test_csv_is_exact() -> None:
    assert to_csv([PRINTED, ROLLING]) == (
        "cue,take,pickup_bar,wild,status,tc_in,tc_out,duration,date,time_of_day,notes,revision,picture_revision\r\n"
        '1M1,3,33,no,print,01:00:10:00,01:00:52:12,42.500,2026-03-02,23:30:05,"conductor: lovely horns | '
        'engineer: clip, bar 12 ""vln""",0123456789ab,3-1f9a2c\r\n'
        "2M1,1,,yes,,02:00:00;02,,,2026-03-02,23:35:05,,,\r\n"
    )


def test_an_empty_sheet_is_the_header() -> None:
    assert to_csv([]) == ",".join(COLUMNS) + "\r\n"
    assert json.loads(to_json([])) == {"columns": list(COLUMNS), "takes": []}


def test_times_are_shown_in_the_stages_time_zone() -> None:
    row = csv_row(PRINTED, tz=timezone(timedelta(hours=1)))
    assert (row["date"], row["time_of_day"]) == ("2026-03-03", "00:30:05")
    assert json.loads(to_json([PRINTED], tz=timezone(timedelta(hours=1))))["takes"][0]["started_at"] == (
        "2026-03-03T00:30:05.250000+01:00"
    )


def test_json_keeps_the_types() -> None:
    document = json.loads(to_json([PRINTED, ROLLING]))
    assert document["columns"] == list(COLUMNS)
    assert document["takes"] == [
        {
            "cue": "1M1",
            "take": 3,
            "pickup_bar": 33,
            "wild": False,
            "status": "print",
            "tc_in": "01:00:10:00",
            "tc_out": "01:00:52:12",
            "duration": 42.5,
            "date": "2026-03-02",
            "time_of_day": "23:30:05",
            "notes": [
                {"role": "conductor", "text": "lovely horns", "at": "2026-03-02T23:30:05.250000+00:00"},
                {"role": "engineer", "text": 'clip, bar 12 "vln"', "at": "2026-03-02T23:30:05.250000+00:00"},
            ],
            "revision": "0123456789ab",
            "picture_revision": "3-1f9a2c",
            "id": 7,
            "version": 3,
            "started_at": "2026-03-02T23:30:05.250000+00:00",
            "ended_at": "2026-03-02T23:30:48.250000+00:00",
        },
        {
            "cue": "2M1",
            "take": 1,
            "pickup_bar": None,
            "wild": True,
            "status": None,
            "tc_in": "02:00:00;02",
            "tc_out": None,
            "duration": None,
            "date": "2026-03-02",
            "time_of_day": "23:35:05",
            "notes": [],
            "revision": None,
            "picture_revision": None,
            "id": 8,
            "version": 0,
            "started_at": "2026-03-02T23:35:05.250000+00:00",
            "ended_at": None,
        },
    ]
    # Keys come in column order, extras after: the file reads like the CSV.
    assert list(document["takes"][0])[: len(COLUMNS)] == list(COLUMNS)


@given(st.lists(st.text(min_size=1).filter(str.strip), max_size=4))
def test_any_note_text_survives_a_csv_reader(texts: list[str]) -> None:
    take = Take("1M1", 1, "01:00:00:00", T0, notes=tuple(Note(Role.EDITOR, t, T0) for t in texts))
    rows = list(csv.DictReader(io.StringIO(to_csv([take]), newline="")))
    assert len(rows) == 1
    assert rows[0]["notes"] == " | ".join(f"editor: {t}" for t in texts)
    assert json.loads(to_json([take]))["takes"][0]["notes"] == [
        {"role": "editor", "text": t, "at": T0.isoformat()} for t in texts
    ]
