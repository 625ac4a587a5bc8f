"""Which stations are connected to this node, and through which link and actors.

A station has at most one live connection: a new connection for the same id replaces the old one (the
zombie case: a charger reconnects while its old socket still looks open).
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.actor import ActorRef
from actors.link import StationLink


@dataclass(frozen=True, slots=True)
class StationEntry:
    """A connected station."""

    link: StationLink
    """Its connection."""
    charge_point: ActorRef
    """The actor that handles its requests."""
    outbox: ActorRef
    """The actor that sends CSMS-initiated calls to it."""


class StationDirectory:
    """Connected stations of this node by id."""

    def __init__(self) -> None:
        self._entries: dict[str, StationEntry] = {}

    def attach(self, station_id: str, entry: StationEntry) -> StationEntry | None:
        """Make ``entry`` the station's connection; returns the one it replaces, if any."""
        previous = self._entries.get(station_id)
        self._entries[station_id] = entry
        return previous

    def detach(self, station_id: str, link: StationLink) -> bool:
        """Forget the station if ``link`` is still its connection; False if a newer one replaced it."""
        entry = self._entries.get(station_id)
        if entry is None or entry.link is not link:
            return False
        del self._entries[station_id]
        return True

    def get(self, station_id: str) -> StationEntry | None:
        return self._entries.get(station_id)

    def entries(self) -> list[StationEntry]:
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, station_id: object) -> bool:
        return station_id in self._entries
