"""Our calls and the peer's answers; two codecs joined back to back."""

from __future__ import annotations

import orjson
import pytest

from tests.transport.helpers import (
    BOOT,
    HEARTBEAT_RESPONSE,
    RESET,
    RESET_ACCEPTED,
    Link,
    call_out,
    charger,
    csms,
    exchange,
    frame,
)
from transport.codec import OcppCodec
from transport.errors import (
    CallInFlight,
    ErrorCode,
    LocalProtocolError,
    SchemaViolation,
    UnknownAction,
)
from transport.messages import (
    Call,
    CallError,
    CallResult,
    MessageType,
    ProtocolViolation,
    Unmatched,
)
from transport.versions import OcppVersion

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21


@pytest.mark.parametrize("version", list(OcppVersion))
def test_round_trip_csms_call(version: OcppVersion) -> None:
    link = Link(csms(version), charger(version))
    action, payload = RESET[version]
    unique_id = link.left.send_call(action, payload)
    assert unique_id == "s1"
    assert link.left.pending_call == "s1"
    _, charger_events = link.pump()
    assert charger_events == [Call("s1", action, payload)]
    link.right.send_result("s1", RESET_ACCEPTED)
    csms_events, _ = link.pump()
    assert csms_events == [CallResult("s1", action, RESET_ACCEPTED, None)]
    assert link.left.pending_call is None


@pytest.mark.parametrize("version", list(OcppVersion))
def test_round_trip_charger_call(version: OcppVersion) -> None:
    link = Link(charger(version), csms(version))
    link.left.send_call("BootNotification", BOOT[version])
    _, csms_events = link.pump()
    assert csms_events == [Call("c1", "BootNotification", BOOT[version])]
    link.right.send_error("c1", ErrorCode.FORMAT_VIOLATION, "nope", {"field": "x"})
    charger_events, _ = link.pump()
    code = "FormatViolation" if version.is_2x else "FormationViolation"
    assert charger_events == [CallError("c1", "BootNotification", code, "nope", {"field": "x"})]


def test_call_frame_is_compact() -> None:
    codec = csms(V16)
    codec.send_call("Reset", {"type": "Hard"})
    assert codec.to_send() == ['[2,"s1","Reset",{"type":"Hard"}]']


def test_default_ids_are_unique() -> None:
    first, second = OcppCodec(V16), OcppCodec(V16)
    a = first.send_call("ClearCache", {})
    b = second.send_call("ClearCache", {})
    assert a != b
    assert len(a) <= 36  # OCPP-J 1.6: message ids have at most 36 characters


@pytest.mark.parametrize(
    ("version", "action", "code"),
    [
        (V16, "BootNotification", ErrorCode.NOT_SUPPORTED),
        (V16, "RequestStartTransaction", ErrorCode.NOT_SUPPORTED),
        (V16, "Teleport", ErrorCode.NOT_IMPLEMENTED),
        (V201, "TransactionEvent", ErrorCode.NOT_SUPPORTED),
        (V201, "RemoteStartTransaction", ErrorCode.NOT_SUPPORTED),
        (V21, "NotifyPeriodicEventStream", ErrorCode.NOT_SUPPORTED),
    ],
)
def test_send_call_refuses_actions_not_ours(
    version: OcppVersion, action: str, code: ErrorCode
) -> None:
    codec = csms(version)
    with pytest.raises(UnknownAction) as caught:
        codec.send_call(action, {})
    assert caught.value.code is code
    assert codec.to_send() == []
    assert codec.pending_call is None


def test_send_call_validates_the_payload() -> None:
    codec = csms(V16)
    with pytest.raises(SchemaViolation) as caught:
        codec.send_call("Reset", {"type": "Gentle"})
    assert caught.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert caught.value.message.startswith("data.type ")
    assert codec.to_send() == []
    assert codec.pending_call is None
    # Without validation the payload goes as it is.
    loose = csms(V16, validate=False)
    loose.send_call("Reset", {"type": "Gentle"})
    assert loose.to_send() == ['[2,"s1","Reset",{"type":"Gentle"}]']


def test_one_call_in_flight() -> None:
    codec = csms(V16)
    codec.send_call("ClearCache", {})
    with pytest.raises(CallInFlight) as caught:
        codec.send_call("ClearCache", {})
    assert caught.value.pending == "s1"
    assert codec.to_send() == ['[2,"s1","ClearCache",{}]']
    events, _ = exchange(codec, frame(3, "s1", RESET_ACCEPTED))
    assert isinstance(events[0], CallResult)
    assert codec.send_call("ClearCache", {}) == "s2"


def test_cancel_call_makes_late_answer_unmatched() -> None:
    codec = csms(V16)
    call_out(codec, "ClearCache", {})
    codec.cancel_call("other")
    assert codec.pending_call == "s1"
    codec.cancel_call("s1")
    assert codec.pending_call is None
    assert call_out(codec, "ClearCache", {}) == "s2"
    events, replies = exchange(codec, frame(3, "s1", RESET_ACCEPTED))
    assert events == [Unmatched("s1", MessageType.CALLRESULT)]
    assert replies == []
    assert codec.pending_call == "s2"


@pytest.mark.parametrize("version", list(OcppVersion))
def test_answers_to_nothing_are_unmatched_and_unanswered(version: OcppVersion) -> None:
    codec = csms(version)
    for text, message_type in [
        (frame(3, "zz", {}), MessageType.CALLRESULT),
        (frame(4, "zz", "GenericError", "", {}), MessageType.CALLERROR),
    ]:
        events, replies = exchange(codec, text)
        assert events == [Unmatched("zz", message_type)]
        assert replies == []
    codec.send_call(*RESET[version])
    codec.to_send()
    events, replies = exchange(codec, frame(3, "not-s1", {}))
    assert events == [Unmatched("not-s1", MessageType.CALLRESULT)]
    assert codec.pending_call == "s1"


def test_response_breaking_schema_is_flagged_not_refused() -> None:
    codec = csms(V16)
    call_out(codec, "Reset", {"type": "Soft"})
    events, replies = exchange(codec, frame(3, "s1", {"status": "Maybe"}))
    assert replies == []
    assert len(events) == 1
    result = events[0]
    assert isinstance(result, CallResult)
    assert result.payload == {"status": "Maybe"}
    assert result.violation is not None
    assert result.violation.startswith("data.status ")
    assert codec.pending_call is None


def test_response_is_not_validated_without_validation() -> None:
    codec = csms(V16, validate=False)
    call_out(codec, "Reset", {"type": "Soft"})
    events, _ = exchange(codec, frame(3, "s1", {"status": "Maybe"}))
    assert events == [CallResult("s1", "Reset", {"status": "Maybe"}, None)]


@pytest.mark.parametrize(
    "text",
    [frame(3, "s1"), frame(3, "s1", []), frame(3, "s1", RESET_ACCEPTED, 1), frame(3, "s1", None)],
)
def test_malformed_result_still_ends_the_call(text: str) -> None:
    codec = csms(V16)
    call_out(codec, "Reset", {"type": "Soft"})
    events, replies = exchange(codec, text)
    assert replies == []
    assert len(events) == 1
    result = events[0]
    assert isinstance(result, CallResult)
    assert result.violation == "CALLRESULT must be [3, messageId, payload object]"
    assert codec.pending_call is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            frame(4, "s1", "NotSupported", "no resets here", {"why": 1}),
            ("NotSupported", "no resets here", {"why": 1}),
        ),
        # Some chargers leave out errorDetails, or send null.
        (frame(4, "s1", "InternalError", "oops"), ("InternalError", "oops", {})),
        (frame(4, "s1", "InternalError", None, None), ("InternalError", "", {})),
        (frame(4, "s1"), ("GenericError", "", {})),
    ],
)
def test_call_error_ends_the_call(text: str, expected: tuple[str, str, dict[str, int]]) -> None:
    codec = csms(V16)
    call_out(codec, "Reset", {"type": "Soft"})
    events, replies = exchange(codec, text)
    assert events == [CallError("s1", "Reset", *expected)]
    assert replies == []
    assert codec.pending_call is None


@pytest.mark.parametrize("message_type", [3, 4])
@pytest.mark.parametrize("version", list(OcppVersion))
def test_answer_without_readable_id_is_noted_not_answered(
    version: OcppVersion, message_type: int
) -> None:
    codec = csms(version)
    codec.send_call(*RESET[version])
    codec.to_send()
    for text in (frame(message_type), frame(message_type, 5, {})):
        events, replies = exchange(codec, text)
        assert replies == []
        assert len(events) == 1
        assert isinstance(events[0], ProtocolViolation)
        assert events[0].unique_id == "-1"
    assert codec.pending_call == "s1"


def test_send_result_validates_and_keeps_the_call_open() -> None:
    codec = csms(V16)
    exchange(codec, frame(2, "h1", "Heartbeat", {}))
    with pytest.raises(SchemaViolation):
        codec.send_result("h1", {"currentTime": 12})
    assert codec.to_send() == []
    codec.send_error("h1", ErrorCode.INTERNAL_ERROR, "internal error")
    assert codec.to_send() == ['[4,"h1","InternalError","internal error",{}]']


def test_answering_twice_or_nothing_is_our_bug() -> None:
    codec = csms(V16)
    with pytest.raises(LocalProtocolError):
        codec.send_result("nobody", HEARTBEAT_RESPONSE)
    with pytest.raises(LocalProtocolError):
        codec.send_error("nobody", ErrorCode.GENERIC_ERROR)
    exchange(codec, frame(2, "h1", "Heartbeat", {}))
    codec.send_result("h1", HEARTBEAT_RESPONSE)
    with pytest.raises(LocalProtocolError):
        codec.send_result("h1", HEARTBEAT_RESPONSE)
    assert codec.to_send() == [orjson.dumps([3, "h1", HEARTBEAT_RESPONSE]).decode()]


def test_unserialisable_payload_is_our_bug() -> None:
    codec = csms(V16, validate=False)
    exchange(codec, frame(2, "h1", "Heartbeat", {}))
    with pytest.raises(LocalProtocolError):
        codec.send_result("h1", {"currentTime": object()})


def test_error_codes_are_spelled_per_version() -> None:
    for version, expected in [
        (V16, "OccurenceConstraintViolation"),
        (V201, "OccurrenceConstraintViolation"),
    ]:
        codec = csms(version)
        exchange(codec, frame(2, "h1", "Heartbeat", {}))
        codec.send_error("h1", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "x" * 300)
        sent = orjson.loads(codec.to_send()[0])
        assert sent[2] == expected
        assert sent[3] == "x" * 255


def test_calls_and_answers_interleave() -> None:
    """A charger may send its own CALL before it answers ours (OCPP-J 1.6 section 4.1.1 limits
    each side to one call in flight, not the connection)."""
    link = Link(csms(V16), charger(V16))
    link.left.send_call("Reset", {"type": "Soft"})
    link.right.send_call(
        "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
    )
    csms_events, charger_events = link.pump()
    assert [type(e) for e in csms_events] == [Call]
    assert [type(e) for e in charger_events] == [Call]
    link.left.send_result("c1", {})
    link.right.send_result("s1", RESET_ACCEPTED)
    csms_events, charger_events = link.pump()
    assert csms_events == [CallResult("s1", "Reset", RESET_ACCEPTED, None)]
    assert charger_events == [CallResult("c1", "StatusNotification", {}, None)]
