"""Real OCPP 2.0.1 and 2.1 charger clients: the `ocpp` package's ChargePoints over `websockets`.

Like the 1.6 charger in ``tests.ocpp_charger``, they validate every payload both ways against the
official schemas and answer every CSMS-initiated action of their version (``_V201_CSMS`` and
``_V21_CSMS`` of ``transport.schemas``). The handlers are generated from one table: a fixed reply
per action, or a method of ``_Charger2`` where the reply depends on the request or on the
charger's state. The device model is a list of ``DeviceVariable``: GetVariables and SetVariables
read and write it, GetBaseReport and GetReport send it back in NotifyReport parts after their
response.

Replies where a real charger would have nothing to report say so (GetChargingProfiles NoProfiles,
GetDisplayMessages Unknown, GetMonitoringReport EmptyResultSet, GetInstalledCertificateIds
NotFound, GetTariffs NoTariff, GetDERControl NotFound, UnpublishFirmware NoFirmware); any reply can
be replaced per charger through ``overrides``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import websockets
from ocpp import v21, v201
from ocpp.charge_point import camel_to_snake_case
from ocpp.routing import after, on
from websockets.typing import Subprotocol

from tests.timing import UNIT
from transport.schemas import _V21_CSMS, _V201_CSMS

Payload = dict[str, Any]
"""A JSON object as on the wire (camelCase keys)."""

_C = TypeVar("_C", bound="type[_Charger2]")


@dataclasses.dataclass
class DeviceVariable:
    """One variable attribute of the device model (OCPP 2.x part 1, section 4)."""

    component: str
    variable: str
    value: str
    mutability: str = "ReadWrite"
    """ReadOnly, ReadWrite or WriteOnly."""
    characteristics: Payload = dataclasses.field(
        default_factory=lambda: {"dataType": "string", "supportsMonitoring": False}
    )
    """A VariableCharacteristicsType: dataType and supportsMonitoring, and unit, valuesList...."""
    component_instance: str | None = None
    evse: Payload | None = None
    """An EVSEType: ``{"id": 1}`` or ``{"id": 1, "connectorId": 1}``."""
    variable_instance: str | None = None
    attribute_type: str = "Actual"

    def component_data(self) -> Payload:
        """The ComponentType naming this variable's component."""
        data: Payload = {"name": self.component}
        if self.component_instance is not None:
            data["instance"] = self.component_instance
        if self.evse is not None:
            data["evse"] = dict(self.evse)
        return data

    def variable_data(self) -> Payload:
        """The VariableType naming this variable."""
        data: Payload = {"name": self.variable}
        if self.variable_instance is not None:
            data["instance"] = self.variable_instance
        return data

    def report_data(self) -> Payload:
        """This variable as a NotifyReport ReportDataType (write-only values are not reported)."""
        attribute: Payload = {"type": self.attribute_type, "mutability": self.mutability}
        if self.mutability != "WriteOnly":
            attribute["value"] = self.value
        return {
            "component": self.component_data(),
            "variable": self.variable_data(),
            "variableAttribute": [attribute],
            "variableCharacteristics": dict(self.characteristics),
        }


def default_variables(station_id: str) -> list[DeviceVariable]:
    """The device model a charger starts with, unless given its own."""
    integer_s = {"dataType": "integer", "unit": "s", "supportsMonitoring": False}
    return [
        DeviceVariable("SecurityCtrlr", "Identity", station_id),
        DeviceVariable("OCPPCommCtrlr", "HeartbeatInterval", "300", characteristics=integer_s),
        DeviceVariable("SampledDataCtrlr", "TxUpdatedInterval", "60", characteristics=integer_s),
        DeviceVariable(
            "AuthCtrlr",
            "AuthorizeRemoteStart",
            "true",
            characteristics={"dataType": "boolean", "supportsMonitoring": False},
        ),
        DeviceVariable(
            "EVSE",
            "AvailabilityState",
            "Available",
            mutability="ReadOnly",
            evse={"id": 1},
            characteristics={
                "dataType": "OptionList",
                "valuesList": "Available,Occupied,Reserved,Unavailable,Faulted",
                "supportsMonitoring": True,
            },
        ),
        DeviceVariable(
            "Connector",
            "ConnectorType",
            "cType2",
            mutability="ReadOnly",
            evse={"id": 1, "connectorId": 1},
        ),
        DeviceVariable("ChargingStation", "Model", "VM-2", mutability="ReadOnly"),
        DeviceVariable(
            "DeviceDataCtrlr",
            "ItemsPerMessage",
            "8",
            mutability="ReadOnly",
            variable_instance="GetVariables",
            characteristics={"dataType": "integer", "supportsMonitoring": False},
        ),
    ]


# The fixed replies; the actions missing here are answered by a method of _Charger2 (_DYNAMIC).
_FIXED: dict[str, Payload] = {
    "CancelReservation": {"status": "Accepted"},
    "CertificateSigned": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "ClearDisplayMessage": {"status": "Accepted"},
    "CostUpdated": {},
    "CustomerInformation": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted", "data": "pong"},
    "DeleteCertificate": {"status": "Accepted"},
    "GetChargingProfiles": {"status": "NoProfiles"},
    "GetDisplayMessages": {"status": "Unknown"},
    "GetInstalledCertificateIds": {"status": "NotFound"},
    "GetLog": {"status": "Accepted", "filename": "voltmesh-charger.log"},
    "GetMonitoringReport": {"status": "EmptyResultSet"},
    "InstallCertificate": {"status": "Accepted"},
    "PublishFirmware": {"status": "Accepted"},
    "RequestStartTransaction": {"status": "Accepted"},
    "RequestStopTransaction": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "SetChargingProfile": {"status": "Accepted"},
    "SetDisplayMessage": {"status": "Accepted"},
    "SetMonitoringBase": {"status": "Accepted"},
    "SetMonitoringLevel": {"status": "Accepted"},
    "SetNetworkProfile": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "UnpublishFirmware": {"status": "NoFirmware"},
    "UpdateFirmware": {"status": "Accepted"},
    # OCPP 2.1 only
    "AFRRSignal": {"status": "Accepted"},
    "AdjustPeriodicEventStream": {"status": "Accepted"},
    "ChangeTransactionTariff": {"status": "Accepted"},
    "ClearDERControl": {"status": "Accepted"},
    "GetDERControl": {"status": "NotFound"},
    "GetPeriodicEventStream": {},
    "GetTariffs": {"status": "NoTariff"},
    "NotifyAllowedEnergyTransfer": {"status": "Accepted"},
    "NotifyWebPaymentStarted": {},
    "RequestBatterySwap": {"status": "Accepted"},
    "SetDERControl": {"status": "Accepted"},
    "SetDefaultTariff": {"status": "Accepted"},
    "UpdateDynamicSchedule": {"status": "Accepted"},
    "UsePriorityCharging": {"status": "Accepted"},
}
# Action -> the _Charger2 method computing its reply from the request (snake_case kwargs).
_DYNAMIC: dict[str, str] = {
    "ClearTariffs": "_clear_tariffs",
    "ClearVariableMonitoring": "_clear_variable_monitoring",
    "GetBaseReport": "_get_base_report",
    "GetCompositeSchedule": "_get_composite_schedule",
    "GetLocalListVersion": "_get_local_list_version",
    "GetReport": "_get_report",
    "GetTransactionStatus": "_get_transaction_status",
    "GetVariables": "_get_variables",
    "SendLocalList": "_send_local_list",
    "SetVariableMonitoring": "_set_variable_monitoring",
    "SetVariables": "_set_variables",
}
# Actions whose reply may be followed by a NotifyReport (sent by an @after hook).
_REPORTS = frozenset({"GetBaseReport", "GetReport"})


def _now() -> str:
    """Now, as RFC 3339 UTC with milliseconds and Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _component(data: Payload) -> Payload:
    """A received ComponentType (snake_case keys) in the camelCase of ``DeviceVariable``."""
    component: Payload = {"name": data["name"]}
    if data.get("instance") is not None:
        component["instance"] = data["instance"]
    if data.get("evse") is not None:
        evse = data["evse"]
        component["evse"] = {"id": evse["id"]}
        if evse.get("connector_id") is not None:
            component["evse"]["connectorId"] = evse["connector_id"]
    return component


def _variable(data: Payload) -> Payload:
    """A received VariableType, as ``DeviceVariable.variable_data`` gives it."""
    variable: Payload = {"name": data["name"]}
    if data.get("instance") is not None:
        variable["instance"] = data["instance"]
    return variable


def _transaction_event(payload: Any) -> tuple[str, str] | None:
    """(eventType, transactionId) of an outgoing TransactionEvent payload, whichever way the
    caller spelled its transactionInfo (a datatype, a snake_case or a camelCase dict)."""
    if type(payload).__name__ != "TransactionEvent":
        return None
    info = payload.transaction_info
    if isinstance(info, dict):
        tx_id = info.get("transaction_id", info.get("transactionId"))
    else:
        tx_id = getattr(info, "transaction_id", None)
    event = payload.event_type
    return (str(getattr(event, "value", event)), str(tx_id)) if tx_id is not None else None


class _Charger2:
    """The behaviour shared by the 2.0.1 and 2.1 chargers; mixed in before the ocpp ChargePoint."""

    id: str
    _call: Any  # the version's ocpp.vXX.call module, a class attribute of the ocpp ChargePoint
    _call_result: Any

    def __init__(
        self,
        *args: Any,
        report_part_size: int = 3,
        variables: Iterable[DeviceVariable] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []
        """Every CSMS call, in order: (action, its payload as the handler got it: snake_case)."""
        self.variables: list[DeviceVariable] = (
            copy.deepcopy(list(variables)) if variables is not None else default_variables(self.id)
        )
        """The device model."""
        self.report_part_size = report_part_size
        """How many variables each NotifyReport carries."""
        self.report_sent = asyncio.Event()
        """Cleared when a GetBaseReport or GetReport is accepted, set once the last NotifyReport
        part of it was answered (or a part failed: see ``report_results``)."""
        self.report_results: list[tuple[Payload, Any]] = []
        """(NotifyReport payload sent, its call_result or the exception the call raised)."""
        self.overrides: dict[str, Payload] = {}
        """Action -> the reply to give instead of the usual one (no side effects then)."""
        self.ongoing_transactions: set[str] = set()
        """Transaction ids of the TransactionEvent Started/Updated this charger sent and did not
        end; GetTransactionStatus answers ``ongoingIndicator`` from it."""
        self.local_list_version = 0
        self.monitors: dict[int, Payload] = {}
        """Monitor id -> the SetMonitoringData item (snake_case) that set it."""
        self._pending_reports: dict[int, list[DeviceVariable]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def calls(self, action: str) -> list[dict[str, Any]]:
        """The payloads (snake_case) of the ``action`` calls received so far."""
        return [kwargs for name, kwargs in self.received if name == action]

    def find(
        self,
        component: str,
        variable: str,
        *,
        evse: Payload | None = None,
        component_instance: str | None = None,
        variable_instance: str | None = None,
        attribute_type: str = "Actual",
    ) -> DeviceVariable | None:
        """The device model entry with exactly these names, if any."""
        wanted = DeviceVariable(
            component,
            variable,
            "",
            evse=evse,
            component_instance=component_instance,
            variable_instance=variable_instance,
            attribute_type=attribute_type,
        )
        for entry in self.variables:
            if (
                entry.component_data() == wanted.component_data()
                and entry.variable_data() == wanted.variable_data()
                and entry.attribute_type == attribute_type
            ):
                return entry
        return None

    async def call(self, payload: Any, *args: Any, **kwargs: Any) -> Any:
        """The ocpp ``call``, noting which transactions this charger starts and ends."""
        event = _transaction_event(payload)
        if event is not None:
            if event[0] == "Ended":
                self.ongoing_transactions.discard(event[1])
            else:
                self.ongoing_transactions.add(event[1])
        return await super().call(payload, *args, **kwargs)  # type: ignore[misc]

    async def stop_tasks(self) -> None:
        """Cancel the NotifyReport senders still running."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- the device model -------------------------------------------------------------------

    def _lookup(
        self, component: Payload, variable: Payload, attribute_type: str | None
    ) -> tuple[str, DeviceVariable | None]:
        """(status, entry): Accepted, UnknownComponent, UnknownVariable or
        NotSupportedAttributeType; ``attribute_type`` None matches any."""
        same_component = [v for v in self.variables if v.component_data() == component]
        if not same_component:
            return "UnknownComponent", None
        same_variable = [v for v in same_component if v.variable_data() == variable]
        if not same_variable:
            return "UnknownVariable", None
        for entry in same_variable:
            if attribute_type is None or entry.attribute_type == attribute_type:
                return "Accepted", entry
        return "NotSupportedAttributeType", None

    def _get_variables(self, get_variable_data: list[Payload], **_: Any) -> Payload:
        results = []
        for item in get_variable_data:
            component, variable = _component(item["component"]), _variable(item["variable"])
            attribute_type = item.get("attribute_type", "Actual")
            status, entry = self._lookup(component, variable, attribute_type)
            result: Payload = {"attributeStatus": status, "attributeType": attribute_type}
            if entry is not None and entry.mutability == "WriteOnly":
                result["attributeStatus"] = "Rejected"
            elif entry is not None:
                result["attributeValue"] = entry.value
            results.append(result | {"component": component, "variable": variable})
        return {"getVariableResult": results}

    def _set_variables(self, set_variable_data: list[Payload], **_: Any) -> Payload:
        results = []
        for item in set_variable_data:
            component, variable = _component(item["component"]), _variable(item["variable"])
            attribute_type = item.get("attribute_type", "Actual")
            status, entry = self._lookup(component, variable, attribute_type)
            if entry is not None and entry.mutability == "ReadOnly":
                status = "Rejected"
            elif entry is not None:
                entry.value = item["attribute_value"]
            results.append(
                {
                    "attributeStatus": status,
                    "attributeType": attribute_type,
                    "component": component,
                    "variable": variable,
                }
            )
        return {"setVariableResult": results}

    def _get_base_report(self, request_id: int, report_base: str, **_: Any) -> Payload:
        # ConfigurationInventory: what the operator can set; Full and SummaryInventory: it all.
        chosen = [
            v
            for v in self.variables
            if report_base != "ConfigurationInventory" or v.mutability != "ReadOnly"
        ]
        return self._report(request_id, chosen)

    def _get_report(
        self, request_id: int, component_variable: list[Payload] | None = None, **_: Any
    ) -> Payload:
        # componentCriteria is not applied: every variable matches it.
        chosen = [
            v
            for v in self.variables
            if component_variable is None
            or any(
                v.component_data() == _component(wanted["component"])
                and ("variable" not in wanted or v.variable_data() == _variable(wanted["variable"]))
                for wanted in component_variable
            )
        ]
        return self._report(request_id, chosen)

    def _report(self, request_id: int, chosen: list[DeviceVariable]) -> Payload:
        if not chosen:
            return {"status": "EmptyResultSet"}
        self._pending_reports[request_id] = chosen
        self.report_sent.clear()
        return {"status": "Accepted"}

    def _start_report(self, request_id: int, **_: Any) -> None:
        """After a report request was answered: send the report, if it was accepted."""
        chosen = self._pending_reports.pop(request_id, None)
        if chosen is not None:
            task = asyncio.create_task(self._send_report(request_id, chosen))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_report(self, request_id: int, chosen: list[DeviceVariable]) -> None:
        size = max(1, self.report_part_size)
        parts = [chosen[i : i + size] for i in range(0, len(chosen), size)]
        try:
            for seq_no, part in enumerate(parts):
                payload: Payload = {
                    "requestId": request_id,
                    "generatedAt": _now(),
                    "seqNo": seq_no,
                    "tbc": seq_no < len(parts) - 1,
                    "reportData": [v.report_data() for v in part],
                }
                request = self._call.NotifyReport(**camel_to_snake_case(payload))
                try:
                    result = await self.call(request, suppress=False)
                except Exception as exc:  # a CALLERROR, a timeout, a closed connection
                    self.report_results.append((payload, exc))
                    return
                self.report_results.append((payload, result))
        finally:
            self.report_sent.set()

    # --- the other replies that depend on the request or the state -------------------------

    def _get_transaction_status(self, transaction_id: str | None = None, **_: Any) -> Payload:
        reply: Payload = {"messagesInQueue": False}
        if transaction_id is not None:
            reply["ongoingIndicator"] = transaction_id in self.ongoing_transactions
        return reply

    def _get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str = "A", **_: Any
    ) -> Payload:
        schedule = {
            "evseId": evse_id,
            "duration": duration,
            "scheduleStart": _now(),
            "chargingRateUnit": charging_rate_unit,
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 32.0 if charging_rate_unit == "A" else 22000.0}
            ],
        }
        return {"status": "Accepted", "schedule": schedule}

    def _send_local_list(self, version_number: int, **_: Any) -> Payload:
        self.local_list_version = version_number
        return {"status": "Accepted"}

    def _get_local_list_version(self, **_: Any) -> Payload:
        return {"versionNumber": self.local_list_version}

    def _set_variable_monitoring(self, set_monitoring_data: list[Payload], **_: Any) -> Payload:
        results = []
        for item in set_monitoring_data:
            component, variable = _component(item["component"]), _variable(item["variable"])
            status, _entry = self._lookup(component, variable, None)
            result: Payload = {
                "status": status,
                "type": item["type"],
                "severity": item["severity"],
                "component": component,
                "variable": variable,
            }
            if status == "Accepted":
                monitor_id = item.get("id", max(self.monitors, default=0) + 1)
                self.monitors[monitor_id] = item
                result["id"] = monitor_id
            results.append(result)
        return {"setMonitoringResult": results}

    def _clear_variable_monitoring(self, id: list[int], **_: Any) -> Payload:
        results = [
            {
                "id": i,
                "status": "Accepted" if self.monitors.pop(i, None) is not None else "NotFound",
            }
            for i in id
        ]
        return {"clearMonitoringResult": results}

    def _clear_tariffs(self, tariff_ids: list[str] | None = None, **_: Any) -> Payload:
        results = [{"tariffId": t, "status": "Accepted"} for t in tariff_ids or []]
        return {"clearTariffsResult": results or [{"status": "Accepted"}]}


def _snake(action: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", action).lower()


def _handler(action: str) -> Callable[..., Any]:
    """The ``@on(action)`` handler: record the call, reply from ``overrides``, ``_DYNAMIC`` or
    ``_FIXED``, as the version's call_result dataclass (the ocpp package takes nothing else)."""

    async def handler(self: _Charger2, **kwargs: Any) -> Any:
        self.received.append((action, kwargs))
        if action in self.overrides:
            reply = copy.deepcopy(self.overrides[action])
        elif action in _DYNAMIC:
            reply = getattr(self, _DYNAMIC[action])(**kwargs)
        else:
            reply = copy.deepcopy(_FIXED[action])
        return getattr(self._call_result, action)(**camel_to_snake_case(reply))

    # ocpp.routing finds handlers by the function's name, so each must have its own.
    handler.__name__ = handler.__qualname__ = f"_ocpp_on_{_snake(action)}"
    return on(action)(handler)  # type: ignore[no-any-return]


def _after_report(action: str) -> Callable[..., Any]:
    def hook(self: _Charger2, **kwargs: Any) -> None:
        self._start_report(**kwargs)

    hook.__name__ = hook.__qualname__ = f"_ocpp_after_{_snake(action)}"
    return after(action)(hook)  # type: ignore[no-any-return]


def _answering(actions: frozenset[str]) -> Callable[[_C], _C]:
    """Class decorator: install a handler for each of ``actions`` (and the NotifyReport hooks)."""
    missing = sorted(actions - _FIXED.keys() - _DYNAMIC.keys())
    if missing:
        raise LookupError(f"no reply defined for {missing}")

    def install(cls: _C) -> _C:
        for action in sorted(actions):
            handler = _handler(action)
            setattr(cls, handler.__name__, handler)
            if action in _REPORTS:
                hook = _after_report(action)
                setattr(cls, hook.__name__, hook)
        return cls

    return install


@_answering(_V201_CSMS)
class Charger201(_Charger2, v201.ChargePoint):  # type: ignore[misc]
    """An OCPP 2.0.1 charger answering every CSMS call; see ``_Charger2`` for its state."""


@_answering(_V21_CSMS)
class Charger21(_Charger2, v21.ChargePoint):  # type: ignore[misc]
    """An OCPP 2.1 charger answering every CSMS call; see ``_Charger2`` for its state."""


CHARGERS: dict[str, type[Charger201] | type[Charger21]] = {
    "ocpp2.0.1": Charger201,
    "ocpp2.1": Charger21,
}
"""Subprotocol -> charger class."""


@contextlib.asynccontextmanager
async def charger2(
    ocpp_url: str,
    station_id: str,
    version: str = "ocpp2.0.1",
    *,
    report_part_size: int = 3,
    variables: Iterable[DeviceVariable] | None = None,
    response_timeout: float = 200 * UNIT,
    **connect_kwargs: Any,
) -> AsyncIterator[Charger201 | Charger21]:
    """A connected 2.x charger (``version`` is the subprotocol: ocpp2.0.1 or ocpp2.1) whose
    receive loop runs for the duration of the block; ``connect_kwargs`` go to websockets."""
    cls = CHARGERS[version]
    async with websockets.connect(
        f"{ocpp_url}/{station_id}",
        subprotocols=[Subprotocol(version)],
        open_timeout=100 * UNIT,
        **connect_kwargs,
    ) as ws:
        cp = cls(
            station_id,
            ws,
            response_timeout=response_timeout,
            report_part_size=report_part_size,
            variables=variables,
        )
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop
            await cp.stop_tasks()


@contextlib.asynccontextmanager
async def charger201(ocpp_url: str, station_id: str, **kwargs: Any) -> AsyncIterator[Charger201]:
    """A connected Charger201; keywords as for ``charger2``."""
    async with charger2(ocpp_url, station_id, "ocpp2.0.1", **kwargs) as cp:
        assert isinstance(cp, Charger201)
        yield cp


@contextlib.asynccontextmanager
async def charger21(ocpp_url: str, station_id: str, **kwargs: Any) -> AsyncIterator[Charger21]:
    """A connected Charger21; keywords as for ``charger2``."""
    async with charger2(ocpp_url, station_id, "ocpp2.1", **kwargs) as cp:
        assert isinstance(cp, Charger21)
        yield cp
