"""Whatever a peer sends, the codec never raises, and every frame it queues is a valid answer."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.transport.helpers import BOOT, METER_VALUES_V16, TIMESTAMP, call, csms, frame
from transport.codec import OcppCodec
from transport.errors import ErrorCode, SchemaViolation, wire_code
from transport.frames import MAX_DESCRIPTION
from transport.messages import Call, CallResult, Duplicate, ProtocolViolation
from transport.versions import OcppVersion

# No example database: the tests write nothing outside the temp dirs.
SETTINGS = settings(max_examples=150, deadline=None, database=None)

versions = st.sampled_from(list(OcppVersion))
ids = st.sampled_from(["s1", "s2", "h1", "a", "-1", ""]) | st.text(max_size=8)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
actions = st.sampled_from(
    [
        "Heartbeat",
        "BootNotification",
        "MeterValues",
        "Reset",
        "TransactionEvent",
        "DataTransfer",
        "NotifyPeriodicEventStream",
        "Teleport",
        "",
    ]
)
message_types = (
    st.sampled_from([2, 3, 4, 5, 6]) | st.integers(min_value=-1, max_value=9) | json_scalars
)
arrays = st.tuples(message_types, ids | json_scalars, actions | json_values, json_values).flatmap(
    lambda head: st.lists(json_values, max_size=2).map(lambda tail: [*head, *tail])
) | st.lists(json_values, max_size=6)


def valid_frames() -> list[str]:
    return [
        call("h1", "Heartbeat", {}),
        call("b1", "BootNotification", BOOT[OcppVersion.V16]),
        call("b2", "BootNotification", BOOT[OcppVersion.V201]),
        call("m1", "MeterValues", METER_VALUES_V16),
        frame(3, "s1", {"status": "Accepted"}),
        frame(4, "s1", "NotSupported", "no", {}),
        frame(5, "h1", "FormatViolation", "bad", {}),
        frame(
            6,
            "n1",
            "NotifyPeriodicEventStream",
            {"id": 1, "pending": 0, "basetime": TIMESTAMP, "data": []},
        ),
    ]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(valid_frames()))
    how = draw(st.sampled_from(["cut", "drop", "insert", "replace", "char"]))
    if how == "cut":
        return text[: draw(st.integers(0, len(text)))]
    if how == "char":
        at = draw(st.integers(0, len(text) - 1))
        return text[:at] + draw(st.characters()) + text[at + 1 :]
    elements: list[Any] = orjson.loads(text)
    if how == "drop":
        del elements[draw(st.integers(0, len(elements) - 1))]
    elif how == "insert":
        elements.insert(draw(st.integers(0, len(elements))), draw(json_values))
    else:
        elements[draw(st.integers(0, len(elements) - 1))] = draw(json_values)
    return orjson.dumps(elements).decode()


frames = st.text(max_size=40) | arrays.map(lambda a: orjson.dumps(a).decode()) | mutated()


def answerable_id(text: str) -> str:
    """The id a reply to ``text`` must carry: the frame's when readable, else "-1"."""
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "-1"
    if type(parsed) is list and len(parsed) > 1 and type(parsed[1]) is str:
        return parsed[1]
    return "-1"


def is_answer_or_send(text: str, version: OcppVersion) -> bool:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    kinds = {3, 4, 5, 6} if version is OcppVersion.V21 else {3, 4}
    return type(parsed) is list and bool(parsed) and type(parsed[0]) is int and parsed[0] in kinds


def check_reply(codec: OcppCodec, sent: str, unique_id: str) -> None:
    reply = orjson.loads(sent)
    assert type(reply) is list
    assert reply[1] == unique_id
    if reply[0] == 3:
        assert len(reply) == 3
        assert type(reply[2]) is dict
    else:
        assert reply[0] == 4
        assert len(reply) == 5
        codes = {wire_code(code, codec.version) for code in ErrorCode}
        assert reply[2] in codes
        assert reply[2] != "InternalError"
        assert type(reply[3]) is str
        assert len(reply[3]) <= MAX_DESCRIPTION
        assert type(reply[4]) is dict


def feed(codec: OcppCodec, text: str) -> None:
    codec.receive_text(text)
    events = codec.events()
    sent = codec.to_send()
    assert len(sent) <= 1
    if is_answer_or_send(text, codec.version):
        assert sent == []
    for out in sent:
        check_reply(codec, out, answerable_id(text))
    if sent:
        assert len(events) == 1
        assert isinstance(events[0], ProtocolViolation | Duplicate)
    for event in events:
        if isinstance(event, Call):
            # Answer like a handler would, so the codec's state keeps moving.
            try:
                codec.send_result(event.unique_id, {})
            except SchemaViolation:
                codec.send_error(event.unique_id, ErrorCode.NOT_SUPPORTED, "no handler")
            (answer,) = codec.to_send()
            check_reply(codec, answer, event.unique_id)
        if isinstance(event, CallResult):
            assert codec.pending_call is None


@SETTINGS
@given(version=versions, text=st.text())
def test_any_text(version: OcppVersion, text: str) -> None:
    feed(csms(version), text)


@SETTINGS
@given(version=versions, array=arrays)
def test_any_json_array(version: OcppVersion, array: list[Any]) -> None:
    feed(csms(version), orjson.dumps(array).decode())


@SETTINGS
@given(version=versions, text=mutated())
def test_mutated_valid_frames(version: OcppVersion, text: str) -> None:
    feed(csms(version), text)


@SETTINGS
@given(version=versions, texts=st.lists(frames, max_size=8), lenient=st.booleans())
def test_conversations(version: OcppVersion, texts: list[str], lenient: bool) -> None:
    """Several frames on one connection, with our call in flight, replays and answers mixed in."""
    codec = csms(version, lenient=lenient, duplicate_cache_size=3)
    action = "Reset"
    payload = {"type": "Soft" if version is OcppVersion.V16 else "Immediate"}
    codec.send_call(action, payload)
    codec.to_send()
    for text in texts:
        feed(codec, text)
