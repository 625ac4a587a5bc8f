"""The transport actor of one websocket: it starts the station's charge point and outbox actors, feeds
them the codec's events, and tears them down when the socket goes.

A new connection for a station replaces the old one (zombie sockets): the old socket is closed, its actors
finish the message in hand (whose commit still lands), and the new actor reloads state from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from aiohttp import web

from actors.actor import ActorRef
from actors.charge_point import ChargePointActor, Handler
from actors.commands import CommandError, OutgoingCall
from actors.context import CsmsContext
from actors.directory import StationDirectory, StationEntry
from actors.errors import ActorError, ActorStopped, MailboxFull
from actors.link import StationLink
from actors.outbox import OutboxActor
from actors.supervisor import Supervisor
from persistence.records import StationRecord
from transport.codec import OcppCodec
from transport.errors import ErrorCode
from transport.messages import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Event,
    ProtocolViolation,
    Send,
    Unmatched,
)
from transport.websocket import CLOSE_REPLACED, Handshake

log = logging.getLogger(__name__)

TRIGGER_TIMEOUT = 30.0


class StationConnection:
    """Bridges one accepted websocket to the station's actors (implements ``transport.Connection``)."""

    def __init__(
        self,
        handshake: Handshake,
        codec: OcppCodec,
        socket: web.WebSocketResponse,
        *,
        context: CsmsContext,
        directory: StationDirectory,
        supervisor: Supervisor,
        handlers: Mapping[str, Handler],
        station: StationRecord | None = None,
        on_protocol_violation: Callable[[str], None] | None = None,
        status_trigger_delay: float | None = None,
    ) -> None:
        self.station_id = handshake.station_id
        self._context = context
        self._directory = directory
        self._supervisor = supervisor
        self._handlers = handlers
        self._on_violation = on_protocol_violation
        self._socket = socket
        self._station = station

        async def close(code: int, reason: str) -> None:
            await socket.close(code=code, message=reason.encode())

        self.link = StationLink(
            handshake.station_id, handshake.version, codec, write=socket.send_str, close=close
        )
        self._charge_point: ActorRef | None = None
        self._outbox: ActorRef | None = None
        self._trigger_delay = status_trigger_delay
        # A timer while waiting (a sleeping task per idle station costs more memory), a task only
        # once the question is due.
        self._trigger_timer: asyncio.TimerHandle | None = None
        self._trigger: asyncio.Task[None] | None = None

    def _take_station(self) -> StationRecord | None:
        """The handshake's read of the station, for the first start only; restarts read afresh."""
        station, self._station = self._station, None
        return station

    async def opened(self) -> None:
        link = self.link
        # Names carry the socket's id: the replaced connection's actors may still be finishing.
        suffix = f"{self.station_id}#{id(self):x}"
        self._charge_point = await self._supervisor.spawn(
            lambda: ChargePointActor(self._context, link, self._handlers, self._take_station()),
            name=f"cp:{suffix}",
        )
        self._outbox = await self._supervisor.spawn(
            lambda: OutboxActor(link, self._context.commands), name=f"out:{suffix}"
        )
        previous = self._directory.attach(
            self.station_id, StationEntry(link, self._charge_point, self._outbox)
        )
        if previous is not None:
            log.info("%s reconnected; closing its previous socket", self.station_id)
            # Not awaited here: the old socket's own handler waits for its close.
            previous.link.close_soon(CLOSE_REPLACED, "replaced by a new connection")
        self._context.status.set_presence(
            self.station_id, connected=True, protocol=link.version.value
        )
        if self._trigger_delay is not None:
            self._trigger_timer = asyncio.get_running_loop().call_later(
                self._trigger_delay, self._start_trigger
            )
        log.info("%s connected (%s)", self.station_id, link.version.value)

    def _start_trigger(self) -> None:
        self._trigger_timer = None
        link = self.link
        if link.booted or not link.accepted or link.closed or self._outbox is None:
            return
        self._trigger = asyncio.create_task(
            self._ask_for_status(), name=f"trigger {self.station_id}"
        )

    async def _ask_for_status(self) -> None:
        """A station that reconnects without rebooting (after our restart, or a network cut) sends no
        StatusNotification of its own, so the status we hold may be stale: ask for it. One that boots
        within the trigger delay reports its status anyway."""
        if self._outbox is None:
            return
        deadline = asyncio.get_running_loop().time() + TRIGGER_TIMEOUT
        call = OutgoingCall("TriggerMessage", {"requestedMessage": "StatusNotification"}, deadline)
        try:
            await self._outbox.ask(call, timeout=TRIGGER_TIMEOUT + 1)
        except (CommandError, ActorError, ConnectionError) as exc:
            log.info(
                "%s: TriggerMessage StatusNotification not carried out: %s", self.station_id, exc
            )

    def received(self, event: Event) -> None:
        if isinstance(event, Call | Send | CallResultError):
            assert self._charge_point is not None
            try:
                self._charge_point.tell(event)
            except (MailboxFull, ActorStopped):
                # A charger flooding us (or one whose actor gave up): refuse this one call.
                if isinstance(event, Call):
                    self.link.codec.send_error(
                        event.unique_id, ErrorCode.GENERIC_ERROR, "busy, retry later"
                    )
        elif isinstance(event, CallResult | CallError):
            if not self.link.resolve(event):
                log.info("%s: late answer %s dropped", self.station_id, event.unique_id)
        elif isinstance(event, Unmatched):
            log.info(
                "%s: %s %s matches no call; dropped",
                self.station_id,
                event.message_type.name,
                event.unique_id,
            )
        elif isinstance(event, ProtocolViolation):
            log.info("%s: %s: %s", self.station_id, event.error_code, event.description)
            if self._on_violation is not None:
                self._on_violation(event.error_code)

    async def closed(self) -> None:
        self.link.closed = True
        self.link.fail_pending()
        if self._trigger_timer is not None:
            self._trigger_timer.cancel()
        if self._trigger is not None:
            self._trigger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._trigger
        current = self._directory.detach(self.station_id, self.link)
        for ref in (self._outbox, self._charge_point):
            if ref is not None:
                await ref.stop()
        if current:
            self._context.status.set_presence(self.station_id, connected=False, protocol=None)
        await self.link.wait_closed()
        log.info("%s disconnected", self.station_id)
