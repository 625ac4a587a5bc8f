"""Resent CALLs: answered once, replayed from the cache, never handled twice."""

from __future__ import annotations

import pytest

from tests.transport.helpers import HEARTBEAT_RESPONSE, call, csms, exchange
from transport.errors import ErrorCode
from transport.messages import Call, Duplicate
from transport.versions import OcppVersion

V16 = OcppVersion.V16
HEARTBEAT = call("h1", "Heartbeat", {})
HEARTBEAT_REPLY = '[3,"h1",{"currentTime":"2024-05-01T10:00:00Z"}]'


def test_resent_answered_call_gets_the_same_reply() -> None:
    codec = csms(V16)
    events, _ = exchange(codec, HEARTBEAT)
    assert events == [Call("h1", "Heartbeat", {})]
    codec.send_result("h1", HEARTBEAT_RESPONSE)
    assert codec.to_send() == [HEARTBEAT_REPLY]
    for _ in range(3):
        codec.receive_text(HEARTBEAT)
        assert codec.events() == [Duplicate("h1")]
        assert codec.to_send() == [HEARTBEAT_REPLY]


def test_resent_error_answer_is_replayed_too() -> None:
    codec = csms(V16)
    exchange(codec, HEARTBEAT)
    codec.send_error("h1", ErrorCode.SECURITY_ERROR, "not accepted")
    first = codec.to_send()
    codec.receive_text(HEARTBEAT)
    assert codec.events() == [Duplicate("h1")]
    assert codec.to_send() == first


def test_call_still_being_handled_is_ignored() -> None:
    codec = csms(V16)
    exchange(codec, HEARTBEAT)
    events, replies = exchange(codec, HEARTBEAT)
    assert events == [Duplicate("h1")]
    assert replies == []
    # Same id, other text, while the first is still open: still the same call in progress.
    events, replies = exchange(codec, call("h1", "Heartbeat", {"x": None}))
    assert events == [Duplicate("h1")]
    assert replies == []
    codec.send_result("h1", HEARTBEAT_RESPONSE)
    assert codec.to_send() == [HEARTBEAT_REPLY]


def test_reused_id_with_other_text_is_a_new_call() -> None:
    """Chargers reset their id counter when they reboot."""
    codec = csms(V16)
    exchange(codec, HEARTBEAT)
    codec.send_result("h1", HEARTBEAT_RESPONSE)
    codec.to_send()
    boot = call("h1", "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"})
    events, replies = exchange(codec, boot)
    assert events == [
        Call("h1", "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"})
    ]
    assert replies == []
    # The byte-exact text matters: the same call with other whitespace is new as well.
    codec.send_result(
        "h1", {"currentTime": "2024-05-01T10:00:00Z", "interval": 60, "status": "Accepted"}
    )
    codec.to_send()
    events, _ = exchange(codec, boot.replace(",", ", "))
    assert events == [
        Call("h1", "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"})
    ]


def test_cache_keeps_the_last_answers_only() -> None:
    codec = csms(V16, duplicate_cache_size=2)
    for n in range(3):
        exchange(codec, call(f"h{n}", "Heartbeat", {}))
        codec.send_result(f"h{n}", HEARTBEAT_RESPONSE)
    codec.to_send()
    for n in (1, 2):
        events, replies = exchange(codec, call(f"h{n}", "Heartbeat", {}))
        assert events == [Duplicate(f"h{n}")]
        assert replies[0][1] == f"h{n}"
    # h0 was evicted: a new call.
    events, replies = exchange(codec, call("h0", "Heartbeat", {}))
    assert events == [Call("h0", "Heartbeat", {})]
    assert replies == []


def test_replay_refreshes_nothing_but_answers_do() -> None:
    codec = csms(V16, duplicate_cache_size=2)
    for n in range(2):
        exchange(codec, call(f"h{n}", "Heartbeat", {}))
        codec.send_result(f"h{n}", HEARTBEAT_RESPONSE)
    # Re-answering h0 (same id, new text) moves it to the newest place.
    resent_h0 = '[2, "h0", "Heartbeat", {}]'
    exchange(codec, resent_h0)
    codec.send_error("h0", ErrorCode.GENERIC_ERROR)
    exchange(codec, call("h2", "Heartbeat", {}))
    codec.send_result("h2", HEARTBEAT_RESPONSE)
    codec.to_send()
    events, replies = exchange(codec, resent_h0)
    assert events == [Duplicate("h0")]
    assert replies == [[4, "h0", "GenericError", "", {}]]
    events, _ = exchange(codec, call("h1", "Heartbeat", {}))
    assert events == [Call("h1", "Heartbeat", {})]


@pytest.mark.parametrize("size", [0, -1])
def test_cache_can_be_off(size: int) -> None:
    codec = csms(V16, duplicate_cache_size=size)
    exchange(codec, HEARTBEAT)
    codec.send_result("h1", HEARTBEAT_RESPONSE)
    codec.to_send()
    events, replies = exchange(codec, HEARTBEAT)
    assert events == [Call("h1", "Heartbeat", {})]
    assert replies == []
