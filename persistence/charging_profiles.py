"""Charging profiles a station accepted, and the limits and needs it reported."""

from __future__ import annotations
