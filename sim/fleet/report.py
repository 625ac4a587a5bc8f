"""The files a finished fleet run leaves behind: a JSON summary, a CSV of sessions, an HTML report.

:func:`write_reports` writes into one directory:

``summary.json``
    Every field of :class:`~sim.fleet.results.RunReport` except ``timeline`` and ``sessions``
    (violations included), plus ``timeline_seconds`` (the timeline's length) and the names of the
    other two files (``sessions_file``, ``report_file``). Indented, keys sorted, floats as measured.
``sessions.csv``
    One row per :class:`~sim.fleet.results.SessionRecord`; energy rounded to 0.1 Wh, an empty cell
    for ``None``.
``report.html``
    One self-contained page (inline CSS and inline SVG, no scripts, fonts or network): the run's
    parameters, its totals, plots of the timeline and the first violations.

Plots stay small on long runs: each plotted line has at most :data:`MAX_PLOT_POINTS` points. When
the timeline is longer, consecutive seconds are grouped in equal buckets and each bucket is drawn
as one point at its mean time with the mean of its values (so a spike shorter than a bucket is
flattened, and a latency line shows the mean of the per-second percentiles of its bucket). The page
says so under the plots. The exact per-second numbers are not in the page; the totals are exact.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import orjson

from sim.fleet.figures import number, per_second
from sim.fleet.results import Interval, RunReport, SessionRecord, SiteRun, Violation
from sim.fleet.svgplot import MAX_POINTS_DEFAULT, Series, bar_chart, downsample, line_chart

__all__ = [
    "MAX_PLOT_POINTS",
    "REPORT_FILE",
    "SESSIONS_CSV_HEADER",
    "SESSIONS_FILE",
    "SUMMARY_FILE",
    "VIOLATIONS_SHOWN",
    "ReportFiles",
    "render_html",
    "summary_dict",
    "write_reports",
]

SUMMARY_FILE = "summary.json"
SESSIONS_FILE = "sessions.csv"
REPORT_FILE = "report.html"
SESSIONS_CSV_HEADER: tuple[str, ...] = (
    "station_id",
    "connector_id",
    "id_tag",
    "start",
    "stop",
    "energy_wh",
    "transaction_id",
    "protocol",
    "stop_reason",
)
MAX_PLOT_POINTS = MAX_POINTS_DEFAULT
"""Most points of one plotted line; longer timelines are averaged over buckets of seconds."""
VIOLATIONS_SHOWN = 200
"""Most violations listed in the page (all of them are in ``summary.json``)."""
_DETAIL_CHARS = 500
"""Violation details longer than this are cut in the page."""
_CHART_W, _CHART_H = 560, 240


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where :func:`write_reports` put the three files."""

    summary: Path
    """``summary.json``."""
    sessions: Path
    """``sessions.csv``."""
    report: Path
    """``report.html``."""


def write_reports(report: RunReport, out_dir: Path) -> ReportFiles:
    """Write ``summary.json``, ``sessions.csv`` and ``report.html`` into ``out_dir`` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        summary=out_dir / SUMMARY_FILE,
        sessions=out_dir / SESSIONS_FILE,
        report=out_dir / REPORT_FILE,
    )
    files.summary.write_bytes(
        orjson.dumps(
            summary_dict(report),
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
            default=str,
        )
        + b"\n"
    )
    _write_sessions(report.sessions, files.sessions)
    files.report.write_text(render_html(report), encoding="utf-8")
    return files


def summary_dict(report: RunReport) -> dict[str, Any]:
    """The content of ``summary.json``."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(report):
        if f.name in ("timeline", "sessions"):
            continue
        value = getattr(report, f.name)
        if f.name == "violations":
            value = [dataclasses.asdict(v) for v in value]
        if f.name == "sites":
            # The per-second samples are in the page's plots; the summary keeps the figures.
            value = [
                {k: v for k, v in dataclasses.asdict(site).items() if k != "samples"}
                for site in value
            ]
        out[f.name] = value
    out["timeline_seconds"] = len(report.timeline)
    out["sessions_file"] = SESSIONS_FILE
    out["report_file"] = REPORT_FILE
    return out


def _write_sessions(sessions: Iterable[SessionRecord], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(SESSIONS_CSV_HEADER)
        for s in sessions:
            writer.writerow(
                [
                    s.station_id,
                    s.connector_id,
                    s.id_tag,
                    s.start,
                    _cell(s.stop),
                    round(s.energy_wh, 1),
                    _cell(s.transaction_id),
                    s.protocol,
                    _cell(s.stop_reason),
                ]
            )


def _cell(v: str | None) -> str:
    return "" if v is None else v


# --- formatting ---------------------------------------------------------------------------------


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _int(n: int) -> str:
    return f"{n:,}"


_DASH = "\u2014"
"""What the page shows for a figure that could not be measured."""


def _num(x: float | None, decimals: int = 1) -> str:
    return number(x, decimals, missing=_DASH)


def _ms(x: float | None) -> str:
    text = number(x, missing="")
    return f"{text} ms" if text else _DASH


def _duration(seconds: float) -> str:
    text = f"{seconds:,.1f} s"
    if seconds >= 60 and math.isfinite(seconds):
        total = round(seconds)
        h, rest = divmod(total, 3600)
        m, s = divmod(rest, 60)
        human = f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"
        text += f" ({human})"
    return text


# --- the page -----------------------------------------------------------------------------------

_CSS = """
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#222;
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 2px}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid #dde1e6}
h3{font-size:14px;margin:0 0 6px}
.sub{color:#666;margin:0 0 14px}
.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:8px 20px;
 margin:0;padding:14px 16px;background:#fff;border:1px solid #dde1e6;border-radius:6px}
.meta div{min-width:0}
.meta dt{color:#666;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.meta dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:16px;
 align-items:start}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 14px}
.card.wide{grid-column:span 2}
@media (max-width:620px){.card.wide{grid-column:auto}}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px 3px 0;border-bottom:1px solid #eef0f2;vertical-align:top}
th{font-weight:600;color:#444}
thead th{border-bottom:1px solid #cfd4da;font-size:12px;text-transform:uppercase;
 letter-spacing:.04em;color:#666}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;
 padding-right:0}
.none{color:#888;font-style:italic}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
.plots figure{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;
 padding:6px;overflow:hidden}
svg.chart{display:block;width:100%;height:auto}
.note{color:#666;font-size:12.5px;margin:10px 0 0}
.violations td{overflow-wrap:anywhere}
.violations td.key{white-space:nowrap;overflow-wrap:normal;padding-right:14px}
.violations td.detail{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
 font-size:12.5px;white-space:pre-wrap}
footer{margin-top:30px;color:#777;font-size:12.5px}
a{color:#0b62a4}
"""


def render_html(report: RunReport) -> str:
    """The whole ``report.html`` page."""
    title = f"Fleet run {report.scenario}"
    parts = [
        "<!DOCTYPE html>\n",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} \u2014 voltmesh sim</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="sub">voltmesh sim \u00b7 started {_e(report.started_at)}</p>',
        _meta(report),
        "</header>",
        _totals(report),
        _sites(report),
        _plots(report),
        _sessions(report),
        _violations(report),
        _extra(report),
        "<footer>",
        f'Files: <a href="{_e(SUMMARY_FILE)}">{_e(SUMMARY_FILE)}</a> (every total), ',
        f'<a href="{_e(SESSIONS_FILE)}">{_e(SESSIONS_FILE)}</a> (every session).',
        "</footer>",
        "</main></body></html>\n",
    ]
    return "".join(parts)


def _meta(r: RunReport) -> str:
    versions = ", ".join(f"{_e(v)}: {_int(n)}" for v, n in sorted(r.versions.items()))
    stations = _int(r.stations) + (f" ({versions})" if versions else "")
    items = [
        ("Scenario", _e(r.scenario)),
        ("Seed", _e(r.seed)),
        ("Central system", _e(r.url)),
        ("Stations per version", stations),
        ("Workers", _int(r.workers)),
        ("Duration", _e(_duration(r.duration_s))),
        ("Acceleration", f"{_e(f'{r.acceleration:,g}')}\u00d7 real time"),
        ("Started", _e(r.started_at)),
    ]
    rows = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in items)
    return f'<dl class="meta">{rows}</dl>'


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f'<tr><th scope="row">{k}</th><td class="num">{v}</td></tr>' for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _count_card(heading: str, counts: Mapping[str, int], key_label: str) -> str:
    """A card with a table of counts, largest first, or "none"."""
    if not counts:
        inner = '<p class="none">none</p>'
    else:
        items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        body = "".join(f'<tr><td>{_e(k)}</td><td class="num">{_int(v)}</td></tr>' for k, v in items)
        total = sum(counts.values())
        inner = (
            f'<table><thead><tr><th scope="col">{_e(key_label)}</th>'
            f'<th scope="col" class="num">count</th></tr></thead><tbody>{body}</tbody>'
            f'<tfoot><tr><th scope="row">total</th><td class="num">{_int(total)}</td></tr>'
            "</tfoot></table>"
        )
    return f'<section class="card"><h3>{_e(heading)}</h3>{inner}</section>'


def _totals(r: RunReport) -> str:
    rate = per_second(r.messages, r.duration_s)
    lat = r.latency_ms
    peak = _int(r.peak_connected) + (
        f" of {_int(r.stations)} ({r.peak_connected / r.stations:.1%})" if r.stations else ""
    )
    main = _kv_table(
        [
            ("Messages answered", _int(r.messages)),
            ("Messages per second (average)", _num(rate, 1)),
            *((f"Latency {k}", _ms(lat.get(k))) for k in ("p50", "p90", "p95", "p99")),
            ("Latency max", _ms(lat.get("max"))),
            ("Sessions started", _int(r.sessions_started)),
            ("Sessions completed", _int(r.sessions_completed)),
            ("Energy delivered", f"{_num(r.energy_wh / 1000, 1)} kWh"),
            ("Peak connected", peak),
            ("Errors (all kinds)", _int(sum(r.errors_by_kind.values()))),
        ]
    )
    cards = [
        f'<section class="card wide"><h3>Run</h3>{main}</section>',
        _count_card("Errors by kind", r.errors_by_kind, "kind"),
        _count_card("Faults injected by kind", r.faults_injected, "kind"),
        _count_card("CSMS calls received by action", r.csms_calls, "action"),
        _count_card("Messages answered by action", r.messages_by_action, "action"),
    ]
    return f'<section><h2>Totals</h2><div class="cards">{"".join(cards)}</div></section>'


def _timeline_series(
    timeline: Sequence[Interval],
    scale: float,
    value: Callable[[Interval], float | None],
) -> list[tuple[float, float | None]]:
    return downsample([(iv.t / scale, value(iv)) for iv in timeline], MAX_PLOT_POINTS)


def _plots(r: RunReport) -> str:
    tl = r.timeline
    minutes = bool(tl) and tl[-1].t > 900
    scale = 60.0 if minutes else 1.0
    x_label = "time since start (min)" if minutes else "time since start (s)"

    def series(name: str, value: Callable[[Interval], float | None]) -> Series:
        return Series(name, _timeline_series(tl, scale, value))

    # The time axis starts at the start of the run, whatever the first interval's t.
    x_range = (0.0, tl[-1].t / scale) if tl else None

    def chart(title: str, y_label: str, ss: Sequence[Series]) -> str:
        svg = line_chart(
            title, x_label, y_label, ss, _CHART_W, _CHART_H, x_range=x_range, empty_text="none"
        )
        return f"<figure>{svg}</figure>"

    of_stations = f" (fleet: {_int(r.stations)})" if r.stations else ""
    figures = [
        chart(
            "Throughput (answered CALLs per second)",
            "messages/s",
            [series("messages/s", lambda iv: float(iv.messages))],
        ),
        chart(
            "Answer latency",
            "ms",
            [
                series("p50", lambda iv: iv.latency_p50_ms),
                series("p95", lambda iv: iv.latency_p95_ms),
                series("p99", lambda iv: iv.latency_p99_ms),
            ],
        ),
        chart(
            f"Connected stations{of_stations}",
            "stations",
            [series("connected", lambda iv: float(iv.connected))],
        ),
        chart(
            "Active charging sessions",
            "sessions",
            [series("active sessions", lambda iv: float(iv.active_sessions))],
        ),
        chart(
            "Energy delivered (cumulative)",
            "kWh",
            [series("energy", lambda iv: iv.energy_wh / 1000)],
        ),
        chart(
            "Errors per second",
            "errors/s",
            [series("errors/s", lambda iv: float(iv.errors))],
        ),
        "<figure>"
        + bar_chart(
            "Errors by kind (whole run)",
            sorted(r.errors_by_kind.items(), key=lambda kv: (-kv[1], kv[0])),
            _CHART_W,
        )
        + "</figure>",
    ]
    n = len(tl)
    if n > MAX_PLOT_POINTS:
        bucket = n / MAX_PLOT_POINTS
        note = (
            f"The timeline has {_int(n)} one-second intervals; each line is drawn with "
            f"{_int(MAX_PLOT_POINTS)} points, each the mean of a bucket of about "
            f"{_e(f'{bucket:,.1f}')} consecutive seconds (short spikes are flattened; latency "
            "lines show the mean of the per-second percentiles). The totals above are exact."
        )
    elif n:
        note = (
            f"One point per second ({_int(n)} intervals). Latency gaps are seconds in which no "
            "CALL was answered."
        )
    else:
        note = "The timeline is empty: none."
    return (
        f'<section><h2>Over time</h2><div class="plots">{"".join(figures)}</div>'
        f'<p class="note">{note}</p></section>'
    )


def site_verdict(site: SiteRun) -> str:
    """One sentence on a site of a load management run: its peak power against its limit."""
    peak = f"{_num(site.peak_power_w / 1000, 1)} kW"
    limit = f"{_num(site.limit_at_peak_w / 1000, 1)} kW"
    share = (
        f" ({site.peak_power_w / site.limit_at_peak_w:.1%} of it)"
        if site.limit_at_peak_w > 0
        else ""
    )
    text = f"Peak site power {peak} against a limit of {limit}{share}"
    if site.seconds_over_limit:
        text = (
            f"{text}; over the limit in {_int(site.seconds_over_limit)} second(s), "
            f"by at most {_num(site.worst_excess_w / 1000, 2)} kW"
        )
    else:
        text = f"{text}; never over the limit"
    if site.connected_at is not None and site.seconds_over_limit:
        text = (
            f"{text}. Once every station was connected (after {_num(site.connected_at, 0)} s): "
            f"peak {_num(site.steady_peak_w / 1000, 1)} kW, over the limit in "
            f"{_int(site.steady_seconds_over_limit)} second(s)"
        )
    return text + "."


def _sites(r: RunReport) -> str:
    """Load management: each site's power (the sum of its stations' simulated power, sampled
    each second) against its limit at the same simulated instant."""
    if not r.sites:
        return ""
    minutes = bool(r.timeline) and r.timeline[-1].t > 900
    scale = 60.0 if minutes else 1.0
    x_label = "time since start (min)" if minutes else "time since start (s)"
    figures = []
    rows = []
    for site in r.sites:
        # A long run's points are combined: the most drawn and the lowest limit of each bucket,
        # so that an excess stays in the plot.
        power = downsample(
            [(s.t / scale, s.peak_w / 1000) for s in site.samples], MAX_PLOT_POINTS, max
        )
        limit = downsample(
            [(s.t / scale, s.limit_w / 1000) for s in site.samples], MAX_PLOT_POINTS, min
        )
        svg = line_chart(
            f"Site {site.name}: power against its limit",
            x_label,
            "kW",
            # The limit first, so that a site drawing exactly its limit shows above it.
            [Series("limit", limit), Series("site power (peak of each second)", power)],
            _CHART_W,
            _CHART_H,
            empty_text="none",
        )
        figures.append(f"<figure>{svg}</figure>")
        rows.append(
            f'<tr><td>{_e(site.site_id)}</td><td class="num">{_int(site.stations)}</td>'
            f'<td class="num">{_num(site.peak_power_w / 1000, 1)}</td>'
            f'<td class="num">{_num(site.limit_at_peak_w / 1000, 1)}</td>'
            f'<td class="num">{_int(site.seconds_over_limit)}</td>'
            f'<td class="num">{_num(site.worst_excess_w / 1000, 2)}</td>'
            f'<td class="num">{_num(site.steady_peak_w / 1000, 1)}</td></tr>'
        )
    verdicts = "".join(
        f'<p class="note">{_e(site.name)}: {_e(site_verdict(site))}</p>' for site in r.sites
    )
    table = (
        '<div class="card"><table><thead><tr><th scope="col">site</th>'
        '<th scope="col" class="num">stations</th><th scope="col" class="num">peak kW</th>'
        '<th scope="col" class="num">limit at peak kW</th>'
        '<th scope="col" class="num">seconds over</th>'
        '<th scope="col" class="num">worst excess kW</th>'
        '<th scope="col" class="num">peak once all connected kW</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{verdicts}</div>"
    )
    note = (
        "Site power is the sum of the simulated power of the site's stations (what each draws "
        "within the charging profiles it obeys); each point is the most they drew at once during "
        "a wall-clock second (every change of a station's power counts, so a short excess is not "
        "missed between samples). The limit is the site's at that moment, on the central "
        "system's clock."
    )
    return (
        f'<section><h2>Sites</h2>{table}<div class="plots">{"".join(figures)}</div>'
        f'<p class="note">{note}</p></section>'
    )


def _sessions(r: RunReport) -> str:
    sessions = r.sessions
    if not sessions:
        return '<section><h2>Sessions</h2><p class="none">none</p></section>'
    charging = sum(1 for s in sessions if s.stop is None)
    energy = sum(s.energy_wh for s in sessions)
    main = _kv_table(
        [
            ("Session records", _int(len(sessions))),
            ("Stopped", _int(len(sessions) - charging)),
            ("Still charging at the end", _int(charging)),
            ("Energy in the records", f"{_num(energy / 1000, 1)} kWh"),
            ("Mean energy per session", f"{_num(energy / len(sessions) / 1000, 2)} kWh"),
        ]
    )
    by_protocol = Counter(s.protocol for s in sessions)
    by_reason = Counter(s.stop_reason or "(still charging)" for s in sessions)
    cards = [
        f'<section class="card wide"><h3>Records</h3>{main}'
        f'<p class="note">Every session: <a href="{_e(SESSIONS_FILE)}">{_e(SESSIONS_FILE)}</a>'
        "</p></section>",
        _count_card("Sessions by protocol", by_protocol, "protocol"),
        _count_card("Sessions by stop reason", by_reason, "reason"),
    ]
    return f'<section><h2>Sessions</h2><div class="cards">{"".join(cards)}</div></section>'


def _violations(r: RunReport) -> str:
    shown: list[Violation] = r.violations[:VIOLATIONS_SHOWN]
    if not shown:
        return '<section><h2>Violations</h2><p class="none">none</p></section>'
    rows = []
    for v in shown:
        detail = (
            v.detail if len(v.detail) <= _DETAIL_CHARS else v.detail[: _DETAIL_CHARS - 1] + "\u2026"
        )
        rows.append(
            f'<tr><td class="key">{_e(v.station_id)}</td><td class="key">{_e(v.action)}</td>'
            f'<td class="key">{_e(v.kind)}</td>'
            f'<td class="detail">{_e(detail)}</td></tr>'
        )
    total_errors = sum(r.errors_by_kind.values())
    note = (
        f"The first {_int(len(shown))} of {_int(len(r.violations))} recorded"
        f" ({_int(total_errors)} errors of every kind in the run; see Errors by kind)."
    )
    return (
        '<section><h2>Violations</h2><div class="card"><table class="violations"><thead><tr>'
        '<th scope="col">station</th><th scope="col">action</th><th scope="col">kind</th>'
        f'<th scope="col">detail</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f'<p class="note">{note}</p></div></section>'
    )


def _extra(r: RunReport) -> str:
    if not r.extra:
        return ""
    rows = []
    for k, v in sorted(r.extra.items(), key=lambda kv: str(kv[0])):
        text = (
            v
            if isinstance(v, str)
            else orjson.dumps(v, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        )
        if len(text) > _DETAIL_CHARS:
            text = text[: _DETAIL_CHARS - 1] + "\u2026"
        rows.append(f'<tr><th scope="row">{_e(k)}</th><td class="detail">{_e(text)}</td></tr>')
    return (
        '<section><h2>Other</h2><div class="card"><table class="violations"><tbody>'
        f"{''.join(rows)}</tbody></table></div></section>"
    )
