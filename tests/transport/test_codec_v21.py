"""OCPP 2.1 message types 5 (CALLRESULTERROR) and 6 (SEND)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.transport.helpers import TIMESTAMP, Link, charger, csms, exchange, frame
from transport.errors import UnknownAction
from transport.messages import CallResultError, MessageType, ProtocolViolation, Send, Unmatched
from transport.versions import OcppVersion

V21 = OcppVersion.V21
STREAM: dict[str, Any] = {
    "id": 1,
    "pending": 0,
    "basetime": TIMESTAMP,
    "data": [{"t": 0.5, "v": "1"}],
}


def test_call_result_error_names_the_answered_call() -> None:
    codec = csms(V21)
    exchange(codec, frame(2, "h1", "Heartbeat", {}))
    codec.send_result("h1", {"currentTime": TIMESTAMP})
    codec.to_send()
    events, replies = exchange(codec, frame(5, "h1", "FormatViolation", "bad time", {"at": 1}))
    assert events == [CallResultError("h1", "Heartbeat", "FormatViolation", "bad time", {"at": 1})]
    assert replies == []


def test_call_result_error_for_nothing_is_unmatched() -> None:
    events, replies = exchange(csms(V21), frame(5, "zz", "GenericError", "", {}))
    assert events == [Unmatched("zz", MessageType.CALLRESULTERROR)]
    assert replies == []


def test_send_from_charger_is_an_event_never_answered() -> None:
    link = Link(charger(V21), csms(V21))
    unique_id = link.left.send_unconfirmed("NotifyPeriodicEventStream", STREAM)
    charger_events, csms_events = link.pump()
    assert csms_events == [Send(unique_id, "NotifyPeriodicEventStream", STREAM)]
    assert charger_events == []
    assert link.right.to_send() == []


@pytest.mark.parametrize(
    "text",
    [
        frame(6, "n1", "NotifyPeriodicEventStream", {"id": "one"}),
        frame(6, "n1", "Heartbeat", {}),
        frame(6, "n1", "Teleport", {}),
        frame(6, "n1", "NotifyPeriodicEventStream"),
        frame(6, "n1", 5, {}),
        frame(6, "n1", "NotifyPeriodicEventStream", STREAM, 1),
        frame(6),
        frame(6, None, "NotifyPeriodicEventStream", STREAM),
    ],
)
def test_bad_send_is_noted_never_answered(text: str) -> None:
    events, replies = exchange(csms(V21), text)
    assert replies == []
    assert len(events) == 1
    assert isinstance(events[0], ProtocolViolation)


def test_lenient_send_is_flagged() -> None:
    codec = csms(V21, lenient=True)
    events, _ = exchange(codec, frame(6, "n1", "NotifyPeriodicEventStream", {"id": "one"}))
    assert len(events) == 1
    assert isinstance(events[0], Send)
    assert events[0].violation is not None


def test_send_goes_to_the_csms_only() -> None:
    events, replies = exchange(charger(V21), frame(6, "n1", "NotifyPeriodicEventStream", STREAM))
    assert replies == []
    assert isinstance(events[0], ProtocolViolation)
    with pytest.raises(UnknownAction):
        csms(V21).send_unconfirmed("NotifyPeriodicEventStream", STREAM)
    with pytest.raises(UnknownAction):
        charger(OcppVersion.V201).send_unconfirmed("NotifyPeriodicEventStream", STREAM)
