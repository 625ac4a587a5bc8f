"""Load runs: the fleet's stations in saturate, rate and idle mode against the baseline central
system (a real process on loopback), their window rules, and the `python -m sim.loadgen` line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from sim.errors import RemoteTargetRefused
from sim.fleet.conductor import LoadResult, LoadRun, run_load
from sim.fleet.latency import Histogram
from sim.fleet.load import EventLoop, LoadMode, LoadPlan, LoadShape, Phases
from sim.fleet.tally import LoadCounts
from sim.fleet.worker import worker_loop_factory
from sim.loadgen import main
from sim.servers import ServerKind, ServerProcess
from tests.sim.helpers import UNIT

REMOTE = "192.0.2.1"  # RFC 5737 documentation address: never a real target.


def test_window_rules() -> None:
    counts = LoadCounts(window_start=10.0, window_end=20.0)
    counts.result("Heartbeat", scheduled_at=9.0, received_at=10.5)  # throughput only
    counts.result("Heartbeat", scheduled_at=19.0, received_at=21.0)  # latency only
    counts.result("Heartbeat", scheduled_at=12.0, received_at=12.25)  # both
    counts.failure("InternalError", scheduled_at=5.0)
    counts.failure("InternalError", scheduled_at=15.0)
    counts.failure("timeout", scheduled_at=25.0)
    counts.failure("timeout", scheduled_at=15.0)
    counts.failure("disconnect", scheduled_at=15.0)  # counted once per station, elsewhere
    assert counts.messages == 2
    assert dict(counts.by_action) == {"Heartbeat": 2}
    assert counts.latency.count == 2
    assert counts.latency.max_ms == 2000.0
    assert dict(counts.errors) == {"InternalError": 1}
    assert counts.timeouts == 1


def test_percentiles_come_from_merged_workers_not_averaged() -> None:
    fast, slow = LoadCounts(window_start=0.0, window_end=10.0), LoadCounts()
    slow.window_start, slow.window_end = 0.0, 10.0
    for _ in range(90):
        fast.result("Heartbeat", 1.0, 1.001)
    for _ in range(10):
        slow.result("Heartbeat", 1.0, 1.1)
    slow.boot_failures["connect"] += 1
    merged = LoadCounts()
    merged.merge(fast)
    merged.merge(slow)
    # Averaging the two workers' medians would give about 50 ms.
    assert merged.latency.percentile(50) == pytest.approx(1.0, rel=0.03)
    assert merged.latency.percentile(99) == pytest.approx(100.0, rel=0.03)
    assert merged.messages == 100
    assert dict(merged.boot_failures) == {"connect": 1}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": LoadMode.RATE},
        {"mode": LoadMode.RATE, "rate": 0.0},
        {"mode": LoadMode.SATURATE, "reconnect": True},
        {"mode": LoadMode.SATURATE, "open_transactions": 0.1},
        {"mode": LoadMode.IDLE, "open_transactions": 1.5},
        {"mode": LoadMode.IDLE, "reconnect_backoff": 2.0, "reconnect_backoff_max": 1.0},
        {"mode": LoadMode.IDLE, "heartbeat_interval": 0},
        {"mode": LoadMode.IDLE, "connect_rate": 0},
    ],
)
def test_shape_rejects_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        LoadShape(**kwargs)  # type: ignore[arg-type]


def test_open_transactions_are_spread_over_the_fleet() -> None:
    shape = LoadShape(mode=LoadMode.IDLE, open_transactions=0.1)
    opening = [i for i in range(10_000) if shape.opens_transaction(i)]
    assert len(opening) == 1000
    assert opening[:3] == [9, 19, 29]
    assert not any(LoadShape(mode=LoadMode.IDLE).opens_transaction(i) for i in range(100))
    every = LoadShape(mode=LoadMode.IDLE, open_transactions=1.0)
    assert all(every.opens_transaction(i) for i in range(100))


def test_load_run_refuses_a_remote_host_before_starting_anything() -> None:
    with pytest.raises(RemoteTargetRefused):
        run_load(LoadRun(host=REMOTE, port=9000), LoadShape(mode=LoadMode.SATURATE))


def test_cli_refuses_with_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", REMOTE, "--port", "9000"])
    assert exit_info.value.code == 2
    assert "non-loopback" in capsys.readouterr().err


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("baseline") / "server.log"
    with ServerProcess(ServerKind.BASELINE, log_path=log) as server:
        yield server


def assert_clean(result: LoadResult) -> None:
    assert result.booted == result.stations
    assert result.failures == 0, result
    assert result.clean


def test_saturate(baseline: ServerProcess) -> None:
    run = LoadRun(port=baseline.ocpp_port, stations=20, warmup=2 * UNIT, duration=16 * UNIT)
    result = run_load(run, LoadShape(mode=LoadMode.SATURATE, call_timeout=40 * UNIT))
    assert_clean(result)
    assert result.messages > 20
    assert result.latency_ms["p50"] is not None
    assert {"Heartbeat", "Authorize", "StartTransaction", "MeterValues"} <= set(result.by_action)


def test_rate_offers_the_rate(baseline: ServerProcess) -> None:
    duration = 20 * UNIT
    run = LoadRun(port=baseline.ocpp_port, stations=20, warmup=2 * UNIT, duration=duration)
    shape = LoadShape(mode=LoadMode.RATE, rate=200.0, call_timeout=40 * UNIT)
    result = run_load(run, shape)
    assert_clean(result)
    expected = 200.0 * duration
    assert 0.7 * expected <= result.messages <= expected + 20
    assert result.offered_rate == 200.0


def test_two_workers_share_the_fleet(baseline: ServerProcess) -> None:
    run = LoadRun(port=baseline.ocpp_port, stations=10, workers=2, duration=10 * UNIT)
    result = run_load(run, LoadShape(mode=LoadMode.SATURATE, call_timeout=40 * UNIT))
    assert_clean(result)
    assert result.workers == 2


def test_workers_run_on_the_event_loop_the_shape_names() -> None:
    def factory(loop: EventLoop) -> object:
        return worker_loop_factory(
            LoadPlan(LoadShape(mode=LoadMode.IDLE, event_loop=loop), Phases())
        )

    assert factory(EventLoop.ASYNCIO) is None  # asyncio.Runner's default: asyncio's own loop
    uvloop = pytest.importorskip("uvloop")
    assert factory(EventLoop.UVLOOP) is uvloop.new_event_loop
    assert worker_loop_factory(None) is uvloop.new_event_loop  # a fleet run without a load


def test_saturate_on_asyncios_own_loop(baseline: ServerProcess) -> None:
    run = LoadRun(port=baseline.ocpp_port, stations=10, workers=2, duration=10 * UNIT)
    shape = LoadShape(mode=LoadMode.SATURATE, call_timeout=40 * UNIT, event_loop=EventLoop.ASYNCIO)
    result = run_load(run, shape)
    assert_clean(result)
    assert result.messages > 10


def test_idle_fleet_heartbeats_and_keeps_its_transactions(baseline: ServerProcess) -> None:
    run = LoadRun(port=baseline.ocpp_port, stations=20, warmup=0.0, duration=20 * UNIT)
    shape = LoadShape(
        mode=LoadMode.IDLE,
        heartbeat_interval=4 * UNIT,
        open_transactions=0.25,
        call_timeout=40 * UNIT,
    )
    result = run_load(run, shape)
    assert_clean(result)
    # Stations 3, 7, 11, ... of the fleet, whose ids count from 1.
    assert [station for station, _ in result.transactions] == [
        f"SIM-load-{n:05d}" for n in (4, 8, 12, 16, 20)
    ]
    assert len({tx for _, tx in result.transactions}) == 5
    # Only heartbeats, about one per station per interval.
    assert set(result.by_action) == {"Heartbeat"}
    assert 20 * 3 <= result.messages <= 20 * 6
    assert result.lost == {}
    assert result.back_at == []


def test_loadgen_cli_rate_mode(
    baseline: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "result.json"
    duration = 30 * UNIT
    code = main(
        [
            "--port", str(baseline.ocpp_port),
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
    data = orjson.loads(output.read_bytes())
    assert data == orjson.loads(capsys.readouterr().out)
    assert data["mode"] == "rate"
    assert data["offered_rate"] == 100.0
    assert data["booted"] == 20
    assert data["errors"] == {}
    assert data["timeouts"] == 0
    assert data["unsent"] == 0
    assert 0.7 * 100 * duration <= data["messages"] <= 100 * duration + 20
    assert set(data["latency_ms"]) == {"p50", "p90", "p95", "p99", "max"}


def test_loadgen_cli_idle_mode(baseline: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--port", str(baseline.ocpp_port),
            "--prefix", "IDLE",
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
    assert (data["transactions"], data["lost"], data["back_at"]) == (5, {}, 0)
    assert data["reconnect_failures"] == {}


def test_histogram_wire_round_trip_keeps_the_load_latency() -> None:
    counts = LoadCounts(window_start=0.0, window_end=1.0)
    counts.result("Heartbeat", 0.5, 0.6)
    copy = Histogram.from_wire(counts.latency.to_wire())
    assert copy.percentile(50) == counts.latency.percentile(50)
