"""Which stations are connected to this node, and through which actors.

A station has at most one live connection: a new connection for the same id replaces the old one (the
zombie case: a charger reconnects while its old socket still looks open).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from actors import ActorRef
from transport.versions import OcppVersion


@dataclass(frozen=True, slots=True, eq=False)
class StationEntry:
    """A connected station."""

    station_id: str
    """Its charge point identity."""
    version: OcppVersion
    """The OCPP version its connection speaks."""
    connection: ActorRef
    """The transport actor of its websocket (``gateway.connection``)."""
    charge_point: ActorRef
    """The actor that handles its requests and sends it CSMS-initiated calls."""


class StationDirectory:
    """Connected stations of this node by id."""

    def __init__(self) -> None:
        self._entries: dict[str, StationEntry] = {}
        self._emptied: asyncio.Event | None = None

    def attach(self, entry: StationEntry) -> StationEntry | None:
        """Make ``entry`` the station's connection; returns the one it replaces, if any."""
        previous = self._entries.get(entry.station_id)
        self._entries[entry.station_id] = entry
        return previous

    def detach(self, entry: StationEntry) -> bool:
        """Forget the station if ``entry`` is still its connection; False if a newer one replaced
        it."""
        if self._entries.get(entry.station_id) is not entry:
            return False
        del self._entries[entry.station_id]
        if not self._entries and self._emptied is not None:
            self._emptied.set()
        return True

    async def wait_empty(self) -> None:
        """Until no station is connected (a draining node waits for its sockets to close)."""
        if not self._entries:
            return
        if self._emptied is None or self._emptied.is_set():
            self._emptied = asyncio.Event()
        await self._emptied.wait()

    def get(self, station_id: str) -> StationEntry | None:
        return self._entries.get(station_id)

    def entries(self) -> list[StationEntry]:
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, station_id: object) -> bool:
        return station_id in self._entries
