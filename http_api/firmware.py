"""Firmware updates, campaigns and publications.

- ``/api/v1/stations/{id}/firmware-updates``: ask a station to update (1.6 UpdateFirmware, or
  SignedUpdateFirmware when a signature and signing certificate are given; 2.x UpdateFirmware
  with requestId, L01/L02), and its updates as tracked from its FirmwareStatusNotifications;
- ``/api/v1/firmware-campaigns``: one update for a group of stations (a list, or those whose boot
  matches a filter) started at ``start_at``, at most ``concurrency`` in progress at a time;
- ``/api/v1/stations/{id}/firmware-publications``: a 2.x local controller publishes firmware to
  the stations behind it (L03 PublishFirmware), and stops (L04 UnpublishFirmware, on DELETE).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from csms.firmware import sender, settings, statuses, tracking, updates
from csms.firmware.loop import SCHEDULED
from gateway.calls import CommandResult
from http_api.commands import call_station
from http_api.fields import bad, int_field, refuse_unknown, text_field, time_field
from http_api.openapi_parts import (
    NULLABLE_INT,
    NULLABLE_STR,
    NULLABLE_TIME,
    PAGING,
    PROBLEM,
    STATION_CALL_PROBLEMS,
    json_content,
    page,
    path_param,
    ref,
)
from http_api.pagination import page_params
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE, ApiState
from http_api.station_calls import known_station, station_to_call
from persistence import firmware as store
from persistence.keyed_rows import run_alone
from persistence.sqltypes import utcnow
from persistence.writer import WriteOp
from transport.versions import OcppVersion

routes = web.RouteTableDef()

# -- request bodies --------------------------------------------------------------------------


def location_field(body: Mapping[str, Any], name: str = "location") -> str:
    """A URL the station can fetch (2.0.1 FirmwareType.location: up to 512 characters)."""
    value = text_field(body, name, required=True, limit=512)
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
        raise bad(f"{name} must be an absolute URL (https://, ftp://...)")
    return str(value)


def id_of(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise ApiProblem(404, "Not Found", f"no such {name.replace('_', ' ')}")
    return int(raw)


def apply_with(state: ApiState) -> sender.Apply:
    async def apply(op: WriteOp) -> Any:
        return await run_alone(state.engine, op)

    return apply


# -- updates ---------------------------------------------------------------------------------

_UPDATE_FIELDS = {
    "location",
    "retrieve_at",
    "install_at",
    "retries",
    "retry_interval",
    "resends",
    "resend_interval",
    "signature",
    "signing_certificate",
}


def _update_values(body: Mapping[str, Any]) -> dict[str, Any]:
    refuse_unknown(body, _UPDATE_FIELDS)
    signature = text_field(body, "signature", limit=800)
    certificate = text_field(body, "signing_certificate", limit=5500)
    if (signature is None) != (certificate is None):
        raise bad("signature and signing_certificate go together (a signed update needs both)")
    return {
        "location": location_field(body),
        "retrieve_at": time_field(body, "retrieve_at"),
        "install_at": time_field(body, "install_at"),
        "retries": int_field(body, "retries", low=0, high=100),
        "retry_interval": int_field(body, "retry_interval", low=0, high=7 * 86400),
        "resends": int_field(body, "resends", low=0, high=100),
        "resend_interval": int_field(body, "resend_interval", low=0, high=7 * 86400),
        "signature": signature,
        "signing_certificate": certificate,
    }


def update_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "station_id": row["station_id"],
        "campaign_id": row["campaign_id"],
        "status": row["status"],
        "final": row["status"] in statuses.FIRMWARE_FINAL and row["next_attempt_at"] is None,
        "request_id": row["request_id"],
        "action": row["action"],
        "location": row["location"],
        "retrieve_at": row["retrieve_at"],
        "install_at": row["install_at"],
        "signed": bool(row["signature"]),
        "retries": row["retries"],
        "retry_interval": row["retry_interval"],
        "resends": row["resends"],
        "resend_interval": row["resend_interval"],
        "attempts": row["attempts"],
        "next_attempt_at": row["next_attempt_at"],
        "detail": row["detail"],
        "last_status_at": row["last_status_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _problem_failure(exc: Exception) -> updates.Failure:
    """What the problem ``call_station`` raised means for the update (it keeps the CALLERROR's
    code)."""
    if isinstance(exc, ApiProblem):
        return updates.Failure(exc.detail, exc.extra.get("code") in updates.UNSUPPORTED)
    return updates.command_failure(exc)


def _station_call(state: ApiState) -> sender.Send:
    async def send(station_id: str, action: str, payload: dict[str, Any]) -> CommandResult:
        return await call_station(state, station_id, action, payload, timeout=state.command_timeout)

    return send


@routes.post("/api/v1/stations/{station_id}/firmware-updates")
async def create_update(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    values = _update_values(read_object(await read_json(request)))
    version = await station_to_call(state, station_id, "UpdateFirmware")
    if version is OcppVersion.V16 and values["install_at"] and not updates.is_signed(values):
        # 1.6 section 6.53: the plain UpdateFirmware has no install time; dropping it silently
        # would install at once what the operator scheduled.
        raise bad("install_at needs a 2.x station or a signed update (1.6 security extension)")
    row = await run_alone(
        state.engine,
        store.update_created(
            {
                **values,
                "station_id": station_id,
                "campaign_id": None,
                "action": None,
                "status": statuses.QUEUED,
                "next_attempt_at": None,
            },
            with_request_id=False,
        ),
    )
    try:
        update_id = await sender.send_attempt(
            apply_with(state),
            _station_call(state),
            version,
            row,
            events=state.events,
            settings=settings.SETTINGS,
            now=utcnow(),
            describe=_problem_failure,
        )
    except ApiProblem as problem:
        # Kept as NotSent (and sent again if it has resends): the operator learns which it is.
        problem.extra["firmware_update_id"] = row["id"]
        raise
    found = await store.get_update(state.reads, update_id)
    assert found is not None
    return json_response(update_view(found), status=201)


@routes.get("/api/v1/stations/{station_id}/firmware-updates")
async def list_updates(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    limit, cursor = page_params(request)
    await known_station(state, station_id)
    found = await store.list_station_updates(state.reads, station_id, limit=limit, after=cursor)
    return json_response({"items": [update_view(r) for r in found.items], "next": found.next})


@routes.get("/api/v1/firmware-updates/{update_id}")
async def get_update(request: web.Request) -> web.Response:
    found = await store.get_update(request.app[API_STATE].reads, id_of(request, "update_id"))
    if found is None:
        raise ApiProblem(404, "Not Found", "no such firmware update")
    return json_response(update_view(found))


# -- campaigns -------------------------------------------------------------------------------

_CAMPAIGN_FIELDS = (_UPDATE_FIELDS - {"retrieve_at"}) | {
    "stations",
    "filter",
    "start_at",
    "concurrency",
}
_FILTER_KEYS = {"vendor", "model", "firmware_version"}
MAX_CAMPAIGN_STATIONS = 10_000


def _campaign_values(body: Mapping[str, Any]) -> dict[str, Any]:
    refuse_unknown(body, _CAMPAIGN_FIELDS)
    update = _update_values({k: v for k, v in body.items() if k in _UPDATE_FIELDS})
    del update["retrieve_at"]
    wanted, where = body.get("stations"), body.get("filter")
    if (wanted is None) == (where is None):
        raise bad("give either stations (a list of station ids) or filter, not both")
    if wanted is not None and (
        not isinstance(wanted, list)
        or not wanted
        or len(wanted) > MAX_CAMPAIGN_STATIONS
        or not all(isinstance(s, str) and s for s in wanted)
        or len(set(wanted)) != len(wanted)
    ):
        raise bad(f"stations must be a list of 1 to {MAX_CAMPAIGN_STATIONS} distinct station ids")
    if where is not None:
        if not isinstance(where, dict) or not where or set(where) - _FILTER_KEYS:
            raise bad(f"filter must be an object of some of {', '.join(sorted(_FILTER_KEYS))}")
        if not all(isinstance(v, str) for v in where.values()):
            raise bad("filter values must be strings")
    concurrency = int_field(body, "concurrency", low=1, high=10_000)
    return {
        **update,
        "stations": wanted,
        "filter": where,
        "start_at": time_field(body, "start_at") or utcnow(),
        "concurrency": concurrency if concurrency is not None else 10,
        "status": SCHEDULED,
    }


async def campaign_view(state: ApiState, row: Mapping[str, Any]) -> dict[str, Any]:
    counts = await store.campaign_counts(state.reads, row["id"])
    return {
        "id": row["id"],
        "status": row["status"],
        "location": row["location"],
        "signed": bool(row["signature"]),
        "stations": row["stations"],
        "filter": row["filter"],
        "start_at": row["start_at"],
        "install_at": row["install_at"],
        "concurrency": row["concurrency"],
        "retries": row["retries"],
        "retry_interval": row["retry_interval"],
        "resends": row["resends"],
        "resend_interval": row["resend_interval"],
        "counts": counts,
        "total": sum(counts.values()),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


@routes.post("/api/v1/firmware-campaigns")
async def create_campaign(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    values = _campaign_values(read_object(await read_json(request)))
    if values["stations"] is not None:
        known = await store.existing_stations(state.reads, values["stations"])
        unknown = [s for s in values["stations"] if s not in known]
        if unknown:
            shown = ", ".join(repr(s) for s in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise bad(f"unknown stations: {shown}{more}")
    row = await run_alone(state.engine, store.campaign_created(values))
    state.events.publish("firmware.campaign", None, {"id": row["id"], "status": row["status"]})
    return json_response(await campaign_view(state, row), status=201)


@routes.get("/api/v1/firmware-campaigns")
async def list_campaigns(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    limit, cursor = page_params(request)
    found = await store.list_campaigns(state.reads, limit=limit, after=cursor)
    items = [await campaign_view(state, r) for r in found.items]
    return json_response({"items": items, "next": found.next})


@routes.get("/api/v1/firmware-campaigns/{campaign_id}")
async def get_campaign(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    found = await store.get_campaign(state.reads, id_of(request, "campaign_id"))
    if found is None:
        raise ApiProblem(404, "Not Found", "no such firmware campaign")
    return json_response(await campaign_view(state, found))


@routes.delete("/api/v1/firmware-campaigns/{campaign_id}")
async def cancel_campaign(request: web.Request) -> web.Response:
    """Stops a campaign: its updates not sent yet are Canceled; those sent go on at the
    stations (OCPP has no cancel of an update but a newer one)."""
    state = request.app[API_STATE]
    campaign_id = id_of(request, "campaign_id")
    canceled = await run_alone(state.engine, store.campaign_canceled(campaign_id))
    if canceled is None:
        raise ApiProblem(404, "Not Found", "no such firmware campaign")
    state.events.publish("firmware.campaign", None, {"id": campaign_id, "status": "Canceled"})
    return web.Response(status=204)


# -- publications (2.x local controllers) ----------------------------------------------------

_MD5 = re.compile(r"[0-9a-fA-F]{32}")


def publication_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "station_id": row["station_id"],
        "request_id": row["request_id"],
        "location": row["location"],
        "checksum": row["checksum"],
        "status": row["status"],
        "published_at": row["published_at"],
        "final": row["status"] in tracking.PUBLICATION_FINAL,
        "detail": row["detail"],
        "last_status_at": row["last_status_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


@routes.post("/api/v1/stations/{station_id}/firmware-publications")
async def create_publication(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    body = read_object(await read_json(request))
    refuse_unknown(body, {"location", "checksum", "retries", "retry_interval"})
    location = location_field(body)
    checksum = text_field(body, "checksum", required=True, limit=32)
    if not _MD5.fullmatch(checksum):
        raise bad("checksum must be the firmware's MD5 digest, 32 hexadecimal digits")
    retries = int_field(body, "retries", low=0, high=100)
    interval = int_field(body, "retry_interval", low=0, high=7 * 86400)
    version = await station_to_call(state, station_id, "PublishFirmware")
    if version is OcppVersion.V16:
        raise ApiProblem(
            409, "Conflict", "PublishFirmware is OCPP 2.x (L03); the station speaks 1.6"
        )
    row = await run_alone(
        state.engine,
        store.publication_created(
            {
                "station_id": station_id,
                "location": location,
                "checksum": checksum.lower(),
                "status": statuses.PENDING,
            }
        ),
    )
    payload: dict[str, Any] = {
        "location": location,
        "checksum": row["checksum"],
        "requestId": row["request_id"],
    }
    if retries is not None:
        payload["retries"] = retries
    if interval is not None:
        payload["retryInterval"] = interval
    await _settle(state, row, payload)
    found = await store.get_publication(state.reads, station_id, row["id"])
    assert found is not None
    return json_response(publication_view(found), status=201)


async def _settle(state: ApiState, row: Mapping[str, Any], payload: dict[str, Any]) -> None:
    """Send the PublishFirmware; a failure leaves the publication NotSent (the problem names it)
    and is the answer."""
    now = utcnow()
    try:
        result = await call_station(
            state, row["station_id"], "PublishFirmware", payload, timeout=state.command_timeout
        )
    except ApiProblem as problem:
        await _publication_changed(state, row, tracking.publication_not_sent(problem.detail, now))
        problem.extra["firmware_publication_id"] = row["id"]
        raise
    # The station's actor has applied the answer already (its observer); this covers an answer
    # it could not keep.
    status = str(result.payload.get("status"))
    await _publication_changed(state, row, tracking.publication_answered(status, now))


async def _publication_changed(
    state: ApiState, row: Mapping[str, Any], change: store.Change
) -> None:
    changed = await run_alone(
        state.engine,
        store.publication_changed(
            row["station_id"], request_id=None, publication_id=row["id"], change=change
        ),
    )
    if changed is not None:
        tracking.publish_publication(state.events, changed)


@routes.get("/api/v1/stations/{station_id}/firmware-publications")
async def list_publications(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    limit, cursor = page_params(request)
    await known_station(state, station_id)
    found = await store.list_publications(state.reads, station_id, limit=limit, after=cursor)
    return json_response({"items": [publication_view(r) for r in found.items], "next": found.next})


@routes.delete("/api/v1/stations/{station_id}/firmware-publications/{publication_id}")
async def unpublish(request: web.Request) -> web.Response:
    """UnpublishFirmware (L04) of the publication's checksum; the station's answer with the
    publication as it then is (Unpublished once the station says so)."""
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    found = await store.get_publication(state.reads, station_id, id_of(request, "publication_id"))
    if found is None:
        raise ApiProblem(404, "Not Found", "no such firmware publication")
    result = await call_station(
        state,
        station_id,
        "UnpublishFirmware",
        {"checksum": found["checksum"]},
        timeout=state.command_timeout,
    )
    after = await store.get_publication(state.reads, station_id, found["id"])
    assert after is not None
    return json_response(
        {"status": result.payload.get("status"), "publication": publication_view(after)}
    )


# -- OpenAPI ---------------------------------------------------------------------------------

_STATION = [path_param("station_id")]

PATHS: dict[str, Any] = {
    "/api/v1/stations/{station_id}/firmware-updates": {
        "parameters": _STATION,
        "post": {
            "x-required-role": "operator",
            "summary": "Ask a connected station to update its firmware (1.6 UpdateFirmware, or "
            "SignedUpdateFirmware when signed; 2.x UpdateFirmware, L01/L02); tracked from its "
            "FirmwareStatusNotifications to a final status, retried when it fails",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("FirmwareUpdateRequest")}},
            },
            "responses": {
                "201": json_content(ref("FirmwareUpdate"), "the update, as the station answered"),
                **STATION_CALL_PROBLEMS,
            },
        },
        "get": {
            "x-required-role": "viewer",
            "summary": "The station's firmware updates, newest first",
            "parameters": PAGING,
            "responses": {
                "200": json_content(page("FirmwareUpdate"), "updates"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
    },
    "/api/v1/firmware-updates/{update_id}": {
        "parameters": [path_param("update_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "One firmware update",
            "responses": {"200": json_content(ref("FirmwareUpdate"), "update"), "404": PROBLEM},
        },
    },
    "/api/v1/firmware-campaigns": {
        "post": {
            "x-required-role": "operator",
            "summary": "Update a group of stations from start_at, at most concurrency at a time",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("FirmwareCampaignRequest")}},
            },
            "responses": {
                "201": json_content(ref("FirmwareCampaign"), "the campaign"),
                "400": PROBLEM,
            },
        },
        "get": {
            "x-required-role": "viewer",
            "summary": "Firmware campaigns, newest first, with their updates counted by status",
            "parameters": PAGING,
            "responses": {
                "200": json_content(page("FirmwareCampaign"), "campaigns"),
                "400": PROBLEM,
            },
        },
    },
    "/api/v1/firmware-campaigns/{campaign_id}": {
        "parameters": [path_param("campaign_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "One campaign, with its updates counted by status",
            "responses": {
                "200": json_content(ref("FirmwareCampaign"), "campaign"),
                "404": PROBLEM,
            },
        },
        "delete": {
            "x-required-role": "operator",
            "summary": "Cancel a campaign: its updates not sent yet are Canceled",
            "responses": {"204": {"description": "canceled"}, "404": PROBLEM},
        },
    },
    "/api/v1/stations/{station_id}/firmware-publications": {
        "parameters": _STATION,
        "post": {
            "x-required-role": "operator",
            "summary": "A 2.x local controller publishes firmware to its stations (L03 "
            "PublishFirmware), tracked from PublishFirmwareStatusNotification",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("FirmwarePublicationRequest")}},
            },
            "responses": {
                "201": json_content(ref("FirmwarePublication"), "the publication"),
                **STATION_CALL_PROBLEMS,
            },
        },
        "get": {
            "x-required-role": "viewer",
            "summary": "The station's firmware publications, newest first",
            "parameters": PAGING,
            "responses": {
                "200": json_content(page("FirmwarePublication"), "publications"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
    },
    "/api/v1/stations/{station_id}/firmware-publications/{publication_id}": {
        "parameters": [*_STATION, path_param("publication_id")],
        "delete": {
            "x-required-role": "operator",
            "summary": "Stop publishing (L04 UnpublishFirmware of the publication's checksum)",
            "responses": {
                "200": json_content(ref("FirmwareUnpublished"), "the station's answer"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""

_RFC3339_NULLABLE = {**NULLABLE_TIME, "description": "RFC 3339 date-time with an offset"}
_UPDATE_REQUEST_PROPERTIES: dict[str, Any] = {
    "location": {"type": "string", "maxLength": 512, "description": "URL of the firmware"},
    "retrieve_at": {**_RFC3339_NULLABLE, "description": "when to download it; null: now"},
    "install_at": {**_RFC3339_NULLABLE, "description": "when to install it (2.x, 1.6 signed)"},
    "retries": {
        **NULLABLE_INT,
        "minimum": 0,
        "maximum": 100,
        "description": "sent to the station: how many times it retries the download before it "
        "reports DownloadFailed (null: the station decides)",
    },
    "retry_interval": {
        **NULLABLE_INT,
        "minimum": 0,
        "maximum": 7 * 86400,
        "description": "sent to the station: seconds between its download retries",
    },
    "resends": {
        **NULLABLE_INT,
        "minimum": 0,
        "maximum": 100,
        "description": "how many times voltmesh sends the update again after it failed "
        "(DownloadFailed, InstallationFailed, InstallVerificationFailed, NotSent, TimedOut); "
        "null: never",
    },
    "resend_interval": {
        **NULLABLE_INT,
        "minimum": 0,
        "maximum": 7 * 86400,
        "description": "seconds between a failure and voltmesh's next attempt (default 300)",
    },
    "signature": {**NULLABLE_STR, "maxLength": 800, "description": "base64 signature"},
    "signing_certificate": {
        **NULLABLE_STR,
        "maxLength": 5500,
        "description": "PEM certificate the signature was made with",
    },
}

SCHEMAS: dict[str, Any] = {
    "FirmwareUpdateRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["location"],
        "properties": _UPDATE_REQUEST_PROPERTIES,
    },
    "FirmwareUpdate": {
        "type": "object",
        "required": ["id", "station_id", "status", "final", "location", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "station_id": {"type": "string"},
            "campaign_id": NULLABLE_INT,
            "status": {
                "type": "string",
                "description": "Queued, Pending (being sent), NotSent, the station's answer "
                "(Accepted, Rejected, InvalidCertificate, RevokedCertificate), its last "
                "FirmwareStatusNotification (Downloading ... Installed, DownloadFailed, "
                "InstallationFailed, InvalidSignature ...), TimedOut or Canceled",
            },
            "final": {"type": "boolean", "description": "nothing more will happen to it"},
            "request_id": NULLABLE_INT,
            "action": NULLABLE_STR,
            "location": {"type": "string"},
            "retrieve_at": NULLABLE_TIME,
            "install_at": NULLABLE_TIME,
            "signed": {"type": "boolean"},
            "retries": NULLABLE_INT,
            "retry_interval": NULLABLE_INT,
            "resends": NULLABLE_INT,
            "resend_interval": NULLABLE_INT,
            "attempts": {"type": "integer"},
            "next_attempt_at": NULLABLE_TIME,
            "detail": NULLABLE_STR,
            "last_status_at": NULLABLE_TIME,
            "created_at": NULLABLE_TIME,
            "updated_at": NULLABLE_TIME,
        },
    },
    "FirmwareCampaignRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["location"],
        "properties": {
            **{k: v for k, v in _UPDATE_REQUEST_PROPERTIES.items() if k != "retrieve_at"},
            "stations": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "filter": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "vendor": {"type": "string"},
                    "model": {"type": "string"},
                    "firmware_version": {"type": "string"},
                },
                "description": "registered stations whose boot matches every key given",
            },
            "start_at": {**_RFC3339_NULLABLE, "description": "null: now"},
            "concurrency": {"type": "integer", "minimum": 1, "default": 10},
        },
    },
    "FirmwareCampaign": {
        "type": "object",
        "required": ["id", "status", "counts", "total"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": ["Scheduled", "Running", "Finished", "Canceled"]},
            "location": {"type": "string"},
            "signed": {"type": "boolean"},
            "stations": {"type": ["array", "null"], "items": {"type": "string"}},
            "filter": {"type": ["object", "null"]},
            "start_at": NULLABLE_TIME,
            "install_at": NULLABLE_TIME,
            "concurrency": {"type": "integer"},
            "retries": NULLABLE_INT,
            "retry_interval": NULLABLE_INT,
            "resends": NULLABLE_INT,
            "resend_interval": NULLABLE_INT,
            "counts": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "status -> how many of its updates are in it",
            },
            "total": {"type": "integer"},
            "created_at": NULLABLE_TIME,
            "updated_at": NULLABLE_TIME,
        },
    },
    "FirmwarePublicationRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["location", "checksum"],
        "properties": {
            "location": {"type": "string", "maxLength": 512},
            "checksum": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
            "retries": NULLABLE_INT,
            "retry_interval": NULLABLE_INT,
        },
    },
    "FirmwarePublication": {
        "type": "object",
        "required": ["id", "station_id", "status", "checksum"],
        "properties": {
            "id": {"type": "integer"},
            "station_id": {"type": "string"},
            "request_id": {"type": "integer"},
            "location": {"type": "string"},
            "checksum": {"type": "string"},
            "status": {"type": "string"},
            "published_at": {"type": ["array", "null"], "items": {"type": "string"}},
            "final": {"type": "boolean", "description": "nothing more will happen to it"},
            "detail": NULLABLE_STR,
            "last_status_at": NULLABLE_TIME,
            "created_at": NULLABLE_TIME,
            "updated_at": NULLABLE_TIME,
        },
    },
    "FirmwareUnpublished": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "description": "DownloadOngoing, NoFirmware, Unpublished"},
            "publication": ref("FirmwarePublication"),
        },
    },
}
"""OpenAPI schemas of this resource."""
