"""Stations: reads of their registration and boot information, the writes of first contact and
BootNotification (through the group-commit writer), and the operator's registration edits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

from sqlalchemy import RowMapping, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.connections import WriteConnection
from persistence.keyed_rows import create_or_update, delete_by_key
from persistence.models import station_configuration, stations
from persistence.pages import Page, page_by_key
from persistence.reads import EngineReads, Reads
from persistence.records import RegistrationStatus, StationRecord
from persistence.sqltypes import utcnow
from persistence.writer import Custom, Insert, Update, Upsert, WriteOp


def _station(row: RowMapping) -> StationRecord:
    return StationRecord(
        id=row["id"],
        registered=row["registered"],
        allowed=row["allowed"],
        has_password=row["password_hash"] is not None,
        lenient=row["lenient"],
        protocol=row["protocol"],
        vendor=row["vendor"],
        model=row["model"],
        serial_number=row["serial_number"],
        firmware_version=row["firmware_version"],
        boot_status=row["boot_status"],
        boot_reason=row["boot_reason"],
        last_boot=row["last_boot"],
        protocols=tuple(row["protocols"]) if row["protocols"] else None,
        security_profile=row["security_profile"],
        registration=RegistrationStatus(row["registration"]),
    )


# Built once: building and cache-keying a statement per call costs more than running it on SQLite,
# and every connection and boot reads a station.
_STATION_BY_ID = select(stations).where(stations.c.id == bindparam("station_id"))


async def get_station(db: Reads, station_id: str) -> StationRecord | None:
    return (await get_station_and_password(db, station_id))[0]


async def get_station_and_password(
    db: Reads, station_id: str
) -> tuple[StationRecord | None, str | None]:
    """A station and its password hash in one read, for the websocket handshake."""
    row = await db.first(_STATION_BY_ID, {"station_id": station_id})
    return (_station(row), row["password_hash"]) if row else (None, None)


@dataclass(frozen=True, slots=True)
class StationCredentials:
    """What the websocket handshake checks a station against (hashes never leave the store's
    readers and the admission)."""

    record: StationRecord | None
    """The station; None when unknown."""
    password_hash: str | None
    """Its basic-auth password (security profiles 1-2)."""
    pending_password_hash: str | None
    """A password sent to it and not yet used by it (rotation): accepted beside the current one."""


async def get_station_credentials(db: Reads, station_id: str) -> StationCredentials:
    """A station and its password hashes in one read, for the websocket handshake."""
    row = await db.first(_STATION_BY_ID, {"station_id": station_id})
    if row is None:
        return StationCredentials(None, None, None)
    return StationCredentials(_station(row), row["password_hash"], row["pending_password_hash"])


def promote_pending_password(station_id: str, pending_hash: str) -> WriteOp:
    """The station connected with its pending password: it becomes the password and the old one
    stops working (OCPP 2.0.1 A01: the old one is kept until the new one is proven). Only while
    the pending hash is still that one (a later rotation is left alone)."""
    return Update(
        stations,
        {"id": station_id, "pending_password_hash": pending_hash},
        {"password_hash": pending_hash, "pending_password_hash": None, "updated_at": utcnow()},
    )


def new_station_record(station_id: str, *, protocol: str, registered: bool) -> StationRecord:
    """The record that ``station_seen`` creates, without reading it back."""
    return StationRecord(
        id=station_id,
        registered=registered,
        allowed=True,
        has_password=False,
        lenient=False,
        protocol=protocol,
        vendor=None,
        model=None,
        serial_number=None,
        firmware_version=None,
        boot_status=None,
        boot_reason=None,
        last_boot=None,
    )


async def list_stations(db: Reads, *, limit: int, after: str | None) -> Page[StationRecord]:
    return await page_by_key(
        db, stations.c.id, limit=limit, after=after, item=_station, key_of=lambda s: s.id
    )


def station_seen(station_id: str, *, protocol: str, register: bool) -> WriteOp:
    """First contact of a station: a row so that operators see it, registered under the accept policy."""
    now = utcnow()
    return Insert(
        stations,
        [
            {
                "id": station_id,
                "registered": register,
                "allowed": True,
                "lenient": False,
                "protocol": protocol,
                "first_seen": now,
                "created_at": now,
                "updated_at": now,
            }
        ],
        on_conflict_do_nothing=("id",),
    )


def station_booted(
    station_id: str,
    *,
    protocol: str,
    boot: Mapping[str, str | None],
    status: str,
    reason: str | None,
    register: bool,
) -> list[WriteOp]:
    """Boot information of a BootNotification; creates the row for a first-time station."""
    now = utcnow()
    values: dict[str, Any] = {
        "protocol": protocol,
        "vendor": boot.get("vendor"),
        "model": boot.get("model"),
        "serial_number": boot.get("serial_number"),
        "firmware_version": boot.get("firmware_version"),
        "boot_status": status,
        "boot_reason": reason,
        "last_boot": now,
        "updated_at": now,
    }
    if register:
        values["registered"] = True
    return [
        station_seen(station_id, protocol=protocol, register=register),
        Update(stations, {"id": station_id}, values),
    ]


async def put_station(
    engine: AsyncEngine,
    station_id: str,
    *,
    registration: RegistrationStatus,
    password_hash: str | None,
    keep_password: bool,
    lenient: bool,
    protocols: Sequence[str] | None = None,
    security_profile: int | EllipsisType | None = ...,
) -> tuple[StationRecord, bool]:
    """Register (or update) a station; returns the record and whether it was created.
    ``registration`` is what its next BootNotification gets (``allowed`` follows it: False exactly
    when Rejected). ``security_profile``: 0-3, None for the node's floor, ``...`` (absent) keeps it."""
    now = utcnow()
    values: dict[str, Any] = {
        "registered": True,
        "registration": registration.value,
        "allowed": registration is not RegistrationStatus.REJECTED,
        "lenient": lenient,
        "protocols": list(protocols) if protocols else None,
        "updated_at": now,
    }
    if not keep_password:
        values["password_hash"] = password_hash
        # A password set by the operator ends a rotation in progress.
        values["pending_password_hash"] = None
    if not isinstance(security_profile, EllipsisType):
        values["security_profile"] = security_profile
    created = await create_or_update(engine, stations.c.id, station_id, values, now)
    record = await get_station(EngineReads(engine), station_id)
    assert record is not None
    return record, created


async def delete_station(engine: AsyncEngine, station_id: str) -> bool:
    """Forget a station's registration; its transactions and meter values stay (they are records)."""
    return await delete_by_key(engine, stations.c.id, station_id)


async def swap_pending_password(
    engine: AsyncEngine, station_id: str, password_hash: str | None, *, expected: object = ...
) -> tuple[bool, str | None]:
    """Set a station's pending password hash (the one it is being given: the admission accepts it
    beside the current one, and promotes it when it is used). With ``expected``, only if the
    pending hash is still that (compare and set: a rotation undoing itself leaves a later one
    alone). Returns whether the station exists (and matched) and the pending hash it had."""
    c = stations.c
    async with engine.begin() as conn:
        row = (
            await conn.execute(select(c.pending_password_hash).where(c.id == station_id))
        ).first()
        if row is None:
            return False, None
        previous: str | None = row[0]
        if expected is not ... and previous != expected:
            return False, previous
        await conn.execute(
            stations.update()
            .where(c.id == station_id)
            .values(pending_password_hash=password_hash, updated_at=utcnow())
        )
    return True, previous


# --- a 1.6 station's configuration keys -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigurationKey:
    """One configuration key as the station's answer told it (1.6 KeyValue), or unknown to it."""

    key: str
    value: str | None
    """None: the station sent no value (or does not know the key)."""
    readonly: bool | None
    """None: unknown (learned from ChangeConfiguration, or not known to the station)."""
    known: bool = True
    """False: the station answered it in unknownKey."""


def configuration_learned(
    station_id: str, keys: Sequence[ConfigurationKey], *, complete: bool
) -> list[WriteOp]:
    """What an answer told of a station's configuration; ``complete``: the answer to a
    GetConfiguration for every key, which replaces what was known before."""
    ops: list[WriteOp] = []
    if complete:

        async def forget(conn: WriteConnection) -> None:
            await conn.execute(
                delete(station_configuration).where(
                    station_configuration.c.station_id == station_id
                )
            )

        ops.append(Custom(forget))
    if keys:
        now = utcnow()
        rows = [
            {
                "station_id": station_id,
                "key": k.key,
                "value": k.value,
                "readonly": k.readonly,
                "known": k.known,
                "learned_at": now,
            }
            for k in keys
        ]
        ops.append(Upsert(station_configuration, rows, key=("station_id", "key")))
    return ops


async def station_configuration_of(db: Reads, station_id: str) -> list[dict[str, Any]]:
    """A station's known configuration keys by key: key, value, readonly, known, learned_at."""
    c = station_configuration.c
    rows = await db.all(
        select(c.key, c.value, c.readonly, c.known, c.learned_at)
        .where(c.station_id == station_id)
        .order_by(c.key)
    )
    return [{str(k): v for k, v in row.items()} for row in rows]
