from __future__ import annotations

from array import array

import orjson
import pytest

from sim.config import LoadConfig, LoadMode
from sim.result import LatencySummary, percentile
from sim.stats import BootReport, Tally, WorkerReport, merge_reports


def report(worker: int, latencies: list[float], **counts: int) -> WorkerReport:
    return WorkerReport(
        worker=worker,
        stations=10,
        boot=BootReport(booted=10, failures={}, last_booted_at=1.0),
        latencies_ms=array("d", latencies),
        messages=len(latencies),
        errors={},
        timeouts=counts.get("timeouts", 0),
        unsent=0,
        unexpected_replies=0,
        protocol_violations=0,
        disconnects=0,
        server_calls=0,
        by_action={"Heartbeat": len(latencies)},
    )


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="percentile"):
        percentile(values, 0)


def test_percentiles_come_from_merged_samples_not_averaged() -> None:
    fast = report(0, [1.0] * 90)
    slow = report(1, [100.0] * 10)
    config = LoadConfig(port=9000, stations=20, workers=2, duration=2.0)
    result = merge_reports(config, [fast, slow], connect_seconds=0.5)
    # Averaging the two workers' medians would give 50.5 ms.
    assert result.latency_ms == LatencySummary(p50=1.0, p90=1.0, p99=100.0, max=100.0)
    assert result.messages == 100
    assert result.msgs_per_s == 50.0
    assert result.stations == 20
    assert result.booted == 20
    assert result.by_action == {"Heartbeat": 100}
    assert result.workers == 2
    assert result.clean


def test_errors_and_timeouts_add_up_and_spoil_clean() -> None:
    a = report(0, [1.0], timeouts=2)
    b = report(1, [1.0])
    b = WorkerReport(**{**{f: getattr(b, f) for f in b.__slots__}, "errors": {"X": 1}})
    config = LoadConfig(port=9000, stations=20, workers=2, mode=LoadMode.RATE, rate=10.0)
    result = merge_reports(config, [a, b], connect_seconds=0.0)
    assert result.timeouts == 2
    assert result.errors == {"X": 1}
    assert result.offered_rate == 10.0
    assert not result.clean


def test_result_json_has_the_promised_fields() -> None:
    config = LoadConfig(port=9000, stations=10)
    data = orjson.loads(
        merge_reports(config, [report(0, [2.0, 4.0])], connect_seconds=1.0).to_json()
    )
    for key in (
        "stations",
        "booted",
        "connect_seconds",
        "messages",
        "duration",
        "msgs_per_s",
        "errors",
        "timeouts",
    ):
        assert key in data
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "max"}


def test_tally_window_rules() -> None:
    tally = Tally()
    tally.set_window(10.0, 20.0)
    tally.record_result("Heartbeat", scheduled_at=9.0, received_at=10.5)  # throughput only
    tally.record_result("Heartbeat", scheduled_at=19.0, received_at=21.0)  # latency only
    tally.record_result("Heartbeat", scheduled_at=12.0, received_at=12.25)  # both
    tally.record_error("InternalError", scheduled_at=5.0)
    tally.record_error("InternalError", scheduled_at=15.0)
    tally.record_timeout(scheduled_at=25.0)
    assert tally.messages == 2
    assert list(tally.latencies_ms) == [2000.0, 250.0]
    assert dict(tally.errors) == {"InternalError": 1}
    assert tally.timeouts == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stations": 0},
        {"workers": 0},
        {"workers": 30, "stations": 20},
        {"mode": LoadMode.RATE},
        {"mode": LoadMode.RATE, "rate": 0.0},
        {"duration": 0.0},
        {"concurrency": 0},
        {"path": "ocpp"},
    ],
)
def test_config_rejects_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        LoadConfig(port=9000, **kwargs)  # type: ignore[arg-type]
