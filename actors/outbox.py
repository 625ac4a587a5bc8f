"""The outbox of a charge point: CSMS-initiated calls, one in flight at a time (OCPP-J 1.6 section 4.1.1).

Its mailbox is the queue of waiting commands. It is a separate actor from the charge point so that a
command waiting for the charger's answer never blocks the charger's own requests (a charger may send a
StatusNotification before it answers our Reset, and wait for our reply).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.actor import Actor
from actors.command_log import CommandLog
from actors.commands import (
    CommandNotSent,
    CommandRejected,
    CommandResult,
    CommandTimeout,
    OutgoingCall,
)
from actors.link import StationLink
from transport.messages import CallError

log = logging.getLogger(__name__)


class OutboxActor(Actor):
    """Sends one queued call, waits for its answer or its deadline, then takes the next."""

    def __init__(self, link: StationLink, log: CommandLog | None = None) -> None:
        self.link = link
        self.log = log
        """Where answered commands are recorded (None: nowhere)."""

    async def on_receive(self, message: Any) -> CommandResult:
        assert isinstance(message, OutgoingCall)
        loop = asyncio.get_running_loop()
        if loop.time() >= message.deadline:
            raise CommandTimeout(f"{message.action} waited too long behind earlier commands")
        if self.link.closed:
            # Not sent: the router may send it on the station's new connection.
            raise CommandNotSent("connection closed before the command was sent")
        unique_id = self.link.codec.send_call(message.action, message.payload)
        reply_future = self.link.expect(unique_id)
        try:
            await self.link.flush()
            async with asyncio.timeout_at(message.deadline):
                reply = await reply_future
        except TimeoutError:
            # A late answer then finds no pending call and is dropped (Unmatched), and the next
            # command may go.
            self.link.codec.cancel_call(unique_id)
            raise CommandTimeout(f"no answer to {message.action} in time") from None
        finally:
            self.link.forget(unique_id)
        if isinstance(reply, CallError):
            raise CommandRejected(reply.error_code, reply.description, reply.details)
        if reply.violation is None:
            self.link.configuration.observe(message.action, message.payload, reply.payload)
            self._allow_requested(message, reply.payload)
        if self.log is not None:
            try:
                await self.log.answered(
                    self.link.station_id, message.action, message.payload, reply.payload
                )
            except Exception:
                # The station has acted on the command: its answer goes back to the caller even
                # when the record of it cannot be written.
                log.exception("%s: answer to %s not recorded", self.link.station_id, message.action)
        return CommandResult(reply.action, reply.payload, reply.violation)

    def _allow_requested(self, call: OutgoingCall, response: dict[str, Any]) -> None:
        """A station that is not accepted yet may send what we asked for (OCPP 1.6 section 4.2.1;
        2.0.1 use case B02: a Pending station may send the NotifyReport of a GetBaseReport)."""
        if response.get("status") != "Accepted":
            return
        if call.action == "TriggerMessage":
            self.link.requested.add(call.payload["requestedMessage"])
        elif call.action in ("GetBaseReport", "GetReport"):
            self.link.requested.add("NotifyReport")
