"""Smart charging: the charging profiles a station accepted, its composite schedule, and the
charging needs and external limits it reports (OCPP 1.6 Smart Charging profile, 2.0.1 K)."""

from csms.station.features import Feature

FEATURE = Feature()
