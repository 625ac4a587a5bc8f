"""What crosses members. Pickled by Thespian, so only plain data: no exceptions, no actor refs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """Send a CSMS-initiated call to a station this member holds, as ``LocalRouter.call`` does."""

    station_id: str
    action: str
    payload: dict[str, Any]
    timeout: float


@dataclass(frozen=True, slots=True)
class ConfigurationRequest:
    """The configuration keys a held station reported (1.6)."""

    station_id: str


@dataclass(frozen=True, slots=True)
class Request:
    """A question to another member; answered by an ``Outcome`` with the same id."""

    request_id: int
    reply_to: str
    """The asking member's control address (host:port)."""
    body: CommandRequest | ConfigurationRequest


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a ``Request``: a value, or the name of the ``CommandError`` that ended it."""

    request_id: int
    value: Any = None
    error: str | None = None
    """Class name of a ``gateway.calls.CommandError`` (None: success)."""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    """The error's attributes (``code``, ``description``...)."""


@dataclass(frozen=True, slots=True)
class Evict:
    """The station connected to another member under ``epoch``: close an older socket of it."""

    station_id: str
    epoch: int


@dataclass(frozen=True, slots=True)
class StationChanged:
    """An operator changed a station (registration, password, security profile) or deleted it."""

    station_id: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class IdTokenChanged:
    """An operator changed or deleted an id token: drop it from the caches."""

    id_token: str


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Operator events a member published lately, for the other members' live streams: each
    (id, type, at in µs, station id, data), as ``csms.events.PlainEvent``."""

    member: str
    """The member that published them."""
    events: tuple[tuple[int, str, int, str | None, dict[str, Any]], ...]
