"""Tariffs and the cost of sessions (OCPP 2.0.1 I)."""

from csms.station.features import Feature

FEATURE = Feature()
