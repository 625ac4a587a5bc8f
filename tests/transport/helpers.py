"""Shared pieces of the transport tests: sample payloads, frame helpers, and two codecs joined."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import orjson

from transport.codec import OcppCodec
from transport.messages import Event
from transport.versions import OcppVersion, Role

TIMESTAMP = "2024-05-01T10:00:00Z"

# One valid charger-initiated request per version, with a valid response.
BOOT_V16: dict[str, Any] = {"chargePointVendor": "Acme", "chargePointModel": "X1"}
BOOT_V2: dict[str, Any] = {
    "chargingStation": {"vendorName": "Acme", "model": "X1"},
    "reason": "PowerUp",
}
BOOT: dict[OcppVersion, dict[str, Any]] = {
    OcppVersion.V16: BOOT_V16,
    OcppVersion.V201: BOOT_V2,
    OcppVersion.V21: BOOT_V2,
}
HEARTBEAT_RESPONSE = {"currentTime": TIMESTAMP}

METER_VALUES_V16: dict[str, Any] = {
    "connectorId": 1,
    "transactionId": 42,
    "meterValue": [
        {
            "timestamp": TIMESTAMP,
            "sampledValue": [
                {
                    "value": "1234.5",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                    "context": "Sample.Periodic",
                },
                {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
            ],
        }
    ],
}

# One valid CSMS-initiated request per version, with a valid response.
RESET: dict[OcppVersion, tuple[str, dict[str, Any]]] = {
    OcppVersion.V16: ("Reset", {"type": "Soft"}),
    OcppVersion.V201: ("Reset", {"type": "Immediate"}),
    OcppVersion.V21: ("Reset", {"type": "Immediate"}),
}
RESET_ACCEPTED = {"status": "Accepted"}


def frame(*elements: Any) -> str:
    """A frame as compact JSON."""
    return orjson.dumps(list(elements)).decode()


def call(unique_id: str, action: str, payload: Any) -> str:
    return frame(2, unique_id, action, payload)


def sequential_ids(prefix: str = "m") -> Callable[[], str]:
    """Predictable message ids: m1, m2, ..."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def csms(version: OcppVersion, **kwargs: Any) -> OcppCodec:
    return OcppCodec(version, id_factory=sequential_ids("s"), **kwargs)


def charger(version: OcppVersion, **kwargs: Any) -> OcppCodec:
    return OcppCodec(version, id_factory=sequential_ids("c"), role=Role.CHARGER, **kwargs)


def exchange(codec: OcppCodec, text: str) -> tuple[list[Event], list[list[Any]]]:
    """Feed one frame; the events and the parsed reply frames."""
    codec.receive_text(text)
    return codec.events(), [orjson.loads(out) for out in codec.to_send()]


class Link:
    """Two codecs joined back to back, the way a websocket joins a charger and the CSMS."""

    def __init__(self, left: OcppCodec, right: OcppCodec) -> None:
        self.left = left
        self.right = right

    def pump(self) -> tuple[list[Event], list[Event]]:
        """Carry every queued frame across, both ways, until both are quiet; the events each side
        saw."""
        left_events: list[Event] = []
        right_events: list[Event] = []
        while True:
            to_right = self.left.to_send()
            to_left = self.right.to_send()
            if not to_right and not to_left:
                return left_events, right_events
            for text in to_right:
                self.right.receive_text(text)
            for text in to_left:
                self.left.receive_text(text)
            left_events += self.left.events()
            right_events += self.right.events()


def call_out(codec: OcppCodec, action: str, payload: dict[str, Any]) -> str:
    """Send a call and take its frame off the queue (as if written); the message id."""
    unique_id = codec.send_call(action, payload)
    assert len(codec.to_send()) == 1
    return unique_id
