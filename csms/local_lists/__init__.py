"""Local authorization lists: a versioned list of id tokens per station, kept in sync with the id
tags (OCPP 1.6 Local Auth List Management, 2.0.1 D)."""

from csms.station.features import Feature

FEATURE = Feature()
