"""Benchmark records, their medians, and the Markdown table for BENCHMARKS.md."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.result import LoadResult

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One server, one scenario, one repetition."""

    server: str
    """`voltmesh` or `baseline`."""
    scenario: str
    """Scenario label, e.g. `saturate` or `rate 2000/s`."""
    run: int
    """Repetition number, from 1."""
    result: LoadResult
    """What the load driver measured."""
    cpu_seconds: float
    """Server CPU (user + system, whole process tree) during the measured window."""
    rss_bytes: int
    """Server resident memory (whole process tree) with the fleet connected and idle."""
    server_exit_code: int | None
    """How the server exited after SIGTERM (0 expected)."""
    server_argv: list[str]
    """The server's command line."""

    @property
    def cpu_us_per_msg(self) -> float | None:
        """Server CPU microseconds per measured message."""
        if self.result.messages == 0:
            return None
        return self.cpu_seconds * 1e6 / self.result.messages

    @property
    def failures(self) -> int:
        """Everything that went wrong: errors, timeouts, unsent CALLs, failed boots."""
        r = self.result
        return (
            sum(r.errors.values())
            + r.timeouts
            + r.unsent
            + sum(r.boot_failures.values())
            + r.unexpected_replies
            + r.protocol_violations
            + r.disconnects
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the per-run JSON file."""
        return {
            "server": self.server,
            "scenario": self.scenario,
            "run": self.run,
            "cpu_seconds": self.cpu_seconds,
            "cpu_us_per_msg": self.cpu_us_per_msg,
            "rss_bytes": self.rss_bytes,
            "server_exit_code": self.server_exit_code,
            "server_argv": self.server_argv,
            "result": self.result.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """Medians over the runs of one server in one scenario."""

    server: str
    """Server name."""
    scenario: str
    """Scenario label."""
    runs: int
    """Runs the medians are taken over."""
    msgs_per_s: float
    """Median throughput."""
    p50_ms: float | None
    """Median of the runs' median latencies."""
    p99_ms: float | None
    """Median of the runs' 99th percentile latencies."""
    cpu_us_per_msg: float | None
    """Median server CPU per message."""
    rss_mib: float
    """Median server RSS with the fleet idle."""
    failures: float
    """Median count of errors, timeouts, unsent CALLs and failed boots."""


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(records: Sequence[RunRecord]) -> list[SummaryRow]:
    """Medians per (scenario, server), in the order scenarios and servers first appear."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for record in records:
        groups.setdefault((record.scenario, record.server), []).append(record)
    rows = []
    for (scenario, server), group in groups.items():
        rows.append(
            SummaryRow(
                server=server,
                scenario=scenario,
                runs=len(group),
                msgs_per_s=statistics.median(r.result.msgs_per_s for r in group),
                p50_ms=_median(r.result.latency_ms.p50 for r in group),
                p99_ms=_median(r.result.latency_ms.p99 for r in group),
                cpu_us_per_msg=_median(r.cpu_us_per_msg for r in group),
                rss_mib=statistics.median(r.rss_bytes / MIB for r in group),
                failures=statistics.median(r.failures for r in group),
            )
        )
    scenario_order = list(dict.fromkeys(scenario for scenario, _ in groups))
    rows.sort(key=lambda row: scenario_order.index(row.scenario))
    return rows


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def markdown_table(rows: Sequence[SummaryRow], *, command: str, notes: Sequence[str] = ()) -> str:
    """The summary as Markdown, with the command that produced it.

    When a scenario has both `voltmesh` and `baseline` rows, a `voltmesh/baseline` row follows
    with the ratio of each column.
    """
    lines = [f"Command: `{command}`", ""]
    lines += [f"{note}  " for note in notes]
    if notes:
        lines.append("")
    lines += [
        "| server | scenario | runs | msgs/s | p50 ms | p99 ms | server CPU µs/msg "
        "| server RSS MiB | failures |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_key = {(row.scenario, row.server): row for row in rows}
    for row in rows:
        lines.append(
            f"| {row.server} | {row.scenario} | {row.runs} | {_num(row.msgs_per_s, 0)} "
            f"| {_num(row.p50_ms)} | {_num(row.p99_ms)} | {_num(row.cpu_us_per_msg)} "
            f"| {_num(row.rss_mib)} | {_num(row.failures, 0)} |"
        )
        last_of_scenario = row is [r for r in rows if r.scenario == row.scenario][-1]
        ours = by_key.get((row.scenario, "voltmesh"))
        theirs = by_key.get((row.scenario, "baseline"))
        if last_of_scenario and ours is not None and theirs is not None:
            lines.append(
                f"| voltmesh/baseline | {row.scenario} | | "
                f"{_ratio(ours.msgs_per_s, theirs.msgs_per_s)} "
                f"| {_ratio(ours.p50_ms, theirs.p50_ms)} | {_ratio(ours.p99_ms, theirs.p99_ms)} "
                f"| {_ratio(ours.cpu_us_per_msg, theirs.cpu_us_per_msg)} "
                f"| {_ratio(ours.rss_mib, theirs.rss_mib)} | |"
            )
    return "\n".join(lines) + "\n"
