"""Imports point one way: core ← runtime ← adapters ← the composition root (``stage.app``).

Read from the source with :mod:`ast`, so an import inside a function (the
usual way round a circle) counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stage"

# What each layer may not import: the layers above it, and for core anything that does I/O or reads a clock.
FORBIDDEN = {
    "core": ("stage.runtime", "stage.adapters", "stage.app", "asyncio", "socket", "threading", "time"),
    "runtime": ("stage.adapters", "stage.app"),
    "adapters": ("stage.app",),
}


def imported(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute names), with the line it does so on."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = path.relative_to(package.parent).with_suffix("").parts[: -node.level]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def breaches(layer: str, package: Path = PACKAGE) -> list[str]:
    """``file:line imports name`` for every import ``layer`` of ``package`` may not make."""
    out: dict[str, str] = {}  # one line of source, one breach: the first name it imports that it may not
    for path in sorted((package / layer).rglob("*.py")):
        for line, name in imported(path, package):
            where = f"{path.relative_to(package.parent)}:{line}"
            if where not in out and any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                out[where] = f"{where} imports {name}"
    return list(out.values())


# Breaches being undone, each by its own change; an entry that no longer breaches fails the test, so none lingers.
KNOWN: dict[str, set[str]] = {}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_one_way(layer: str) -> None:
    found = {re.sub(r":\d+ imports ", " imports ", b) for b in breaches(layer)}  # known ones by file, not line
    assert found - KNOWN.get(layer, set()) == set()
    assert KNOWN.get(layer, set()) - found == set(), "fixed: strike it from KNOWN"


def test_the_check_sees_a_breach(tmp_path: Path) -> None:
    """The check itself: imports hidden in functions, relative ones and core's clock reads are found."""
    package = tmp_path / "stage"
    (package / "runtime").mkdir(parents=True)
    (package / "core").mkdir()
    (package / "runtime" / "probe.py").write_text(
        "def f():\n    from stage.adapters import ws\n    from ..adapters.osc import X\n", encoding="utf-8")
    (package / "core" / "probe.py").write_text("import time\nfrom asyncio import sleep\n", encoding="utf-8")
    assert breaches("runtime", package) == [
        "stage/runtime/probe.py:2 imports stage.adapters",
        "stage/runtime/probe.py:3 imports stage.adapters.osc",
    ]
    assert breaches("core", package) == ["stage/core/probe.py:1 imports time", "stage/core/probe.py:2 imports asyncio"]
