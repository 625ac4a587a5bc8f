"""The codec as the charger's end: it accepts what a CSMS sends and sends what a charger sends."""

from __future__ import annotations

import pytest

from tests.transport.helpers import (
    BOOT,
    RESET,
    RESET_ACCEPTED,
    Link,
    call,
    charger,
    csms,
    exchange,
    frame,
)
from transport.errors import CallInFlight, LocalProtocolError, UnknownAction
from transport.messages import Call, CallError, CallResult, ProtocolViolation
from transport.versions import OcppVersion, Role

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
DATA_TRANSFER = {"vendorId": "acme", "data": "hello"}


def test_default_role_is_csms() -> None:
    assert csms(V16).role is Role.CSMS
    assert charger(V16).role is Role.CHARGER
    assert charger(V201).version is V201


@pytest.mark.parametrize("version", list(OcppVersion))
def test_charger_accepts_csms_calls_and_refuses_charger_calls(version: OcppVersion) -> None:
    codec = charger(version)
    action, payload = RESET[version]
    events, replies = exchange(codec, call("r1", action, payload))
    assert events == [Call("r1", action, payload)]
    assert replies == []
    _, replies = exchange(codec, call("b1", "BootNotification", BOOT[version]))
    assert replies[0][:3] == [4, "b1", "NotSupported"]
    assert "csms" in replies[0][3]


@pytest.mark.parametrize("version", list(OcppVersion))
def test_charger_sends_charger_calls_only(version: OcppVersion) -> None:
    codec = charger(version)
    with pytest.raises(UnknownAction):
        codec.send_call(*RESET[version])
    assert codec.send_call("BootNotification", BOOT[version]) == "c1"


@pytest.mark.parametrize("version", list(OcppVersion))
def test_csms_refuses_to_send_charger_calls(version: OcppVersion) -> None:
    with pytest.raises(UnknownAction):
        csms(version).send_call("BootNotification", BOOT[version])


@pytest.mark.parametrize("version", list(OcppVersion))
def test_data_transfer_goes_both_ways(version: OcppVersion) -> None:
    for codec in (csms(version), charger(version)):
        events, replies = exchange(codec, call("d1", "DataTransfer", DATA_TRANSFER))
        assert events == [Call("d1", "DataTransfer", DATA_TRANSFER)]
        assert replies == []
        assert codec.send_call("DataTransfer", DATA_TRANSFER)
        codec.send_result("d1", {"status": "Accepted"})


def test_charger_validates_what_it_answers() -> None:
    codec = charger(V16)
    exchange(codec, call("r1", "Reset", {"type": "Soft"}))
    codec.send_result("r1", RESET_ACCEPTED)
    assert codec.to_send() == ['[3,"r1",{"status":"Accepted"}]']


BROKEN_STATUS = {"connectorId": 1, "errorCode": "Error", "status": "Available"}


def test_an_unchecked_call_goes_out_as_given_and_its_answer_is_matched() -> None:
    codec = charger(V16)
    with pytest.raises(LocalProtocolError):
        codec.send_call("StatusNotification", BROKEN_STATUS)
    unique_id = codec.send_call_unchecked("StatusNotification", BROKEN_STATUS)
    assert unique_id == "c1"
    assert codec.to_send() == [call("c1", "StatusNotification", BROKEN_STATUS)]
    assert codec.pending_call == "c1"
    events, replies = exchange(codec, frame(4, "c1", "PropertyConstraintViolation", "bad", {}))
    assert events == [
        CallError("c1", "StatusNotification", "PropertyConstraintViolation", "bad", {})
    ]
    assert replies == []
    assert codec.pending_call is None


def test_an_unchecked_call_reaches_the_csms_codec_which_refuses_it() -> None:
    link = Link(charger(V16), csms(V16))
    link.left.send_call_unchecked("StatusNotification", BROKEN_STATUS)
    charger_events, csms_events = link.pump()
    assert [type(e) for e in csms_events] == [ProtocolViolation]
    assert [(type(e), e.unique_id, e.action) for e in charger_events] == [
        (CallError, "c1", "StatusNotification")
    ]


def test_an_unchecked_call_may_reuse_an_id_and_name_any_action() -> None:
    codec = charger(V201)
    codec.send_call_unchecked("FlyToTheMoon", {}, unique_id="same")
    assert codec.to_send() == [call("same", "FlyToTheMoon", {})]
    events, _ = exchange(codec, frame(3, "same", {}))
    [result] = events
    assert isinstance(result, CallResult)
    assert (result.unique_id, result.action, result.payload) == ("same", "FlyToTheMoon", {})
    assert result.violation is not None and "FlyToTheMoon" in result.violation
    # The same frame again, as a charger that missed the answer resends it.
    codec.send_call_unchecked("FlyToTheMoon", {}, unique_id="same")
    assert codec.to_send() == [call("same", "FlyToTheMoon", {})]


def test_an_unchecked_call_keeps_one_call_in_flight() -> None:
    codec = charger(V16)
    codec.send_call("Heartbeat", {})
    with pytest.raises(CallInFlight):
        codec.send_call_unchecked("StatusNotification", BROKEN_STATUS)
    codec.cancel_call("c1")
    assert codec.send_call_unchecked("StatusNotification", BROKEN_STATUS) == "c2"
