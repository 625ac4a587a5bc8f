"""Variable monitors and display messages kept per station (OCPP 2.0.1 N and O)."""

from csms.station.features import Feature

FEATURE = Feature()
