"""server/client depends on the wire protocol only: stdlib and websockets, nothing of server."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "server" / "client"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(relative level, module) of every import statement in ``path``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_client_imports_only_stdlib_websockets_and_itself() -> None:
    """Every import in server/client is stdlib, websockets, or a sibling module (level 1)."""
    allowed = set(sys.stdlib_module_names) | {"__future__", "websockets"}
    offenders = [
        f"{path.name}: {'.' * level}{module}"
        for path in sorted(PACKAGE.glob("*.py"))
        for level, module in _imports(path)
        if level > 1 or (level == 0 and module.split(".")[0] not in allowed)
    ]
    assert offenders == []


def test_client_works_vendored_under_another_name(tmp_path: Path) -> None:
    """A renamed copy outside the repository imports and loads nothing of server."""
    shutil.copytree(PACKAGE, tmp_path / "hallq_live", ignore=shutil.ignore_patterns("__pycache__"))
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])  # -I leaves the working directory off the path
        import hallq_live
        client = hallq_live.LiveClient("ws://127.0.0.1:1/ws", "t", "jinjiang")
        leaked = sorted(m for m in sys.modules if m == "server" or m.startswith("server."))
        print(repr(leaked))
        """
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", script, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
