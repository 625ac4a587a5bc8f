"""OCPP 1.6 section 5.13: a reservation ends at the station when the reserved connector, or the
charge point itself (connector 0), becomes Faulted or Unavailable, and a 1.6 station tells
nothing of it. voltmesh learns it from the station's StatusNotification (the ``status.connector``
and ``status.station`` events of the stream) and ends those reservations as Removed. A 2.x
station reports it in a ReservationStatusUpdate instead (2.0.1 H04)."""

from __future__ import annotations

import logging

from csms.events import Event, EventBus, EventFilter, Subscription
from csms.station.features import FeatureContext
from persistence.reservations import v16_reservations_removed

log = logging.getLogger(__name__)

STATUS_EVENTS = ("status.connector", "status.station")
ENDING_STATUSES = frozenset({"Faulted", "Unavailable"})
"""1.6 ChargePointStatus values that end the reservations of the connector."""


class StatusChanges:
    """The Faulted and Unavailable statuses of the stations, from a subscription of the node's own
    (``internal``: not an operator's stream). ``follow`` drains it as events come, so that a burst
    of statuses (a member's stations reconnecting) does not make the bus drop it; should it be
    dropped all the same, it subscribes again."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._subscription = self._subscribe()
        self._latest: dict[tuple[str, int | None], Event] = {}
        """(station, EVSE; None: the station) -> its latest ending status: it ends whatever an
        earlier one would have, so one per place is kept."""

    def _subscribe(self) -> Subscription:
        return self._bus.subscribe(EventFilter(types=STATUS_EVENTS), internal=True)

    async def follow(self) -> None:
        """Runs until cancelled."""
        try:
            while True:
                event = await self._subscription.next()
                if event is None:
                    # What was missed leaves reservations Active until their expiry, as they
                    # would have been without this.
                    log.warning("station statuses were missed: some reservations may show Active")
                    self._subscription = self._subscribe()
                    continue
                if event.station_id is None or event.data.get("status") not in ENDING_STATUSES:
                    continue
                place = event.data.get("evse_id") if event.type == "status.connector" else None
                key = (event.station_id, place)
                self._latest.pop(key, None)
                self._latest[key] = event
        finally:
            self._subscription.close()

    def take(self) -> list[Event]:
        """The statuses that end reservations, since the last call, oldest first."""
        taken = list(self._latest.values())
        self._latest.clear()
        return taken


async def end_reservations_of(ctx: FeatureContext, event: Event) -> list[int]:
    """End the 1.6 reservations that ``event`` (a Faulted or Unavailable status) ends; returns
    their ids."""
    assert event.station_id is not None
    evse_id = event.data.get("evse_id") if event.type == "status.connector" else None
    (removed,) = await ctx.writer.submit(
        v16_reservations_removed(event.station_id, evse_id, before=event.at)
    )
    for reservation_id in removed:
        ctx.events.publish(
            "reservation.removed",
            event.station_id,
            {"reservation_id": reservation_id, "reason": event.data["status"]},
        )
    return list(removed)
