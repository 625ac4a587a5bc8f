"""The Node baseline's folder (`sim/node_baseline/`): its npm install, and command lines for its
server and its mix load.

The benchmark owns that folder: `ensure_installed` runs ``npm ci`` there whenever
``node_modules`` is missing or older than ``package-lock.json``, so the versions measured are
the ones the lock file pins.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

from sim.errors import SimError

FOLDER = Path(__file__).resolve().parent / "node_baseline"
"""Where `package.json`, `package-lock.json`, `server.js` and `load.js` live."""
SERVER_SCRIPT = FOLDER / "server.js"
LOAD_SCRIPT = FOLDER / "load.js"
INSTALL_TIMEOUT = 300.0
"""Seconds ``npm ci`` may take (it downloads from the registry unless npm's cache has it)."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SimError(
            f"the Node baseline needs {name!r} on PATH (Node.js 18 or later with npm); "
            "install Node.js or leave out --server node"
        )
    return path


def node() -> str:
    """The path of the ``node`` executable; raises `SimError` if there is none."""
    return _tool("node")


def _stale(folder: Path) -> bool:
    modules = folder / "node_modules"
    if not modules.is_dir():
        return True
    return modules.stat().st_mtime < (folder / "package-lock.json").stat().st_mtime


def ensure_installed(folder: Path = FOLDER) -> Path:
    """Install the locked npm packages into ``folder``/node_modules unless they are there and
    newer than the lock file; returns ``folder``. Raises `SimError` without node or npm, or when
    ``npm ci`` fails."""
    node()
    if not _stale(folder):
        return folder
    npm = _tool("npm")
    # Two benchmarks starting at once must not both run npm ci in the same folder: the lock
    # file itself is the lock.
    with open(folder / "package-lock.json", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _stale(folder):
                _npm_ci(npm, folder)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


def _npm_ci(npm: str, folder: Path) -> None:
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise SimError(f"npm ci in {folder} took longer than {INSTALL_TIMEOUT:g} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise SimError(f"npm ci in {folder} failed with {done.returncode}:\n{tail}")
    # npm ci may keep the old directory's timestamp; the next check must find it fresh.
    (folder / "node_modules").touch()


def server_argv(host: str, port: int) -> list[str]:
    """The command line of the ocpp-rpc server on ``host``:``port`` (installed first)."""
    ensure_installed()
    return [node(), str(SERVER_SCRIPT), "--host", host, "--port", str(port)]


def load_argv(url: str, *, clients: int, interval: float, seconds: float) -> list[str]:
    """The command line of the mix load against ``url`` (``ws://host:port/ocpp/``; each charger
    appends its id) with the driver handshake on stdin (see ``load.js``)."""
    ensure_installed()
    return [
        node(), str(LOAD_SCRIPT),
        "--url", url,
        "--clients", str(clients),
        "--interval", f"{interval:g}",
        "--seconds", f"{seconds:g}",
        "--handshake",
    ]  # fmt: skip
