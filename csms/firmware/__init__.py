"""Firmware updates and log uploads tracked to their final status (OCPP 1.6 Firmware Management
and its security extension, 2.0.1 L and N)."""

from csms.station.features import Feature

FEATURE = Feature()
