"""CSMS-initiated calls: what travels from a REST request to a charger and back, and the ways it can
fail.

Tree::

    CommandError
    ├── StationNotConnected   no live connection for the station (REST 404)
    │   ├── CommandNotSent    its connection closed while the command waited in the queue
    │   └── AnswerLost        its connection closed after the command was sent, before the answer
    ├── InvalidCommand        unknown action or payload breaking the schema (REST 400)
    ├── StationNotAccepted    not allowed before the station is accepted (REST 409)
    ├── StationBusy           its queue of commands is full (REST 503)
    ├── CommandTimeout        no answer within the timeout (REST 504)
    └── CommandRejected       the charger answered with a CALLERROR (REST 502)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from transport.messages import CallError, CallResult


class CommandError(Exception):
    """A command could not be carried out."""


class StationNotConnected(CommandError):
    """The station has no live connection on this node or any other."""


class CommandNotSent(StationNotConnected):
    """The connection closed while the command waited: it never reached the charger."""


class AnswerLost(StationNotConnected):
    """The connection closed after the command was sent and before the charger answered: the
    charger may have acted on it, so it is never sent again."""


class StationNotAccepted(CommandError):
    """The command is not allowed while the station is Pending or Rejected."""


class StationBusy(CommandError):
    """The station's queue of commands is full: try again later."""


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
class CommandResult:
    """The charger's CALLRESULT."""

    action: str
    """The action that was sent."""
    payload: dict[str, Any]
    """The charger's response payload."""
    violation: str | None = None
    """Set when the response breaks the response schema."""


@dataclass(frozen=True, slots=True, eq=False)
class OutgoingCall:
    """A CALL to send to a charger. Whoever ends its life settles ``outcome``: the connection when
    it cannot be sent or answered, the charge point actor once the charger's answer is recorded."""

    action: str
    """OCPP action, e.g. RemoteStartTransaction."""
    payload: dict[str, Any]
    """Request payload, already valid against the connection's schema."""
    deadline: float
    """Event-loop time after which the call is neither sent nor awaited."""
    outcome: asyncio.Future[CommandResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    """The charger's answer, or the `CommandError` that ended the call."""

    def succeed(self, result: CommandResult) -> None:
        if not self.outcome.done():
            self.outcome.set_result(result)

    def fail(self, error: Exception) -> None:
        if not self.outcome.done():
            self.outcome.set_exception(error)
            # Retrieved here: a call whose asker gave up must not be reported as never retrieved.
            self.outcome.exception()

    @property
    def settled(self) -> bool:
        """True once nobody waits for it any more (answered, failed, or given up by its asker)."""
        return self.outcome.done()


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The charger answered a call: the connection hands the answer to the station's actor, which
    records what it tells and settles the call."""

    call: OutgoingCall
    """The call that was answered."""
    reply: CallResult | CallError
    """The charger's CALLRESULT or CALLERROR."""
