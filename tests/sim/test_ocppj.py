from __future__ import annotations

import orjson
import pytest

from sim.ocppj import (
    Call,
    CallError,
    CallResult,
    Malformed,
    encode_call,
    encode_call_error,
    encode_call_result,
    parse_frame,
)


def test_encode_call_is_an_ocppj_call_array() -> None:
    assert orjson.loads(encode_call("7", "Heartbeat", {})) == [2, "7", "Heartbeat", {}]


def test_replies_round_trip() -> None:
    assert parse_frame(encode_call_result("1", {"a": 1})) == CallResult("1", {"a": 1})
    assert parse_frame(encode_call_error("2", "NotImplemented", "no")) == CallError(
        "2", "NotImplemented", "no"
    )
    assert parse_frame('[2,"3","TriggerMessage",{"requestedMessage":"Heartbeat"}]') == Call(
        "3", "TriggerMessage", {"requestedMessage": "Heartbeat"}
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        "[3]",
        "[3, 1, {}]",
        '[3, "1", []]',
        '[3, "1", {}, 5]',
        '[4, "1", "Code"]',
        '[2, "1", "Heartbeat"]',
        '[9, "1", {}]',
    ],
)
def test_malformed_frames_are_classified_not_raised(text: str) -> None:
    assert isinstance(parse_frame(text), Malformed)
