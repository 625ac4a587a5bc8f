"""Worker fleets against the baseline central system, in process and as real processes."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from sim.baseline_server import baseline_server
from sim.bench import BenchOptions, Scenario, run_once
from sim.config import LoadConfig, LoadMode
from sim.control import StartTraffic
from sim.loadgen import main
from sim.servers import ServerKind, ServerProcess
from sim.stats import Tally
from sim.worker import WorkerFleet
from tests.sim.helpers import UNIT


async def run_fleet_in_process(config_kwargs: dict[str, object]) -> tuple[int, Tally]:
    async with baseline_server("127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = LoadConfig(port=port, **config_kwargs)  # type: ignore[arg-type]
        tally = Tally()
        async with aiohttp.ClientSession() as session:
            fleet = WorkerFleet(config, 0, session, tally)
            try:
                boot = await fleet.boot(time.monotonic())
                now = time.monotonic()
                window_start = now + config.warmup
                await fleet.run_traffic(
                    StartTraffic(now, window_start, window_start + config.duration, 0, boot.booted)
                )
            finally:
                await fleet.close()
    assert boot.failures == {}
    return boot.booted, tally


def assert_clean(tally: Tally) -> None:
    assert not tally.errors
    assert tally.timeouts == 0
    assert tally.unsent == 0
    assert tally.unexpected_replies == 0
    assert tally.protocol_violations == 0
    assert tally.disconnects == 0


async def test_saturate_in_process() -> None:
    booted, tally = await run_fleet_in_process(
        {"stations": 20, "warmup": 2 * UNIT, "duration": 16 * UNIT, "call_timeout": 40 * UNIT}
    )
    assert booted == 20
    assert tally.messages > 20
    assert len(tally.latencies_ms) > 20
    assert {"Heartbeat", "Authorize", "StartTransaction", "MeterValues"} <= set(tally.by_action)
    assert_clean(tally)


async def test_rate_in_process_offers_the_rate() -> None:
    duration = 20 * UNIT
    booted, tally = await run_fleet_in_process(
        {
            "stations": 20,
            "mode": LoadMode.RATE,
            "rate": 200.0,
            "warmup": 2 * UNIT,
            "duration": duration,
            "call_timeout": 40 * UNIT,
        }
    )
    assert booted == 20
    expected = 200.0 * duration
    assert len(tally.latencies_ms) == pytest.approx(expected, abs=2)
    assert 0.7 * expected <= tally.messages <= expected + 20
    assert_clean(tally)


def test_workers_deal_stations_round_robin() -> None:
    config = LoadConfig(port=9000, stations=5, workers=2)
    session: aiohttp.ClientSession = None  # type: ignore[assignment]  # never used
    assert list(WorkerFleet(config, 0, session, Tally()).indexes) == [0, 2, 4]
    assert list(WorkerFleet(config, 1, session, Tally()).indexes) == [1, 3]


@pytest.mark.slow
def test_bench_run_against_baseline_process(tmp_path: Path) -> None:
    options = BenchOptions(
        stations=20,
        workers=2,
        warmup=6 * UNIT,
        duration=30 * UNIT,
        connect_rate=None,
        call_timeout=40 * UNIT,
        boot_timeout=200 * UNIT,
        output=tmp_path,
        idle_settle=2 * UNIT,
    )
    record = run_once(ServerKind.BASELINE, Scenario(LoadMode.SATURATE, None), 1, options)
    result = record.result
    assert result.stations == 20
    assert result.booted == 20
    assert result.workers == 2
    assert result.messages > 20
    assert result.clean, result
    assert result.latency_ms.p50 is not None
    assert result.latency_ms.p50 <= result.latency_ms.p99 <= result.latency_ms.max  # type: ignore[operator]
    assert record.cpu_seconds > 0
    assert record.cpu_us_per_msg is not None
    assert record.rss_bytes > 1024 * 1024
    assert record.server_exit_code == 0
    data = orjson.loads((tmp_path / "baseline-saturate-run1.json").read_bytes())
    assert data["result"]["booted"] == 20
    assert data["server_argv"][1:3] == ["-m", "sim.baseline_server"]


@pytest.mark.slow
def test_loadgen_cli_rate_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "result.json"
    duration = 30 * UNIT
    with ServerProcess(ServerKind.BASELINE, log_path=tmp_path / "server.log") as server:
        code = main(
            [
                "--port", str(server.ocpp_port),
                "--stations", "20",
                "--mode", "rate",
                "--rate", "100",
                "--warmup", str(6 * UNIT),
                "--duration", str(duration),
                "--call-timeout", str(40 * UNIT),
                "--output", str(output),
            ]
        )  # fmt: skip
    assert code == 0
    assert server.exit_code == 0
    data = orjson.loads(output.read_bytes())
    assert data == orjson.loads(capsys.readouterr().out)
    assert data["mode"] == "rate"
    assert data["offered_rate"] == 100.0
    assert data["booted"] == 20
    assert data["errors"] == {}
    assert data["timeouts"] == 0
    assert data["unsent"] == 0
    assert 0.7 * 100 * duration <= data["messages"] <= 100 * duration + 20
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "max"}
