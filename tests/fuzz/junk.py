"""Hypothesis strategies for what a careless or hostile client sends: junk, and values just past every bound."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from stage.core import limits
from stage.core.protocol import COMMANDS

# Numbers at and past the edges: of every bound in stage.core.limits, of int32/int64, of a double.
EDGES: list[int | float] = sorted({
    v
    for bound in (limits.MAX_ID, limits.MAX_BAR, limits.MIN_BAR, limits.MAX_BEAT, limits.MAX_PORT, limits.MAX_SPEED,
                  limits.MIN_SPEED, 2**31, 2**32, 2**53, 2**63, 2**64, 0, 1)
    for v in (bound, -bound, bound + 1, bound - 1)
} | {5e-324, -5e-324, 1e308, -1e308, 1e-300})
EDGE_NUMBERS = st.sampled_from(EDGES)
NUMBERS = st.one_of(EDGE_NUMBERS, st.integers(), st.floats(allow_nan=False, allow_infinity=False))
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["1M1", "1M2", "00:00:10:00", "25:00:00:00", "print", "record",
                                                        "rehearse", ""]),
                 st.integers(limits.MAX_NOTE, limits.MAX_NOTE + 2).map(lambda n: "x" * n))
JSON: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=12,
)
COMMAND_NAMES = st.one_of(st.sampled_from(sorted(COMMANDS)), st.text(max_size=12))
ARG_NAMES = st.sampled_from(sorted({f.name for c in COMMANDS.values() for f in c.args}))


def command_args() -> st.SearchStrategy[dict[str, Any]]:
    """Arguments with the protocol's names and any values (mostly numbers at the edges)."""
    return st.dictionaries(ARG_NAMES, st.one_of(NUMBERS, TEXT, st.none(), st.booleans()), max_size=4)


def commands() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """A command's name and arguments of its own names, with any values: most get past the names to the bounds."""
    value = st.one_of(NUMBERS, TEXT, st.none(), st.booleans())
    return st.sampled_from(sorted(COMMANDS)).flatmap(
        lambda name: st.tuples(st.just(name), st.dictionaries(
            st.sampled_from([f.name for f in COMMANDS[name].args] or ["x"]), value, max_size=3)))
