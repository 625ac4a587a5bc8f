"""The outbox of a charge point: CSMS-initiated calls, one in flight at a time (OCPP-J 1.6 section 4.1.1).

Its mailbox is the queue of waiting commands. It is a separate actor from the charge point so that a
command waiting for the charger's answer never blocks the charger's own requests (a charger may send a
StatusNotification before it answers our Reset, and wait for our reply).
"""

from __future__ import annotations

import asyncio
from typing import Any

from actors.actor import Actor
from actors.commands import (
    CommandNotSent,
    CommandRejected,
    CommandResult,
    CommandTimeout,
    OutgoingCall,
)
from actors.link import StationLink
from transport.messages import CallError


class OutboxActor(Actor):
    """Sends one queued call, waits for its answer or its deadline, then takes the next."""

    def __init__(self, link: StationLink) -> None:
        self.link = link

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
            if message.action == "TriggerMessage" and reply.payload.get("status") == "Accepted":
                self.link.requested.add(message.payload["requestedMessage"])
        return CommandResult(reply.action, reply.payload, reply.violation)
