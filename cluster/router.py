"""An operator's command, from whichever member the REST request reached to the member that holds
the station's socket: a mailbox send when that is this member, a Thespian message otherwise.

Same outcomes as the local case. A station that moves while its command is on the way is followed:
the holder answers "not connected" for a command it never sent, and the command goes to the new
holder (a command that was sent is never sent twice: the charger may have acted on it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cluster.member import ClusterMember
from cluster.messages import CommandRequest, ConfigurationRequest, Outcome
from csms.station.router import LocalRouter
from gateway.calls import (
    AnswerLost,
    CommandError,
    CommandNotSent,
    CommandRejected,
    CommandResult,
    CommandTimeout,
    InvalidCommand,
    StationBusy,
    StationNotAccepted,
    StationNotConnected,
)
from gateway.directory import StationDirectory
from persistence.leases import lease_of
from persistence.reads import Reads
from transport.versions import OcppVersion

FOLLOW_MOVES = 3
"""How many times a command follows a station that moved on its way."""
MARGIN_SECONDS = 2.0
"""Beyond the command's own timeout, for the hops between members."""
CONFIGURATION_TIMEOUT = 5.0
"""Seconds a station's configuration view may take from another member."""


class ClusterRouter:
    """Implements ``csms.station.router.CommandRouter`` across the cluster."""

    def __init__(
        self,
        local: LocalRouter,
        directory: StationDirectory,
        reads: Reads,
        member: ClusterMember,
    ) -> None:
        self._local = local
        self._directory = directory
        self._reads = reads
        self._member = member

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
    ) -> CommandResult:
        result = await self._follow(
            station_id,
            lambda: self._local.call(station_id, action, payload, timeout=timeout),
            CommandRequest(station_id, action, payload, timeout),
            timeout,
        )
        assert isinstance(result, CommandResult)
        return result

    async def configuration(self, station_id: str) -> dict[str, Any]:
        """The configuration keys the station reported, from the member that holds it."""
        view = await self._follow(
            station_id,
            lambda: self._local.configuration(station_id),
            ConfigurationRequest(station_id),
            CONFIGURATION_TIMEOUT,
        )
        assert isinstance(view, dict)
        return view

    async def _follow(
        self,
        station_id: str,
        here: Callable[[], Awaitable[Any]],
        request: CommandRequest | ConfigurationRequest,
        timeout: float,
    ) -> Any:
        """``here`` when this member holds the station, else ``request`` to the member that does,
        following the station while it moves (``FOLLOW_MOVES`` times at most)."""
        moved = False
        for _ in range(FOLLOW_MOVES):
            if not moved and station_id in self._directory:
                try:
                    return await here()
                except CommandNotSent:
                    # Its socket here closed before the command was sent (the lease says where
                    # it went; the old entry may linger here while it closes).
                    moved = True
                    continue
            holder = await self.holder(station_id)
            if holder is None:
                if moved and station_id in self._directory:
                    moved = False  # it came back here
                    continue
                raise StationNotConnected(f"station {station_id!r} is not connected")
            outcome = await self._ask(holder, request, timeout)
            if outcome.error in ("StationNotConnected", "CommandNotSent"):
                # Not held there, or its socket there closed before the command was sent: follow
                # the station. (A command whose socket closed after it was sent ends as
                # ``AnswerLost``: the charger may have acted on it, so it is never sent again.)
                continue
            return _result(outcome)
        raise CommandNotSent(f"station {station_id!r} kept moving; the command was not sent")

    async def version_of(self, station_id: str) -> OcppVersion | None:
        """The OCPP version of the station's connection, wherever it is; None: not connected."""
        entry = self._directory.get(station_id)
        if entry is not None:
            return entry.version
        lease = await lease_of(self._reads, station_id)
        if lease is None or lease.member is None or lease.protocol is None:
            return None
        if self._member.peer(lease.member) is None:
            return None
        return OcppVersion.from_subprotocol(lease.protocol)

    async def holder(self, station_id: str) -> str | None:
        """The other member that holds the station; None: nobody alive does."""
        lease = await lease_of(self._reads, station_id)
        if lease is None or lease.member is None or lease.member == self._member.name:
            return None
        return lease.member

    async def _ask(
        self, holder: str, body: CommandRequest | ConfigurationRequest, timeout: float
    ) -> Outcome:
        try:
            outcome = await self._member.ask(holder, body, timeout=timeout + MARGIN_SECONDS)
        except TimeoutError:
            raise CommandTimeout(f"no answer from member {holder} within {timeout:g} s") from None
        if outcome is None:
            raise StationNotConnected(f"the member holding {body.station_id!r} is gone")
        return outcome


_ERRORS: dict[str, type[CommandError]] = {
    cls.__name__: cls
    for cls in (
        StationNotConnected,
        CommandNotSent,
        AnswerLost,
        StationNotAccepted,
        StationBusy,
        CommandTimeout,
    )
}


def _result(outcome: Outcome) -> Any:
    """The outcome's value, or the error it names raised here."""
    if outcome.error is None:
        return outcome.value
    details = outcome.details
    if outcome.error == "InvalidCommand":
        raise InvalidCommand(outcome.message, code=str(details.get("code", "FormatViolation")))
    if outcome.error == "CommandRejected":
        extra = details.get("details")
        raise CommandRejected(
            str(details.get("code", "")),
            str(details.get("description", "")),
            extra if isinstance(extra, dict) else {},
        )
    raise _ERRORS.get(outcome.error, CommandError)(outcome.message)
