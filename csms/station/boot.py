"""BootNotification, the same for every version: who is accepted, what is recorded, which interval.

OCPP 1.6 section 4.2 / 2.0.1 B01-B03: Accepted stations get the heartbeat interval; Pending and Rejected
ones get the boot retry interval, long enough that chargers which boot-loop on a refusal stay calm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csms.payloads.timestamps import ocpp_time
from csms.station.charge_point import ChargePointActor
from csms.station.services import UnknownStationPolicy
from persistence.stations import get_station, station_booted


async def boot(
    cp: ChargePointActor, info: Mapping[str, str | None], reason: str | None
) -> dict[str, Any]:
    """Decide, record (committed before the answer) and return the response fields common to
    every version: ``status``, ``currentTime`` and ``interval``."""
    ctx = cp.services
    station = await get_station(ctx.reads, cp.station_id)
    register = False
    if station is not None and station.registered:
        status = "Accepted" if station.allowed else "Rejected"
    elif ctx.unknown_stations is UnknownStationPolicy.ACCEPT:
        status, register = "Accepted", True
    elif ctx.unknown_stations is UnknownStationPolicy.PENDING:
        status = "Pending"
    else:
        status = "Rejected"
    await ctx.writer.submit(
        *station_booted(
            cp.station_id,
            protocol=cp.version.value,
            boot=info,
            status=status,
            reason=reason,
            register=register,
        )
    )
    cp.accepted = status == "Accepted"
    cp.booted = True
    ctx.events.publish(
        "station.booted",
        cp.station_id,
        {
            "vendor": info.get("vendor"),
            "model": info.get("model"),
            "firmware_version": info.get("firmware_version"),
            "boot_status": status,
        },
    )
    interval = ctx.heartbeat_interval if cp.accepted else ctx.boot_retry_interval
    return {"status": status, "currentTime": ocpp_time(ctx.clock()), "interval": interval}
