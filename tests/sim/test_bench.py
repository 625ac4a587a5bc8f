"""The benchmark harness end to end: a fresh server process per run, the load stations against it,
the server sampled in /proc (throughput, memory of an idle fleet, a reconnect storm)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import orjson
import pytest

from sim.bench import (
    BenchOptions,
    Scenario,
    load_event_loop,
    main,
    measure_memory,
    measure_reconnect,
    run_once,
)
from sim.fleet.load import EventLoop, LoadMode
from sim.servers import ServerKind, ephemeral_ports, free_port
from tests.sim.helpers import UNIT, small_options


def test_tls_runs_load_on_asyncios_own_loop_unless_told() -> None:
    assert load_event_loop(None, tls=False) is EventLoop.UVLOOP
    # Over ws and wss alike: the wss/ws ratios then compare the transports only.
    assert load_event_loop(None, tls=True) is EventLoop.ASYNCIO
    assert load_event_loop("uvloop", tls=True) is EventLoop.UVLOOP
    assert load_event_loop("asyncio", tls=False) is EventLoop.ASYNCIO


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
    p50, p99, top = (result.latency_ms[k] for k in ("p50", "p99", "max"))
    assert p50 is not None and p99 is not None and top is not None
    assert p50 <= p99 <= top
    assert record.cpu_seconds > 0
    assert record.cpu_us_per_msg is not None
    assert record.rss_bytes > 1024 * 1024
    assert record.server_exit_code == 0
    data = orjson.loads((tmp_path / "baseline-saturate-run1.json").read_bytes())
    assert data["result"]["booted"] == 20
    assert data["server_argv"][1:3] == ["-m", "sim.baseline_server"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", [ServerKind.BASELINE, ServerKind.VOLTMESH])
def test_memory_of_an_idle_fleet(kind: ServerKind, tmp_path: Path) -> None:
    # A Heartbeat every 4 units over 20 units: about 5 per station in the idle window.
    options = dataclasses.replace(
        small_options(tmp_path), heartbeat_interval=4 * UNIT, idle_window=20 * UNIT
    )
    record = measure_memory(kind, 20, 1, options)
    assert record.booted == 20
    assert record.failures == 0
    assert record.rss_before_bytes > 10 * 2**20
    assert record.rss_after_bytes > 0
    assert record.kib_per_station is not None
    assert record.server_exit_code == 0
    assert 20 * 3 <= record.heartbeats <= 20 * 6
    p50, p99, top = (record.heartbeat_ms[k] for k in ("p50", "p99", "max"))
    assert p50 is not None and p99 is not None and top is not None
    assert 0 < p50 <= p99 <= top < options.call_timeout * 1000
    assert record.idle_seconds == options.idle_window
    assert record.idle_cpu_seconds >= 0
    data = orjson.loads((tmp_path / f"{kind.value}-memory20-run1.json").read_bytes())
    assert data["heartbeats"] == record.heartbeats
    assert data["idle_cpu_percent"] == record.idle_cpu_percent


@pytest.mark.slow
@pytest.mark.parametrize("kind", [ServerKind.BASELINE, ServerKind.VOLTMESH])
def test_reconnect_storm(kind: ServerKind, tmp_path: Path) -> None:
    started = time.monotonic()
    options = small_options(tmp_path)
    record = measure_reconnect(kind, 20, 1, options)
    # It ends once all are back, not when the reconnect timeout gives up on them.
    assert time.monotonic() - started < options.reconnect_timeout
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
def test_stations_whose_heartbeat_was_out_at_the_restart_come_back(tmp_path: Path) -> None:
    # Twenty stations heartbeating every time unit: some Heartbeats are out when the server goes.
    options = dataclasses.replace(small_options(tmp_path), heartbeat_interval=UNIT)
    record = measure_reconnect(ServerKind.BASELINE, 20, 1, options)
    assert record.booted == 20
    assert sum(record.lost.values()) == 20
    assert record.back == 20
    assert record.failures == 0


def test_server_ports_are_never_a_clients_source_port() -> None:
    """A server restarted on its ports during a reconnect storm must find them free: they are
    chosen outside the range the kernel hands out as clients' source ports."""
    clients = ephemeral_ports()
    ports = {free_port() for _ in range(20)}
    assert all(port not in clients for port in ports)


@pytest.mark.slow
def test_memory_run_reports_idle_heartbeats_and_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A few hundred idle stations, each sending a Heartbeat every second for two: the tables
    show their round trips and the server's CPU beside the memory per station."""
    code = main(
        [
            "--server", "baseline",
            "--memory", "300",
            "--idle-connect-rate", "600",
            "--idle-settle", str(10 * UNIT),
            "--heartbeat-interval", "1",
            "--idle-window", "2",
            "--runs", "1",
            "--output", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    data = orjson.loads((tmp_path / "baseline-memory300-run1.json").read_bytes())
    assert data["booted"] == 300
    assert data["heartbeat_failures"] == 0
    # 300 stations, a Heartbeat a second each, over 2 s.
    assert 450 <= data["heartbeats"] <= 660
    latency = data["heartbeat_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert data["idle_cpu_seconds"] > 0
    assert data["idle_cpu_percent"] == pytest.approx(100 * data["idle_cpu_seconds"] / 2)
    table = capsys.readouterr().out
    assert "| server | stations | runs | KiB per idle station | server CPU % of a core |" in table
    row = next(line for line in table.splitlines() if line.startswith("| baseline | 300 | 1 |"))
    assert row.count("|") == 9  # the memory table's row
    idle_row = [line for line in table.splitlines() if line.startswith("| baseline | 300 | 1 |")][1]
    cells = [cell.strip() for cell in idle_row.strip("|").split("|")]
    assert float(cells[5]) >= 225  # Heartbeats/s
    assert float(cells[8].replace(",", "")) == pytest.approx(latency["max"], abs=0.06)
    assert (tmp_path / "summary.md").read_text() == table
