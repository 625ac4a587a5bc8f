"""The Node baseline (an ocpp-rpc server in strict mode, installed from npm by the benchmark) and
the "ocpp-rpc mix" load that runs against every server."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sim import nodejs
from sim.bench import measure_reconnect
from sim.costs import measure
from sim.errors import SimError
from sim.mix import MixRow, markdown, run_once
from sim.servers import ServerKind, ServerProcess, free_port
from tests.sim.helpers import UNIT, small_options

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="the Node baseline needs node and npm on PATH",
)


def test_without_node_the_install_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimError, match="'node' on PATH"):
        nodejs.ensure_installed()
    with pytest.raises(SimError, match="'node' on PATH"):
        ServerProcess(ServerKind.NODE, log_path=tmp_path / "server.log").argv()


@needs_node
@pytest.mark.slow
def test_npm_ci_runs_only_when_the_lock_file_is_newer(tmp_path: Path) -> None:
    folder = tmp_path / "node_baseline"
    folder.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(nodejs.FOLDER / name, folder / name)
    assert nodejs.ensure_installed(folder) == folder
    installed = folder / "node_modules" / "ocpp-rpc" / "package.json"
    assert json.loads(installed.read_text())["name"] == "ocpp-rpc"
    stamp = (folder / "node_modules").stat().st_mtime_ns

    nodejs.ensure_installed(folder)
    assert (folder / "node_modules").stat().st_mtime_ns == stamp  # fresh: left alone

    later = stamp + 10**9
    os.utime(folder / "package-lock.json", ns=(later, later))
    (installed.parent / "marker").write_text("stale")
    nodejs.ensure_installed(folder)
    assert not (installed.parent / "marker").exists()  # npm ci started from scratch
    assert (folder / "node_modules").stat().st_mtime_ns > stamp


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the Node baseline needs node and npm on PATH")
    log = tmp_path_factory.mktemp("node") / "server.log"
    with ServerProcess(ServerKind.NODE, log_path=log) as server:
        yield server
    assert server.exit_code == 0, server.log_tail()


class RawCharger:
    """CALLs sent as written, answers returned as received: nothing checks either side."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, action: str, payload: Any) -> list[Any]:
        unique_id = str(next(self.ids))
        await self.ws.send_str(json.dumps([2, unique_id, action, payload]))
        message = await self.ws.receive(timeout=100 * UNIT)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        frame: list[Any] = json.loads(message.data)
        assert frame[1] == unique_id
        return frame


async def _connect(
    session: aiohttp.ClientSession, server: ServerProcess, path: str, protocol: str
) -> aiohttp.ClientWebSocketResponse:
    url = f"ws://{server.host}:{server.ocpp_port}{path}"
    ws = await session.ws_connect(url, protocols=[protocol])
    assert ws.protocol == protocol
    return ws


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/ocpp/NODE00001", "/NODE00002", "/a/b/c/NODE00003"])
async def test_any_identity_on_any_path_boots(node_server: ServerProcess, path: str) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await _connect(session, node_server, path, "ocpp1.6")
        charger = RawCharger(ws)
        boot = {"chargePointVendor": "sim", "chargePointModel": "c"}
        frame = await charger.call("BootNotification", boot)
        assert frame[0] == 3
        assert frame[2]["status"] == "Accepted"
        assert frame[2]["interval"] == 300
        await ws.close()


@pytest.mark.slow
async def test_the_answers_the_benchmarks_rely_on(node_server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        ws16 = await _connect(session, node_server, "/ocpp/NODE00010", "ocpp1.6")
        v16 = RawCharger(ws16)
        start = {
            "connectorId": 1,
            "idTag": "T1",
            "meterStart": 0,
            "timestamp": "2026-01-01T00:00:00Z",
        }
        first = await v16.call("StartTransaction", start)
        second = await v16.call("StartTransaction", start)
        assert first[2]["idTagInfo"] == {"status": "Accepted"}
        assert second[2]["transactionId"] == first[2]["transactionId"] + 1
        transfer = await v16.call("DataTransfer", {"vendorId": "sim", "data": "x"})
        assert transfer[2] == {"status": "Accepted"}
        assert (await v16.call("Heartbeat", {}))[2]["currentTime"].endswith("Z")

        ws201 = await _connect(session, node_server, "/ocpp/NODE00011", "ocpp2.0.1")
        v201 = RawCharger(ws201)
        token = {"idToken": "T1", "type": "ISO14443"}
        event: dict[str, Any] = {
            "eventType": "Started",
            "timestamp": "2026-01-01T00:00:00Z",
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "NODE00011-1"},
        }
        assert (await v201.call("TransactionEvent", event))[2] == {}
        with_token = await v201.call("TransactionEvent", {**event, "seqNo": 1, "idToken": token})
        assert with_token[2] == {"idTokenInfo": {"status": "Accepted"}}
        authorize = await v201.call("Authorize", {"idToken": token})
        assert authorize[2] == {"idTokenInfo": {"status": "Accepted"}}
        await ws16.close()
        await ws201.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("protocol", "action", "payload", "error"),
    [
        # Over 1.6 the codes are spelled as the OCPP 1.6 JSON specification's table of them.
        (
            "ocpp1.6",
            "BootNotification",
            {"chargePointVendor": "s"},
            "OccurrenceConstraintViolation",
        ),
        (
            "ocpp1.6",
            "MeterValues",
            {"connectorId": "one", "meterValue": []},
            "TypeConstraintViolation",
        ),
        (
            "ocpp1.6",
            "BootNotification",
            {"chargePointVendor": "v" * 21, "chargePointModel": "c"},
            "FormationViolation",
        ),
        ("ocpp1.6", "Heartbeat", {"extra": 1}, "PropertyConstraintViolation"),
        ("ocpp1.6", "CancelReservation", {"reservationId": 1}, "NotImplemented"),
        (
            "ocpp2.0.1",
            "Authorize",
            {"idToken": {"idToken": "T" * 37, "type": "ISO14443"}},
            "FormatViolation",
        ),
        ("ocpp2.0.1", "Heartbeat", {"extra": 1}, "PropertyConstraintViolation"),
    ],
)
async def test_strict_mode_refuses_what_the_schema_does_not_allow(
    node_server: ServerProcess, protocol: str, action: str, payload: dict[str, Any], error: str
) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await _connect(session, node_server, "/ocpp/NODE00020", protocol)
        frame = await RawCharger(ws).call(action, payload)
        assert frame[0] == 4, frame
        assert frame[2] == error
        await ws.close()


@needs_node
@pytest.mark.slow
def test_costs_run_against_the_node_server() -> None:
    for protocol, scenario in [
        ("ocpp1.6", "DataTransfer (stored)"),
        ("ocpp2.0.1", "session of 10 TransactionEvent Updated"),
    ]:
        cost = measure(ServerKind.NODE, scenario, clients=5, seconds=10 * UNIT, protocol=protocol)
        assert cost.scenario == scenario
        assert cost.msgs_per_s > 20
        assert cost.cpu_us_per_msg > 0


@needs_node
@pytest.mark.slow
@pytest.mark.parametrize("kind", [ServerKind.NODE, ServerKind.BASELINE])
def test_a_short_mix(kind: ServerKind) -> None:
    clients, seconds, interval = 20, 2.0, 0.02
    result = run_once(kind, 1, clients=clients, seconds=seconds, interval=interval)
    assert result.server == kind.value
    assert result.connected == clients
    # Each charger makes one call per interval of the mix, from a random phase within the first.
    assert result.errors == 0
    assert result.answered == clients * round(seconds / interval)
    assert seconds <= result.seconds < seconds + 50 * UNIT
    assert result.cpu_seconds > 0
    assert result.cpu_us_per_msg is not None and result.cpu_us_per_msg > 0
    assert result.p50_ms is not None and result.p99_ms is not None
    assert 0 < result.p50_ms <= result.p99_ms


@needs_node
def test_the_load_gives_up_when_its_chargers_cannot_connect() -> None:
    nowhere = f"ws://127.0.0.1:{free_port()}/ocpp/"
    argv = nodejs.load_argv(nowhere, clients=3, interval=1.0, seconds=1.0)
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=200 * UNIT
    )
    assert done.returncode == 1, done.stderr
    ready = json.loads(done.stdout.splitlines()[0])
    assert ready["event"] == "ready"
    assert ready["connected"] == 0
    assert ready["failed"] == 3


@needs_node
@pytest.mark.slow
def test_reconnect_storm_against_the_node_server(tmp_path: Path) -> None:
    record = measure_reconnect(ServerKind.NODE, 20, 1, small_options(tmp_path))
    assert record.booted == 20
    assert record.back == 20
    assert record.restart_exit_code == 0
    assert record.server_exit_code == 0
    assert record.failures == 0


def test_the_table_compares_voltmesh_with_each_peer() -> None:
    rows = [
        MixRow("voltmesh", 3, 1000.0, 200.0, 2.0, 8.0, 0.0),
        MixRow("baseline", 3, 1000.0, 400.0, 4.0, 8.0, 0.0),
        MixRow("node", 3, 1000.0, 50.0, 1.0, 4.0, 2.0),
    ]
    lines = markdown(rows, "python -m sim.mix").splitlines()
    assert lines[0] == "Command: `python -m sim.mix`"
    assert "| voltmesh | 1,000 | 200.0 | 2.00 | 8.00 |" in lines
    assert "| voltmesh/baseline | 1.00x | 0.50x | 0.50x | 1.00x |" in lines
    assert "| voltmesh/node | 1.00x | 4.00x | 2.00x | 2.00x |" in lines
    assert lines[-1] == "Failed calls per run (median): node 2."
