"""A simulated station's reservations: ReserveNow and CancelReservation (1.6 sections 5.13 / 5.2,
2.0.1 H01 / H02). A reserved EVSE reports Reserved, only its token may start there (the session
then carries the reservation id), and at expiry it is free again (2.x: ReservationStatusUpdate
Expired, H01.FR.17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.fleet.station import Evse, Handler, SimStation

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reservation:
    id: int
    id_tag: str
    expires_at: datetime
    parent_id_tag: str | None = None


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def reserved_for(evse: Evse, id_tag: str) -> bool:
    """Whether ``id_tag`` may start on ``evse``: it is free of reservations, or reserved for
    that token (or its parent, 1.6 section 5.13)."""
    held = evse.reservation
    return held is None or id_tag in (held.id_tag, held.parent_id_tag)


def _reserve(st: SimStation, reservation: Reservation, number: int | None) -> tuple[Payload, Any]:
    status, evse = _hold(st, reservation, number)
    if evse is None:
        return {"status": status}, None

    async def reserved() -> None:
        await st.report_status(evse)

    return {"status": status}, reserved


def _hold(st: SimStation, reservation: Reservation, number: int | None) -> tuple[str, Evse | None]:
    for evse in st.evses:
        if evse.reservation is not None and evse.reservation.id == reservation.id:
            evse.reservation = None  # the same id replaces the reservation (1.6 5.13, H01.FR.02)
    candidates = [e for e in st.evses if number in (None, 0, e.number)]
    if not candidates:
        return "Rejected", None
    if all(not e.available for e in candidates):
        return "Unavailable", None
    free = [e for e in candidates if e.available and e.session is None and e.reservation is None]
    if not free:
        return "Occupied", None
    evse = free[0]
    evse.reservation = reservation
    at = (reservation.expires_at - st.clock.start).total_seconds()
    # One expiry timer per EVSE: a reservation replaced or cancelled leaves none behind.
    st.schedule(at, lambda: _expire(st, evse, reservation), key=f"reservation-{evse.number}")
    return "Accepted", evse


async def _expire(st: SimStation, evse: Evse, reservation: Reservation) -> None:
    if evse.reservation is not reservation:
        return  # used, cancelled or replaced
    evse.reservation = None
    await st.report_status(evse)
    if st.is_2x:
        await st.send_call(
            "ReservationStatusUpdate",
            {"reservationId": reservation.id, "reservationUpdateStatus": "Expired"},
        )


def _cancel(st: SimStation, reservation_id: int) -> tuple[Payload, Any]:
    for evse in st.evses:
        if evse.reservation is not None and evse.reservation.id == reservation_id:
            evse.reservation = None

            async def freed(evse: Evse = evse) -> None:
                await st.report_status(evse)

            return {"status": "Accepted"}, freed
    return {"status": "Rejected"}, None


def _reserve_16(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    reservation = Reservation(
        p["reservationId"], p["idTag"], st.csms_time(_when(p["expiryDate"])), p.get("parentIdTag")
    )
    return _reserve(st, reservation, p["connectorId"])


def _reserve_2(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    group = (p.get("groupIdToken") or {}).get("idToken")
    reservation = Reservation(
        p["id"], p["idToken"]["idToken"], st.csms_time(_when(p["expiryDateTime"])), group
    )
    return _reserve(st, reservation, p.get("evseId"))


HANDLERS_16: dict[str, Handler] = {
    "ReserveNow": _reserve_16,
    "CancelReservation": lambda st, p: _cancel(st, p["reservationId"]),
}
HANDLERS_2: dict[str, Handler] = {
    "ReserveNow": _reserve_2,
    "CancelReservation": lambda st, p: _cancel(st, p["reservationId"]),
}
