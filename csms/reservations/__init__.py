"""Reservations of a station's EVSE or connector for an id token (OCPP 1.6 Reservation profile,
2.0.1 H)."""

from csms.station.features import Feature

FEATURE = Feature()
