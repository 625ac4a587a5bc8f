"""Shared pieces of the simulator tests."""

from __future__ import annotations

UNIT = 0.05
"""Seconds; every timeout and window in these tests is a multiple of it."""
