"""The fleet run's report files, its SVG charts and its live progress line (no network)."""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from sim.fleet.progress import CLEAR_EOL, Progress, ProgressTotals, format_status
from sim.fleet.report import (
    MAX_PLOT_POINTS,
    REPORT_FILE,
    SESSIONS_CSV_HEADER,
    SESSIONS_FILE,
    SUMMARY_FILE,
    ReportFiles,
    render_html,
    write_reports,
)
from sim.fleet.results import Interval, RunReport, SessionRecord, Violation
from sim.fleet.svgplot import Series, bar_chart, downsample, format_number, line_chart, nice_ticks

EVIL = 'id <script>alert("x")</script> & "quoted" \'single\''


def timeline(n: int) -> list[Interval]:
    out = []
    for i in range(n):
        answered = i % 7 != 3  # some seconds without an answered CALL: latency None
        out.append(
            Interval(
                t=float(i + 1),
                connected=min(5000, 50 * (i + 1)),
                active_sessions=(i * 13) % 97,
                messages=1000 + (i * 37) % 400 if answered else 0,
                errors=(i % 11 == 0) * 3,
                latency_p50_ms=3.0 + (i % 5) * 0.1 if answered else None,
                latency_p95_ms=9.0 + (i % 5) if answered else None,
                latency_p99_ms=18.0 + (i % 9) if answered else None,
                energy_wh=i * 125.5,
            )
        )
    return out


def sessions() -> list[SessionRecord]:
    return [
        SessionRecord(
            station_id="CS-0001",
            connector_id=1,
            id_tag="TAG-1",
            start="2025-01-01T00:00:00Z",
            stop="2025-01-01T01:00:00Z",
            energy_wh=12345.678,
            transaction_id="17",
            protocol="ocpp1.6",
            stop_reason="EVDeparted",
        ),
        SessionRecord(
            station_id="CS-0002",
            connector_id=2,
            id_tag="TAG, with comma",
            start="2025-01-01T00:10:00Z",
            stop=None,
            energy_wh=0.04,
            transaction_id=None,
            protocol="ocpp2.0.1",
            stop_reason=None,
        ),
        SessionRecord(
            station_id="CS-0003",
            connector_id=1,
            id_tag='TAG "quoted"',
            start="2025-01-01T00:20:00Z",
            stop="2025-01-01T00:50:00Z",
            energy_wh=7000.05,
            transaction_id="b1d8c6e2",
            protocol="ocpp2.1",
            stop_reason="Remote",
        ),
    ]


def make_report(n: int = 120, **overrides: object) -> RunReport:
    fields: dict[str, object] = {
        "scenario": "city <night> & day",
        "seed": 42,
        "url": "ws://127.0.0.1:9000/ocpp?a=1&b=2",
        "stations": 5000,
        "versions": {"1.6": 3000, "2.0.1": 1500, "2.1": 500},
        "workers": 4,
        "duration_s": float(n),
        "acceleration": 60.0,
        "started_at": "2025-01-01T00:00:00Z",
        "messages": 123456,
        "messages_by_action": {"Heartbeat": 100000, "MeterValues": 23456},
        "latency_ms": {"p50": 3.1, "p90": 9.5, "p95": 11.25, "p99": 18.0, "max": 250.5},
        "errors_by_kind": {"timeout": 12, "schema": 3, "InternalError": 1},
        "faults_injected": {"drop": 5, "reboot": 2},
        "csms_calls": {"RemoteStartTransaction": 7, "Reset": 1},
        "sessions_started": 3,
        "sessions_completed": 2,
        "energy_wh": 19345.7,
        "peak_connected": 4980,
        "timeline": timeline(n),
        "sessions": sessions(),
        "violations": [
            Violation("CS-0001", "BootNotification", "schema", EVIL),
            Violation("CS-<2>", "Authorize", "InternalError", "boom & bust"),
        ],
        "extra": {"note": "<b>bold</b>"},
    }
    fields.update(overrides)
    return RunReport(**fields)  # type: ignore[arg-type]


def empty_report() -> RunReport:
    return make_report(
        0,
        duration_s=0.0,
        messages=0,
        messages_by_action={},
        latency_ms={"p50": None, "p90": None, "p95": None, "p99": None, "max": None},
        errors_by_kind={},
        faults_injected={},
        csms_calls={},
        sessions_started=0,
        sessions_completed=0,
        energy_wh=0.0,
        peak_connected=0,
        stations=0,
        versions={},
        sessions=[],
        violations=[],
        extra={},
    )


VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}


class TagCollector(HTMLParser):
    """Tags in order; fails on a close tag that does not match the innermost open one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.starts: list[str] = []
        self.errors: list[str] = []
        self.svg_titles: list[int] = []
        """For each <svg>, the number of <title> elements directly or indirectly in it."""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append(tag)
        if tag == "svg":
            self.svg_titles.append(0)
        if tag == "title" and "svg" in self.stack:
            self.svg_titles[-1] += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(page)
    parser.close()
    return parser


def test_write_reports_files(tmp_path: Path) -> None:
    report = make_report()
    files = write_reports(report, tmp_path / "out")
    assert isinstance(files, ReportFiles)
    assert files.summary == tmp_path / "out" / SUMMARY_FILE
    assert files.sessions == tmp_path / "out" / SESSIONS_FILE
    assert files.report == tmp_path / "out" / REPORT_FILE
    assert all(p.is_file() for p in (files.summary, files.sessions, files.report))
    with pytest.raises(AttributeError):
        files.summary = tmp_path  # type: ignore[misc]


def test_summary_json(tmp_path: Path) -> None:
    report = make_report()
    raw = write_reports(report, tmp_path).summary.read_bytes()
    summary = orjson.loads(raw)
    assert "timeline" not in summary and "sessions" not in summary
    assert summary["timeline_seconds"] == 120
    assert summary["sessions_file"] == SESSIONS_FILE
    assert summary["report_file"] == REPORT_FILE
    for name in (
        "scenario",
        "seed",
        "url",
        "stations",
        "versions",
        "workers",
        "duration_s",
        "acceleration",
        "started_at",
        "messages",
        "messages_by_action",
        "latency_ms",
        "errors_by_kind",
        "faults_injected",
        "csms_calls",
        "sessions_started",
        "sessions_completed",
        "energy_wh",
        "peak_connected",
        "extra",
    ):
        assert summary[name] == getattr(report, name), name
    assert summary["energy_wh"] == 19345.7  # floats as they are, not rounded
    assert summary["violations"] == [
        {"station_id": v.station_id, "action": v.action, "kind": v.kind, "detail": v.detail}
        for v in report.violations
    ]
    # Indented, keys sorted.
    assert raw.startswith(b"{\n  ")
    assert list(summary) == sorted(summary)
    assert list(summary["latency_ms"]) == sorted(report.latency_ms)


def test_sessions_csv(tmp_path: Path) -> None:
    report = make_report()
    path = write_reports(report, tmp_path).sessions
    with path.open(newline="", encoding="utf-8") as fh:
        assert fh.readline().strip() == ",".join(SESSIONS_CSV_HEADER)
    assert ",".join(SESSIONS_CSV_HEADER) == (
        "station_id,connector_id,id_tag,start,stop,energy_wh,transaction_id,protocol,stop_reason"
    )
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == SESSIONS_CSV_HEADER
        rows = list(reader)
    assert len(rows) == len(report.sessions)
    first, second, third = rows
    assert first["station_id"] == "CS-0001"
    assert first["connector_id"] == "1"
    assert first["energy_wh"] == "12345.7"
    assert first["stop_reason"] == "EVDeparted"
    assert second["id_tag"] == "TAG, with comma"
    assert second["stop"] == "" and second["transaction_id"] == "" and second["stop_reason"] == ""
    assert second["energy_wh"] == "0.0"
    assert third["id_tag"] == 'TAG "quoted"'
    assert third["energy_wh"] == "7000.1" or third["energy_wh"] == "7000.0"  # binary rounding
    assert float(third["energy_wh"]) == round(7000.05, 1)


def test_sessions_csv_empty(tmp_path: Path) -> None:
    path = write_reports(empty_report(), tmp_path).sessions
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert list(reader) == []
        assert tuple(reader.fieldnames or ()) == SESSIONS_CSV_HEADER


def test_report_html(tmp_path: Path) -> None:
    report = make_report()
    page = write_reports(report, tmp_path).report.read_text(encoding="utf-8")
    parsed = parse(page)
    assert parsed.errors == []
    assert parsed.stack == []
    assert parsed.starts[0] == "html"
    assert parsed.starts.count("svg") >= 6
    assert page.count("<svg") >= 7  # six line charts and the errors-by-kind bars
    assert len(parsed.svg_titles) == page.count("<svg")
    assert all(n >= 1 for n in parsed.svg_titles)
    assert all(
        re.match(r'<svg [^>]*role="img"', m.group(0)) for m in re.finditer("<svg[^>]*>", page)
    )
    # Self-contained: nothing to run or fetch.
    assert "script" not in parsed.starts
    assert "<script" not in page.lower()
    assert (
        "link" not in parsed.starts and "img" not in parsed.starts and "iframe" not in parsed.starts
    )
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    # Escaped violation detail, scenario and URL; the raw text never appears.
    assert (
        "id &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quoted&quot; "
        "&#x27;single&#x27;" in page
    )
    assert EVIL in "".join(parsed.text)
    assert "CS-&lt;2&gt;" in page and "boom &amp; bust" in page
    assert "city &lt;night&gt; &amp; day" in page
    assert "ws://127.0.0.1:9000/ocpp?a=1&amp;b=2" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    text = " ".join(" ".join(parsed.text).split())
    # Header and totals, with thousands separators.
    for needle in (
        "Seed 42",
        "5,000 (1.6: 3,000, 2.0.1: 1,500, 2.1: 500)",
        "Workers 4",
        "60\u00d7",
        "123,456",
        "1,028.8",  # 123,456 messages / 120 s
        "3.1 ms",
        "9.5 ms",
        "11.2 ms",
        "18.0 ms",
        "250.5 ms",
        "19.3 kWh",
        "4,980 of 5,000",
        "RemoteStartTransaction 7",
        "drop 5",
        "timeout 12",
        "100,000",
    ):
        assert needle in text, needle
    for label in ("p50", "p95", "p99"):
        assert f">{label}</text>" in page  # the latency legend


def test_report_html_empty(tmp_path: Path) -> None:
    page = write_reports(empty_report(), tmp_path).report.read_text(encoding="utf-8")
    parsed = parse(page)
    assert parsed.errors == [] and parsed.stack == []
    assert parsed.starts.count("svg") >= 6
    assert all(n >= 1 for n in parsed.svg_titles)
    assert "polyline" not in parsed.starts
    text = " ".join(parsed.text)
    assert text.count("none") >= 6
    assert "nan" not in text.lower().split()


def test_report_html_long_run_is_small(tmp_path: Path) -> None:
    report = make_report(3600)
    page = write_reports(report, tmp_path).report.read_text(encoding="utf-8")
    assert len(page.encode()) < 1_000_000
    polylines = re.findall(r'<polyline [^>]*points="([^"]*)"', page)
    assert polylines
    assert all(len(p.split()) <= MAX_PLOT_POINTS for p in polylines)
    # Downsampled to buckets: the throughput line has (close to) the maximum of points.
    assert max(len(p.split()) for p in polylines) > MAX_PLOT_POINTS // 2
    assert "bucket" in page
    parsed = parse(page)
    assert parsed.errors == [] and parsed.stack == []
    assert "time since start (min)" in page


def test_render_html_without_violations_or_errors() -> None:
    page = render_html(make_report(10, violations=[], errors_by_kind={}))
    parsed = parse(page)
    assert parsed.errors == []
    assert "Violations" in page
    assert parsed.starts.count("svg") >= 7


# --- svgplot ------------------------------------------------------------------------------------


def test_nice_ticks() -> None:
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 7) == [0, 2, 4, 6, 8]
    assert nice_ticks(0, 1234) == [0, 500, 1000, 1500]
    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    equal = nice_ticks(5, 5)
    assert 4 <= len(equal) <= 6 and equal[0] < 5 < equal[-1]
    assert nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.1, 0.3)[0] == 0.1  # no float noise (0.30000000000000004)
    # Time axis: ticks inside the range.
    assert nice_ticks(0, 3599, loose=False) == [0, 1000, 2000, 3000]
    assert nice_ticks(1, 120, loose=False) == [20, 40, 60, 80, 100, 120]


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(0, 0.003), (-5, 5), (12, 13), (0, 1e9), (-1e-6, 0), (997, 1003), (0, 4999), (3.3, 3.3)],
)
def test_nice_ticks_properties(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert 4 <= len(ticks) <= 6
    assert ticks[0] <= lo and ticks[-1] >= hi
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len({round(s / min(steps), 6) for s in steps}) == 1  # evenly spaced
    step = min(steps)
    mantissa = step / 10 ** math.floor(math.log10(step))
    # 1, 2 or 5 x 10^n; 2.5 x 10^n only where none of those gives 4-6 ticks (-5..5).
    assert round(mantissa, 6) in ((1, 2, 5, 2.5) if (lo, hi) == (-5, 5) else (1, 2, 5))


def test_format_number() -> None:
    assert format_number(1500, 500) == "1,500"
    assert format_number(0.30000000000000004, 0.1) == "0.3"
    assert format_number(2_500_000, 500_000) == "2.5M"
    assert format_number(12345) == "12,345"


def test_downsample() -> None:
    points: list[tuple[float, float | None]] = [(float(i), float(i)) for i in range(1200)]
    out = downsample(points, 600)
    assert len(out) == 600
    assert out[0] == (0.5, 0.5)
    assert out[-1] == (1198.5, 1198.5)
    gaps: list[tuple[float, float | None]] = [(0, None), (1, None), (2, 4.0), (3, None)]
    assert downsample(gaps, 2) == [(0.5, None), (2.5, 4.0)]
    short = points[:10]
    assert downsample(short, 600) == short
    # A site's power keeps its peaks, its limit its lowest values.
    spiky: list[tuple[float, float | None]] = [(0, 1.0), (1, 9.0), (2, 2.0), (3, 3.0)]
    assert downsample(spiky, 2, max) == [(0.5, 9.0), (2.5, 3.0)]
    assert downsample(spiky, 2, min) == [(0.5, 1.0), (2.5, 2.0)]


def test_line_chart() -> None:
    svg = line_chart(
        "Latency <ms> & more",
        "time (s)",
        "ms",
        [
            Series("p50", [(0, 1.0), (1, 2.0), (2, None), (3, 2.5), (4, 3.0)]),
            Series("p99 & <odd>", [(0, 5.0), (1, None), (2, 6.0), (3, None), (4, 8.0)]),
        ],
    )
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert 'role="img"' in svg
    assert "<title>Latency &lt;ms&gt; &amp; more</title>" in svg
    assert "p99 &amp; &lt;odd&gt;" in svg
    assert svg.count("<polyline") == 2  # p50: two runs around the gap; p99: only single points
    assert svg.count("<circle") == 3
    parsed = parse(svg)
    assert parsed.errors == [] and parsed.stack == []
    assert 'class="legend"' in svg
    one = line_chart("One", "x", "y", [Series("only", [(0, 1.0), (1, 2.0)])])
    assert 'class="legend"' not in one
    empty = line_chart("Nothing", "x", "y", [Series("a", [])], empty_text="none")
    assert ">none</text>" in empty and "<polyline" not in empty


def test_a_legend_that_would_cross_the_title_gets_its_own_line() -> None:
    two = [
        Series("limit", [(0, 1.0), (1, 1.0)]),
        Series("site power (peak of each second)", [(0, 0.5)]),
    ]
    short = line_chart("Site A", "x", "kW", two)
    assert 'y1="16"' in short and 'y1="36"' not in short
    long = line_chart("Site Car park A: power against its limit", "x", "kW", two)
    assert 'y1="16"' not in long and 'y1="36"' in long


def test_bar_chart() -> None:
    svg = bar_chart("Errors <by> kind", [("timeout", 12), ("<schema> & co", 3), ("x" * 80, 1)])
    assert svg.startswith("<svg ") and 'role="img"' in svg
    assert "<title>Errors &lt;by&gt; kind</title>" in svg
    assert "&lt;schema&gt; &amp; co" in svg
    assert svg.count("<rect") == 4  # background and three bars
    parsed = parse(svg)
    assert parsed.errors == [] and parsed.stack == []
    empty = bar_chart("Errors", [])
    assert ">none</text>" in empty and parse(empty).errors == []


# --- progress -----------------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def interval(t: float) -> Interval:
    return Interval(
        t=t,
        connected=4980,
        active_sessions=120,
        messages=1234,
        errors=0,
        latency_p50_ms=3.1,
        latency_p95_ms=9.0,
        latency_p99_ms=18.0,
        energy_wh=0.0,
    )


def totals(elapsed: float, duration: float = 60.0) -> ProgressTotals:
    return ProgressTotals(
        stations=5000, sessions_completed=56, errors=3, elapsed=elapsed, duration=duration
    )


def test_format_status() -> None:
    assert format_status(interval(12), totals(12)) == (
        "[ 12s/60s] connected 4,980/5,000  msgs/s 1,234  p50 3.1 ms  p99 18.0 ms  "
        "sessions 120 active 56 done  errors 3"
    )
    quiet = Interval(0, 0, 0, 0, 0, None, None, None, 0.0)
    line = format_status(quiet, totals(5, 3600))
    assert line.startswith("[   5s/3600s] connected 0/5,000")
    assert "p50 - ms" in line and "p99 - ms" in line


def test_progress_tty_redraws_in_place() -> None:
    stream = FakeTTY()
    progress = Progress(stream)
    assert progress.is_tty
    for s in range(1, 4):
        progress.update(interval(s), totals(s))
    progress.close()
    out = stream.getvalue()
    assert out.count("\r") == 3
    assert out.count(CLEAR_EOL) == 3
    assert out.endswith(CLEAR_EOL + "\n")
    assert out.count("\n") == 1
    assert "\r[  3s/60s] connected 4,980/5,000" in out
    progress.update(interval(5), totals(5))  # after close: ignored
    assert stream.getvalue() == out


def test_progress_plain_prints_every_n_seconds() -> None:
    stream = io.StringIO()
    progress = Progress(stream, every=10)
    assert not progress.is_tty
    for s in range(1, 36):
        progress.update(interval(s), totals(s))
    lines = stream.getvalue().splitlines()
    assert [line[:10] for line in lines] == ["[ 10s/60s]", "[ 20s/60s]", "[ 30s/60s]"]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    progress.close()  # the last state, not printed yet
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("[ 35s/60s]")
    progress.close()
    assert len(stream.getvalue().splitlines()) == 4


def test_progress_plain_close_prints_nothing_new() -> None:
    stream = io.StringIO()
    progress = Progress(stream, every=5)
    for s in range(1, 11):
        progress.update(interval(s), totals(s))
    progress.close()
    assert len(stream.getvalue().splitlines()) == 2


def test_progress_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress(every=1)
    progress.update(interval(1), totals(1))
    progress.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "connected 4,980/5,000" in captured.err


def test_progress_rejects_bad_every() -> None:
    with pytest.raises(ValueError, match="every"):
        Progress(io.StringIO(), every=0)
