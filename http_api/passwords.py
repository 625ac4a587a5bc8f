"""``POST /api/v1/stations/{id}/password``: give a connected station a new basic-auth password
(OCPP 2.0.1 Part 2 A01; the 1.6 security whitepaper's AuthorizationKey).

``{}`` generates one, ``{"password": "..."}`` uses the one given. The new password's hash is held as
the station's pending password from before the command is sent until its answer: the admission
accepts it beside the current one and promotes it when the station connects with it, so neither a
reconnect that races the answer nor a lost answer after the station stored it locks the station
out. A station that answers anything but Accepted (or RebootRequired), a CALLERROR or no answer
leaves the pending password as it was before. The generated password is in the response once and
never logged or stored in clear.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from csms.pki.passwords import (
    InvalidPassword,
    check_password,
    generate_password,
    password_command,
    password_status,
    took_password,
)
from gateway.calls import (
    CommandError,
    CommandRejected,
    CommandTimeout,
    StationBusy,
    StationNotAccepted,
    StationNotConnected,
)
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE
from persistence.stations import swap_pending_password
from transport.security import hash_password

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.post("/api/v1/stations/{station_id}/password")
async def rotate_password(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    raw = await request.read()
    body = read_object(await read_json(request)) if raw.strip() else {}
    unknown = set(body) - {"password"}
    if unknown:
        raise ApiProblem(400, "Bad Request", f"unknown fields: {', '.join(sorted(unknown))}")
    version = await state.router.version_of(station_id)
    if version is None:
        raise ApiProblem(404, "Not Found", f"station {station_id!r} is not connected")
    generated = "password" not in body
    try:
        password = (
            generate_password(version) if generated else check_password(body["password"], version)
        )
    except InvalidPassword as exc:
        raise ApiProblem(400, "Bad Request", str(exc)) from None
    # scrypt releases the GIL: in a thread it does not stall the chargers.
    password_hash = await asyncio.to_thread(hash_password, password)
    found, previous = await swap_pending_password(state.engine, station_id, password_hash)
    if not found:
        raise ApiProblem(404, "Not Found", f"no station {station_id!r}")
    action, payload = password_command(version, password)
    try:
        result = await state.router.call(station_id, action, payload, timeout=state.command_timeout)
    except CommandError as exc:
        await swap_pending_password(state.engine, station_id, previous, expected=password_hash)
        log.warning("%s: password not changed: %s", station_id, type(exc).__name__)
        raise _problem(exc) from None
    status = password_status(action, result.payload)
    taken = took_password(status)
    if not taken:
        await swap_pending_password(state.engine, station_id, previous, expected=password_hash)
    log.info("%s: new password %s (%s)", station_id, "pending" if taken else "refused", status)
    body_out: dict[str, object] = {
        "station_id": station_id,
        "action": action,
        "status": status,
        "changed": taken,
    }
    if taken and generated:
        body_out["password"] = password
    return json_response(body_out)


def _problem(exc: CommandError) -> ApiProblem:
    kept = "; the station keeps its current password"
    if isinstance(exc, StationNotConnected):
        return ApiProblem(404, "Not Found", str(exc) + kept)
    if isinstance(exc, StationNotAccepted):
        return ApiProblem(409, "Conflict", str(exc) + kept)
    if isinstance(exc, StationBusy):
        return ApiProblem(503, "Service Unavailable", str(exc) + kept)
    if isinstance(exc, CommandTimeout):
        return ApiProblem(504, "Gateway Timeout", str(exc) + kept)
    if isinstance(exc, CommandRejected):
        return ApiProblem(
            502, "Bad Gateway", f"the station answered with a CALLERROR: {exc.code}{kept}"
        )
    return ApiProblem(502, "Bad Gateway", str(exc) + kept)
