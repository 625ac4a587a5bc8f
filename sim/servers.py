"""Start, probe and stop a central system under test as a subprocess on loopback."""

from __future__ import annotations

import contextlib
import enum
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sim import nodejs
from sim.certs import ServerTls
from sim.errors import ServerStartError

HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
"""Seconds a server may take to become ready."""
STOP_TIMEOUT = 15.0
"""Seconds a server may take to exit after SIGTERM before it is killed."""
RESTART_STOP_TIMEOUT = 60.0
"""Seconds a server holding thousands of connections may take to drain on a restart."""
POLL_INTERVAL = 0.05


class ServerKind(enum.Enum):
    """Which central system to start."""

    VOLTMESH = "voltmesh"
    BASELINE = "baseline"
    NODE = "node"
    """The ocpp-rpc server of `sim/node_baseline/` (strict mode, stores nothing)."""


def ephemeral_ports() -> range:
    """The ports the kernel hands out as clients' source ports (Linux; the IANA range elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(49152, 65536)


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (the server binds it shortly after), outside the
    ephemeral range: a server restarted on the same ports (a reconnect storm) must not find one
    of them taken as the source port of a client that reconnects meanwhile."""
    clients = ephemeral_ports()
    candidates = [p for p in range(10_000, 30_000) if p not in clients]
    for port in random.sample(candidates, min(64, len(candidates))):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        found: int = sock.getsockname()[1]
        return found


def _tcp_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ok(host: str, port: int, path: str) -> bool:
    # http.client, unlike urllib, never routes loopback through a proxy from the environment.
    conn = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def register_id_tags(
    host: str, api_port: int, id_tags: Iterable[str], *, token: str | None = None
) -> None:
    """Register the fleet's id tags as Accepted, so that its sessions go past Authorize.

    The baseline accepts every tag; voltmesh, like a real central system, refuses unknown ones.
    ``token``: the server's service credential (`ServerProcess.api_token`).
    """
    conn = http.client.HTTPConnection(host, api_port, timeout=5.0)
    try:
        for tag in id_tags:
            conn.request(
                "PUT",
                f"/api/v1/id-tags/{tag}",
                body=b'{"status": "Accepted"}',
                headers={"Content-Type": "application/json", **_auth_headers(token)},
            )
            response = conn.getresponse()
            response.read()
            if response.status not in (200, 201):
                raise ServerStartError(f"registering id tag {tag}: HTTP {response.status}")
    finally:
        conn.close()


def check_transactions(
    host: str, api_port: int, transactions: Iterable[tuple[str, str]], *, token: str | None = None
) -> dict[str, int]:
    """Look every (station, transactionId) up in voltmesh's REST API; count them by outcome.

    `kept`: the transaction is there, on that station, still open. Anything else means a
    transaction the server had answered for was lost or altered: `missing` (404), `other
    station`, `closed`, or `HTTP <status>`.
    """
    outcomes: Counter[str] = Counter()
    conn = http.client.HTTPConnection(host, api_port, timeout=10.0)
    try:
        for station, transaction_id in transactions:
            conn.request(
                "GET", f"/api/v1/transactions/{transaction_id}", headers=_auth_headers(token)
            )
            response = conn.getresponse()
            body = response.read()
            if response.status == 404:
                outcomes["missing"] += 1
            elif response.status != 200:
                outcomes[f"HTTP {response.status}"] += 1
            else:
                view = json.loads(body)
                if view.get("station_id") != station:
                    outcomes["other station"] += 1
                elif not view.get("active"):
                    outcomes["closed"] += 1
                else:
                    outcomes["kept"] += 1
    finally:
        conn.close()
    return dict(sorted(outcomes.items()))


@dataclass(frozen=True, slots=True)
class Restart:
    """How a `ServerProcess.restart()` went; times are `time.monotonic()`."""

    sigterm_at: float
    """When SIGTERM was sent to the old process."""
    exited_at: float
    """When the old process had exited (or was killed after the stop timeout)."""
    ready_at: float
    """When the new process was ready (voltmesh: `/readyz` 200; the others: accepts TCP)."""
    exit_code: int | None
    """The old process's exit code (0: drained cleanly; negative: killed by that signal)."""


class ServerProcess:
    """A server under test. Use as a context manager: enter starts it and waits until it is
    ready, exit sends SIGTERM and waits (then kills). `restart()` replaces the process by a new
    one on the same ports and data directory. Logs go to `log_path` (a restarted process
    appends).

    With ``tls`` (voltmesh only) the server also serves wss with that certificate on
    `ocpp_tls_port`, beside ws on `ocpp_port`; `load_port` is the one the chargers use."""

    def __init__(
        self, kind: ServerKind, *, log_path: Path, host: str = HOST, tls: ServerTls | None = None
    ) -> None:
        if tls is not None and kind is not ServerKind.VOLTMESH:
            raise ValueError("only voltmesh serves wss")
        self.kind = kind
        self.host = host
        self.log_path = log_path
        self.tls = tls
        self.ocpp_port = free_port(host)
        self.ocpp_tls_port = free_port(host) if tls is not None else None
        self.api_port = free_port(host) if kind is ServerKind.VOLTMESH else None
        # Every REST request needs a credential: the harness acts with a service token of its own.
        self.api_token = secrets.token_urlsafe(24) if kind is ServerKind.VOLTMESH else None
        self.exit_code: int | None = None
        self._data_dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def load_port(self) -> int:
        """The port the chargers connect to: wss with ``tls``, else ws."""
        return self.ocpp_port if self.ocpp_tls_port is None else self.ocpp_tls_port

    @property
    def pid(self) -> int:
        """Process id of the running server."""
        if self._process is None:
            raise RuntimeError("server not started")
        return self._process.pid

    def argv(self, data_dir: str | None = None) -> list[str]:
        """The command line that starts this server."""
        if self.kind is ServerKind.BASELINE:
            return [sys.executable, "-m", "sim.baseline_server", "--host", self.host,
                    "--port", str(self.ocpp_port)]  # fmt: skip
        if self.kind is ServerKind.NODE:
            return nodejs.server_argv(self.host, self.ocpp_port)
        argv = [
            sys.executable, "-m", "voltmesh", "serve",
            "--host", self.host,
            "--ocpp-port", str(self.ocpp_port),
            "--api-port", str(self.api_port),
            "--data-dir", data_dir or "DATA_DIR",
            "--unknown-stations", "accept",
        ]  # fmt: skip
        if self.tls is not None:
            argv += [
                "--tls-cert", str(self.tls.cert),
                "--tls-key", str(self.tls.key),
                "--ocpp-tls-port", str(self.ocpp_tls_port),
            ]  # fmt: skip
        return argv

    def start(self, *, ready_timeout: float = READY_TIMEOUT) -> None:
        """Start the server and block until it is ready; raises `ServerStartError`."""
        if self.kind is ServerKind.VOLTMESH:
            self._data_dir = tempfile.TemporaryDirectory(prefix="voltmesh-bench-")
        self._launch("wb", ready_timeout)

    def restart(
        self, *, stop_timeout: float = RESTART_STOP_TIMEOUT, ready_timeout: float = READY_TIMEOUT
    ) -> Restart:
        """SIGTERM the running server (voltmesh closes its sockets with 1012), wait until it has
        exited (kill after `stop_timeout`), start it again on the same ports and data
        directory and block until it is ready."""
        process = self._process
        if process is None or process.poll() is not None:
            raise ServerStartError(f"{self.kind.value} is not running")
        sigterm_at = time.monotonic()
        exit_code = self._terminate(process, stop_timeout)
        exited_at = time.monotonic()
        self._launch("ab", ready_timeout)
        return Restart(sigterm_at, exited_at, time.monotonic(), exit_code)

    def _environment(self) -> dict[str, str] | None:
        """The server's environment: voltmesh gets the harness's API token and a free port for
        its actor system (a node's default, 1900, may belong to another voltmesh on the machine;
        a tree without a cluster ignores the variable)."""
        if self.api_token is None:
            return None
        return {**os.environ, "VOLTMESH_API_TOKEN": self.api_token, "VOLTMESH_CLUSTER_PORT": "0"}

    def _launch(self, log_mode: str, ready_timeout: float) -> None:
        data_dir = self._data_dir.name if self._data_dir is not None else None
        with open(self.log_path, log_mode) as log:
            self._process = subprocess.Popen(
                self.argv(data_dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=os.getcwd(),
                env=self._environment(),
            )
        deadline = time.monotonic() + ready_timeout
        while not self._ready():
            if self._process.poll() is not None:
                self._cleanup()
                raise ServerStartError(
                    f"{self.kind.value} exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"{self.kind.value} not ready in {ready_timeout} s")
            time.sleep(POLL_INTERVAL)

    def _ready(self) -> bool:
        if self.api_port is not None:
            return _http_ok(self.host, self.api_port, "/readyz")
        return _tcp_accepts(self.host, self.ocpp_port)

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, kill if needed; returns the exit code (negative: killed by signal)."""
        process = self._process
        if process is not None:
            self.exit_code = self._terminate(process, timeout)
        self._cleanup()
        return self.exit_code

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes], timeout: float) -> int:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def _cleanup(self) -> None:
        if self._data_dir is not None:
            with contextlib.suppress(OSError):
                self._data_dir.cleanup()
            self._data_dir = None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
