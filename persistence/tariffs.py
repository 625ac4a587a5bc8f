"""Tariffs and their assignment to stations, sites and id-token groups."""

from __future__ import annotations
