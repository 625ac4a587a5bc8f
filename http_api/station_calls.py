"""What a REST resource checks before it sends a call to a station, in one place.

A resource refuses a call that cannot be delivered before it spends anything on it (an id, a row):
404 the station is unknown, 409 its registration does not let it take the call, 404 it is not
connected, 409 it speaks OCPP 1.6 where the resource exists only in 2.x. The charge point actor
applies the registration again when the call is sent (``call_station`` maps that to 409 as well);
this is the same rule read from the stored station.
"""

from __future__ import annotations

from csms.station.registration import refusal, standing_of
from http_api.problems import ApiProblem
from http_api.state import ApiState
from persistence import stations
from persistence.records import RegistrationStatus, StationRecord
from transport.versions import OcppVersion


async def known_station(state: ApiState, station_id: str) -> StationRecord:
    """The stored station; 404 when there is none."""
    station = await stations.get_station(state.reads, station_id)
    if station is None:
        raise ApiProblem(404, "Not Found", f"no station {station_id!r}")
    return station


def _refuses(station: StationRecord, action: str) -> str | None:
    """Why the stored station's registration refuses ``action`` (``csms.station.registration``),
    or None. One the operator never registered is answered Pending or Rejected by the node's
    policy, never Accepted; one not allowed is Rejected."""
    standing = standing_of(station) if station.registered else RegistrationStatus.PENDING
    if not station.allowed:
        standing = RegistrationStatus.REJECTED
    why = refusal(standing, action)
    return None if why is None else f"is not accepted: {why}"


async def station_to_call(
    state: ApiState, station_id: str, action: str, *, v2_only: str | None = None
) -> OcppVersion:
    """The OCPP version of the connected station that may take ``action`` now; 404 unknown, 409
    its registration refuses it, 404 not connected, and with ``v2_only`` (what the resource is,
    for the message) 409 when it speaks OCPP 1.6."""
    why = _refuses(await known_station(state, station_id), action)
    if why is not None:
        raise ApiProblem(409, "Conflict", f"station {station_id!r} {why}")
    version = await state.router.version_of(station_id)
    if version is None:
        raise ApiProblem(404, "Not Found", f"station {station_id!r} is not connected")
    if v2_only is not None and version is OcppVersion.V16:
        raise ApiProblem(
            409,
            "Conflict",
            f"station {station_id!r} is connected with OCPP 1.6, which has no {v2_only}: "
            "it needs OCPP 2.0.1 or 2.1",
        )
    return version
