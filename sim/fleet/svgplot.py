"""Small, dependency-free SVG charts for the fleet report.

Every chart is a pure function returning one ``<svg ...>...</svg>`` string with ``role="img"`` and a
``<title>`` (the chart title), meant to be inlined in an HTML page: no scripts, no external fonts,
no references to anything outside the string. All text is XML-escaped.

- :func:`line_chart` draws one or more :class:`Series` of ``(x, y)`` points over shared axes, with
  4-6 "nice" ticks per axis (steps of 1, 2 or 5 x 10^n), gridlines, and a legend when there is more
  than one series. A ``None`` y leaves a gap in the line.
- :func:`bar_chart` draws labelled horizontal bars.
- :func:`downsample` reduces a long series to at most ``max_points`` points by averaging buckets
  of consecutive points, so a chart of an hour of per-second data stays small.

Colours come from the Okabe-Ito palette, which stays distinguishable under the common forms of
colour blindness.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "MAX_POINTS_DEFAULT",
    "PALETTE",
    "Series",
    "bar_chart",
    "downsample",
    "format_number",
    "line_chart",
    "nice_ticks",
]

MAX_POINTS_DEFAULT = 600
"""Default most points of :func:`downsample`."""

PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
)
"""Okabe-Ito colours (yellow left out: it is unreadable on white), used in this order."""

_FONT = "system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
_TEXT = "#222"
_MUTED = "#666"
_GRID = "#e3e3e3"
_AXIS = "#888"
_CHAR_W = 6.6
"""Rough width of one character of 11 px sans-serif text, for layout."""
_TITLE_CHAR_W = 9.5
"""Rough width of one character of the 13 px bold title."""


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart."""

    name: str
    points: Sequence[tuple[float, float | None]]
    """``(x, y)`` in x order; ``y is None`` (or not finite) leaves a gap."""


def _x(text: str) -> str:
    return escape(text, quote=True)


def _n(v: float) -> str:
    """A coordinate: one decimal is plenty on screen and keeps the markup small."""
    s = f"{v:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def _clean(v: float) -> float:
    """Drop the float noise of ``k * step`` (0.30000000000000004 -> 0.3)."""
    return float(f"{v:.12g}")


def _candidate_steps(raw: float) -> list[tuple[float, bool]]:
    """Steps around ``raw``: (step, preferred) for mantissas 1, 2, 5 (preferred) and 2.5."""
    exp = math.floor(math.log10(raw))
    out: list[tuple[float, bool]] = []
    for e in range(exp - 1, exp + 3):
        base = 10.0**e
        for m, preferred in ((1.0, True), (2.0, True), (2.5, False), (5.0, True)):
            out.append((_clean(m * base), preferred))
    return out


def nice_ticks(lo: float, hi: float, *, loose: bool = True) -> list[float]:
    """4-6 evenly spaced round tick values for the range ``lo..hi``.

    The step is 1, 2 or 5 x 10^n (2.5 x 10^n only when none of those gives 4-6 ticks). With
    ``loose`` (the default, for a value axis) the ticks cover the range: the first is at or below
    ``lo`` and the last at or above ``hi``, so the axis can run from first to last tick. Without it
    (for a time axis that should end where the data ends) every tick lies inside ``lo..hi``, and
    when no step gives 4-6 such ticks, 7 are preferred to 3.
    An empty range (``lo == hi``) is widened around the value first.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"nice_ticks needs finite bounds, got {lo!r}..{hi!r}")
    if lo > hi:
        lo, hi = hi, lo
    if hi - lo <= max(abs(lo), abs(hi)) * 1e-9:
        # Empty (or, for floats, indistinguishable) range: widen it around the value.
        lo = hi = (lo + hi) / 2
        delta = abs(lo) * 0.5 if lo != 0 else 1.0
        if lo == 0:
            hi = 1.0
        else:
            lo, hi = lo - delta, hi + delta
    span = hi - lo
    best: tuple[tuple[int, float, int], list[float]] | None = None
    for step, preferred in _candidate_steps(span / 5):
        if loose:
            first = math.floor(lo / step + 1e-9)
            last = math.ceil(hi / step - 1e-9)
        else:
            first = math.ceil(lo / step - 1e-9)
            last = math.floor(hi / step + 1e-9)
        count = last - first + 1
        digits = max(0, 3 - math.floor(math.log10(step)))
        ticks = [round(k * step, digits) + 0.0 for k in range(first, last + 1)]
        in_range = 4 <= count <= 6
        # Rank: 4-6 ticks with a 1/2/5 step first, then 4-6 ticks with 2.5, then the count
        # closest to 5 (more rather than fewer). Among equals, a loose axis wants the tightest
        # cover, a tight one the most ticks.
        rank_class = 0 if in_range and preferred else 1 if in_range else 2
        if rank_class < 2:
            key = (rank_class, (last - first) * step if loose else -count, count)
        else:
            key = (rank_class, abs(count - 5), -count)
        if best is None or key < best[0]:
            best = (key, ticks)
    assert best is not None
    return best[1]


def format_number(v: float, step: float | None = None) -> str:
    """``v`` with thousands separators and as many decimals as ``step`` needs (k/M/G above 10^6)."""
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M")):
        if a >= div:
            return format_number(v / div, None if step is None else step / div) + suffix
    if step is None:
        if v == int(v) or a >= 100:
            decimals = 0
        elif a >= 10:
            decimals = 1
        else:
            decimals = 2
    else:
        decimals = 0
        while decimals < 6 and abs(round(step, decimals) - step) > step * 1e-6:
            decimals += 1
    s = f"{v:,.{decimals}f}"
    return "0" if s.strip("-0.,") == "" else s


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def downsample(
    points: Sequence[tuple[float, float | None]],
    max_points: int = MAX_POINTS_DEFAULT,
    combine: Callable[[Sequence[float]], float] = _mean,
) -> list[tuple[float, float | None]]:
    """At most ``max_points`` points: consecutive points are combined in equal buckets.

    Each bucket becomes one point whose x is the mean x of the bucket and whose y is ``combine``
    (the mean unless told: `max` keeps a peak visible) of the bucket's non-gap y values (a gap if
    they are all gaps). Shorter inputs come back as they are.
    """
    n = len(points)
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    if n <= max_points:
        return list(points)
    out: list[tuple[float, float | None]] = []
    for b in range(max_points):
        lo = b * n // max_points
        hi = (b + 1) * n // max_points
        bucket = points[lo:hi]
        xs = sum(p[0] for p in bucket) / len(bucket)
        ys = [p[1] for p in bucket if p[1] is not None and math.isfinite(p[1])]
        out.append((xs, combine(ys) if ys else None))
    return out


def _svg_open(title: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{_x(_FONT)}" font-size="11" fill="{_TEXT}">'
        f"<title>{_x(title)}</title>"
        f'<rect width="{width}" height="{height}" fill="#fff"/>'
        f'<text x="12" y="20" font-size="13" font-weight="600">{_x(title)}</text>'
    )


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """The runs of consecutive finite points (a gap ends a run)."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for x, y in points:
        if y is None or not (math.isfinite(x) and math.isfinite(y)):
            if current:
                runs.append(current)
                current = []
            continue
        current.append((x, y))
    if current:
        runs.append(current)
    return runs


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[Series],
    width: int = 720,
    height: int = 260,
    *,
    include_zero: bool = True,
    x_range: tuple[float, float] | None = None,
    empty_text: str = "no data",
) -> str:
    """A line chart of ``series`` as an SVG string.

    The y axis runs over nice ticks covering the data (and 0, with ``include_zero``); the x axis
    runs exactly over the data's x range (or ``x_range``) with nice ticks inside it. A series with a single point
    between gaps is drawn as a dot. With no finite point at all the frame is drawn with
    ``empty_text`` in the middle.
    """
    runs = [_segments(s.points) for s in series]
    xs = [x for r in runs for seg in r for x, _ in seg]
    ys = [y for r in runs for seg in r for _, y in seg]
    legend = len(series) > 1
    items = [(s.name, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]
    legend_w = sum(22 + len(name) * _CHAR_W + 10 for name, _ in items)

    left, right, top, bottom = 64, 18, 34, 46
    # The legend sits at the right of the title line, or on a line of its own below the title
    # when both do not fit.
    legend_y = 16
    if legend and 12 + len(title) * _TITLE_CHAR_W + 16 > width - right - legend_w:
        legend_y = 36
        top += 20
    plot_w = max(width - left - right, 10)
    plot_h = max(height - top - bottom, 10)

    if ys:
        y_lo, y_hi = min(ys), max(ys)
        if include_zero:
            y_lo, y_hi = min(y_lo, 0.0), max(y_hi, 0.0)
        x_lo, x_hi = min(xs), max(xs)
    else:
        y_lo, y_hi, x_lo, x_hi = 0.0, 1.0, 0.0, 1.0
    if x_range is not None and all(math.isfinite(v) for v in x_range):
        x_lo, x_hi = min(x_range), max(x_range)
    y_ticks = nice_ticks(y_lo, y_hi, loose=True)
    y_min, y_max = y_ticks[0], y_ticks[-1]
    if x_lo == x_hi:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    x_ticks = nice_ticks(x_lo, x_hi, loose=False)
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else None
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else None

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y_min) / (y_max - y_min) * plot_h

    parts = [_svg_open(title, width, height)]

    if legend:
        # Right-aligned row of swatches.
        lx = width - right - legend_w
        parts.append('<g class="legend">')
        for name, colour in items:
            parts.append(
                f'<line x1="{_n(lx)}" y1="{legend_y}" x2="{_n(lx + 16)}" y2="{legend_y}" '
                f'stroke="{colour}" stroke-width="3"/>'
                f'<text x="{_n(lx + 21)}" y="{legend_y + 4}">{_x(name)}</text>'
            )
            lx += 22 + len(name) * _CHAR_W + 10
        parts.append("</g>")

    # Gridlines and tick labels.
    parts.append(f'<g stroke="{_GRID}" stroke-width="1">')
    for t in y_ticks:
        parts.append(f'<line x1="{left}" y1="{_n(py(t))}" x2="{left + plot_w}" y2="{_n(py(t))}"/>')
    for t in x_ticks:
        parts.append(f'<line x1="{_n(px(t))}" y1="{top}" x2="{_n(px(t))}" y2="{top + plot_h}"/>')
    parts.append("</g>")
    parts.append(f'<g fill="{_MUTED}" text-anchor="end">')
    for t in y_ticks:
        parts.append(
            f'<text x="{left - 6}" y="{_n(py(t) + 4)}">{_x(format_number(t, y_step))}</text>'
        )
    parts.append("</g>")
    parts.append(f'<g fill="{_MUTED}" text-anchor="middle">')
    for t in x_ticks:
        parts.append(
            f'<text x="{_n(px(t))}" y="{top + plot_h + 16}">{_x(format_number(t, x_step))}</text>'
        )
    parts.append("</g>")
    parts.append(
        f'<path d="M{left} {top}V{top + plot_h}H{left + plot_w}" fill="none" '
        f'stroke="{_AXIS}" stroke-width="1"/>'
    )
    parts.append(
        f'<text x="{_n(left + plot_w / 2)}" y="{height - 8}" text-anchor="middle" '
        f'fill="{_MUTED}">{_x(x_label)}</text>'
    )
    cy = top + plot_h / 2
    parts.append(
        f'<text x="14" y="{_n(cy)}" text-anchor="middle" fill="{_MUTED}" '
        f'transform="rotate(-90 14 {_n(cy)})">{_x(y_label)}</text>'
    )

    if not ys:
        parts.append(
            f'<text x="{_n(left + plot_w / 2)}" y="{_n(cy + 4)}" text-anchor="middle" '
            f'fill="{_MUTED}" font-size="13">{_x(empty_text)}</text>'
        )
    for i, (s, segs) in enumerate(zip(series, runs, strict=True)):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<g class="series"><title>{_x(s.name)}</title>')
        for seg in segs:
            if len(seg) == 1:
                x, y = seg[0]
                parts.append(f'<circle cx="{_n(px(x))}" cy="{_n(py(y))}" r="2" fill="{colour}"/>')
                continue
            coords = " ".join(f"{_n(px(x))},{_n(py(y))}" for x, y in seg)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" '
                f'stroke-linejoin="round" points="{coords}"/>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    width: int = 720,
    *,
    empty_text: str = "none",
) -> str:
    """Horizontal bars, one per ``(label, value)`` in the given order, each with its value.

    Labels longer than 40 characters are shortened on the bar (the full label is the bar's
    tooltip). With no items the chart says ``empty_text``.
    """
    bar_h, gap, top = 18, 6, 34
    labels = [label if len(label) <= 40 else label[:39] + "\u2026" for label, _ in items]
    label_w = min(max((len(lb) for lb in labels), default=4) * _CHAR_W + 16, width * 0.45)
    value_w = 70
    plot_w = max(width - label_w - value_w - 12, 10)
    height = top + max(len(items), 1) * (bar_h + gap) + 12
    parts = [_svg_open(title, width, int(height))]
    if not items:
        parts.append(
            f'<text x="{_n(width / 2)}" y="{top + 14}" text-anchor="middle" fill="{_MUTED}" '
            f'font-size="13">{_x(empty_text)}</text></svg>'
        )
        return "".join(parts)
    vmax = max((v for _, v in items if math.isfinite(v)), default=0.0)
    vmax = vmax if vmax > 0 else 1.0
    for i, ((label, value), short) in enumerate(zip(items, labels, strict=True)):
        y = top + i * (bar_h + gap)
        v = value if math.isfinite(value) and value > 0 else 0.0
        w = v / vmax * plot_w
        colour = PALETTE[0]
        parts.append(
            f"<g><title>{_x(label)}: {_x(format_number(value))}</title>"
            f'<text x="{_n(label_w - 8)}" y="{y + 13}" text-anchor="end">{_x(short)}</text>'
            f'<rect x="{_n(label_w)}" y="{y}" width="{_n(max(w, 1.0))}" height="{bar_h}" '
            f'fill="{colour}"/>'
            f'<text x="{_n(label_w + w + 6)}" y="{y + 13}" fill="{_MUTED}">'
            f"{_x(format_number(value))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
