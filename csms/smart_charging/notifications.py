"""Handlers of the smart-charging messages 2.x stations send (2.0.1 K09, K12, K13, K15-K17).
Each is kept as a station event too, as the core keeps every notification."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from csms.handlers import live
from csms.payloads.fields import require_int32
from csms.smart_charging.kept import computed_composite
from csms.smart_charging.needs import NOT_BOUNDING_THE_PLAN, needs_unit, plan_for_needs
from csms.smart_charging.translate import set_charging_profile
from persistence.charging_profiles import (
    active_transaction,
    limit_cleared,
    limit_reported,
    report_part_received,
)
from persistence.events import station_event
from transport.messages import Call

if TYPE_CHECKING:
    from csms.station.charge_point import ChargePointActor

log = logging.getLogger(__name__)

STATION = 0
"""evseId absent: the limit is on the whole station."""


async def notify_charging_limit(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """K12: a limit set by another system (EMS, SO...) is kept per EVSE and source, and its
    schedule bounds voltmesh's composite schedule."""
    p = call.payload
    require_int32(call.action, {"evseId": p.get("evseId")})
    limit = p["chargingLimit"]
    evse_id = int(p.get("evseId", STATION))
    source = str(limit["chargingLimitSource"])
    await cp.services.writer.submit(
        station_event(cp.station_id, call.action, p),
        limit_reported(
            cp.station_id,
            evse_id=evse_id,
            source=source,
            charging_limit=limit,
            schedules=p.get("chargingSchedule"),
        ),
    )
    live.notification(cp, call.action, p)
    cp.services.events.publish(
        "charging_limit.changed",
        cp.station_id,
        {
            "evse_id": evse_id,
            "source": source,
            "grid_critical": limit.get("isGridCritical"),
            "cleared": False,
        },
    )
    return {}


async def cleared_charging_limit(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """K13: the limit of that source is gone (evseId absent: the one on the station)."""
    p = call.payload
    require_int32(call.action, {"evseId": p.get("evseId")})
    evse_id = int(p.get("evseId", STATION))
    source = str(p["chargingLimitSource"])
    await cp.services.writer.submit(
        station_event(cp.station_id, call.action, p),
        limit_cleared(cp.station_id, source=source, evse_id=evse_id),
    )
    live.notification(cp, call.action, p)
    cp.services.events.publish(
        "charging_limit.changed",
        cp.station_id,
        {"evse_id": evse_id, "source": source, "grid_critical": None, "cleared": True},
    )
    return {}


REPORTED = "charging_profile.reported"
"""Published once a ReportChargingProfiles part is committed; the operator waiting for the report
(``POST .../charging-profiles/report``, on whichever member) reads the parts on the last one."""


async def report_charging_profiles(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """K09: one part of the answer to a GetChargingProfiles, kept under its request id (within
    the bounds of ``persistence.charging_profiles``: a station may send parts unasked)."""
    p = call.payload
    require_int32(call.action, {"requestId": p["requestId"], "evseId": p["evseId"]})
    request_id, tbc = int(p["requestId"]), bool(p.get("tbc", False))
    _, kept = await cp.services.writer.submit(
        station_event(cp.station_id, call.action, p),
        report_part_received(
            cp.station_id,
            request_id=request_id,
            evse_id=int(p["evseId"]),
            source=str(p["chargingLimitSource"]),
            tbc=tbc,
            profiles=list(p["chargingProfile"]),
        ),
    )
    if not kept:
        # Past the parts kept of one report (persistence.charging_profiles): it stays incomplete.
        # Debug only: a station sending parts without end must not flood the log either.
        log.debug("%s: report %d has too many parts; part not kept", cp.station_id, request_id)
    live.notification(cp, call.action, p)
    cp.services.events.publish(REPORTED, cp.station_id, {"request_id": request_id, "tbc": tbc})
    return {}


async def notify_ev_charging_needs(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """K15-K17: Accepted and followed by a TxProfile planned from the needs and the station's
    hardware limits (not the Tx/TxDefault profiles other planners own: ``NOT_BOUNDING_THE_PLAN``),
    for the transaction running on the EVSE. Rejected when none runs there (a TxProfile needs a
    transaction) or nothing bounds the rate."""
    p = call.payload
    require_int32(call.action, {"evseId": p["evseId"]})
    evse_id = int(p["evseId"])
    await cp.services.writer.submit(station_event(cp.station_id, call.action, p))
    live.notification(cp, call.action, p)
    running = await active_transaction(cp.services.reads, cp.station_id, evse_id)
    if running is None:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "NoTransaction"}}
    needs = p["chargingNeeds"]
    now = cp.services.clock()
    unit = needs_unit(needs)
    station = await computed_composite(
        cp.services.reads,
        cp.station_id,
        evse_id=evse_id,
        start=now,
        duration=1,
        unit=unit,
        without=NOT_BOUNDING_THE_PLAN,
    )
    profile = plan_for_needs(
        needs,
        evse_id=evse_id,
        transaction_id=running[0],
        now=now,
        station_limit=station.periods[0].limit,
    )
    if profile is None:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "NoLimit"}}
    cp.send_after_reply(
        "SetChargingProfile", set_charging_profile(cp.version, cp.station_id, evse_id, profile)
    )
    return {"status": "Accepted"}
