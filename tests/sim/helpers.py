"""Shared pieces of the simulator tests."""

from __future__ import annotations

from pathlib import Path

from sim.bench import IdleOptions
from tests.timing import UNIT

__all__ = ["UNIT", "small_options"]


def small_options(tmp_path: Path) -> IdleOptions:
    """Idle-fleet options for a benchmark of a few stations, fast enough for the test suite."""
    return IdleOptions(
        connect_rate=400.0,
        settle=10 * UNIT,
        open_transactions=0.2,
        reconnect_timeout=300 * UNIT,
        call_timeout=40 * UNIT,
        boot_timeout=200 * UNIT,
        output=tmp_path,
    )
