from __future__ import annotations

import dataclasses

from sim.benchreport import (
    MIB,
    MemoryRecord,
    ReconnectRecord,
    RunRecord,
    idle_table,
    marginal_kib_per_station,
    markdown_table,
    memory_table,
    reconnect_table,
    summarize,
    summarize_memory,
    summarize_reconnect,
)
from sim.fleet.conductor import LoadResult


def load_result(msgs_per_s: float, p50: float, messages: int = 1000) -> LoadResult:
    return LoadResult(
        mode="saturate",
        offered_rate=None,
        stations=10,
        booted=10,
        connect_seconds=0.1,
        messages=messages,
        duration=1.0,
        msgs_per_s=msgs_per_s,
        latency_ms={"p50": p50, "p90": p50, "p95": p50, "p99": p50 * 2, "max": p50 * 3},
        errors={},
        timeouts=0,
        unsent=0,
        boot_failures={},
        protocol_errors={},
        disconnects=0,
        server_calls=0,
        by_action={},
        workers=1,
        transactions=[],
        lost={},
        back_at=[],
        reconnect_failures={},
    )


def record(server: str, run: int, msgs_per_s: float, cpu: float) -> RunRecord:
    return RunRecord(
        server=server,
        scenario="saturate",
        run=run,
        result=load_result(msgs_per_s, p50=10.0 * run),
        cpu_seconds=cpu,
        rss_bytes=100 * MIB,
        server_exit_code=0,
        server_argv=["x"],
    )


def test_medians_over_runs_and_ratio_row() -> None:
    records = [
        record("voltmesh", 1, 9000.0, 0.05),
        record("baseline", 1, 1000.0, 0.5),
        record("voltmesh", 2, 10000.0, 0.06),
        record("baseline", 2, 1200.0, 0.7),
        record("voltmesh", 3, 20000.0, 0.07),
        record("baseline", 3, 1100.0, 0.6),
    ]
    rows = summarize(records)
    assert [(r.server, r.runs) for r in rows] == [("voltmesh", 3), ("baseline", 3)]
    ours, theirs = rows
    assert ours.msgs_per_s == 10000.0
    assert ours.cpu_us_per_msg == 60.0
    assert theirs.cpu_us_per_msg == 600.0
    assert ours.p50_ms == 20.0
    assert ours.rss_mib == 100.0
    table = markdown_table(rows, command="python -m sim.bench --runs 3")
    assert table.startswith("Command: `python -m sim.bench --runs 3`")
    assert "| voltmesh | saturate | 3 | 10,000 | 20.0 | 40.0 | 60.0 | 100.0 | 0 |" in table
    assert "| voltmesh/baseline | saturate | | 9.09x | 1.00x | 1.00x | 0.10x | 1.00x | |" in table


def test_a_ratio_row_for_each_peer_in_the_table() -> None:
    records = [
        record("voltmesh", 1, 9000.0, 0.05),
        record("baseline", 1, 1000.0, 0.5),
        record("node", 1, 18000.0, 0.05),
    ]
    table = markdown_table(summarize(records), command="c")
    lines = table.splitlines()
    baseline_line = next(
        i for i, line in enumerate(lines) if line.startswith("| voltmesh/baseline ")
    )
    node_line = next(i for i, line in enumerate(lines) if line.startswith("| voltmesh/node "))
    assert node_line == baseline_line + 1
    assert lines[node_line].startswith("| voltmesh/node | saturate | | 0.50x |")


def test_no_ratio_row_for_one_server_and_no_messages() -> None:
    rows = summarize(
        [
            RunRecord(
                server="baseline",
                scenario="saturate",
                run=1,
                result=load_result(0.0, 1.0, messages=0),
                cpu_seconds=0.1,
                rss_bytes=0,
                server_exit_code=0,
                server_argv=[],
            )
        ]
    )
    assert rows[0].cpu_us_per_msg is None
    table = markdown_table(rows, command="c")
    assert "voltmesh/baseline" not in table
    assert "n/a" in table


def memory_record(
    server: str,
    stations: int,
    run: int,
    after_mib: float,
    *,
    p99_ms: float | None = 2.0,
    cpu_seconds: float = 3.0,
) -> MemoryRecord:
    return MemoryRecord(
        server=server,
        stations=stations,
        run=run,
        booted=stations,
        rss_before_bytes=100 * MIB,
        rss_after_bytes=int(after_mib * MIB),
        connect_seconds=2.0,
        boot_failures={},
        lost={},
        idle_seconds=60.0,
        heartbeats=stations,
        heartbeat_ms={"p50": 1.0, "p90": 1.5, "p95": 1.8, "p99": p99_ms, "max": 3000.0},
        heartbeat_failures=0,
        idle_cpu_seconds=cpu_seconds,
        server_exit_code=0,
        server_argv=["x"],
    )


def test_memory_medians_ratio_rows_and_marginal_cost() -> None:
    records = [
        memory_record("voltmesh", 1000, 1, 130.0),
        memory_record("baseline", 1000, 1, 120.0),
        memory_record("voltmesh", 1000, 2, 150.0),
        memory_record("baseline", 1000, 2, 140.0),
        memory_record("voltmesh", 1000, 3, 140.0),
        memory_record("baseline", 1000, 3, 130.0),
        memory_record("voltmesh", 10_000, 1, 440.0),
        memory_record("baseline", 10_000, 1, 320.0),
    ]
    assert records[0].kib_per_station == 30 * 1024 / 1000
    rows = summarize_memory(records)
    assert [(r.server, r.stations, r.runs) for r in rows] == [
        ("voltmesh", 1000, 3),
        ("baseline", 1000, 3),
        ("voltmesh", 10_000, 1),
        ("baseline", 10_000, 1),
    ]
    assert rows[0].rss_after_mib == 140.0
    assert rows[0].kib_per_station == 40 * 1024 / 1000
    table = memory_table(rows)
    assert "| voltmesh | 1,000 | 3 | 100.0 | 140.0 | 41.0 | 2.0 | 0 |" in table
    assert "| voltmesh/baseline | 1,000 | | 1.00x | 1.08x | 1.33x | 1.00x | |" in table
    assert "| voltmesh/baseline | 10,000 | | 1.00x | 1.38x | 1.55x | 1.00x | |" in table
    assert marginal_kib_per_station(rows) == {
        "voltmesh": 300 * 1024 / 9000,
        "baseline": 190 * 1024 / 9000,
    }


def reconnect_record(
    server: str, run: int, back_max: float | None, check: dict[str, int] | None
) -> ReconnectRecord:
    return ReconnectRecord(
        server=server,
        stations=5000,
        run=run,
        booted=5000,
        lost={"1012": 5000},
        back=5000 if back_max is not None else 4990,
        drain_seconds=1.0,
        down_seconds=3.0,
        back_p50=1.0 if back_max is not None else None,
        back_max=back_max,
        back_percentiles={},
        reconnect_failures={"Handshake:503": 10, "ClientConnectorError": 5},
        server_cpu_seconds=4.0,
        listen_overflows=0,
        transactions=500,
        transaction_check=check,
        restart_exit_code=0,
        server_exit_code=0,
        server_argv=["x"],
    )


def test_reconnect_medians_lost_transactions_and_ratio_row() -> None:
    kept = {"kept": 500}
    records = [
        reconnect_record("voltmesh", 1, 5.0, kept),
        reconnect_record("baseline", 1, 10.0, None),
        reconnect_record("voltmesh", 2, 7.0, {"kept": 498, "missing": 2}),
        reconnect_record("baseline", 2, 12.0, None),
        reconnect_record("voltmesh", 3, 6.0, kept),
        reconnect_record("baseline", 3, None, None),
    ]
    assert records[0].back_after_sigterm == 8.0
    assert records[1].transactions_lost is None
    assert records[2].transactions_lost == 2
    assert records[2].failures == 2
    assert records[5].failures == 10  # chargers not back
    ours, theirs = summarize_reconnect(records)
    assert ours.back_max == 6.0
    assert ours.transactions_lost == 0
    assert theirs.back_max == 11.0  # of the runs in which all came back
    assert theirs.not_back == 0
    table = reconnect_table([ours, theirs])
    assert (
        "| voltmesh | 5,000 | 3 | 500 | 1.0 | 3.0 | 6.0 | 1.0 | 9.0 | 15 | 0 | 4.0 | 0 | 0 |"
        in table
    )
    assert (
        "| baseline | 5,000 | 3 | 500 | 1.0 | 3.0 | 11.0 | 1.0 | 14.0 | 15 | 0 | 4.0 | 0 | n/a |"
        in table
    )
    ratio = (
        "| voltmesh/baseline | 5,000 | | | 1.00x | 1.00x | 0.55x | 1.00x | 0.64x | | | 1.00x | | |"
    )
    assert ratio in table
    assert all(line.count("|") == 15 for line in table.splitlines())


def test_idle_fleet_heartbeats_and_cpu_beside_memory() -> None:
    records = [
        memory_record("voltmesh", 20_000, 1, 700.0, p99_ms=1600.0, cpu_seconds=12.0),
        memory_record("baseline", 20_000, 1, 500.0, p99_ms=4.0, cpu_seconds=6.0),
        memory_record("voltmesh", 20_000, 2, 720.0, p99_ms=1400.0, cpu_seconds=15.0),
        memory_record("baseline", 20_000, 2, 520.0, p99_ms=None, cpu_seconds=9.0),
    ]
    assert records[0].heartbeats_per_s == 20_000 / 60.0
    assert records[0].idle_cpu_percent == 20.0
    rows = summarize_memory(records)
    assert rows[0].heartbeat_p99_ms == 1500.0
    # A run in which no Heartbeat was answered has no p99: the median is over the others.
    assert rows[1].heartbeat_p99_ms == 4.0
    assert rows[0].idle_cpu_percent == 22.5
    table = idle_table(rows)
    assert "| voltmesh | 20,000 | 2 | 31.2 | 22.5 | 333 | 1.0 | 1,500.0 | 3,000.0 | 0 |" in table
    assert "| voltmesh/baseline | 20,000 | | 1.49x | 1.80x | | 1.00x | 375.00x | 1.00x | |" in table


def test_failed_heartbeats_are_failures_of_the_idle_fleet() -> None:
    record = dataclasses.replace(memory_record("voltmesh", 100, 1, 110.0), heartbeat_failures=3)
    assert record.failures == 3
    assert record.to_dict()["idle_cpu_percent"] == 5.0
