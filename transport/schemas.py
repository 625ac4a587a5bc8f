"""The official OCPP JSON schemas (bundled in the ``ocpp`` package), compiled with fastjsonschema.

Every schema file of every supported version is read when this module is imported (387 files, tens of
milliseconds), and a server calls ``prepare`` at start, which loads what the compiler imports on first
use: compiling a schema on its first use (milliseconds) then opens no file, so a process at its
descriptor limit still validates every message (a schema opened on first use failed there with
EMFILE, and so did the codec modules fastjsonschema imports while compiling, and every Heartbeat got
InternalError). Compiled schemas are kept for the life of the process. Which side may send which
action is hard-coded from the specifications, because the schema files do not say.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

from transport.errors import ErrorCode, SchemaViolation, UnknownAction
from transport.versions import OcppVersion, Role

Validator = Callable[[Any], Any]

# OCPP 1.6 section 4 (operations initiated by the Charge Point) and the 1.6 security
# whitepaper (LogStatusNotification, SecurityEventNotification, SignCertificate,
# SignedFirmwareStatusNotification).
_V16_CHARGER = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)
# OCPP 1.6 section 5 (operations initiated by the Central System) and the security whitepaper.
_V16_CSMS = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "InstallCertificate",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SignedUpdateFirmware",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)
# OCPP 2.0.1 Part 2, the message list of each functional block (direction "CS -> CSMS").
_V201_CHARGER = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)
# OCPP 2.0.1 Part 2 (direction "CSMS -> CS").
_V201_CSMS = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "ClearChargingProfile",
        "ClearDisplayMessage",
        "ClearVariableMonitoring",
        "CostUpdated",
        "CustomerInformation",
        "DataTransfer",
        "DeleteCertificate",
        "GetBaseReport",
        "GetChargingProfiles",
        "GetCompositeSchedule",
        "GetDisplayMessages",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "GetMonitoringReport",
        "GetReport",
        "GetTransactionStatus",
        "GetVariables",
        "InstallCertificate",
        "PublishFirmware",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SetDisplayMessage",
        "SetMonitoringBase",
        "SetMonitoringLevel",
        "SetNetworkProfile",
        "SetVariableMonitoring",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UnpublishFirmware",
        "UpdateFirmware",
    }
)
# OCPP 2.1 Part 2: everything of 2.0.1 plus the new blocks (DER control, tariffs, battery swap,
# periodic event streams, dynamic schedules, priority charging, settlement and web payment).
_V21_CHARGER = _V201_CHARGER | {
    "BatterySwap",
    "ClosePeriodicEventStream",
    "GetCertificateChainStatus",
    "NotifyDERAlarm",
    "NotifyDERStartStop",
    "NotifyPriorityCharging",
    "NotifySettlement",
    "OpenPeriodicEventStream",
    "PullDynamicScheduleUpdate",
    "ReportDERControl",
    "VatNumberValidation",
}
_V21_CSMS = _V201_CSMS | {
    "AFRRSignal",
    "AdjustPeriodicEventStream",
    "ChangeTransactionTariff",
    "ClearDERControl",
    "ClearTariffs",
    "GetDERControl",
    "GetPeriodicEventStream",
    "GetTariffs",
    "NotifyAllowedEnergyTransfer",
    "NotifyWebPaymentStarted",
    "RequestBatterySwap",
    "SetDERControl",
    "SetDefaultTariff",
    "UpdateDynamicSchedule",
    "UsePriorityCharging",
}
# OCPP-J 2.1 SEND messages (type 6: unconfirmed, charging station to CSMS). Their schema file has
# no Request/Response suffix.
_V21_UNCONFIRMED = frozenset({"NotifyPeriodicEventStream"})

_PACKAGE_DIR = {OcppVersion.V16: "v16", OcppVersion.V201: "v201", OcppVersion.V21: "v21"}

# fastjsonschema rule -> CALLERROR code (OCPP-J 1.6 section 4.2.3 / OCPP-J 2.0.1 section 4.3):
# a wrong JSON type is a type constraint, a missing field an occurrence constraint, a value out of
# its allowed set or range a property constraint; anything else breaks the structure of the PDU.
_RULE_CODES: dict[str, ErrorCode] = {
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    **dict.fromkeys(
        (
            "maxLength",
            "minLength",
            "enum",
            "minimum",
            "maximum",
            "pattern",
            "format",
            "multipleOf",
            "maxItems",
            "minItems",
        ),
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
}

_compile_lock = threading.Lock()
_compiled: dict[tuple[OcppVersion, str], Validator] = {}


def _read_all() -> dict[tuple[OcppVersion, str], str]:
    # Decoded here too: the utf-8-sig codec is a module imported on first use, a file to open.
    # Some official schema files start with a UTF-8 byte order mark.
    texts = {}
    for version, directory in _PACKAGE_DIR.items():
        for resource in resources.files("ocpp").joinpath(directory, "schemas").iterdir():
            if resource.name.endswith(".json"):
                texts[version, resource.name] = resource.read_text(encoding="utf-8-sig")
    return texts


_TEXTS = _read_all()
"""Every schema file as read at import, by version and file name."""


def _compile(version: OcppVersion, filename: str) -> Validator:
    schema = orjson.loads(_TEXTS[version, filename])
    # The 2.x files carry "$id": "urn:OCPP:..."; fastjsonschema would resolve "#/definitions/..."
    # references against that URN and fail. Without it references resolve within the document.
    schema.pop("$id", None)
    # use_default=False: a validator must not add fields the peer did not send.
    validator: Validator = fastjsonschema.compile(schema, use_default=False)
    return validator


def validator_for(version: OcppVersion, filename: str) -> Validator:
    """The compiled validator of one schema file, compiled once per process."""
    key = (version, filename)
    validator = _compiled.get(key)
    if validator is None:
        with _compile_lock:
            validator = _compiled.get(key)
            if validator is None:
                validator = _compile(version, filename)
                _compiled[key] = validator
    return validator


def prepare() -> int:
    """Make compiling open no file: compile one schema now, which imports the modules the compiler
    loads on first use (codecs among them). Call it at start, before serving; the files themselves
    were read at import. Returns how many schema files there are. (Compiling all of them at start
    would take seconds of every restart, and a reconnect storm waits for those.)"""
    validator_for(OcppVersion.V16, "BootNotification.json")
    return len(_TEXTS)


def _check(validator: Validator, payload: Any) -> None:
    try:
        validator(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        code = _RULE_CODES.get(exc.rule or "", ErrorCode.FORMAT_VIOLATION)
        raise SchemaViolation(exc.message, code) from None


class SchemaSet:
    """The schemas and action directions of one OCPP version. Get it with ``schemas_for``."""

    def __init__(self, version: OcppVersion) -> None:
        self.version = version
        charger, csms, unconfirmed = {
            OcppVersion.V16: (_V16_CHARGER, _V16_CSMS, frozenset[str]()),
            OcppVersion.V201: (_V201_CHARGER, _V201_CSMS, frozenset[str]()),
            OcppVersion.V21: (_V21_CHARGER, _V21_CSMS, _V21_UNCONFIRMED),
        }[version]
        self.charger_initiated: frozenset[str] = charger
        """Actions a charger may CALL."""
        self.csms_initiated: frozenset[str] = csms
        """Actions a CSMS may CALL."""
        self.unconfirmed: frozenset[str] = unconfirmed
        """Actions a charger may SEND (OCPP 2.1 only)."""
        self._actions = charger | csms
        request_suffix = "Request.json" if version.is_2x else ".json"
        self._request_file = {action: action + request_suffix for action in self._actions}
        self._request_file.update({action: action + ".json" for action in unconfirmed})
        # Per-action shortcuts to the module cache, so the hot path is one dict lookup.
        self._requests: dict[str, Validator] = {}
        self._responses: dict[str, Validator] = {}

    def has_action(self, action: str) -> bool:
        """Whether ``action`` is a CALL action of this version (either direction)."""
        return action in self._actions

    def initiated_by(self, role: Role) -> frozenset[str]:
        """The actions ``role`` may CALL."""
        return self.csms_initiated if role is Role.CSMS else self.charger_initiated

    def validate_request(self, action: str, payload: Any) -> None:
        """Raise ``SchemaViolation`` unless ``payload`` is a valid request (or SEND payload) of
        ``action``; ``UnknownAction`` if this version has no such action."""
        validator = self._requests.get(action)
        if validator is None:
            validator = self._requests[action] = self._load(action, self._request_file)
        _check(validator, payload)

    def validate_response(self, action: str, payload: Any) -> None:
        """Raise ``SchemaViolation`` unless ``payload`` is a valid response to ``action``;
        ``UnknownAction`` if this version has no such CALL action."""
        validator = self._responses.get(action)
        if validator is None:
            files = {action: action + "Response.json"} if action in self._actions else {}
            validator = self._responses[action] = self._load(action, files)
        _check(validator, payload)

    def _load(self, action: str, files: dict[str, str]) -> Validator:
        filename = files.get(action)
        if filename is None:
            code = (
                ErrorCode.NOT_SUPPORTED
                if known_in_any_version(action)
                else ErrorCode.NOT_IMPLEMENTED
            )
            raise UnknownAction(f"{action} is not an action of {self.version.value}", code)
        return validator_for(self.version, filename)


_SETS = {version: SchemaSet(version) for version in OcppVersion}
_ALL_ACTIONS = frozenset().union(
    *(s.charger_initiated | s.csms_initiated | s.unconfirmed for s in _SETS.values())
)


def schemas_for(version: OcppVersion) -> SchemaSet:
    """The schema set of ``version`` (one per process)."""
    return _SETS[version]


def known_in_any_version(action: str) -> bool:
    """Whether ``action`` names a message of any supported OCPP version."""
    return action in _ALL_ACTIONS
