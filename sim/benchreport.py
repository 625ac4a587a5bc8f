"""Benchmark records, their medians, and the Markdown tables for BENCHMARKS.md."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sim.fleet.conductor import LoadResult
from sim.fleet.figures import markdown_row, median, number, per_second, ratio, us_per_message

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One server, one scenario, one repetition."""

    server: str
    """`voltmesh`, `baseline` or `node`."""
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
        return us_per_message(self.cpu_seconds, self.result.messages)

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
                p50_ms=median(r.result.latency_ms["p50"] for r in group),
                p99_ms=median(r.result.latency_ms["p99"] for r in group),
                cpu_us_per_msg=median(r.cpu_us_per_msg for r in group),
                rss_mib=statistics.median(r.rss_bytes / MIB for r in group),
                failures=statistics.median(r.failures for r in group),
            )
        )
    scenario_order = list(dict.fromkeys(scenario for scenario, _ in groups))
    rows.sort(key=lambda row: scenario_order.index(row.scenario))
    return rows


def preamble(command: str, notes: Sequence[str] = ()) -> list[str]:
    """The lines before a table: the command, then the notes (Markdown line breaks)."""
    lines = [f"Command: `{command}`", ""]
    lines += [f"{note}  " for note in notes]
    if notes:
        lines.append("")
    return lines


class _ServerRow(Protocol):
    @property
    def server(self) -> str: ...


_Row = TypeVar("_Row", bound=_ServerRow)


PEERS = ("baseline", "node")
"""The servers voltmesh is compared with, in the order of their ratio lines."""


def _compared(
    rows: Sequence[_Row],
    label: Callable[[_Row], str],
    cells: Callable[[_Row], list[str]],
    ratios: Sequence[str],
) -> list[str]:
    """A line per row; after the last row of each group (the rows of one ``label``) that has a
    `voltmesh` row, a `voltmesh/<peer>` line of their ratios for each peer (`PEERS`) in the group:
    ``ratios`` names, for each column after the label, the field it compares ("" leaves it
    blank)."""
    lines = []
    for row in rows:
        lines.append(markdown_row(cells(row)))
        same = [r for r in rows if label(r) == label(row)]
        by_server = {r.server: r for r in same}
        if row is not same[-1] or "voltmesh" not in by_server:
            continue
        ours = by_server["voltmesh"]
        for peer in PEERS:
            theirs = by_server.get(peer)
            if theirs is None:
                continue
            compared = [ratio(getattr(ours, f), getattr(theirs, f)) if f else "" for f in ratios]
            lines.append(markdown_row([f"voltmesh/{peer}", label(row), *compared]))
    return lines


def markdown_table(rows: Sequence[SummaryRow], *, command: str, notes: Sequence[str] = ()) -> str:
    """The summary as Markdown, with the command that produced it.

    When a scenario has both `voltmesh` and `baseline` rows, a `voltmesh/baseline` row follows
    with the ratio of each column.
    """

    def cells(row: SummaryRow) -> list[str]:
        return [
            row.server,
            row.scenario,
            str(row.runs),
            number(row.msgs_per_s, 0),
            number(row.p50_ms),
            number(row.p99_ms),
            number(row.cpu_us_per_msg),
            number(row.rss_mib),
            number(row.failures, 0),
        ]

    lines = preamble(command, notes)
    lines += [
        "| server | scenario | runs | msgs/s | p50 ms | p99 ms | server CPU µs/msg "
        "| server RSS MiB | failures |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = ("", "msgs_per_s", "p50_ms", "p99_ms", "cpu_us_per_msg", "rss_mib", "")
    lines += _compared(rows, lambda row: row.scenario, cells, ratios)
    return "\n".join(lines) + "\n"


KIB = 1024


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """Resident memory of one server holding an idle fleet, one repetition."""

    server: str
    """`voltmesh`, `baseline` or `node`."""
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
    idle_seconds: float
    """The idle window after the RSS sample, over which the Heartbeats and the CPU are measured."""
    heartbeats: int
    """Heartbeats answered in the idle window."""
    heartbeat_ms: dict[str, float | None]
    """Round trip of the Heartbeats scheduled in the idle window, from their scheduled send:
    ``p50``, ``p90``, ``p95``, ``p99``, ``max`` (None when none was answered)."""
    heartbeat_failures: int
    """Heartbeats scheduled in the idle window that timed out or got a CALLERROR."""
    idle_cpu_seconds: float
    """Server CPU (user + system, whole process tree) over the idle window."""
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
    def heartbeats_per_s(self) -> float | None:
        """Heartbeats answered per second of the idle window."""
        return per_second(self.heartbeats, self.idle_seconds)

    @property
    def idle_cpu_percent(self) -> float | None:
        """Server CPU over the idle window, in percent of one core."""
        share = per_second(self.idle_cpu_seconds, self.idle_seconds)
        return None if share is None else 100.0 * share

    @property
    def failures(self) -> int:
        """Chargers that did not boot or did not stay connected, and Heartbeats that failed."""
        return (self.stations - self.booted) + sum(self.lost.values()) + self.heartbeat_failures

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the per-run JSON file."""
        return {
            **dataclasses.asdict(self),
            "kib_per_station": self.kib_per_station,
            "heartbeats_per_s": self.heartbeats_per_s,
            "idle_cpu_percent": self.idle_cpu_percent,
        }


@dataclass(frozen=True, slots=True)
class ReconnectRecord:
    """A reconnect storm against one server, one repetition.

    A charger is *back* when its websocket is open again and its first Heartbeat on it has been
    answered (it does not boot again: a central system's restart is not a reboot). Times are
    seconds from the new server process's readiness unless named otherwise.
    """

    server: str
    """`voltmesh`, `baseline` or `node`."""
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
    heartbeats_per_s: float | None
    heartbeat_p50_ms: float | None
    heartbeat_p99_ms: float | None
    heartbeat_max_ms: float | None
    idle_cpu_percent: float | None


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
            kib_per_station=median(r.kib_per_station for r in group),
            connect_seconds=statistics.median(r.connect_seconds for r in group),
            failures=statistics.median(r.failures for r in group),
            heartbeats_per_s=median(r.heartbeats_per_s for r in group),
            heartbeat_p50_ms=median(r.heartbeat_ms.get("p50") for r in group),
            heartbeat_p99_ms=median(r.heartbeat_ms.get("p99") for r in group),
            heartbeat_max_ms=median(r.heartbeat_ms.get("max") for r in group),
            idle_cpu_percent=median(r.idle_cpu_percent for r in group),
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
            back_p50=median(r.back_p50 for r in group),
            back_max=median(r.back_max for r in group),
            back_after_sigterm=median(r.back_after_sigterm for r in group),
            failed_attempts=statistics.median(sum(r.reconnect_failures.values()) for r in group),
            server_cpu_seconds=statistics.median(r.server_cpu_seconds for r in group),
            listen_overflows=median(r.listen_overflows for r in group),
            not_back=statistics.median(r.booted - r.back for r in group),
            transactions_lost=median(r.transactions_lost for r in group),
        )
        for (stations, server), group in _groups(records).items()
    ]


def memory_table(rows: Sequence[MemoryRow]) -> str:
    """The idle-fleet memory summary as Markdown."""

    def cells(row: MemoryRow) -> list[str]:
        return [
            row.server,
            f"{row.stations:,}",
            str(row.runs),
            number(row.rss_before_mib),
            number(row.rss_after_mib),
            number(row.kib_per_station),
            number(row.connect_seconds),
            number(row.failures, 0),
        ]

    lines = [
        "| server | stations | runs | RSS before MiB | RSS after MiB | KiB per idle station "
        "| connect + boot s | failures |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = ("", "rss_before_mib", "rss_after_mib", "kib_per_station", "connect_seconds", "")
    lines += _compared(rows, lambda row: f"{row.stations:,}", cells, ratios)
    return "\n".join(lines) + "\n"


def idle_table(rows: Sequence[MemoryRow]) -> str:
    """The idle fleet's Heartbeats and the server's CPU over the idle window, beside the memory
    per station, as Markdown."""

    def cells(row: MemoryRow) -> list[str]:
        return [
            row.server,
            f"{row.stations:,}",
            str(row.runs),
            number(row.kib_per_station),
            number(row.idle_cpu_percent),
            number(row.heartbeats_per_s, 0),
            number(row.heartbeat_p50_ms),
            number(row.heartbeat_p99_ms),
            number(row.heartbeat_max_ms),
            number(row.failures, 0),
        ]

    lines = [
        "| server | stations | runs | KiB per idle station | server CPU % of a core "
        "| Heartbeats/s | Heartbeat p50 ms | p99 ms | max ms | failures |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = (
        "",
        "kib_per_station",
        "idle_cpu_percent",
        "",
        "heartbeat_p50_ms",
        "heartbeat_p99_ms",
        "heartbeat_max_ms",
        "",
    )
    lines += _compared(rows, lambda row: f"{row.stations:,}", cells, ratios)
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

    def cells(row: ReconnectRow) -> list[str]:
        return [
            row.server,
            f"{row.stations:,}",
            str(row.runs),
            number(row.transactions, 0),
            number(row.drain_seconds),
            number(row.down_seconds),
            number(row.back_max),
            number(row.back_p50),
            number(row.back_after_sigterm),
            number(row.failed_attempts, 0),
            number(row.listen_overflows, 0),
            number(row.server_cpu_seconds),
            number(row.not_back, 0),
            number(row.transactions_lost, 0),
        ]

    lines = [
        "| server | stations | runs | open tx | drain s | down s | all back s | p50 back s "
        "| all back after SIGTERM s | failed attempts | listen overflows | server CPU s "
        "| not back | tx lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    times = ("drain_seconds", "down_seconds", "back_max", "back_p50", "back_after_sigterm")
    ratios = ("", "", *times, "", "", "server_cpu_seconds", "", "")
    lines += _compared(rows, lambda row: f"{row.stations:,}", cells, ratios)
    return "\n".join(lines) + "\n"
