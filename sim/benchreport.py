"""Benchmark records, their medians, and the Markdown tables for BENCHMARKS.md."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.fleet.conductor import LoadResult

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
    """What the load run measured."""
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
        return self.result.failures

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
                p50_ms=_median(r.result.latency_ms["p50"] for r in group),
                p99_ms=_median(r.result.latency_ms["p99"] for r in group),
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


def preamble(command: str, notes: Sequence[str] = ()) -> list[str]:
    """The lines before a table: the command, then the notes (Markdown line breaks)."""
    lines = [f"Command: `{command}`", ""]
    lines += [f"{note}  " for note in notes]
    if notes:
        lines.append("")
    return lines


def markdown_table(rows: Sequence[SummaryRow], *, command: str, notes: Sequence[str] = ()) -> str:
    """The summary as Markdown, with the command that produced it.

    When a scenario has both `voltmesh` and `baseline` rows, a `voltmesh/baseline` row follows
    with the ratio of each column.
    """
    lines = preamble(command, notes)
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


KIB = 1024


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """Resident memory of one server holding an idle fleet, one repetition."""

    server: str
    """`voltmesh` or `baseline`."""
    stations: int
    """Chargers asked for."""
    run: int
    """Repetition number, from 1."""
    booted: int
    """Chargers connected and booted when the RSS was read."""
    rss_before_bytes: int
    """Server RSS (process tree) once ready, before any charger connected."""
    rss_after_bytes: int
    """Server RSS with every charger connected, booted and idle for the settle time."""
    connect_seconds: float
    """From the start of the connect ramp until the last charger had booted."""
    boot_failures: dict[str, int]
    """Chargers that did not boot, by reason."""
    lost: dict[str, int]
    """Connections lost while the fleet was idle, by close code."""
    server_exit_code: int | None
    """How the server exited after SIGTERM (0 expected)."""
    server_argv: list[str]
    """The server's command line."""

    @property
    def kib_per_station(self) -> float | None:
        """(RSS after - RSS before) / connected chargers, in KiB."""
        if self.booted == 0:
            return None
        return (self.rss_after_bytes - self.rss_before_bytes) / KIB / self.booted

    @property
    def failures(self) -> int:
        """Chargers that did not boot or did not stay connected."""
        return (self.stations - self.booted) + sum(self.lost.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the per-run JSON file."""
        return {**dataclasses.asdict(self), "kib_per_station": self.kib_per_station}


@dataclass(frozen=True, slots=True)
class ReconnectRecord:
    """A reconnect storm against one server, one repetition.

    A charger is *back* when its websocket is open again and its first Heartbeat on it has been
    answered (it does not boot again: a central system's restart is not a reboot). Times are
    seconds from the new server process's readiness unless named otherwise.
    """

    server: str
    """`voltmesh` or `baseline`."""
    stations: int
    """Chargers asked for."""
    run: int
    """Repetition number, from 1."""
    booted: int
    """Chargers connected and booted before the restart."""
    lost: dict[str, int]
    """Connections the restart closed, by close code (voltmesh: 1012)."""
    back: int
    """Chargers back before the time limit."""
    drain_seconds: float
    """From SIGTERM until the old process had exited."""
    down_seconds: float
    """From SIGTERM until the new process was ready."""
    back_p50: float | None
    """Median time after readiness at which a charger was back."""
    back_max: float | None
    """Time after readiness at which the last charger was back."""
    back_percentiles: dict[str, float]
    """More of that distribution (`p10` ... `p99`), for the per-run JSON."""
    reconnect_failures: dict[str, int]
    """Failed reconnect attempts by reason (503 while draining, refused while down, ...)."""
    server_cpu_seconds: float
    """CPU of the new server process from readiness until every charger was back."""
    listen_overflows: int | None
    """The kernel's TcpExt ListenOverflows during the storm (machine-wide): connections dropped
    because an accept queue was full, each costing its charger a SYN retransmission (1 s, 3 s,
    7 s, ... later)."""
    transactions: int
    """Transactions the server had answered StartTransaction for before the restart."""
    transaction_check: dict[str, int] | None
    """Those transactions looked up in the REST API after the storm (`kept`, `missing`, ...);
    None for the baseline (in memory, no API)."""
    restart_exit_code: int | None
    """How the old process exited after SIGTERM (0: drained cleanly)."""
    server_exit_code: int | None
    """How the new process exited after the final SIGTERM."""
    server_argv: list[str]
    """The server's command line."""

    @property
    def back_after_sigterm(self) -> float | None:
        """From SIGTERM until the last charger was back."""
        return None if self.back_max is None else self.down_seconds + self.back_max

    @property
    def transactions_lost(self) -> int | None:
        """Answered transactions not found open on their station after the storm."""
        if self.transaction_check is None:
            return None
        return self.transactions - self.transaction_check.get("kept", 0)

    @property
    def failures(self) -> int:
        """Chargers that did not boot or did not come back, and transactions lost."""
        return (
            (self.stations - self.booted)
            + (self.booted - self.back)
            + (self.transactions_lost or 0)
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the per-run JSON file."""
        return {
            **dataclasses.asdict(self),
            "back_after_sigterm": self.back_after_sigterm,
            "transactions_lost": self.transactions_lost,
        }


@dataclass(frozen=True, slots=True)
class MemoryRow:
    """Medians over the runs of one server at one fleet size (fields as in `MemoryRecord`)."""

    server: str
    stations: int
    runs: int
    rss_before_mib: float
    rss_after_mib: float
    kib_per_station: float | None
    connect_seconds: float
    failures: float


@dataclass(frozen=True, slots=True)
class ReconnectRow:
    """Medians over the runs of one server at one fleet size (fields as in `ReconnectRecord`;
    `back_*` over the runs in which some charger came back)."""

    server: str
    stations: int
    runs: int
    transactions: float
    drain_seconds: float
    down_seconds: float
    back_p50: float | None
    back_max: float | None
    back_after_sigterm: float | None
    failed_attempts: float
    server_cpu_seconds: float
    listen_overflows: float | None
    not_back: float
    transactions_lost: float | None


def _groups(records: Sequence[Any]) -> dict[tuple[int, str], list[Any]]:
    """Records by (stations, server), sizes ascending, servers in order of appearance."""
    groups: dict[tuple[int, str], list[Any]] = {}
    for record in sorted(records, key=lambda r: r.stations):
        groups.setdefault((record.stations, record.server), []).append(record)
    return groups


def summarize_memory(records: Sequence[MemoryRecord]) -> list[MemoryRow]:
    """Medians per (stations, server)."""
    return [
        MemoryRow(
            server=server,
            stations=stations,
            runs=len(group),
            rss_before_mib=statistics.median(r.rss_before_bytes / MIB for r in group),
            rss_after_mib=statistics.median(r.rss_after_bytes / MIB for r in group),
            kib_per_station=_median(r.kib_per_station for r in group),
            connect_seconds=statistics.median(r.connect_seconds for r in group),
            failures=statistics.median(r.failures for r in group),
        )
        for (stations, server), group in _groups(records).items()
    ]


def summarize_reconnect(records: Sequence[ReconnectRecord]) -> list[ReconnectRow]:
    """Medians per (stations, server)."""
    return [
        ReconnectRow(
            server=server,
            stations=stations,
            runs=len(group),
            transactions=statistics.median(r.transactions for r in group),
            drain_seconds=statistics.median(r.drain_seconds for r in group),
            down_seconds=statistics.median(r.down_seconds for r in group),
            back_p50=_median(r.back_p50 for r in group),
            back_max=_median(r.back_max for r in group),
            back_after_sigterm=_median(r.back_after_sigterm for r in group),
            failed_attempts=statistics.median(sum(r.reconnect_failures.values()) for r in group),
            server_cpu_seconds=statistics.median(r.server_cpu_seconds for r in group),
            listen_overflows=_median(r.listen_overflows for r in group),
            not_back=statistics.median(r.booted - r.back for r in group),
            transactions_lost=_median(r.transactions_lost for r in group),
        )
        for (stations, server), group in _groups(records).items()
    ]


def _ratio_row(rows: Sequence[Any], row: Any) -> tuple[Any, Any] | None:
    """(voltmesh, baseline) rows of `row`'s fleet size after its last row, else None."""
    same = [r for r in rows if r.stations == row.stations]
    if row is not same[-1]:
        return None
    by_server = {r.server: r for r in same}
    if "voltmesh" in by_server and "baseline" in by_server:
        return by_server["voltmesh"], by_server["baseline"]
    return None


def memory_table(rows: Sequence[MemoryRow]) -> str:
    """The idle-fleet memory summary as Markdown."""
    lines = [
        "| server | stations | runs | RSS before MiB | RSS after MiB | KiB per idle station "
        "| connect + boot s | failures |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.server} | {row.stations:,} | {row.runs} | {_num(row.rss_before_mib)} "
            f"| {_num(row.rss_after_mib)} | {_num(row.kib_per_station)} "
            f"| {_num(row.connect_seconds)} | {_num(row.failures, 0)} |"
        )
        pair = _ratio_row(rows, row)
        if pair is not None:
            ours, theirs = pair
            lines.append(
                f"| voltmesh/baseline | {row.stations:,} | | "
                f"{_ratio(ours.rss_before_mib, theirs.rss_before_mib)} "
                f"| {_ratio(ours.rss_after_mib, theirs.rss_after_mib)} "
                f"| {_ratio(ours.kib_per_station, theirs.kib_per_station)} "
                f"| {_ratio(ours.connect_seconds, theirs.connect_seconds)} | |"
            )
    return "\n".join(lines) + "\n"


def marginal_kib_per_station(rows: Sequence[MemoryRow]) -> dict[str, float]:
    """Per server with two or more fleet sizes: RSS growth per extra station between the
    smallest and the largest, in KiB (what start-up and warm-up costs cannot blur)."""
    result = {}
    for server in dict.fromkeys(r.server for r in rows):
        mine = sorted((r for r in rows if r.server == server), key=lambda r: r.stations)
        small, large = mine[0], mine[-1]
        if large.stations > small.stations:
            growth = (large.rss_after_mib - small.rss_after_mib) * KIB
            result[server] = growth / (large.stations - small.stations)
    return result


def reconnect_table(rows: Sequence[ReconnectRow]) -> str:
    """The reconnect-storm summary as Markdown."""
    lines = [
        "| server | stations | runs | open tx | drain s | down s | all back s | p50 back s "
        "| all back after SIGTERM s | failed attempts | listen overflows | server CPU s "
        "| not back | tx lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lost = "n/a" if row.transactions_lost is None else _num(row.transactions_lost, 0)
        lines.append(
            f"| {row.server} | {row.stations:,} | {row.runs} | {_num(row.transactions, 0)} "
            f"| {_num(row.drain_seconds)} | {_num(row.down_seconds)} | {_num(row.back_max)} "
            f"| {_num(row.back_p50)} | {_num(row.back_after_sigterm)} "
            f"| {_num(row.failed_attempts, 0)} | {_num(row.listen_overflows, 0)} "
            f"| {_num(row.server_cpu_seconds)} "
            f"| {_num(row.not_back, 0)} | {lost} |"
        )
        pair = _ratio_row(rows, row)
        if pair is not None:
            ours, theirs = pair
            lines.append(
                f"| voltmesh/baseline | {row.stations:,} | | "
                f"| {_ratio(ours.drain_seconds, theirs.drain_seconds)} "
                f"| {_ratio(ours.down_seconds, theirs.down_seconds)} "
                f"| {_ratio(ours.back_max, theirs.back_max)} "
                f"| {_ratio(ours.back_p50, theirs.back_p50)} "
                f"| {_ratio(ours.back_after_sigterm, theirs.back_after_sigterm)} "
                f"| | | {_ratio(ours.server_cpu_seconds, theirs.server_cpu_seconds)} | | |"
            )
    return "\n".join(lines) + "\n"
