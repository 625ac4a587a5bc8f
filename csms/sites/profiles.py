"""The charging profiles a site sends, per OCPP version.

A site controls a session with a TxProfile (1.6 section 3.13.4, 2.0.1 K01) that carries the
session's transaction id, and holds a session that starts before its share is known with a
TxDefaultProfile: 0 for its first ``hold`` seconds, then the minimum. At 0 the EVSE offers no
energy and the EV waits (1.6 SuspendedEVSE, 2.0.1 chargingState SuspendedEVSE); the schemas of
both versions allow a limit of 0. So a session that starts draws nothing before the site has made
room for it; the minimum after the hold is the fallback of a station that does not hear from the
central system in time. Both are Relative (periods from the transaction's start, with no
duration), so a clock difference between station and central system cannot shift them.

Site profiles are recognisable by their ids: ``SITE_DEFAULT_PROFILE_BASE + evse`` and
``SITE_TX_PROFILE_BASE + evse`` (1.6 connector N is EVSE N; EVSE 0 the whole station). A profile
with the id of one already installed replaces it (1.6 section 5.16.1, 2.0.1 K01.FR.05), so every
new limit of a session replaces the last, and other profiles of the station are left alone.
"""

from __future__ import annotations

from typing import Any

from persistence.records import V2_TRANSACTION_SEPARATOR
from transport.versions import OcppVersion

SITE_DEFAULT_PROFILE_BASE = 911_000
"""TxDefaultProfile ids of sites: this plus the EVSE id (0: the whole station)."""
SITE_TX_PROFILE_BASE = 912_000
"""TxProfile ids of sites: this plus the EVSE id."""
SITE_STACK_LEVEL = 90
"""High enough to take precedence over the TxProfiles and TxDefaultProfiles operators usually
set at low stack levels; within one purpose the highest stack level in effect wins."""
SCHEDULE_ID = 1
"""2.x ChargingScheduleType.id of a site profile's only schedule."""


def is_site_profile(profile_id: int) -> bool:
    """Whether a charging profile id is one a site sends."""
    return SITE_DEFAULT_PROFILE_BASE <= profile_id < SITE_TX_PROFILE_BASE + 1000


def charger_transaction_id(version: OcppVersion, transaction_id: str) -> int | str:
    """The id the charger knows a stored transaction by: 1.6 the integer the CSMS issued; 2.x the
    part of ``<station>,<transactionId>`` after the first comma."""
    if version.is_2x:
        return transaction_id.partition(V2_TRANSACTION_SEPARATOR)[2]
    return int(transaction_id)


def _periods(limit: float, phases: int, hold: int) -> list[dict[str, Any]]:
    """One period of ``limit`` from the start, or, with a ``hold``, 0 until then."""
    if hold <= 0:
        return [{"startPeriod": 0, "limit": limit, "numberPhases": phases}]
    return [
        {"startPeriod": 0, "limit": 0.0, "numberPhases": phases},
        {"startPeriod": hold, "limit": limit, "numberPhases": phases},
    ]


def _profile(
    version: OcppVersion,
    *,
    evse_id: int,
    profile_id: int,
    purpose: str,
    limit: float,
    unit: str,
    phases: int,
    min_rate: float | None,
    transaction_id: int | str | None,
    hold: int = 0,
) -> dict[str, Any]:
    if version.is_2x:
        schedule: dict[str, Any] = {
            "id": SCHEDULE_ID,
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": _periods(limit, phases, hold),
        }
        if min_rate is not None:
            schedule["minChargingRate"] = min_rate
        profile: dict[str, Any] = {
            "id": profile_id,
            "stackLevel": SITE_STACK_LEVEL,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Relative",
            "chargingSchedule": [schedule],
        }
        if transaction_id is not None:
            profile["transactionId"] = str(transaction_id)
        return {"evseId": evse_id, "chargingProfile": profile}
    schedule16: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": _periods(limit, phases, hold),
    }
    if min_rate is not None:
        schedule16["minChargingRate"] = min_rate
    profile16: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": SITE_STACK_LEVEL,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": schedule16,
    }
    if transaction_id is not None:
        profile16["transactionId"] = transaction_id
    return {"connectorId": evse_id, "csChargingProfiles": profile16}


def tx_profile(
    version: OcppVersion,
    *,
    evse_id: int,
    transaction_id: str,
    limit: float,
    unit: str,
    phases: int,
    min_rate: float | None = None,
) -> dict[str, Any]:
    """SetChargingProfile: the session's share (``limit`` in ``unit``: "A" per phase or "W")."""
    return _profile(
        version,
        evse_id=evse_id,
        profile_id=SITE_TX_PROFILE_BASE + evse_id,
        purpose="TxProfile",
        limit=limit,
        unit=unit,
        phases=phases,
        min_rate=min_rate,
        transaction_id=charger_transaction_id(version, transaction_id),
    )


def default_profile(
    version: OcppVersion, *, evse_id: int, limit: float, unit: str, phases: int, hold: int = 0
) -> dict[str, Any]:
    """SetChargingProfile: what a session of ``evse_id`` (0: every EVSE) may draw until its
    TxProfile arrives: nothing for its first ``hold`` seconds, then ``limit``."""
    return _profile(
        version,
        evse_id=evse_id,
        profile_id=SITE_DEFAULT_PROFILE_BASE + evse_id,
        purpose="TxDefaultProfile",
        limit=limit,
        unit=unit,
        phases=phases,
        min_rate=None,
        transaction_id=None,
        hold=hold,
    )


def clear_profile(version: OcppVersion, profile_id: int) -> dict[str, Any]:
    """ClearChargingProfile of one site profile, by its id."""
    if version.is_2x:
        return {"chargingProfileId": profile_id}
    return {"id": profile_id}
