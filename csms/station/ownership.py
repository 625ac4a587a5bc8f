"""Which member holds a station: its lease is taken when a charger connects, with the epoch raised,
and released when the connection closes.

The member that held the station before (another shard or pod, whose socket of the station is a
zombie or a charger's earlier connection) is told so through ``on_moved`` and closes its socket;
until then, its writes are refused by the epoch (``persistence.writer.Fence``).
"""

from __future__ import annotations

from collections.abc import Callable

from persistence.leases import TakenLease, release_lease, take_lease
from persistence.writer import Fence, Writer, submit_detached

MovedHandler = Callable[[str, str, int], None]
"""(previous member, station id, new epoch): the station left that member for this one."""


class StationOwnership:
    """The leases of this member's stations."""

    def __init__(self, writer: Writer, member: str, on_moved: MovedHandler | None = None) -> None:
        self._writer = writer
        self.member = member
        self.on_moved = on_moved
        self._held: dict[str, Fence] = {}

    async def take(self, station_id: str, protocol: str) -> Fence:
        """Lease the station to this member under a new epoch; tell the previous member."""
        (taken,) = await self._writer.submit(take_lease(station_id, self.member, protocol))
        assert isinstance(taken, TakenLease)
        fence = Fence(station_id, taken.epoch)
        self._held[station_id] = fence
        previous = taken.previous_member
        if previous is not None and previous != self.member and self.on_moved is not None:
            self.on_moved(previous, station_id, taken.epoch)
        return fence

    def release(self, fence: Fence) -> None:
        """The connection of ``fence`` closed; a newer lease (a reconnect) is left alone."""
        if self._held.get(fence.station_id) == fence:
            del self._held[fence.station_id]
        # Not awaited: a close must not wait for the store; a lost release is repaired when the
        # station connects again (a new epoch) or the member's leases are released.
        submit_detached(
            self._writer,
            release_lease(fence.station_id, self.member, fence.epoch),
            what=f"{fence.station_id}: lease release",
        )

    def all_held(self) -> list[Fence]:
        """The leases of this member's open connections."""
        return list(self._held.values())

    def held(self, station_id: str) -> Fence | None:
        """The lease of this member's current connection of the station."""
        return self._held.get(station_id)
