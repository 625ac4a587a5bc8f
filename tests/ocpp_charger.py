"""A real OCPP 1.6 charger client: the `ocpp` package's ChargePoint over a `websockets` connection.

It validates every payload both ways against the official schemas, as real charger stacks do, and
answers every CSMS-initiated action the central system can send.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from tests.timing import UNIT


class Charger16(ChargePoint):  # type: ignore[misc]
    """Answers CSMS calls and records them in ``received`` as (action, kwargs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.configuration = {"HeartbeatInterval": "300", "MeterValueSampleInterval": "60"}

    def _note(self, action: str, **kwargs: Any) -> None:
        self.received.append((action, kwargs))

    @on(Action.remote_start_transaction)
    async def remote_start(self, **kwargs: Any) -> call_result.RemoteStartTransaction:
        self._note("RemoteStartTransaction", **kwargs)
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)
    async def remote_stop(self, **kwargs: Any) -> call_result.RemoteStopTransaction:
        self._note("RemoteStopTransaction", **kwargs)
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.reset)
    async def reset(self, **kwargs: Any) -> call_result.Reset:
        self._note("Reset", **kwargs)
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)
    async def unlock(self, **kwargs: Any) -> call_result.UnlockConnector:
        self._note("UnlockConnector", **kwargs)
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.change_availability)
    async def availability(self, **kwargs: Any) -> call_result.ChangeAvailability:
        self._note("ChangeAvailability", **kwargs)
        return call_result.ChangeAvailability(status="Scheduled")

    @on(Action.get_configuration)
    async def get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        self._note("GetConfiguration", key=key)
        wanted = key or list(self.configuration)
        known = [
            {"key": k, "readonly": False, "value": self.configuration[k]}
            for k in wanted
            if k in self.configuration
        ]
        unknown = [k for k in wanted if k not in self.configuration]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    async def change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        self._note("ChangeConfiguration", key=key, value=value)
        if key not in self.configuration:
            return call_result.ChangeConfiguration(status="NotSupported")
        self.configuration[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.clear_cache)
    async def clear_cache(self) -> call_result.ClearCache:
        self._note("ClearCache")
        return call_result.ClearCache(status="Accepted")

    @on(Action.trigger_message)
    async def trigger(self, **kwargs: Any) -> call_result.TriggerMessage:
        self._note("TriggerMessage", **kwargs)
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.data_transfer)
    async def data_transfer(self, **kwargs: Any) -> call_result.DataTransfer:
        self._note("DataTransfer", **kwargs)
        return call_result.DataTransfer(status="Accepted", data="pong")


@contextlib.asynccontextmanager
async def charger16(
    ocpp_url: str, station_id: str, **connect_kwargs: Any
) -> AsyncIterator[Charger16]:
    """A connected Charger16 whose receive loop runs for the duration of the block."""
    async with websockets.connect(
        f"{ocpp_url}/{station_id}",
        subprotocols=["ocpp1.6"],
        open_timeout=100 * UNIT,
        **connect_kwargs,
    ) as ws:
        cp = Charger16(station_id, ws, response_timeout=200 * UNIT)
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop
