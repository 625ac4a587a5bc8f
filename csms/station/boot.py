"""BootNotification, the same for every version: who is accepted, what is recorded, which interval.

OCPP 1.6 section 4.2 / 2.0.1 B01-B03: a registered station gets what the operator set for it
(Accepted, Pending or Rejected); an unknown one what the node's policy says. Accepted stations get the
heartbeat interval; Pending and Rejected ones get the boot retry interval, long enough that chargers
which boot-loop on a refusal stay calm. A boot ends whatever the station was running: its open
transactions are closed as abandoned in the same commit, so their tokens are free again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csms.payloads.timestamps import ocpp_time
from csms.session.abandoned import transactions_abandoned
from csms.station.charge_point import ChargePointActor
from csms.station.services import UnknownStationPolicy
from persistence.records import RegistrationStatus
from persistence.stations import get_station, station_booted
from persistence.transactions import AbandonedTransaction, station_transactions_abandoned

_POLICY = {
    UnknownStationPolicy.ACCEPT: RegistrationStatus.ACCEPTED,
    UnknownStationPolicy.PENDING: RegistrationStatus.PENDING,
    UnknownStationPolicy.REJECT: RegistrationStatus.REJECTED,
}


async def boot(
    cp: ChargePointActor, info: Mapping[str, str | None], reason: str | None
) -> dict[str, Any]:
    """Decide, record (committed before the answer) and return the response fields common to
    every version: ``status``, ``currentTime`` and ``interval``."""
    ctx = cp.services
    station = await get_station(ctx.reads, cp.station_id)
    register = False
    if station is not None and station.registered:
        status = station.registration
    else:
        status = _POLICY[ctx.unknown_stations]
        register = ctx.unknown_stations is UnknownStationPolicy.ACCEPT
    results = await ctx.writer.submit(
        *station_booted(
            cp.station_id,
            protocol=cp.version.value,
            boot=info,
            status=status.value,
            reason=reason,
            register=register,
        ),
        station_transactions_abandoned(cp.station_id),
    )
    abandoned = results[-1]
    assert isinstance(abandoned, tuple)
    transactions_abandoned(
        ctx.sessions,
        ctx.events,
        cp.station_id,
        (t for t in abandoned if isinstance(t, AbandonedTransaction)),
    )
    cp.booted_as(status)
    ctx.events.publish(
        "station.booted",
        cp.station_id,
        {
            "vendor": info.get("vendor"),
            "model": info.get("model"),
            "firmware_version": info.get("firmware_version"),
            "boot_status": status.value,
        },
    )
    interval = ctx.heartbeat_interval if cp.accepted else ctx.boot_retry_interval
    return {"status": status.value, "currentTime": ocpp_time(ctx.clock()), "interval": interval}
