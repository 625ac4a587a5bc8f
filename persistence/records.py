"""Version-independent rows of the main store, as the domain and the REST API see them.

A station has EVSEs with connectors; an OCPP 1.6 connector N is EVSE N with connector 1 and connector 0
is the station itself (EVSE 0, connector 0). Transaction ids are strings: 1.6's integers are issued by the
CSMS; a 2.x id is ``<station id>,<transactionId>``, the charger's id scoped by its station
(``v2_transaction_key``), because chargers make their ids unique per station only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


def id_token_key(value: str) -> str:
    """The form an id token is stored and compared in: OCPP's IdToken is a CiString (1.6 section
    7.27; 2.0.1 IdTokenType), case-insensitive, and card readers differ in the case of hex UIDs."""
    return value.upper()


# The separator of a 2.x transaction's stored id. Station ids cannot hold it: neither the OCPP 2.0.1
# identifierString set that identities keep to now nor the wider set earlier releases accepted has
# a comma, so the first comma of a stored id ends the station id, and two (station, transactionId)
# pairs never share a key (":" could: station "COL" with "1:X" and "COL:1" with "X"). A comma needs
# no escaping in a URL path (RFC 3986 sub-delims) or a shell, so the REST API's ids stay readable.
V2_TRANSACTION_SEPARATOR = ","
# Whatever a station id contains, the key stays collision-free: "%" and "," in a station id (none
# that voltmesh ever accepted has either) are percent-escaped, which is injective.
_ESCAPES = str.maketrans({"%": "%25", ",": "%2C"})


def v2_transaction_key(station_id: str, transaction_id: str) -> str:
    """The stored id of a 2.x charger's transaction: ``<station id>,<transactionId>``."""
    return station_id.translate(_ESCAPES) + V2_TRANSACTION_SEPARATOR + transaction_id


class IdTokenStatus(StrEnum):
    """Authorization status of an id token (OCPP 1.6 AuthorizationStatus, 2.0.1 AuthorizationStatusEnumType)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"
    """2.x only: valid at other EVSEs of the station (an answer, never stored)."""


class RegistrationStatus(StrEnum):
    """What a registered station's BootNotification is answered (1.6 RegistrationStatus, 2.0.1
    RegistrationStatusEnumType): Pending holds it back (B02), Rejected keeps it out (B03)."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


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
    boot_reason: str | None
    """2.x BootReasonEnumType of its latest boot (None for 1.6)."""
    last_boot: datetime | None
    """When it last booted."""
    protocols: tuple[str, ...] | None = None
    """Subprotocols it may use, in order of preference; None: any the node offers."""
    security_profile: int | None = None
    """OCPP security profile (0-3) it must connect with; None: the node's floor
    (``VOLTMESH_MIN_SECURITY_PROFILE``)."""
    registration: RegistrationStatus = field(default_factory=lambda: RegistrationStatus.ACCEPTED)
    """What its next BootNotification gets once it is registered (Rejected exactly when it is
    not ``allowed``)."""


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
    evse_ids: tuple[int, ...] | None = None
    """EVSEs the token is valid at (2.x IdTokenInfo.evseId); None: all of them."""


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
    signed: Mapping[str, Any] | None = None
    """A signed reading, verbatim (German calibration law needs it for the driver's bill): 2.x
    ``signedMeterValue`` (signedMeterData, signingMethod, encodingMethod, publicKey); for a 1.6
    ``SignedData`` sample, ``{"signedMeterData": <the value as sent>}``."""


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
    """Version-specific fields (charging state, seqNo gaps, reported id of an orphan)."""
    remote_start_id: int | None = None
    """2.x remoteStartId of the RequestStartTransaction that caused it."""
    reservation_id: int | None = None
    """Reservation it used."""
    abandoned: bool = False
    """Closed by the CSMS, not by a stop from its station: refused at start (stop_reason
    DeAuthorized) or abandoned (Abandoned: its station booted again, or started another
    transaction on the same EVSE). A stop the station sends later replaces this close."""

    @property
    def station_transaction_id(self) -> str:
        """The id the station knows the transaction by: a 2.x charger's own transactionId, the
        integer a 1.6 charger was given, or the id it reported for an orphan stop."""
        prefix = v2_transaction_key(self.station_id, "")
        if self.protocol != "ocpp1.6" and self.id.startswith(prefix):
            return self.id[len(prefix) :]
        reported = (self.extra or {}).get("reported_transaction_id")
        return str(reported) if reported is not None else self.id

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
