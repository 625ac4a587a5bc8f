"""Firmware updates: campaigns per station group and each station's update to its final status."""

from __future__ import annotations
