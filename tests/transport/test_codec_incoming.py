"""Incoming CALLs and broken frames, as a CSMS sees them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.transport.helpers import BOOT, METER_VALUES_V16, call, csms, exchange, frame
from transport.codec import OcppCodec
from transport.messages import Call, ProtocolViolation
from transport.versions import OcppVersion

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21

# (frame text, reply id, 1.6 code, 2.x code)
BROKEN_FRAMES = [
    ("not json", "-1", "FormationViolation", "RpcFrameworkError"),
    ("", "-1", "FormationViolation", "RpcFrameworkError"),
    ('{"a": 1}', "-1", "FormationViolation", "RpcFrameworkError"),
    ('"text"', "-1", "FormationViolation", "RpcFrameworkError"),
    ("[]", "-1", "FormationViolation", "RpcFrameworkError"),
    ("[2]", "-1", "FormationViolation", "RpcFrameworkError"),
    ('[2, 17, "Heartbeat", {}]', "-1", "FormationViolation", "RpcFrameworkError"),
    ('[2, null, "Heartbeat", {}]', "-1", "FormationViolation", "RpcFrameworkError"),
    ('[2, "a1"]', "a1", "FormationViolation", "RpcFrameworkError"),
    ('[2, "a1", "Heartbeat"]', "a1", "FormationViolation", "RpcFrameworkError"),
    ('[9, "a1", "Heartbeat", {}]', "a1", "FormationViolation", "MessageTypeNotSupported"),
    ('[0, "a1"]', "a1", "FormationViolation", "MessageTypeNotSupported"),
    ('["2", "a1", "Heartbeat", {}]', "a1", "FormationViolation", "MessageTypeNotSupported"),
    ('[2.0, "a1", "Heartbeat", {}]', "a1", "FormationViolation", "MessageTypeNotSupported"),
    ('[true, "a1", "Heartbeat", {}]', "a1", "FormationViolation", "MessageTypeNotSupported"),
    ("[9, 5]", "-1", "FormationViolation", "MessageTypeNotSupported"),
    ('[2, "a1", "Heartbeat", {}, {}]', "a1", "FormationViolation", "FormatViolation"),
    ('[2, "a1", 7, {}]', "a1", "FormationViolation", "FormatViolation"),
    ('[2, "a1", "Heartbeat", []]', "a1", "FormationViolation", "FormatViolation"),
    ('[2, "a1", "Heartbeat", "{}"]', "a1", "FormationViolation", "FormatViolation"),
    ('[2, "a1", "Heartbeat", null]', "a1", "FormationViolation", "FormatViolation"),
]


@pytest.mark.parametrize("version", list(OcppVersion))
@pytest.mark.parametrize(("text", "reply_id", "code_v16", "code_v2"), BROKEN_FRAMES)
def test_broken_frame_gets_callerror(
    version: OcppVersion, text: str, reply_id: str, code_v16: str, code_v2: str
) -> None:
    events, replies = exchange(csms(version), text)
    code = code_v2 if version.is_2x else code_v16
    assert len(replies) == 1
    assert replies[0][:3] == [4, reply_id, code]
    assert isinstance(replies[0][3], str)
    assert replies[0][3]
    assert replies[0][4] == {}
    assert events == [ProtocolViolation(reply_id, code, replies[0][3])]


@pytest.mark.parametrize("message_type", [5, 6])
@pytest.mark.parametrize("version", [V16, V201])
def test_2_1_message_types_are_unknown_before_2_1(version: OcppVersion, message_type: int) -> None:
    text = frame(message_type, "a1", "NotifyPeriodicEventStream", {})
    _, replies = exchange(csms(version), text)
    code = "MessageTypeNotSupported" if version.is_2x else "FormationViolation"
    assert replies == [[4, "a1", code, replies[0][3], {}]]


def test_reply_is_compact_json() -> None:
    codec = csms(V16)
    codec.receive_text('[2, "a1", "Teleport", {}]')
    assert codec.to_send() == ['[4,"a1","NotImplemented","unknown action \'Teleport\'",{}]']


@pytest.mark.parametrize("version", list(OcppVersion))
def test_valid_call_is_an_event(version: OcppVersion) -> None:
    events, replies = exchange(csms(version), call("b1", "BootNotification", BOOT[version]))
    assert replies == []
    assert events == [Call("b1", "BootNotification", BOOT[version])]


def test_meter_values_call() -> None:
    events, _ = exchange(csms(V16), call("7", "MeterValues", METER_VALUES_V16))
    assert events == [Call("7", "MeterValues", METER_VALUES_V16, None)]


def test_a_run_of_calls_read_before_any_is_answered() -> None:
    """Frames taken in one go off a busy socket: an event each, in order, and nothing to send yet."""
    codec = csms(V16)
    for n in range(200):
        codec.receive_text(call(f"m{n}", "MeterValues", METER_VALUES_V16))
    assert codec.events() == [
        Call(f"m{n}", "MeterValues", METER_VALUES_V16, None) for n in range(200)
    ]
    assert codec.to_send() == []


@pytest.mark.parametrize(
    ("version", "action", "code"),
    [
        (V16, "Teleport", "NotImplemented"),
        (V201, "Teleport", "NotImplemented"),
        (V16, "heartbeat", "NotImplemented"),
        # Known in another version.
        (V16, "TransactionEvent", "NotSupported"),
        (V201, "StartTransaction", "NotSupported"),
        (V201, "BatterySwap", "NotSupported"),
        # Known here, but only the CSMS sends it.
        (V16, "Reset", "NotSupported"),
        (V16, "RemoteStartTransaction", "NotSupported"),
        (V201, "RequestStartTransaction", "NotSupported"),
        (V21, "SetDERControl", "NotSupported"),
        # A SEND-only action is no CALL.
        (V21, "NotifyPeriodicEventStream", "NotSupported"),
    ],
)
def test_action_refused(version: OcppVersion, action: str, code: str) -> None:
    events, replies = exchange(csms(version), call("x1", action, {}))
    assert replies == [[4, "x1", code, replies[0][3], {}]]
    assert action in replies[0][3]
    assert isinstance(events[0], ProtocolViolation)
    assert events[0].error_code == code


STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


@pytest.mark.parametrize(
    ("payload", "code_v16"),
    [
        ({**STATUS, "connectorId": "1"}, "TypeConstraintViolation"),
        ({"connectorId": 1}, "OccurenceConstraintViolation"),
        ({**STATUS, "status": "Sleeping"}, "PropertyConstraintViolation"),
        ({**STATUS, "info": "x" * 51}, "PropertyConstraintViolation"),
        ({**STATUS, "colour": "red"}, "FormationViolation"),
    ],
)
def test_schema_violation_v16(payload: dict[str, Any], code_v16: str) -> None:
    events, replies = exchange(csms(V16), call("s1", "StatusNotification", payload))
    assert replies[0][:3] == [4, "s1", code_v16]
    assert replies[0][3].startswith("data")
    assert events == [ProtocolViolation("s1", code_v16, replies[0][3])]


@pytest.mark.parametrize("version", [V201, V21])
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            {"chargingStation": {"vendorName": "Acme"}, "reason": "PowerUp"},
            "OccurrenceConstraintViolation",
        ),
        (
            {"chargingStation": {"vendorName": "Acme", "model": 5}, "reason": "PowerUp"},
            "TypeConstraintViolation",
        ),
        ({**BOOT[V201], "reason": "Bored"}, "PropertyConstraintViolation"),
        ({**BOOT[V201], "extra": 1}, "FormatViolation"),
    ],
)
def test_schema_violation_v2(version: OcppVersion, payload: dict[str, Any], code: str) -> None:
    _, replies = exchange(csms(version), call("b1", "BootNotification", payload))
    assert replies[0][:3] == [4, "b1", code]


def test_violation_description_names_the_field() -> None:
    _, replies = exchange(
        csms(V16), call("s1", "StatusNotification", {**STATUS, "connectorId": "1"})
    )
    assert replies[0][3] == "data.connectorId must be integer"


def test_lenient_mode_lets_violations_through_flagged() -> None:
    codec = csms(V16, lenient=True)
    assert codec.lenient
    payload = {**STATUS, "connectorId": "1"}
    events, replies = exchange(codec, call("s1", "StatusNotification", payload))
    assert replies == []
    assert events == [Call("s1", "StatusNotification", payload, "data.connectorId must be integer")]
    codec.set_lenient(False)
    assert not codec.lenient
    _, replies = exchange(codec, call("s2", "StatusNotification", payload))
    assert replies[0][:3] == [4, "s2", "TypeConstraintViolation"]


def test_lenient_mode_still_refuses_structural_errors() -> None:
    codec = csms(V16, lenient=True)
    for text, code in [
        (call("a1", "Teleport", {}), "NotImplemented"),
        (call("a2", "Reset", {}), "NotSupported"),
        (call("a3", "Heartbeat", []), "FormationViolation"),
        ("[2]", "FormationViolation"),
    ]:
        _, replies = exchange(codec, text)
        assert replies[0][2] == code


def test_without_validation_payloads_are_not_checked() -> None:
    codec = csms(V16, validate=False)
    payload = {"connectorId": "one"}
    events, replies = exchange(codec, call("s1", "StatusNotification", payload))
    assert replies == []
    assert events == [Call("s1", "StatusNotification", payload)]
    # The envelope and the action are still checked.
    _, replies = exchange(codec, call("s2", "Reset", {}))
    assert replies[0][2] == "NotSupported"
    codec.send_result("s1", {"anything": True})
    assert codec.to_send() == ['[3,"s1",{"anything":true}]']


def test_unicode_and_odd_ids_are_echoed() -> None:
    unique_id = "ïd-\u2603-" + "9" * 40
    _, replies = exchange(csms(V16), call(unique_id, "Teleport", {}))
    assert replies[0][1] == unique_id


def test_lone_surrogate_is_not_json() -> None:
    _, replies = exchange(csms(V201), '[2, "a", "Heartbeat", {"x": "\ud800"}]')
    assert replies == [[4, "-1", "RpcFrameworkError", "frame is not valid JSON", {}]]


class _BrokenCodec(OcppCodec):
    """A codec with a bug in its CALL path, to show what the last-resort guard does."""

    def _receive_call(self, frame: list[Any], unique_id: str | None, text: str) -> None:
        raise RuntimeError("bug")


def test_a_bug_of_ours_still_answers_the_call(caplog: pytest.LogCaptureFixture) -> None:
    codec = _BrokenCodec(V201)
    events, replies = exchange(codec, call("a1", "Heartbeat", {}))
    assert replies == [[4, "a1", "InternalError", "internal error", {}]]
    assert events == []
    assert "codec failed" in caplog.text
