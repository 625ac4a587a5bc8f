"""Idle fleets: heartbeats only, open transactions, and coming back after the server restarts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from sim.baseline_server import baseline_server
from sim.bench import IdleOptions, measure_memory, measure_reconnect
from sim.config import LoadConfig, LoadMode
from sim.control import StartTraffic
from sim.loadgen import main
from sim.servers import ServerKind, ServerProcess
from sim.stats import Tally
from sim.worker import IdleWorkerReport, WorkerFleet
from tests.sim.helpers import UNIT


def idle_config(port: int, **kwargs: object) -> LoadConfig:
    return LoadConfig(
        port=port,
        stations=20,
        mode=LoadMode.IDLE,
        call_timeout=40 * UNIT,
        boot_timeout=200 * UNIT,
        **kwargs,  # type: ignore[arg-type]
    )


def test_idle_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="idle mode"):
        LoadConfig(port=9000, reconnect=True)
    with pytest.raises(ValueError, match="idle mode"):
        LoadConfig(port=9000, open_transactions=0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        LoadConfig(port=9000, mode=LoadMode.IDLE, open_transactions=1.5)
    with pytest.raises(ValueError, match="backoff"):
        LoadConfig(port=9000, mode=LoadMode.IDLE, reconnect_backoff=2.0, reconnect_backoff_max=1.0)
    with pytest.raises(ValueError, match="heartbeat"):
        LoadConfig(port=9000, mode=LoadMode.IDLE, heartbeat_interval=0)


def test_open_transactions_are_spread_over_the_fleet() -> None:
    config = LoadConfig(port=9000, stations=10_000, mode=LoadMode.IDLE, open_transactions=0.1)
    opening = [i for i in range(config.stations) if config.opens_transaction(i)]
    assert len(opening) == 1000
    assert opening[:3] == [9, 19, 29]
    none = LoadConfig(port=9000, mode=LoadMode.IDLE)
    assert not any(none.opens_transaction(i) for i in range(100))
    every = LoadConfig(port=9000, mode=LoadMode.IDLE, open_transactions=1.0)
    assert all(every.opens_transaction(i) for i in range(100))


def window(seconds: float) -> StartTraffic:
    now = time.monotonic()
    return StartTraffic(now, now, now + seconds, 0, 0)


async def test_idle_fleet_heartbeats_and_keeps_its_transactions() -> None:
    async with baseline_server("127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = idle_config(port, heartbeat_interval=4 * UNIT, open_transactions=0.25)
        tally = Tally()
        async with aiohttp.ClientSession() as session:
            fleet = WorkerFleet(config, 0, session, tally)
            try:
                boot = await fleet.boot(time.monotonic())
                await fleet.run_traffic(window(20 * UNIT))
                report = fleet.report(boot)
            finally:
                await fleet.close()
    assert boot.booted == 20
    assert boot.failures == {}
    assert isinstance(report, IdleWorkerReport)
    assert sorted(station for station, _ in report.transactions) == [
        "SIM000003",
        "SIM000007",
        "SIM000011",
        "SIM000015",
        "SIM000019",
    ]
    assert len({tx for _, tx in report.transactions}) == 5
    # Only heartbeats, about one per charger per interval.
    assert set(tally.by_action) == {"Heartbeat"}
    assert 20 * 3 <= tally.messages <= 20 * 6
    assert report.lost == {}
    assert report.reconnected_at == ()
    assert tally.disconnects == 0


async def test_idle_fleet_comes_back_after_the_server_restarts() -> None:
    async with aiohttp.ClientSession() as session:
        fleet: WorkerFleet | None = None
        try:
            async with baseline_server("127.0.0.1", 0) as first:
                port = first.sockets[0].getsockname()[1]
                config = idle_config(
                    port, reconnect=True, reconnect_backoff=2 * UNIT, reconnect_backoff_max=4 * UNIT
                )
                fleet = WorkerFleet(config, 0, session, Tally())
                boot = await fleet.boot(time.monotonic())
                assert boot.booted == 20
                idle = asyncio.create_task(fleet.run_traffic(window(200 * UNIT)))
            # The first server is gone (its connections closed with 1001); nothing listens now.
            down_until = time.monotonic() + 6 * UNIT
            await asyncio.sleep(6 * UNIT)
            async with baseline_server("127.0.0.1", port):
                await asyncio.wait_for(idle, 100 * UNIT)
                report = fleet.report(boot)
        finally:
            if fleet is not None:
                await fleet.close()
    assert isinstance(report, IdleWorkerReport)
    assert report.lost == {"1001": 20}
    assert len(report.reconnected_at) == 20
    assert min(report.reconnected_at) >= down_until
    # Attempts while nothing listened were refused.
    assert report.reconnect_failures.keys() <= {"ClientConnectorError:ECONNREFUSED"}
    assert sum(report.reconnect_failures.values()) >= 1


def small_options(tmp_path: Path) -> IdleOptions:
    return IdleOptions(
        connect_rate=400.0,
        settle=10 * UNIT,
        open_transactions=0.2,
        reconnect_timeout=300 * UNIT,
        call_timeout=40 * UNIT,
        boot_timeout=200 * UNIT,
        output=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", [ServerKind.BASELINE, ServerKind.VOLTMESH])
def test_memory_of_an_idle_fleet(kind: ServerKind, tmp_path: Path) -> None:
    record = measure_memory(kind, 20, 1, small_options(tmp_path))
    assert record.booted == 20
    assert record.failures == 0
    assert record.rss_before_bytes > 10 * 2**20
    assert record.rss_after_bytes > 0
    assert record.kib_per_station is not None
    assert record.server_exit_code == 0
    assert (tmp_path / f"{kind.value}-memory20-run1.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", [ServerKind.BASELINE, ServerKind.VOLTMESH])
def test_reconnect_storm(kind: ServerKind, tmp_path: Path) -> None:
    started = time.monotonic()
    record = measure_reconnect(kind, 20, 1, small_options(tmp_path))
    assert time.monotonic() - started < 200 * UNIT  # it ends once all are back
    assert record.booted == 20
    assert record.back == 20
    assert record.transactions == 4
    assert record.restart_exit_code == 0
    assert record.server_exit_code == 0
    assert 0 < record.drain_seconds <= record.down_seconds
    assert record.back_max is not None and record.back_p50 is not None
    assert record.back_p50 <= record.back_max
    if kind is ServerKind.VOLTMESH:
        assert record.lost == {"1012": 20}  # voltmesh's "service restart"
        assert record.transaction_check == {"kept": 4}
        assert record.transactions_lost == 0
    else:
        assert sum(record.lost.values()) == 20
        assert record.transaction_check is None
    assert record.failures == 0


@pytest.mark.slow
def test_loadgen_cli_idle_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ServerProcess(ServerKind.BASELINE, log_path=tmp_path / "server.log") as server:
        code = main(
            [
                "--port", str(server.ocpp_port),
                "--stations", "10",
                "--workers", "2",
                "--mode", "idle",
                "--heartbeat-interval", str(4 * UNIT),
                "--open-transactions", "0.5",
                "--warmup", "0",
                "--duration", str(20 * UNIT),
            ]
        )  # fmt: skip
    assert code == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["mode"] == "idle"
    assert data["booted"] == 10
    assert set(data["by_action"]) == {"Heartbeat"}
    assert data["idle"] == {
        "transactions": 5,
        "lost": {},
        "reconnected": 0,
        "reconnect_failures": {},
    }
