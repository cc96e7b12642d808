"""The domain core stays pure: standard library and server.domain imports only (rule 2)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import server.domain

DOMAIN = Path(server.domain.__file__).parent
MODULES = sorted(DOMAIN.glob("*.py"))
# Stdlib modules that do I/O or concurrency have no place in a pure core.
FORBIDDEN_STDLIB = {"asyncio", "socket", "threading", "subprocess", "os", "io", "sqlite3", "random"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_domain_imports_only_stdlib(path: Path) -> None:
    """Each domain module imports only pure standard library modules and server.domain."""
    for name in _imports(path):
        top = name.split(".")[0]
        if name.startswith("server."):
            assert name.startswith("server.domain"), name
            continue
        assert top in sys.stdlib_module_names, name
        assert top not in FORBIDDEN_STDLIB, name
