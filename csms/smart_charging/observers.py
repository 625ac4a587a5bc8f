"""What voltmesh learns from stations' answers to SetChargingProfile and ClearChargingProfile,
whoever sent them (the REST resource, the raw command endpoint, the site load manager, the
charging-needs planner): an accepted profile is kept, a clear forgets what it matched."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from csms.smart_charging.model import ChargingProfile, Purpose, profile_view
from csms.smart_charging.translate import clear_criteria_from_request, installed_from_set_request
from persistence.charging_profiles import active_transaction, profile_kept, profiles_cleared
from transport.versions import OcppVersion

if TYPE_CHECKING:
    from csms.station.charge_point import ChargePointActor

log = logging.getLogger(__name__)


def _wire_profile(version: OcppVersion, request: dict[str, Any]) -> dict[str, Any]:
    key = "csChargingProfiles" if version is OcppVersion.V16 else "chargingProfile"
    wire: dict[str, Any] = request[key]
    return wire


async def set_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """SetChargingProfile Accepted (1.6 section 5.16, 2.0.1 K01): keep the profile, replacing the
    one with the same id (and on 1.6 the one with the same stack level and purpose on the EVSE)."""
    if response.get("status") != "Accepted":
        return
    installed = installed_from_set_request(cp.version, cp.station_id, request)
    profile = await _bound(cp, installed.evse_id, installed.profile)
    if profile is None:
        return
    await cp.services.writer.submit(
        profile_kept(
            cp.station_id,
            evse_id=installed.evse_id,
            profile_id=profile.id,
            stack_level=profile.stack_level,
            purpose=profile.purpose.value,
            kind=profile.kind.value,
            transaction_id=profile.transaction_id,
            valid_to=profile.valid_to,
            view=profile_view(profile),
            wire=_wire_profile(cp.version, request),
            protocol=cp.version.value,
            replaces_same_level=cp.version is OcppVersion.V16,
        )
    )
    cp.services.events.publish(
        "charging_profile.set",
        cp.station_id,
        {
            "evse_id": installed.evse_id,
            "profile_id": profile.id,
            "purpose": profile.purpose.value,
            "stack_level": profile.stack_level,
            "transaction_id": profile.transaction_id,
        },
    )


async def _bound(
    cp: ChargePointActor, evse_id: int, profile: ChargingProfile
) -> ChargingProfile | None:
    """A TxProfile sent without ``transactionId`` applies to the transaction running on its
    connector (1.6 section 5.16.3): bound to it here, it ends with it instead of outliving it and
    seeming to apply to every later transaction. With none running the station must have
    discarded it (ibid.): nothing to keep."""
    if profile.purpose is not Purpose.TX or profile.transaction_id is not None:
        return profile
    running = await active_transaction(cp.services.reads, cp.station_id, evse_id)
    if running is None:
        log.info(
            "%s: TxProfile %d accepted on EVSE %d without a transaction there; not kept",
            cp.station_id,
            profile.id,
            evse_id,
        )
        return None
    return dataclasses.replace(profile, transaction_id=running[0])


async def clear_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """ClearChargingProfile (1.6 section 5.5, 2.0.1 K10): Accepted removed what matched; Unknown
    says the station holds nothing that matches, so what voltmesh kept of it is gone as well."""
    if response.get("status") not in ("Accepted", "Unknown"):
        return
    criteria = clear_criteria_from_request(cp.version, request)
    (removed,) = await cp.services.writer.submit(
        profiles_cleared(
            cp.station_id,
            profile_id=criteria.profile_id,
            evse_id=criteria.evse_id,
            purpose=None if criteria.purpose is None else criteria.purpose.value,
            stack_level=criteria.stack_level,
        )
    )
    cp.services.events.publish(
        "charging_profile.cleared",
        cp.station_id,
        {"profile_ids": removed, "status": response.get("status")},
    )
