"""Smart charging: the charging profiles a station accepted, its composite schedule, and the
charging needs and external limits it reports (OCPP 1.6 Smart Charging profile, 2.0.1 K).

Profiles are kept from the stations' answers (``observers``), whoever sent the call; the 2.x
notifications are handled in ``notifications``; payloads of every version are built in
``translate``; ``composite`` computes a composite schedule from what is kept.
"""

from csms.smart_charging import notifications, observers
from csms.station.features import Feature

FEATURE = Feature(
    v2={
        "NotifyChargingLimit": notifications.notify_charging_limit,
        "ClearedChargingLimit": notifications.cleared_charging_limit,
        "ReportChargingProfiles": notifications.report_charging_profiles,
        "NotifyEVChargingNeeds": notifications.notify_ev_charging_needs,
    },
    observers={
        "SetChargingProfile": observers.set_answered,
        "ClearChargingProfile": observers.clear_answered,
    },
)
