"""``POST /api/v1/stations/{id}/commands/{Action}``: a CSMS-initiated OCPP call, answered with the
charger's response.

400 payload or action not valid for the station's version (nothing sent), 404 not connected, 502 the
charger answered with a CALLERROR, 504 no answer in time (``?timeout=`` seconds, default configured).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.calls import (
    CommandRejected,
    CommandResult,
    CommandTimeout,
    InvalidCommand,
    StationBusy,
    StationNotAccepted,
    StationNotConnected,
)
from http_api.fields import optional_object
from http_api.problems import ApiProblem, json_response
from http_api.state import API_STATE, ApiState

routes = web.RouteTableDef()


async def call_station(
    state: ApiState, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
) -> CommandResult:
    """Send a call to a station wherever it is connected; what went wrong becomes the problem an
    operator gets: 400 not valid for the station's version (nothing sent), 404 not connected,
    409 not accepted yet, 503 its connection is overloaded, 504 no answer in time, 502 a
    CALLERROR."""
    try:
        return await state.router.call(station_id, action, payload, timeout=timeout)
    except InvalidCommand as exc:
        raise ApiProblem(400, "Bad Request", str(exc), code=exc.code) from None
    except StationNotConnected as exc:
        raise ApiProblem(404, "Not Found", str(exc)) from None
    except StationNotAccepted as exc:
        raise ApiProblem(409, "Conflict", str(exc)) from None
    except StationBusy as exc:
        raise ApiProblem(503, "Service Unavailable", str(exc)) from None
    except CommandTimeout as exc:
        raise ApiProblem(504, "Gateway Timeout", str(exc)) from None
    except CommandRejected as exc:
        raise ApiProblem(
            502,
            "Bad Gateway",
            f"the station answered with a CALLERROR: {exc.code}",
            code=exc.code,
            description=exc.description,
            details=exc.details,
        ) from None


MAX_TIMEOUT = 300.0


@routes.post("/api/v1/stations/{station_id}/commands/{action}")
async def send_command(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    action = request.match_info["action"]
    payload = await optional_object(request)
    timeout = state.command_timeout
    if "timeout" in request.query:
        try:
            timeout = float(request.query["timeout"])
        except ValueError:
            raise ApiProblem(400, "Bad Request", "timeout must be a number of seconds") from None
        if not 0 < timeout <= MAX_TIMEOUT:
            raise ApiProblem(400, "Bad Request", f"timeout must be in (0, {MAX_TIMEOUT:g}]")
    result = await call_station(state, station_id, action, payload, timeout=timeout)
    body = {"action": action, "response": result.payload}
    if result.violation is not None:
        body["schema_violation"] = result.violation
    return json_response(body)
