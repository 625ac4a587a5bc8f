"""What the charge point actors of one node and their handlers use: stores, writer, id allocator,
sessions, id tokens, the command log, policies, the clock and the operators' event stream."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from csms.events import EventBus
from csms.pki.ca import CertificateAuthority
from csms.session.directory import SessionDirectory
from csms.station.command_log import CommandLog
from csms.station.tokens import TokenCache
from persistence.ids import IdAllocator
from persistence.reads import Reads
from persistence.sqltypes import utcnow
from persistence.status_store import StatusStore
from persistence.writer import Writer


class UnknownStationPolicy(StrEnum):
    """What a BootNotification from a station the operator never registered gets."""

    ACCEPT = "accept"
    """Register it on the spot and accept it."""
    PENDING = "pending"
    """Record it, answer Pending until an operator registers it."""
    REJECT = "reject"
    """Record it, answer Rejected until an operator registers it."""


@dataclass(slots=True)
class StationServices:
    """Dependencies of the charge point actors of one node (shared by all of them)."""

    reads: Reads
    """Short reads of the main store on the message path (inline for SQLite)."""
    writer: Writer
    """Group-commit writer of the main store: transaction messages are answered after its commit."""
    status: StatusStore
    """Write-behind status store (heartbeats, connector status, presence)."""
    ids: IdAllocator
    """Issues OCPP 1.6 transaction ids."""
    sessions: SessionDirectory
    """One actor per active transaction."""
    tokens: TokenCache
    """Id tokens, cached."""
    commands: CommandLog
    """Records answered CSMS-initiated calls."""
    unknown_stations: UnknownStationPolicy = UnknownStationPolicy.ACCEPT
    """Policy for stations the operator never registered."""
    ca: CertificateAuthority | None = None
    """Signs the stations' certificates (SignCertificate); None: their CSRs are Rejected."""
    heartbeat_interval: int = 300
    """Seconds, handed to accepted stations."""
    boot_retry_interval: int = 300
    """Seconds, handed with Pending/Rejected."""
    clock: Callable[[], datetime] = field(default=utcnow)
    """Current time (swappable in tests)."""
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(action, outcome) -> charger calls answered: "result" or the CALLERROR's code (metrics)."""
    events: EventBus = field(default_factory=EventBus)
    """The operators' live event stream of this member."""
