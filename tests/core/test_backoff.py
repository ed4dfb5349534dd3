"""Reconnect back-off: exact delays, the cap, and jitter bounds."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stage.core.backoff import backoff


def take(n: int, it: Iterator[float]) -> list[float]:
    return list(itertools.islice(it, n))


def test_doubles_up_to_the_cap_without_jitter() -> None:
    assert take(7, backoff(0.1, 2.0, 2.0, jitter=0.0)) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])


def test_jitter_spreads_each_delay_by_the_given_fraction() -> None:
    low = take(3, backoff(1.0, 2.0, 8.0, jitter=0.25, rand=lambda: 0.0))
    high = take(3, backoff(1.0, 2.0, 8.0, jitter=0.25, rand=lambda: 0.999999))
    assert low == pytest.approx([0.75, 1.5, 3.0])
    assert high == pytest.approx([1.25, 2.5, 5.0], rel=1e-5)
    # The default rand is the middle: no spread at all.
    assert take(2, backoff(1.0, 3.0, 9.0, jitter=0.5)) == [1.0, 3.0]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"initial": 0.0}, "0 < initial"),
        ({"factor": 0.5}, "factor >= 1"),
        ({"initial": 3.0, "maximum": 2.0}, "initial <= maximum"),
        ({"jitter": 1.0}, "jitter < 1"),
    ],
)
def test_refuses_nonsense(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        next(backoff(**kw))


@given(
    initial=st.floats(0.01, 1.0), factor=st.floats(1.0, 4.0), cap=st.floats(1.0, 30.0),
    jitter=st.floats(0.0, 0.9), draws=st.lists(st.floats(0.0, 0.999), min_size=20, max_size=20),
)
def test_every_delay_stays_within_jitter_of_the_capped_exponential(
    initial: float, factor: float, cap: float, jitter: float, draws: list[float]
) -> None:
    maximum = max(cap, initial)
    it = iter(draws)
    got = take(20, backoff(initial, factor, maximum, jitter, rand=lambda: next(it)))
    for n, delay in enumerate(got):
        base = min(initial * factor**n, maximum)
        assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
