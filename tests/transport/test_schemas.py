from __future__ import annotations

import threading
from importlib import resources
from typing import Any

import pytest

from tests.transport.helpers import BOOT, BOOT_V16, HEARTBEAT_RESPONSE, METER_VALUES_V16, TIMESTAMP
from transport import schemas
from transport.errors import ErrorCode, SchemaViolation, UnknownAction
from transport.schemas import known_in_any_version, schemas_for, validator_for
from transport.versions import OcppVersion, Role

PACKAGE_DIR = {OcppVersion.V16: "v16", OcppVersion.V201: "v201", OcppVersion.V21: "v21"}


def schema_files(version: OcppVersion) -> set[str]:
    folder = resources.files("ocpp").joinpath(PACKAGE_DIR[version], "schemas")
    return {entry.name for entry in folder.iterdir() if entry.name.endswith(".json")}


def actions_with_schemas(version: OcppVersion) -> set[str]:
    files = schema_files(version)
    if version.is_2x:
        return {
            name.removesuffix("Request.json") for name in files if name.endswith("Request.json")
        }
    return {name.removesuffix(".json") for name in files if not name.endswith("Response.json")}


@pytest.mark.parametrize("version", list(OcppVersion))
def test_directions_cover_every_schema(version: OcppVersion) -> None:
    s = schemas_for(version)
    assert s.charger_initiated | s.csms_initiated == actions_with_schemas(version)
    # DataTransfer is the only action both sides send.
    assert s.charger_initiated & s.csms_initiated == {"DataTransfer"}
    assert s.initiated_by(Role.CSMS) is s.csms_initiated
    assert s.initiated_by(Role.CHARGER) is s.charger_initiated


def test_v16_directions_follow_the_spec() -> None:
    s = schemas_for(OcppVersion.V16)
    for action in ("BootNotification", "MeterValues", "StopTransaction", "SignCertificate"):
        assert action in s.charger_initiated
    for action in ("Reset", "RemoteStartTransaction", "GetConfiguration", "ExtendedTriggerMessage"):
        assert action in s.csms_initiated
        assert action not in s.charger_initiated


def test_v21_adds_actions_and_unconfirmed_messages() -> None:
    v201, v21 = schemas_for(OcppVersion.V201), schemas_for(OcppVersion.V21)
    assert v201.charger_initiated < v21.charger_initiated
    assert v201.csms_initiated < v21.csms_initiated
    assert "BatterySwap" in v21.charger_initiated
    assert "RequestBatterySwap" in v21.csms_initiated
    assert v21.unconfirmed == {"NotifyPeriodicEventStream"}
    assert not v201.unconfirmed
    assert "NotifyPeriodicEventStream.json" in schema_files(OcppVersion.V21)


def test_every_schema_compiles() -> None:
    for version in OcppVersion:
        for filename in schema_files(version):
            assert callable(validator_for(version, filename))


def test_valid_payloads_pass() -> None:
    v16 = schemas_for(OcppVersion.V16)
    v16.validate_request("BootNotification", BOOT_V16)
    v16.validate_request("MeterValues", METER_VALUES_V16)
    v16.validate_response("Heartbeat", HEARTBEAT_RESPONSE)
    for version in (OcppVersion.V201, OcppVersion.V21):
        s = schemas_for(version)
        s.validate_request("BootNotification", BOOT[version])
        s.validate_response(
            "BootNotification", {"currentTime": TIMESTAMP, "interval": 300, "status": "Accepted"}
        )
    schemas_for(OcppVersion.V21).validate_request(
        "NotifyPeriodicEventStream",
        {"id": 1, "pending": 0, "basetime": TIMESTAMP, "data": [{"t": 0.5, "v": "1"}]},
    )


def test_validation_does_not_add_defaults() -> None:
    # MeterValuesRequest 2.0.1 declares defaults (context, measurand, ...); they must not appear.
    payload: dict[str, Any] = {
        "evseId": 1,
        "meterValue": [{"timestamp": TIMESTAMP, "sampledValue": [{"value": 1.5}]}],
    }
    schemas_for(OcppVersion.V201).validate_request("MeterValues", payload)
    assert payload["meterValue"][0]["sampledValue"] == [{"value": 1.5}]


STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


@pytest.mark.parametrize(
    ("action", "payload", "code", "field"),
    [
        ("StatusNotification", {**STATUS, "connectorId": "1"}, "type", "data.connectorId"),
        ("StatusNotification", {"connectorId": 1}, "required", "data"),
        ("StatusNotification", {**STATUS, "status": "Sleeping"}, "enum", "data.status"),
        ("StatusNotification", {**STATUS, "info": "x" * 51}, "maxLength", "data.info"),
        ("StatusNotification", {**STATUS, "timestamp": "today"}, "format", "data.timestamp"),
        ("StatusNotification", {**STATUS, "colour": "red"}, "additionalProperties", "data"),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, "minItems", "data.meterValue"),
        (
            "SetChargingProfile",
            {
                "connectorId": 1,
                "csChargingProfiles": {
                    "chargingProfileId": 1,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": {
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1.05}],
                    },
                },
            },
            "multipleOf",
            "data.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit",
        ),
    ],
)
def test_rule_maps_to_code(action: str, payload: Any, code: str, field: str) -> None:
    expected = {
        "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
        "required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
        "additionalProperties": ErrorCode.FORMAT_VIOLATION,
    }.get(code, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
    with pytest.raises(SchemaViolation) as caught:
        schemas_for(OcppVersion.V16).validate_request(action, payload)
    assert caught.value.code is expected
    assert caught.value.message.startswith(field + " ")


def test_message_names_the_field() -> None:
    with pytest.raises(SchemaViolation, match=r"^data\.connectorId must be integer$"):
        schemas_for(OcppVersion.V16).validate_request(
            "StatusNotification", {**STATUS, "connectorId": "1"}
        )


def test_v2_violations_name_the_field() -> None:
    v201 = schemas_for(OcppVersion.V201)
    with pytest.raises(SchemaViolation) as caught:
        v201.validate_request("BootNotification", {**BOOT[OcppVersion.V201], "reason": "Bored"})
    assert caught.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert caught.value.message.startswith("data.reason ")
    with pytest.raises(SchemaViolation) as caught:
        v201.validate_request("BootNotification", {"reason": "PowerUp"})
    assert caught.value.code is ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION


def test_non_object_payload_is_a_type_violation() -> None:
    with pytest.raises(SchemaViolation) as caught:
        schemas_for(OcppVersion.V16).validate_response("Heartbeat", [])
    assert caught.value.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION


def test_unknown_actions() -> None:
    v16 = schemas_for(OcppVersion.V16)
    assert v16.has_action("Reset")
    assert not v16.has_action("TransactionEvent")
    with pytest.raises(UnknownAction) as caught:
        v16.validate_request("TransactionEvent", {})
    assert caught.value.code is ErrorCode.NOT_SUPPORTED
    with pytest.raises(UnknownAction) as caught:
        v16.validate_response("Teleport", {})
    assert caught.value.code is ErrorCode.NOT_IMPLEMENTED
    with pytest.raises(UnknownAction):
        # SEND messages have no response.
        schemas_for(OcppVersion.V21).validate_response("NotifyPeriodicEventStream", {})


def test_known_in_any_version() -> None:
    assert known_in_any_version("StartTransaction")
    assert known_in_any_version("TransactionEvent")
    assert known_in_any_version("BatterySwap")
    assert known_in_any_version("NotifyPeriodicEventStream")
    assert not known_in_any_version("Teleport")
    assert not known_in_any_version("BootNotificationRequest")


def test_schema_sets_are_shared() -> None:
    assert schemas_for(OcppVersion.V201) is schemas_for(OcppVersion.V201)


def test_validator_compiles_once(monkeypatch: pytest.MonkeyPatch) -> None:
    key = (OcppVersion.V201, "CostUpdatedResponse.json")
    monkeypatch.delitem(schemas._compiled, key, raising=False)
    compiled: list[tuple[OcppVersion, str]] = []
    real_compile = schemas._compile

    def counting_compile(version: OcppVersion, filename: str) -> schemas.Validator:
        compiled.append((version, filename))
        return real_compile(version, filename)

    monkeypatch.setattr(schemas, "_compile", counting_compile)
    start = threading.Barrier(4)
    found: list[schemas.Validator] = []

    def first_use() -> None:
        start.wait()
        found.append(validator_for(*key))

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compiled == [key]
    assert len(found) == 4
    assert all(validator is found[0] for validator in found)
    assert validator_for(*key) is found[0]
    assert compiled == [key]
