"""The live progress display of a fleet run.

The parent process calls :meth:`Progress.update` once a second with the merged :class:`Interval`
of that second and the run's totals so far. On a terminal the display is one status line redrawn
in place (carriage return, then ANSI clear-to-end-of-line)::

    [ 12s/60s] connected 4,980/5,000  msgs/s 1,234  p50 3.1 ms  p99 18.0 ms  sessions 120 active 56 done  errors 3

Anywhere else (a CI log, a pipe, a file) it prints one plain line every ``every`` seconds of
elapsed time, so a long run leaves a short log; :meth:`Progress.close` prints the last state if it
has not been printed yet.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import TextIO

from sim.fleet.figures import number
from sim.fleet.results import Interval

__all__ = ["Progress", "ProgressTotals", "format_status"]

CLEAR_EOL = "\x1b[K"
"""ANSI: erase from the cursor to the end of the line."""


@dataclass(frozen=True, slots=True)
class ProgressTotals:
    """The run so far, as the status line shows it next to the last second's numbers."""

    stations: int
    """Stations in the fleet."""
    sessions_completed: int
    """Charging sessions finished since the start."""
    errors: int
    """Errors of every kind since the start."""
    elapsed: float
    """Wall-clock seconds since the run started."""
    duration: float
    """Planned wall-clock length of the run, in seconds."""


def _ms(v: float | None) -> str:
    return f"{number(v, missing='-')} ms"


def format_status(interval: Interval, totals: ProgressTotals) -> str:
    """The status line for one second (no newline, no control characters)."""
    dur = max(round(totals.duration), 0)
    width = max(3, len(str(dur)))
    elapsed = max(round(totals.elapsed), 0)
    return (
        f"[{elapsed:>{width}}s/{dur}s] "
        f"connected {interval.connected:,}/{totals.stations:,}  "
        f"msgs/s {interval.messages:,}  "
        f"p50 {_ms(interval.latency_p50_ms)}  "
        f"p99 {_ms(interval.latency_p99_ms)}  "
        f"sessions {interval.active_sessions:,} active {totals.sessions_completed:,} done  "
        f"errors {totals.errors:,}"
    )


class Progress:
    """One status line, redrawn in place on a terminal, printed every ``every`` seconds elsewhere.

    ``stream`` defaults to ``sys.stderr``; ``tty`` overrides ``stream.isatty()``. Not thread-safe:
    call it from the one loop that merges the workers' numbers.
    """

    def __init__(
        self, stream: TextIO | None = None, *, every: float = 10.0, tty: bool | None = None
    ):
        if not every > 0:
            raise ValueError(f"every must be positive, got {every!r}")
        self._stream: TextIO = sys.stderr if stream is None else stream
        self._every = every
        self._tty = _isatty(self._stream) if tty is None else tty
        self._next_at = every
        self._pending: str | None = None
        """The last line not printed yet (plain mode)."""
        self._drawn = False
        """A status line is on the terminal without a newline after it (tty mode)."""
        self._closed = False

    @property
    def is_tty(self) -> bool:
        """Whether the line is redrawn in place."""
        return self._tty

    def update(self, interval: Interval, totals: ProgressTotals) -> None:
        """Show the state after one more second of the run."""
        if self._closed:
            return
        line = format_status(interval, totals)
        if self._tty:
            columns = _columns(self._stream)
            if columns is not None and len(line) >= columns:
                # A wrapped line cannot be redrawn with \r: cut it to the terminal's width.
                line = line[: max(columns - 1, 0)]
            self._write("\r" + line + CLEAR_EOL)
            self._drawn = True
            return
        if totals.elapsed + 1e-6 >= self._next_at:
            self._write(line + "\n")
            self._pending = None
            self._next_at = (math.floor(totals.elapsed / self._every + 1e-6) + 1) * self._every
        else:
            self._pending = line

    def close(self) -> None:
        """End the display: finish the terminal line, or print the last unprinted state."""
        if self._closed:
            return
        self._closed = True
        if self._tty:
            if self._drawn:
                self._write("\n")
        elif self._pending is not None:
            self._write(self._pending + "\n")
            self._pending = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False


def _columns(stream: TextIO) -> int | None:
    """The terminal's width, if ``stream`` is one with a known size."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (OSError, ValueError, AttributeError):
        return None
