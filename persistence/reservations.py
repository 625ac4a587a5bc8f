"""Reservations of a station's EVSE or connector."""

from __future__ import annotations
