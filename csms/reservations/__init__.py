"""Reservations of a station's EVSE or connector for an id token (OCPP 1.6 Reservation profile,
2.0.1 H)."""

from csms.reservations.answers import (
    cancel_reservation_answered,
    reservation_status_update,
    reserve_now_answered,
)
from csms.reservations.sweep import sweep_reservations
from csms.station.features import Feature

FEATURE = Feature(
    v2={"ReservationStatusUpdate": reservation_status_update},
    observers={
        "ReserveNow": reserve_now_answered,
        "CancelReservation": cancel_reservation_answered,
    },
    background=(sweep_reservations,),
)
