"""What ``deploy/`` hands a facility is checked by the tools that will read it: ``systemd-analyze verify`` for the
unit, ``promtool`` for the alert rules (their syntax and their unit tests), JSON for the Grafana dashboard (the
metric names in its queries are checked against a real scrape in tests/adapters/test_metrics.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def tool(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary!r} is not installed: apt-get install {package}", pytrace=False)
    return path


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    """``systemd-analyze verify`` with the unit's ExecStart pointed at this machine's ``stage`` (the unit expects a
    virtual environment at /opt/stage)."""
    stage = tool("stage", "(pip install -e .)")
    unit = (DEPLOY / "stage.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/stage/bin/stage serve " in unit
    copy = tmp_path / "stage.service"
    copy.write_text(unit.replace("/opt/stage/bin/stage", stage), encoding="utf-8")
    done = subprocess.run([tool("systemd-analyze", "systemd"), "verify", str(copy)], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stderr.strip()) == (0, "")


def test_a_unit_that_cannot_start_is_reported(tmp_path: Path) -> None:
    """The check itself: a unit whose program is not there fails it."""
    copy = tmp_path / "stage.service"
    copy.write_text((DEPLOY / "stage.service").read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run([tool("systemd-analyze", "systemd"), "verify", str(copy)], capture_output=True, text=True,
                          check=False)
    assert done.returncode != 0
    assert "/opt/stage/bin/stage" in done.stderr


def test_the_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    promtool = tool("promtool", "prometheus")
    rules = DEPLOY / "prometheus"
    checked = subprocess.run([promtool, "check", "rules", "stage-alerts.yml"], cwd=rules, capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 11 rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", "stage-alerts.test.yml"], cwd=rules, capture_output=True,
                            text=True, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_dashboard_is_grafana_json_on_a_prometheus_source() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "stage-dashboard.json").read_text(encoding="utf-8"))
    assert dashboard["uid"] == "stage-scoring"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for p in panels:
        assert p["targets"], p["title"]
        assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in p["targets"])
        grid = p["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
