"""Tables of the main store (SQLAlchemy Core).

Every change here needs a migration in ``persistence/migrations/main/versions``; the test suite checks
that the migrated schema equals this metadata on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from persistence.sqltypes import UtcDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so that later migrations can refer to them on every database."""

# SQLite autoincrements only an INTEGER PRIMARY KEY (the rowid alias); BIGINT would stay NULL.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created_at() -> Column[datetime]:
    return Column("created_at", UtcDateTime(), nullable=False, default=utcnow)


def _updated_at() -> Column[datetime]:
    return Column("updated_at", UtcDateTime(), nullable=False, default=utcnow, onupdate=utcnow)


stations = Table(
    "stations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("registered", Boolean(), nullable=False, default=False, server_default=false()),
    Column("allowed", Boolean(), nullable=False, default=True, server_default=true()),
    Column("password_hash", Text(), nullable=True),
    Column("lenient", Boolean(), nullable=False, default=False, server_default=false()),
    Column("protocol", String(16), nullable=True),
    Column("vendor", Text(), nullable=True),
    Column("model", Text(), nullable=True),
    Column("serial_number", Text(), nullable=True),
    Column("firmware_version", Text(), nullable=True),
    Column("boot_status", String(16), nullable=True),
    Column("boot_reason", String(32), nullable=True),
    Column("first_seen", UtcDateTime(), nullable=True),
    Column("last_boot", UtcDateTime(), nullable=True),
    # Subprotocols this station may use, newest first; None: whatever the node offers.
    Column("protocols", JSON(), nullable=True),
    # OCPP security profile 0-3 the station must connect with; None: the node's floor for it.
    Column("security_profile", Integer(), nullable=True),
    # A password sent to the station and not yet used by it (rotation): both work until it is.
    Column("pending_password_hash", Text(), nullable=True),
    # What a registered station's next BootNotification gets: Accepted, Pending or Rejected (2.0.1
    # B01-B03, 1.6 section 4.2.1); ``allowed`` is False exactly when it is Rejected.
    Column(
        "registration", String(16), nullable=False, default="Accepted", server_default="Accepted"
    ),
    _created_at(),
    _updated_at(),
)

id_tokens = Table(
    "id_tokens",
    metadata,
    Column("id_token", String(255), primary_key=True),
    Column("type", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("expiry_date", UtcDateTime(), nullable=True),
    Column("parent_id_token", String(255), nullable=True),
    # 2.x IdTokenInfo.evseId: the EVSEs the token is valid at; None: every EVSE.
    Column("evse_ids", JSON(), nullable=True),
    _created_at(),
    _updated_at(),
)

# 1.6 ids are issued by the CSMS; a 2.x id is "<station id>,<the charger's transactionId>", because
# chargers make their ids unique per station only (64 + 1 + 36 characters).
TRANSACTION_ID = String(128)

transactions = Table(
    "transactions",
    metadata,
    Column("id", TRANSACTION_ID, primary_key=True),
    # No index of its own: (station_id, dedup_key) and (station_id, stop_time) serve station lookups.
    Column("station_id", String(64), nullable=False),
    Column("evse_id", Integer(), nullable=True),
    Column("connector_id", Integer(), nullable=True),
    Column("id_token", String(255), nullable=True),
    Column("id_token_type", String(32), nullable=True),
    Column("start_time", UtcDateTime(), nullable=True),
    Column("stop_time", UtcDateTime(), nullable=True),
    Column("meter_start_wh", Float(), nullable=True),
    Column("meter_stop_wh", Float(), nullable=True),
    # Latest Energy.Active.Import.Register seen during the transaction, in Wh.
    Column("last_meter_wh", Float(), nullable=True),
    Column("stop_reason", String(32), nullable=True),
    Column("stop_id_token", String(255), nullable=True),
    Column("reservation_id", Integer(), nullable=True),
    Column("remote_start_id", Integer(), nullable=True),
    Column("protocol", String(16), nullable=False),
    Column("stale", Boolean(), nullable=False, default=False, server_default=false()),
    # Closed by the CSMS, not by its station: refused at start, or abandoned (its station booted
    # again, or started another transaction on the same EVSE). A stop the station sends later still
    # lands and clears it.
    Column("abandoned", Boolean(), nullable=False, default=False, server_default=false()),
    # What identifies a resent start of the same transaction (the charger repeats until answered).
    Column("dedup_key", String(128), nullable=True),
    Column("extra", JSON(), nullable=True),
    _created_at(),
    _updated_at(),
    UniqueConstraint("station_id", "dedup_key"),
    Index("ix_transactions_station_id_stop_time", "station_id", "stop_time"),
    # StartTransaction's ConcurrentTx check looks up a token's open transactions.
    Index("ix_transactions_id_token_stop_time", "id_token", "stop_time"),
    # GET /transactions pages newest first.
    Index("ix_transactions_created_at_id", "created_at", "id"),
)

meter_values = Table(
    "meter_values",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False),
    Column("transaction_id", TRANSACTION_ID, nullable=True, index=True),
    Column("evse_id", Integer(), nullable=True),
    Column("connector_id", Integer(), nullable=True),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("measurand", String(64), nullable=False),
    Column("phase", String(8), nullable=True),
    Column("unit", String(16), nullable=True),
    Column("value", Float(), nullable=True),
    Column("raw_value", Text(), nullable=True),
    Column("context", String(32), nullable=True),
    Column("location", String(16), nullable=True),
    # A signed reading as the meter sent it (Eichrecht): signedMeterData, signingMethod,
    # encodingMethod, publicKey (2.x SignedMeterValueType; 1.6 SignedData: the blob).
    Column("signed", JSON(), nullable=True),
    # Content hash of the sample: a resent MeterValues inserts nothing (ON CONFLICT DO NOTHING).
    Column("sample_key", String(64), nullable=False, unique=True),
)

# The open transaction each id token is charging with: ConcurrentTx is decided by taking this row in
# the commit that stores the start (one row per token), so two starts with one token, on any member,
# never both get it. Released when the transaction ends or is abandoned.
id_token_sessions = Table(
    "id_token_sessions",
    metadata,
    Column("id_token", String(255), primary_key=True),
    Column("transaction_id", TRANSACTION_ID, nullable=False, index=True),
    Column("station_id", String(64), nullable=False),
    Column("evse_id", Integer(), nullable=True),
    Column("taken_at", UtcDateTime(), nullable=False),
)

# A 1.6 station's configuration keys as its answers to GetConfiguration and ChangeConfiguration
# told them (1.6 sections 5.3, 5.8): kept across reconnects, shown while it is offline.
station_configuration = Table(
    "station_configuration",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text(), nullable=True),
    Column("readonly", Boolean(), nullable=True),
    # False: the station answered the key in unknownKey.
    Column("known", Boolean(), nullable=False),
    Column("learned_at", UtcDateTime(), nullable=False),
)

station_events = Table(
    "station_events",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("payload", JSON(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)

id_counters = Table(
    "id_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    # The next value nobody has reserved yet.
    Column("next_value", BigInteger(), nullable=False),
)

transaction_events = Table(
    "transaction_events",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("transaction_id", TRANSACTION_ID, nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("seq_no", Integer(), nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("trigger_reason", String(32), nullable=False),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("offline", Boolean(), nullable=False),
    # The 2.x TransactionEvent as sent, less its meter values (those are in meter_values).
    Column("payload", JSON(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    # A resent event (same seqNo of the same transaction) inserts nothing.
    UniqueConstraint("transaction_id", "seq_no"),
)

device_variables = Table(
    "device_variables",
    metadata,
    Column("station_id", String(64), primary_key=True),
    # Content hash of (component, instance, evse, connector, variable, instance, attribute type).
    Column("variable_key", String(64), primary_key=True),
    Column("component", String(50), nullable=False),
    Column("component_instance", String(50), nullable=True),
    Column("evse_id", Integer(), nullable=True),
    Column("connector_id", Integer(), nullable=True),
    Column("variable", String(50), nullable=False),
    Column("variable_instance", String(50), nullable=True),
    Column("attribute_type", String(16), nullable=False),
    Column("value", Text(), nullable=True),
    Column("mutability", String(16), nullable=True),
    Column("persistent", Boolean(), nullable=True),
    Column("constant", Boolean(), nullable=True),
    Column("characteristics", JSON(), nullable=True),
    # What last set it: NotifyReport, GetVariables, SetVariables or NotifyEvent.
    Column("source", String(32), nullable=False),
    _updated_at(),
)


users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", Text(), nullable=False),
    # viewer, operator or admin.
    Column("role", String(16), nullable=False),
    _created_at(),
    _updated_at(),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", Text(), nullable=False),
    Column("station_id", String(64), nullable=True),
    Column("status", Integer(), nullable=False),
)

station_certificates = Table(
    "station_certificates",
    metadata,
    Column("station_id", String(64), primary_key=True),
    # V2GRootCertificate, MORootCertificate, CSMSRootCertificate, ManufacturerRootCertificate,
    # ChargingStationCertificate...
    Column("certificate_type", String(64), primary_key=True),
    Column("serial_number", String(64), primary_key=True),
    Column("issuer_key_hash", String(128), primary_key=True),
    Column("issuer_name_hash", String(128), nullable=False),
    Column("hash_algorithm", String(16), nullable=False),
    # Child certificates and whatever else the station reported with it.
    Column("details", JSON(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
)

# Which cluster member holds each station's websocket. The epoch rises with every connection, so a
# member that lost the station (a charger that reconnected elsewhere) cannot write over what the new
# owner wrote: its writes carry the epoch it connected with and are refused once it is stale.
station_leases = Table(
    "station_leases",
    metadata,
    Column("station_id", String(64), primary_key=True),
    # None: nobody holds it (closed, or its member died); the epoch stays to keep rising.
    Column("member", String(128), nullable=True),
    Column("epoch", BigInteger, nullable=False),
    Column("protocol", String(16), nullable=True),
    Column("taken_at", UtcDateTime, nullable=False),
    Index("ix_station_leases_member", "member"),
)

# Cluster members (one per shard process of each pod), each refreshing its row while it lives.
members = Table(
    "members",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("node", String(128), nullable=False),
    Column("shard", Integer, nullable=False),
    Column("pid", Integer, nullable=False),
    # host:port of the member's control-plane actor (Thespian).
    Column("address", String(128), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("alive", Boolean, nullable=False, server_default=true()),
)
