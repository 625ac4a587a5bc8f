"""CSMS-initiated commands: the message an outbox handles and the ways a command can fail.

Tree::

    CommandError
    ├── StationNotConnected   no live connection for the station (REST 404)
    │   └── CommandNotSent    its connection closed while the command waited in the queue
    ├── InvalidCommand        unknown action or payload breaking the schema (REST 400)
    ├── StationNotAccepted    not allowed before the station is accepted (REST 409)
    ├── StationBusy           its queue of commands is full (REST 503)
    ├── CommandTimeout        no answer within the timeout (REST 504)
    └── CommandRejected       the charger answered with a CALLERROR (REST 502)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CommandError(Exception):
    """A command could not be carried out."""


class StationNotConnected(CommandError):
    """The station has no live connection on this node or any other."""


class CommandNotSent(StationNotConnected):
    """The connection closed while the command waited: it never reached the charger."""


class StationNotAccepted(CommandError):
    """The command is not allowed while the station is Pending or Rejected."""


class StationBusy(CommandError):
    """The station's outbox is full: try again later."""


class InvalidCommand(CommandError):
    """The command is not valid for the station's OCPP version; nothing was sent."""

    def __init__(self, message: str, *, code: str = "FormatViolation") -> None:
        super().__init__(message)
        self.code = code


class CommandTimeout(CommandError):
    """The charger did not answer in time (or the command waited too long behind others)."""


class CommandRejected(CommandError):
    """The charger answered with a CALLERROR."""

    def __init__(self, code: str, description: str, details: dict[str, Any]) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details


@dataclass(frozen=True, slots=True)
class OutgoingCall:
    """A CALL to send to a charger, queued in its outbox."""

    action: str
    """OCPP action, e.g. RemoteStartTransaction."""
    payload: dict[str, Any] = field(default_factory=dict)
    """Request payload, already valid against the connection's schema."""
    deadline: float = 0.0
    """Event-loop time after which the call is neither sent nor awaited."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The charger's CALLRESULT."""

    action: str
    """The action that was sent."""
    payload: dict[str, Any]
    """The charger's response payload."""
    violation: str | None = None
    """Set when the response breaks the response schema."""
