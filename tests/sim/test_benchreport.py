from __future__ import annotations

from sim.benchreport import MIB, RunRecord, markdown_table, summarize
from sim.result import LatencySummary, LoadResult


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
        latency_ms=LatencySummary(p50=p50, p90=p50, p99=p50 * 2, max=p50 * 3),
        errors={},
        timeouts=0,
        unsent=0,
        boot_failures={},
        unexpected_replies=0,
        protocol_violations=0,
        disconnects=0,
        server_calls=0,
        by_action={},
        workers=1,
        concurrency=1,
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
