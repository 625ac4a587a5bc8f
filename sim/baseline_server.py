"""Reference central system on the plain `ocpp` package, the way its README shows it.

    python -m sim.baseline_server --host 127.0.0.1 --port 9000

A `websockets` server hands every connection to an `ocpp.v16.ChargePoint` or, when the charger
offers the `ocpp2.0.1` subprotocol, an `ocpp.v201.ChargePoint` subclass with `@on` handlers. State
lives in memory only. It is the point of comparison for the benchmark, so it stays simple and
idiomatic: no tuning beyond turning off per-message INFO logging.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import websockets
from ocpp.routing import on as _untyped_on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as call_result201
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import AuthorizationStatusEnumType, RegistrationStatusEnumType
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

from sim.fdlimit import raise_open_file_limit

LOG = logging.getLogger("sim.baseline_server")

HEARTBEAT_INTERVAL = 300
"""Seconds; the interval BootNotification.conf hands out."""
SUBPROTOCOLS = [Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")]
"""The websocket subprotocols served, one per OCPP version."""

_F = TypeVar("_F", bound=Callable[..., Any])


def on(action: Action | Action201) -> Callable[[_F], _F]:
    """`ocpp.routing.on` with a type the checker can follow (the package ships no hints)."""
    return cast(Callable[[_F], _F], _untyped_on(action))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class BaselineChargePoint(ChargePoint):  # type: ignore[misc]  # ocpp ships no type hints
    """Central-system side of one OCPP 1.6 charger connection."""

    def __init__(self, station: str, connection: ServerConnection, transaction_ids: Any) -> None:
        super().__init__(station, connection)
        self._transaction_ids = transaction_ids

    @on(Action.boot_notification)
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=_now(), interval=HEARTBEAT_INTERVAL, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> call_result.StartTransaction:
        return call_result.StartTransaction(
            transaction_id=next(self._transaction_ids),
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action.meter_values)
    def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> call_result.StopTransaction:
        return call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})


class BaselineChargePoint201(ChargePoint201):  # type: ignore[misc]  # ocpp ships no type hints
    """Central-system side of one OCPP 2.0.1 charger connection. Transaction ids are the
    charger's own in 2.0.1, so there is nothing to allocate."""

    @on(Action201.boot_notification)
    def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> call_result201.BootNotification:
        return call_result201.BootNotification(
            current_time=_now(),
            interval=HEARTBEAT_INTERVAL,
            status=RegistrationStatusEnumType.accepted,
        )

    @on(Action201.heartbeat)
    def on_heartbeat(self) -> call_result201.Heartbeat:
        return call_result201.Heartbeat(current_time=_now())

    @on(Action201.status_notification)
    def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kwargs: Any
    ) -> call_result201.StatusNotification:
        return call_result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> call_result201.Authorize:
        return call_result201.Authorize(
            id_token_info={"status": AuthorizationStatusEnumType.accepted}
        )

    @on(Action201.transaction_event)
    def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kwargs: Any,
    ) -> call_result201.TransactionEvent:
        if "id_token" not in kwargs:
            return call_result201.TransactionEvent()
        return call_result201.TransactionEvent(
            id_token_info={"status": AuthorizationStatusEnumType.accepted}
        )

    @on(Action201.meter_values)
    def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result201.MeterValues:
        return call_result201.MeterValues()


@contextlib.asynccontextmanager
async def baseline_server(host: str, port: int) -> AsyncIterator[Server]:
    """Serve OCPP 1.6 and 2.0.1 on `host:port` (0 picks a free port) while the context is open;
    the subprotocol the charger offers picks the version."""
    transaction_ids = itertools.count(1)

    async def on_connect(connection: ServerConnection) -> None:
        # The ocpp README: refuse clients that did not agree on an OCPP subprotocol.
        if connection.subprotocol is None:
            await connection.close()
            return
        assert connection.request is not None
        station = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
        charge_point: ChargePoint | ChargePoint201
        if connection.subprotocol == "ocpp2.0.1":
            charge_point = BaselineChargePoint201(station, connection)
        else:
            charge_point = BaselineChargePoint(station, connection, transaction_ids)
        with contextlib.suppress(websockets.ConnectionClosed):
            await charge_point.start()

    async with serve(on_connect, host, port, subprotocols=SUBPROTOCOLS) as server:
        yield server


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; exits 0 on SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m sim.baseline_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    raise_open_file_limit()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[None] = loop.create_future()

        def request_stop() -> None:
            if not stop.done():
                stop.set_result(None)

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, request_stop)
        async with baseline_server(args.host, args.port) as server:
            for sock in server.sockets:
                LOG.warning("listening on %s:%s", *sock.getsockname()[:2])
            await stop

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
