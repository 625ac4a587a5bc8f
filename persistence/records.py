"""Version-independent rows of the main store, as the domain and the REST API see them.

A station has EVSEs with connectors; an OCPP 1.6 connector N is EVSE N with connector 1 and connector 0
is the station itself (EVSE 0, connector 0). Transaction ids are strings: 1.6's integers are issued by the
CSMS, 2.x's come from the charger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


def id_token_key(value: str) -> str:
    """The form an id token is stored and compared in: OCPP's IdToken is a CiString (1.6 section
    7.27; 2.0.1 IdTokenType), case-insensitive, and card readers differ in the case of hex UIDs."""
    return value.upper()


class IdTokenStatus(StrEnum):
    """Authorization status of an id token (OCPP 1.6 AuthorizationStatus, 2.0.1 AuthorizationStatusEnumType)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


@dataclass(frozen=True, slots=True)
class StationRecord:
    """A station as stored in the main store."""

    id: str
    """Charge point identity (the last path segment of its websocket URL)."""
    registered: bool
    """Registered by an operator, or by the accept policy."""
    allowed: bool
    """May boot; a disallowed station gets Rejected."""
    has_password: bool
    """Whether basic auth (security profile 1/2) is required."""
    lenient: bool
    """Schema violations are logged and accepted where safe instead of answered with a CALLERROR."""
    protocol: str | None
    """Subprotocol of its latest connection."""
    vendor: str | None
    """chargePointVendor / chargingStation.vendorName."""
    model: str | None
    """chargePointModel / chargingStation.model."""
    serial_number: str | None
    """chargePointSerialNumber / chargingStation.serialNumber."""
    firmware_version: str | None
    """firmwareVersion."""
    boot_status: str | None
    """Status answered to its latest BootNotification."""
    last_boot: datetime | None
    """When it last booted."""


@dataclass(frozen=True, slots=True)
class IdTokenRecord:
    """An id token (1.6 idTag) known to the CSMS."""

    id_token: str
    """The token value (RFID UID, e-MAID, ...)."""
    type: str | None
    """2.x IdTokenEnumType; None for tokens that only 1.6 stations present."""
    status: IdTokenStatus
    """Stored status; Expired is also derived from expiry_date."""
    expiry_date: datetime | None
    """After this instant the token answers Expired."""
    parent_id_token: str | None
    """Group (1.6 parentIdTag, 2.x groupIdToken)."""


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One sampled value."""

    timestamp: datetime
    """When the charger measured it."""
    measurand: str
    """OCPP measurand, e.g. Energy.Active.Import.Register."""
    phase: str | None
    """L1, L2, L3, N, L1-N, ... or None for the total."""
    unit: str | None
    """Unit as the charger reported it (Wh, kWh, W, A, ...)."""
    value: float | None
    """Numeric value; None when raw_value is not a number (signed data)."""
    context: str | None
    """Sample.Periodic, Transaction.Begin, Transaction.End, Sample.Clock, Trigger, ..."""
    location: str | None = None
    """Outlet, Inlet, EV, Body, Cable."""
    raw_value: str | None = None
    """The value as sent when it is not numeric."""


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A charging transaction, the same for every OCPP version."""

    id: str
    station_id: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    id_token_type: str | None
    start_time: datetime | None
    stop_time: datetime | None
    meter_start_wh: float | None
    meter_stop_wh: float | None
    last_meter_wh: float | None
    stop_reason: str | None
    protocol: str
    stale: bool
    created_at: datetime
    extra: dict[str, Any] | None
    """Version-specific fields (remote start id, charging state, seqNo gaps, reported id of an orphan)."""

    @property
    def active(self) -> bool:
        return self.stop_time is None and self.start_time is not None

    @property
    def energy_wh(self) -> float | None:
        """Energy delivered: end register minus start register (latest register while active)."""
        end = self.meter_stop_wh if self.meter_stop_wh is not None else self.last_meter_wh
        if end is None or self.meter_start_wh is None:
            return None
        return max(0.0, end - self.meter_start_wh)
