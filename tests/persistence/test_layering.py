"""The storage layer stands below the domain: nothing in ``persistence`` imports ``actors``, so the
actors can move (or run in another process) without the store following them."""

from __future__ import annotations

import ast
from pathlib import Path

import persistence


def test_persistence_imports_nothing_from_the_actors() -> None:
    root = Path(persistence.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "actors"]
    assert offenders == []
