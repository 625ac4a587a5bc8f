"""What one area of the central system (smart charging, sites, reservations, local lists, firmware
and logs, monitoring and display messages, tariffs) adds to the core: handlers of the messages a
station sends, observers of the answers to the calls the CSMS sends, and loops that run beside the
actors (expiries, retries, a site's rebalancing).

Each area declares one ``Feature``; ``csms.handlers.features`` merges them into the handler tables
of each OCPP version and the observers the charge point actors call.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from csms.events import EventBus
from csms.station.charge_point import AnswerObserver, Handler
from csms.station.router import CommandRouter
from persistence.reads import Reads
from persistence.sqltypes import utcnow
from persistence.writer import Writer

# The types of what the charge point actor calls are its own; an area declares them here.
__all__ = ["AnswerObserver", "Background", "Feature", "FeatureContext", "Handler"]


@dataclass(frozen=True, slots=True)
class FeatureContext:
    """What an area's background loop may use."""

    reads: Reads
    """Reads of the main store."""
    writer: Writer
    """The group-commit writer of the main store."""
    router: CommandRouter
    """Sends a call to a station wherever in the cluster it is connected."""
    events: EventBus
    """This member's operator events, other members' included (they are forwarded here)."""
    member: str
    """This member's name."""
    leads: Callable[[], bool]
    """Whether this member runs the cluster's single loops now (the alive member first by name)."""
    data_dir: Path
    """The node's data directory."""
    clock: Callable[[], datetime] = field(default=utcnow)


Background = Callable[[FeatureContext], Coroutine[Any, Any, None]]
"""A loop that runs while the member does; cancelled when it stops."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One area's additions. Handlers here take precedence over the core's for the same action."""

    v16: Mapping[str, Handler] = field(default_factory=dict)
    """Handlers of OCPP 1.6 requests."""
    v2: Mapping[str, Handler] = field(default_factory=dict)
    """Handlers of OCPP 2.0.1 requests (2.1 too)."""
    v21: Mapping[str, Handler] = field(default_factory=dict)
    """Handlers of requests only OCPP 2.1 has."""
    observers: Mapping[str, AnswerObserver] = field(default_factory=dict)
    """Action of a CSMS-initiated call -> what learns from its answer."""
    background: tuple[Background, ...] = ()
    """Loops that run beside the actors."""
