"""Per-screen draw figures from the screens' ``drawn`` reports."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stage.core.protocol import Drawn
from stage.core.screens import RECENT, DrawStats, percentile

FRAME = 1 / 60


def report(late: float, delay: float = 0.0004, key: str = "1M1#3") -> Drawn:
    return Drawn(key, "punch", 50.0, 50.0 + late, delay, FRAME)


def test_lateness_on_and_off_the_nearest_frame() -> None:
    stats = DrawStats()
    assert stats.as_dict() == {"count": 0, "off_frame": 0, "late_p50_ms": None, "abs_p99_ms": None,
                               "worst_ms": None, "last": None}
    for late in (0.001, -0.008, 0.0083, 0.009):
        stats.add(report(late))
    # Half a frame (8.33 ms) plus half the round trip (0.2 ms) is still the nearest frame; 9 ms is not.
    assert stats.off_frame == 1
    d = stats.as_dict()
    assert d["count"] == 4
    assert d["late_p50_ms"] == 1.0
    assert d["abs_p99_ms"] == 9.0
    assert d["worst_ms"] == 9.0
    assert d["last"] == {"key": "1M1#3", "kind": "punch", "late_ms": 9.0, "sync_ms": 0.2, "frame_ms": 16.667}
    # A clock known only to ±5 ms gives its screen that much room.
    loose = DrawStats()
    loose.add(report(0.012, delay=0.010))
    assert loose.off_frame == 0


def test_the_percentiles_follow_the_latest_reports() -> None:
    stats = DrawStats()
    for _ in range(RECENT):
        stats.add(report(0.020))
    for _ in range(RECENT):
        stats.add(report(0.001))
    assert stats.as_dict()["late_p50_ms"] == 1.0
    assert stats.worst == pytest.approx(0.020)
    assert stats.count == 2 * RECENT


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=300), st.floats(0, 100))
def test_percentile_is_a_value_of_the_list_and_ordered(values: list[float], q: float) -> None:
    got = percentile(values, q)
    assert got in values
    assert sum(v <= got for v in values) >= math.ceil(q / 100 * len(values))
    assert percentile(values, 0) == min(values)
    assert percentile(values, 100) == max(values)
