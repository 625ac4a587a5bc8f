"""What the central system learns about reservations from the stations: their answers to
ReserveNow and CancelReservation, whoever sent those (the reservations resource or the raw command
endpoint), and the 2.x ReservationStatusUpdate (2.0.1 H04)."""

from __future__ import annotations

import logging
from typing import Any

from csms.handlers import live
from csms.payloads.fields import require_int32
from csms.reservations.requests import accepted_reservation
from csms.station.charge_point import ChargePointActor
from persistence.events import station_event
from persistence.reservations import (
    ReservationStatus,
    reservation_accepted,
    reservation_ended,
)
from transport.messages import Call

log = logging.getLogger(__name__)

# 2.0.1 ReservationUpdateStatusEnumType -> how the reservation ended.
_UPDATE_STATUS = {
    "Expired": ReservationStatus.EXPIRED,
    "Removed": ReservationStatus.REMOVED,
}


async def reserve_now_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """An Accepted ReserveNow: the station holds the reservation (1.6 section 5.13, 2.0.1 H01)."""
    if response.get("status") != "Accepted":
        return
    accepted = accepted_reservation(cp.station_id, cp.version.value, request)
    await cp.services.writer.submit(reservation_accepted(accepted))
    cp.services.events.publish(
        "reservation.created",
        cp.station_id,
        {
            "reservation_id": accepted.reservation_id,
            "id_token": accepted.id_token,
            "evse_id": accepted.evse_id,
            "connector_id": accepted.connector_id,
            "expires_at": accepted.expires_at,
        },
    )


async def cancel_reservation_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """An Accepted CancelReservation ends the reservation (1.6 section 5.1, 2.0.1 H02)."""
    if response.get("status") != "Accepted":
        return
    reservation_id = int(request["reservationId"])
    (count,) = await cp.services.writer.submit(
        reservation_ended(cp.station_id, reservation_id, ReservationStatus.CANCELLED)
    )
    if count:
        cp.services.events.publish(
            "reservation.cancelled", cp.station_id, {"reservation_id": reservation_id}
        )


async def reservation_status_update(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """2.0.1 H04: the station tells that a reservation expired or was removed; kept
    as a station event as well, like every notification. A reservationId past int32 names no
    reservation voltmesh made: refused (PropertyConstraintViolation) before anything is kept."""
    p = call.payload
    require_int32(call.action, {"reservationId": p["reservationId"]})
    reservation_id = int(p["reservationId"])
    await cp.services.writer.submit(station_event(cp.station_id, call.action, p))
    live.notification(cp, call.action, p)
    ended = _UPDATE_STATUS.get(p["reservationUpdateStatus"])
    if ended is None:
        # A status of a later version: kept as the event, the reservation left as it is.
        log.info("%s: reservation %d update %r", cp.station_id, reservation_id, p)
        return {}
    (count,) = await cp.services.writer.submit(
        reservation_ended(cp.station_id, reservation_id, ended)
    )
    if count:
        cp.services.events.publish(
            f"reservation.{ended.value.lower()}",
            cp.station_id,
            {"reservation_id": reservation_id},
        )
    return {}
