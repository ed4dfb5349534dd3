"""A scoring day in three minutes: ``bench/soak.py --minutes 3`` against the real peers, failing on its verdicts.

The run is the benchmark itself (a subprocess: its own jackd, PostgreSQL database, mosquitto, ``stage serve``,
Chromium with ten pages) with every kind of event of the hour shrunk into it: takes recorded and rehearsed, a
pickup, new cue sheets, a link cut, the broker stopped, the engine killed.  Its leak threshold is the hour's
growth in three minutes (1 MB over the run, 20 MB an hour), so a leak of the size the hour would show fails it;
``tests/test_soakverdict.py`` shows that on made-up samples.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from peers.wait import SCALE

pytestmark = pytest.mark.peers

ROOT = Path(__file__).resolve().parents[1]


def test_three_minutes_of_a_scoring_day_hold_every_verdict(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "3", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900 * SCALE, check=False)
    report = (tmp_path / "soak.txt").read_text(encoding="utf-8") if (tmp_path / "soak.txt").exists() else ""
    assert run.returncode == 0, f"{report or run.stdout[-4000:]}\n{run.stderr[-4000:]}"

    verdicts = [line.strip() for line in report.splitlines() if line.startswith(("  PASS", "  FAIL"))]
    assert verdicts, report
    assert all(v.startswith("PASS") for v in verdicts), report
    for what in ("service RSS flat", "no click off its sample", "every acknowledged take kept",
                 "MQTT published again after the broker's return", "every page connected at the end"):
        assert any(what in v for v in verdicts), f"no verdict on {what!r}:\n{report}"
    assert sum("heap flat" in v for v in verdicts) == 10
    assert sum("sync p99 steady" in v for v in verdicts) == 8

    # Every kind of event of the hour happened in the three minutes.
    events = report.split("events:", 1)[1].split("verdicts:", 1)[0]
    for what in ("link cut", "link back", "broker stopped", "broker back", "SIGKILLed mid-roll",
                 "engine running again", "cue sheet revision 1: 200"):
        assert what in events, f"no {what!r} among the events:\n{events}"
    passes = next(line for line in report.splitlines() if line.startswith("passes: "))
    for kind in ("pickup", " record", " rehearse"):
        assert kind in passes, passes

    with (tmp_path / "soak.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 12, f"{len(rows)} samples in three minutes"
    last = rows[-1]
    assert int(last["takes_acked"]) >= 2
    assert last["takes_kept"] == last["takes_acked"]
    assert int(last["clicks_heard"]) > 50
    assert float(last["db_mb"]) > 0
    assert all(float(r["service_rss_mb"]) > 10 for r in rows)
    assert (tmp_path / "soak.png").stat().st_size > 10_000
