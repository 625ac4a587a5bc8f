"""A small mixed fleet (1.6, 2.0.1 and 2.1, with faults) against a real voltmesh server process:
every station connects and boots, sessions run, the central system's records agree with the
simulator's, and the reports are written."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from sim.fleet.report import write_reports
from sim.fleet.runner import run_fleet
from sim.fleet.scenario import load_scenario
from sim.servers import ServerKind, ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def voltmesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with ServerProcess(ServerKind.VOLTMESH, log_path=log) as server:
        yield server


def _get(server: ServerProcess, path: str) -> Any:
    request = urllib.request.Request(
        f"http://{server.host}:{server.api_port}{path}",
        headers={"Authorization": f"Bearer {server.api_token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        return orjson.loads(r.read())


def _transactions(server: ServerProcess) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    path = "/api/v1/transactions?limit=1000"
    while True:
        page = _get(server, path)
        for tx in page["items"]:
            found[tx["station_id"], tx["station_transaction_id"]] = tx
        if page["next"] is None:
            return found
        path = f"/api/v1/transactions?limit=1000&cursor={page['next']}"


def test_smoke_fleet_against_voltmesh(voltmesh: ServerProcess, tmp_path: Path) -> None:
    scenario = load_scenario(
        "smoke",
        url=f"ws://{voltmesh.host}:{voltmesh.ocpp_port}/ocpp",
        output=str(tmp_path / "out"),
        duration=12,
    )
    api_url = f"http://{voltmesh.host}:{voltmesh.api_port}"
    scenario = dataclasses.replace(
        scenario,
        csms=dataclasses.replace(scenario.csms, api_url=api_url, api_token=voltmesh.api_token),
    )
    seconds: list[Any] = []
    report = run_fleet(scenario, on_second=seconds.append)

    assert report.stations == scenario.stations
    assert set(report.versions) == {"ocpp1.6", "ocpp2.0.1", "ocpp2.1"}
    assert report.peak_connected == scenario.stations
    assert report.messages_by_action["BootNotification"] >= scenario.stations
    assert report.messages_by_action["TransactionEvent"] > 0
    assert report.messages_by_action["StartTransaction"] > 0
    assert report.sessions_started >= 10
    assert report.energy_wh > 0
    # The central system answered everything within the schemas; the faults were injected.
    assert report.errors_by_kind.get("schema", 0) == 0, report.violations
    unexpected = set(report.errors_by_kind) - {"disconnect"}
    assert not unexpected, report.violations
    assert sum(report.faults_injected.values()) > 0
    assert len(seconds) >= 10
    assert max(s.connected for s in seconds) == scenario.stations

    # What the simulator measured is what the central system stored.
    stored = _transactions(voltmesh)
    finished = [
        s
        for s in report.sessions
        if s.stop is not None and s.transaction_id is not None and s.stop_reason != "Reboot"
    ]
    matched = 0
    for session in finished:
        assert session.transaction_id is not None
        tx = stored.get((session.station_id, session.transaction_id))
        if tx is None or tx["active"]:
            continue  # its stop was still queued (offline) when the run ended
        matched += 1
        # 1.6 meter readings are whole Wh.
        assert tx["energy_wh"] == pytest.approx(session.energy_wh, abs=1.5), session
    assert matched >= max(1, len(finished) // 2), (matched, len(finished))

    # The run's drivers had tags of its own, which nobody could guess from the scenario file, and
    # the run deleted them from the central system when it ended.
    tags = {session.id_tag for session in report.sessions}
    assert tags and all(len(tag) == len("SIMTAG") + 6 + 5 for tag in tags), tags
    assert not tags & {f"SIMTAG{n:05d}" for n in range(scenario.sessions.id_tags)}
    assert _get(voltmesh, "/api/v1/id-tags?limit=1000")["items"] == []

    files = write_reports(report, scenario.output_dir)
    summary = orjson.loads(files.summary.read_bytes())
    assert summary["messages"] == report.messages
    with files.sessions.open() as f:
        assert len(list(csv.DictReader(f))) == len(report.sessions)
    assert files.report.read_text().count("<svg") >= 6


def test_another_central_system_gets_no_id_tags_meant_for_the_files_one() -> None:
    """``--url`` to another central system than the scenario's drops the scenario's api_url (it
    points at the file's central system); ``--api-url`` names the other one's."""
    elsewhere = "ws://127.0.0.1:9100/ocpp"
    assert load_scenario("smoke", url=elsewhere).csms.api_url is None
    other_api = "http://127.0.0.1:9180"
    assert load_scenario("smoke", url=elsewhere, api_url=other_api).csms.api_url == other_api
    same = load_scenario("smoke", url="ws://127.0.0.1:9000/ocpp")
    assert same.csms.api_url == "http://127.0.0.1:8080"


def test_cli_rejects_a_bad_scenario_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('duration = 5\n[[fleet]]\nmodel = "m"\ncount = 0\nversions = {"ocpp1.6" = 1}\n')
    result = subprocess.run(
        [sys.executable, "-m", "voltmesh", "sim", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "fleet[0].count" in result.stderr
