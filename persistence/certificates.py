"""The certificates a station holds, as its answers to InstallCertificate, DeleteCertificate,
GetInstalledCertificateIds and CertificateSigned told them: one row per certificate, keyed by station,
certificate type, serial number and issuer key hash (OCPP CertificateHashData)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select

from persistence.connections import WriteConnection
from persistence.models import station_certificates
from persistence.reads import Reads
from persistence.sqltypes import utcnow
from persistence.writer import Custom, Upsert, WriteOp

_KEY = ("station_id", "certificate_type", "serial_number", "issuer_key_hash")


def _row(
    station_id: str,
    certificate_type: str,
    hash_data: Mapping[str, Any],
    details: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "certificate_type": certificate_type,
        "serial_number": str(hash_data["serialNumber"]),
        "issuer_key_hash": str(hash_data["issuerKeyHash"]),
        "issuer_name_hash": str(hash_data["issuerNameHash"]),
        "hash_algorithm": str(hash_data["hashAlgorithm"]),
        "details": dict(details) if details else None,
        "updated_at": utcnow(),
    }


def certificate_installed(
    station_id: str,
    certificate_type: str,
    hash_data: Mapping[str, Any],
    details: Mapping[str, Any] | None = None,
) -> WriteOp:
    """The station accepted a certificate (InstallCertificate, CertificateSigned)."""
    return Upsert(
        station_certificates, [_row(station_id, certificate_type, hash_data, details)], _KEY
    )


def certificate_deleted(station_id: str, hash_data: Mapping[str, Any]) -> WriteOp:
    """The station deleted a certificate, or answered that it has none such (DeleteCertificate);
    whatever its type, since DeleteCertificate does not name one."""
    c = station_certificates.c

    async def run(conn: WriteConnection) -> None:
        await conn.execute(
            delete(station_certificates).where(
                c.station_id == station_id,
                c.serial_number == str(hash_data["serialNumber"]),
                c.issuer_key_hash == str(hash_data["issuerKeyHash"]),
                c.issuer_name_hash == str(hash_data["issuerNameHash"]),
            )
        )

    return Custom(run)


def certificates_reported(
    station_id: str,
    types: Iterable[str],
    reported: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]],
) -> WriteOp:
    """A full list of the station's certificates of ``types`` (GetInstalledCertificateIds): what
    was known of those types is replaced by ``reported`` (type, hash data, details)."""
    c = station_certificates.c
    types = tuple(types)
    rows = [_row(station_id, t, h, d) for t, h, d in reported]

    async def run(conn: WriteConnection) -> None:
        await conn.execute(
            delete(station_certificates).where(
                c.station_id == station_id, c.certificate_type.in_(types)
            )
        )
        if rows:
            await Upsert(station_certificates, rows, _KEY).apply(conn)

    return Custom(run)


async def list_certificates(db: Reads, station_id: str) -> list[dict[str, Any]]:
    """A station's known certificates, by type and serial number."""
    c = station_certificates.c
    statement = (
        select(station_certificates)
        .where(c.station_id == station_id)
        .order_by(c.certificate_type, c.serial_number)
    )
    return [dict(row) for row in await db.all(statement)]
