"""The packages stand in layers, each importing only those below it, so that a layer can move (into
another process, behind a cluster boundary) without the ones below following it:

    voltmesh (composition root)
    http_api, sim
    cluster     the control plane between members (processes, pods)
    csms        the OCPP domain
    gateway     the websocket gateway
    persistence, actors, transport   (each knows nothing of the others)

``transport`` is sans-I/O besides: no asyncio, no sockets, no web framework.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {
    "actors",
    "csms",
    "gateway",
    "transport",
    "persistence",
    "cluster",
    "http_api",
    "sim",
    "voltmesh",
}

MAY_IMPORT = {
    "actors": set(),
    "transport": set(),
    "persistence": set(),
    "gateway": {"actors", "transport"},
    "csms": {"actors", "transport", "persistence", "gateway"},
    "cluster": {"actors", "transport", "persistence", "gateway", "csms"},
    "http_api": {"actors", "transport", "persistence", "gateway", "csms"},
}
IO_LIBRARIES = {"asyncio", "aiohttp", "websockets", "socket", "selectors", "uvloop"}


def imported(package: str) -> list[tuple[str, str]]:
    """(file, top-level module) for every import in ``package``, relative imports resolved."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                names = [package] if node.level else [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [(str(path.relative_to(ROOT)), name.split(".")[0]) for name in names]
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    offenders = [
        f"{path}: {module}"
        for path, module in imported(package)
        if module in PROJECT and module not in allowed
    ]
    assert offenders == []


def test_the_codec_layer_does_no_io() -> None:
    offenders = [
        f"{path}: {module}" for path, module in imported("transport") if module in IO_LIBRARIES
    ]
    assert offenders == []
