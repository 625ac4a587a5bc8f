"""How a REST command reaches the charger: one interface for the in-process and the cross-process case.

``LocalRouter`` serves stations connected to this process. A cluster router (through Thespian to the
shard that holds the socket) implements the same ``CommandRouter`` protocol.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from actors import ActorError, ActorStopped, AskTimeout, MailboxFull
from csms.station.charge_point import Command, ReadConfiguration
from gateway.calls import (
    CommandNotSent,
    CommandResult,
    CommandTimeout,
    InvalidCommand,
    OutgoingCall,
    StationBusy,
    StationNotConnected,
)
from gateway.directory import StationDirectory, StationEntry
from transport.errors import SchemaViolation, wire_code
from transport.schemas import schemas_for
from transport.versions import OcppVersion


class CommandRouter(Protocol):
    """Sends a CSMS-initiated call to a station wherever it is connected."""

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
    ) -> CommandResult:
        """The charger's response; raises a ``CommandError`` subclass otherwise."""
        ...

    async def configuration(self, station_id: str) -> dict[str, Any]:
        """The configuration keys a connected station reported; ``StationNotConnected`` if none."""
        ...

    async def version_of(self, station_id: str) -> OcppVersion | None:
        """The OCPP version of the station's connection; None if it is not connected."""
        ...


class LocalRouter:
    """Routes to stations connected to this process (a direct mailbox send)."""

    def __init__(self, directory: StationDirectory) -> None:
        self._directory = directory

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
    ) -> CommandResult:
        entry = self._directory.get(station_id)
        if entry is None:
            raise StationNotConnected(f"station {station_id!r} is not connected")
        version = entry.version
        schemas = schemas_for(version)
        if action not in schemas.csms_initiated:
            raise InvalidCommand(
                f"{action} is not a CSMS-initiated action of {version.value}; "
                f"known: {', '.join(sorted(schemas.csms_initiated))}",
                code="NotSupported",
            )
        try:
            # Validate before queueing, so a bad request is refused at once, not after the
            # commands ahead of it.
            schemas.validate_request(action, payload)
        except SchemaViolation as exc:
            raise InvalidCommand(exc.message, code=wire_code(exc.code, version)) from None
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            return await self._send(entry, OutgoingCall(action, payload, deadline), timeout)
        except CommandNotSent:
            # Queued on a connection that a reconnect replaced, and never sent: send it on the
            # new one. (A call that was sent is never sent twice: the charger may have acted on it.)
            fresh = self._directory.get(station_id)
            if fresh is None or fresh is entry:
                raise
            return await self._send(fresh, OutgoingCall(action, payload, deadline), timeout)

    async def configuration(self, station_id: str) -> dict[str, Any]:
        entry = self._directory.get(station_id)
        if entry is None:
            raise StationNotConnected(f"station {station_id!r} is not connected")
        try:
            view = await entry.charge_point.ask(ReadConfiguration(), timeout=5.0)
        except ActorError:
            raise StationNotConnected(f"station {station_id!r} is not connected") from None
        assert isinstance(view, dict)
        return view

    async def version_of(self, station_id: str) -> OcppVersion | None:
        entry = self._directory.get(station_id)
        return None if entry is None else entry.version

    async def _send(self, entry: StationEntry, call: OutgoingCall, timeout: float) -> CommandResult:
        try:
            await entry.charge_point.ask(Command(call), timeout=timeout)
        except AskTimeout:
            raise CommandTimeout(f"{call.action} not queued within {timeout:g} s") from None
        except MailboxFull:
            raise StationBusy(f"too many messages queued for {entry.station_id!r}") from None
        except ActorStopped:
            raise CommandNotSent("connection closed before the command was sent") from None
        try:
            # The connection settles the outcome at the deadline; the margin only guards its end.
            async with asyncio.timeout(timeout + 1.0):
                return await asyncio.shield(call.outcome)
        except TimeoutError:
            raise CommandTimeout(f"no answer to {call.action} within {timeout:g} s") from None
