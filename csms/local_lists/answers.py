"""What the central system learns from the stations' answers to SendLocalList and
GetLocalListVersion, whoever sent them (the local-list resource, the sync loop or the raw command
endpoint): the version and entries a station holds, and how its last update went."""

from __future__ import annotations

from typing import Any

from csms.local_lists.entries import sent_update
from csms.station.charge_point import ChargePointActor
from persistence.local_lists import update_answered, version_reported
from transport.versions import OcppVersion


async def send_local_list_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """1.6 section 5.15, 2.0.1 D01: Accepted, Failed, NotSupported or VersionMismatch."""
    update = sent_update(cp.version.value, request)
    status = str(response["status"])
    await cp.services.writer.submit(
        update_answered(
            cp.station_id,
            version=update.version,
            update_type=update.update_type,
            status=status,
            entries=update.entries,
            removed=update.removed,
        )
    )
    cp.services.events.publish(
        "local_list.updated",
        cp.station_id,
        {"version": update.version, "update_type": update.update_type, "status": status},
    )


def reported_version(version: OcppVersion, response: dict[str, Any]) -> int:
    """The version a GetLocalListVersion answer names (1.6 section 5.10: 0 no list, -1 not
    supported; 2.0.1 D02: 0 no list)."""
    return int(response["listVersion" if version is OcppVersion.V16 else "versionNumber"])


async def get_local_list_version_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    await cp.services.writer.submit(
        version_reported(cp.station_id, reported_version(cp.version, response))
    )
