"""OCPP versions (as websocket subprotocols) and the two roles at either end of a connection."""

from __future__ import annotations

from enum import StrEnum


class OcppVersion(StrEnum):
    """An OCPP version, valued by its websocket subprotocol name (OCPP-J 1.6 section 3.1.2,
    OCPP-J 2.0.1 section 3.1.2)."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"

    @property
    def is_2x(self) -> bool:
        """True for 2.0.1 and 2.1, which share message naming, error codes and the device model."""
        return self is not OcppVersion.V16

    @classmethod
    def from_subprotocol(cls, name: str) -> OcppVersion | None:
        """The version of a ``Sec-WebSocket-Protocol`` token, or None if it is not one of ours.

        Subprotocol tokens compare case-sensitively (RFC 6455 section 4.1), so only surrounding
        whitespace is forgiven.
        """
        try:
            return cls(name.strip())
        except ValueError:
            return None


class Role(StrEnum):
    """Which end of the connection a codec speaks for; it decides which actions may be sent and
    which may be received."""

    CSMS = "csms"
    CHARGER = "charger"

    @property
    def peer(self) -> Role:
        """The role at the other end of the connection."""
        return Role.CHARGER if self is Role.CSMS else Role.CSMS
