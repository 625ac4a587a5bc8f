"""Log requests, and the upload endpoint stations send their logs to.

``POST /api/v1/stations/{id}/log-requests`` makes an upload URL on this API for the request and
sends GetLog (2.0.1 N01, the 1.6 security whitepaper); a 1.6 station that answers GetLog with
NotImplemented or NotSupported (no security extension) gets GetDiagnostics (1.6 section 5.9) for a
diagnostics log. The request is tracked from LogStatusNotification / DiagnosticsStatusNotification
to a final status.

``PUT`` or ``POST /uploads/{station_id}/{token}[/{filename}]`` (raw body, or multipart/form-data as
chargers' HTTP uploads send it) stores what the station sends, streamed, under
``<data dir>/uploads/<station id>/``. An upload is authenticated by the URL's token alone: an
unguessable secret made for this one request, compared in constant time, and taken only while the
request is in progress. A station's OCPP password is neither asked for nor checked there: the
upload URL is plain http on the API port unless ``VOLTMESH_PUBLIC_URL`` says otherwise, and a
security profile 2 station's password must not travel in cleartext.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from csms.firmware import logs, statuses
from http_api.commands import call_station
from http_api.fields import bad, int_field, refuse_unknown, time_field
from http_api.firmware import id_of
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
from http_api.problems import ApiProblem, json_response, problem_response, read_json, read_object
from http_api.state import API_STATE, ApiState
from http_api.station_calls import known_station, station_to_call
from persistence import log_uploads as store
from persistence.keyed_rows import run_alone
from persistence.sqltypes import utcnow
from transport.versions import OcppVersion

routes = web.RouteTableDef()

MAX_UPLOAD_BYTES = 256 * 1024 * 1024
"""The largest file a station may upload (the API's 1 MiB body limit does not apply: it is
streamed to disk)."""
LOG_TYPES = ("DiagnosticsLog", "SecurityLog")
_NOT_IMPLEMENTED = frozenset({"NotImplemented", "NotSupported"})
RETRY_GRACE = timedelta(minutes=5)
"""How long after an ``UploadFailure`` (1.6: ``UploadFailed``) the URL still takes an upload:
some chargers report the failure of an attempt, then retry (the request's ``retries``) without
reporting ``Uploading`` again. After any other final status the URL takes nothing."""
_RETRYABLE_FAILURES = frozenset({"UploadFailure", "UploadFailed"})
_CHUNK = 1 << 16

# -- log requests ----------------------------------------------------------------------------


def log_request_view(row: Mapping[str, Any]) -> dict[str, Any]:
    file = None
    if row["stored_path"] is not None:
        file = {
            "name": row["file_name"],
            "size": row["file_size"],
            "sha256": row["file_sha256"],
            "uploaded_at": row["uploaded_at"],
            "href": f"/api/v1/log-requests/{row['id']}/file",
        }
    return {
        "id": row["id"],
        "station_id": row["station_id"],
        "request_id": row["request_id"],
        "action": row["action"],
        "log_type": row["log_type"],
        "oldest": row["oldest"],
        "latest": row["latest"],
        "retries": row["retries"],
        "retry_interval": row["retry_interval"],
        "status": row["status"],
        "final": row["status"] in statuses.LOG_FINAL,
        "detail": row["detail"],
        "announced_name": row["announced_name"],
        "file": file,
        "last_status_at": row["last_status_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def origin_of(request: web.Request) -> str:
    """Where the station reaches this API: ``VOLTMESH_PUBLIC_URL`` when set (behind a proxy the
    operator's origin is not the stations'), else the scheme and host of the operator's request."""
    public = request.app[API_STATE].public_url
    if public:
        return public.rstrip("/")
    return f"{request.scheme}://{request.host}"


async def _mark(state: ApiState, log_id: int, change: store.Change) -> None:
    changed = await run_alone(state.engine, store.log_request_changed(log_id=log_id, change=change))
    if changed is not None:
        logs.publish(state.events, changed)


@routes.post("/api/v1/stations/{station_id}/log-requests")
async def create_log_request(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    body = read_object(await read_json(request))
    refuse_unknown(body, {"log_type", "oldest", "latest", "retries", "retry_interval"})
    log_type = body.get("log_type", "DiagnosticsLog")
    if log_type not in LOG_TYPES:
        raise bad(f"log_type must be one of {', '.join(LOG_TYPES)}")
    oldest, latest = time_field(body, "oldest"), time_field(body, "latest")
    if oldest is not None and latest is not None and latest <= oldest:
        raise bad("latest must be later than oldest")
    retries = int_field(body, "retries", low=0, high=100)
    interval = int_field(body, "retry_interval", low=0, high=7 * 86400)
    if state.data_dir is None:
        raise ApiProblem(503, "Service Unavailable", "this node keeps no uploads (no data dir)")
    version = await station_to_call(state, station_id, "GetLog")
    row = await run_alone(
        state.engine,
        store.log_request_created(
            {
                "station_id": station_id,
                "action": "GetLog",
                "log_type": log_type,
                "oldest": oldest,
                "latest": latest,
                "retries": retries,
                "retry_interval": interval,
                "token": secrets.token_urlsafe(32),
                "status": statuses.PENDING,
            }
        ),
    )
    url = logs.upload_url(origin_of(request), row)
    try:
        try:
            await call_station(
                state,
                station_id,
                "GetLog",
                logs.get_log_payload(row, url),
                timeout=state.command_timeout,
            )
        except ApiProblem as problem:
            fallback = (
                version is OcppVersion.V16
                and log_type == "DiagnosticsLog"
                and problem.status == 502
                and problem.extra.get("code") in _NOT_IMPLEMENTED
            )
            if not fallback:
                raise
            # 1.6 without the security extension: its own diagnostics upload.
            await run_alone(
                state.engine,
                store.log_request_changed(
                    log_id=row["id"], change=lambda _: {"action": "GetDiagnostics"}
                ),
            )
            await call_station(
                state,
                station_id,
                "GetDiagnostics",
                logs.get_diagnostics_payload(row, url),
                timeout=state.command_timeout,
            )
    except ApiProblem as problem:
        await _mark(state, row["id"], logs.failed_to_send(problem.detail, utcnow()))
        problem.extra["log_request_id"] = row["id"]
        raise
    found = await store.get_log_request(state.reads, row["id"])
    assert found is not None
    return json_response(log_request_view(found), status=201)


@routes.get("/api/v1/stations/{station_id}/log-requests")
async def list_log_requests(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    limit, cursor = page_params(request)
    await known_station(state, station_id)
    found = await store.list_station_log_requests(
        state.reads, station_id, limit=limit, after=cursor
    )
    return json_response({"items": [log_request_view(r) for r in found.items], "next": found.next})


@routes.get("/api/v1/log-requests/{log_id}")
async def get_log_request(request: web.Request) -> web.Response:
    found = await store.get_log_request(request.app[API_STATE].reads, id_of(request, "log_id"))
    if found is None:
        raise ApiProblem(404, "Not Found", "no such log request")
    return json_response(log_request_view(found))


@routes.get("/api/v1/log-requests/{log_id}/file")
async def download(request: web.Request) -> web.StreamResponse:
    state = request.app[API_STATE]
    found = await store.get_log_request(state.reads, id_of(request, "log_id"))
    if found is None:
        raise ApiProblem(404, "Not Found", "no such log request")
    if found["stored_path"] is None or state.data_dir is None:
        raise ApiProblem(404, "Not Found", "the station has not uploaded this log")
    path = _inside(state.data_dir / "uploads", state.data_dir / found["stored_path"])
    if path is None or not path.is_file():
        raise ApiProblem(404, "Not Found", "the uploaded file is no longer kept")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{found["file_name"]}"',
        },
    )


# -- the upload endpoint ---------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(raw: str | None, fallback: str) -> str:
    """A file name that cannot leave its directory: the last path segment of what the station
    gave (percent-decoded first, as some clients encode the multipart file name), of letters,
    digits, ``.``, ``_`` and ``-``, not starting with a dot."""
    name = unquote(raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).lstrip(".")[:120]
    return name or fallback


def _inside(base: Path, path: Path) -> Path | None:
    """``path`` resolved, if it is within ``base``."""
    resolved = path.resolve()
    return resolved if resolved.is_relative_to(base.resolve()) else None


class TooLarge(Exception):
    pass


async def _chunks(request: web.Request) -> AsyncIterator[tuple[str | None, bytes]]:
    """The uploaded bytes, with the file name a multipart part gives (None for a raw body)."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                return
            if not isinstance(part, BodyPartReader):
                continue
            # The file's part (chargers send one); a plain form field before it is skipped.
            if part.filename is None and part.name not in (None, "file"):
                continue
            while chunk := await part.read_chunk(_CHUNK):
                yield part.filename, chunk
            return
    async for chunk in request.content.iter_chunked(_CHUNK):
        yield None, chunk


_RECEIVING: weakref.WeakKeyDictionary[web.Application, set[int]] = weakref.WeakKeyDictionary()
"""Log requests whose upload this API is streaming now: one at a time per request, so that a
station cannot hold many partial files of up to ``MAX_UPLOAD_BYTES`` each for one URL."""


@contextlib.contextmanager
def _receiving(app: web.Application, log_id: int) -> Iterator[bool]:
    """Whether this upload may go on (no other one of the same request in progress here)."""
    busy = _RECEIVING.setdefault(app, set())
    if log_id in busy:
        yield False
        return
    busy.add(log_id)
    try:
        yield True
    finally:
        busy.discard(log_id)


def taking_uploads(row: Mapping[str, Any], now: datetime) -> bool:
    """Whether the request's URL takes an upload now: while the request is in progress (Pending,
    Accepted, Uploading), and for ``RETRY_GRACE`` after the station reported an upload failure.
    Once it is final otherwise (Uploaded, Rejected, NoLogs, NotSent, TimedOut, Canceled...), its
    URL is dead: a secret that leaked later opens nothing."""
    status = row["status"]
    if status in statuses.LOG_ACTIVE:
        return True
    since = row["last_status_at"]
    return status in _RETRYABLE_FAILURES and since is not None and now - since < RETRY_GRACE


_FORBIDDEN = "this upload URL was not made for this station by voltmesh"
"""The one refusal of a URL that does not name a request: the same for an unknown station, so
that it tells nobody which stations exist."""


@routes.put("/uploads/{station_id}/{token}")
@routes.post("/uploads/{station_id}/{token}")
@routes.put("/uploads/{station_id}/{token}/")
@routes.post("/uploads/{station_id}/{token}/")
@routes.put("/uploads/{station_id}/{token}/{filename}")
@routes.post("/uploads/{station_id}/{token}/{filename}")
async def receive_upload(request: web.Request) -> web.Response:
    """Authenticated by the URL's secret alone: an ``Authorization`` header a charger sends
    anyway is ignored, and none is asked for (no 401). Refusals: 403 for a URL voltmesh did not
    make for this station (an unknown station, an unknown request, a wrong secret, another
    station's request), with one body for all; 409 once the request is no longer in progress
    (``taking_uploads``) or while another upload of it is in progress; 413 past
    ``MAX_UPLOAD_BYTES``."""
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    if state.data_dir is None:
        return problem_response(503, "Service Unavailable", "this node keeps no uploads")
    row = await _request_of(state, station_id, request.match_info["token"])
    base = state.data_dir / "uploads"
    directory = _inside(base, base / station_id)
    if row is None or directory is None or directory.parent != base.resolve():
        return problem_response(403, "Forbidden", _FORBIDDEN)
    if not taking_uploads(row, utcnow()):
        return problem_response(
            409, "Conflict", f"this log request is {row['status']}: it takes no more uploads"
        )
    if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
        return _too_large()
    with _receiving(request.app, row["id"]) as alone:
        if not alone:
            return problem_response(
                409, "Conflict", "another upload of this log is in progress; retry after it"
            )
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        try:
            name, size, digest = await _store(request, directory, row)
        except TooLarge:
            return _too_large()
    now = utcnow()

    def received(found: dict[str, Any]) -> dict[str, Any]:
        # The status stays the station's word (its Uploaded or UploadFailure follows).
        return {
            "file_name": name,
            "stored_path": f"uploads/{station_id}/{row['id']}-{name}",
            "file_size": size,
            "file_sha256": digest,
            "uploaded_at": now,
        }

    changed = await run_alone(
        state.engine, store.log_request_changed(log_id=row["id"], change=received)
    )
    if changed is not None:
        logs.publish(state.events, changed)
    return json_response(
        {"id": row["id"], "file_name": name, "size": size, "sha256": digest}, status=201
    )


async def _request_of(state: ApiState, station_id: str, token: str) -> dict[str, Any] | None:
    """The station's log request the URL's ``<id>-<secret>`` names, the secret compared in
    constant time; None when it names none."""
    log_id, _, secret = token.partition("-")
    if not (log_id.isascii() and log_id.isdigit() and len(log_id) <= 18 and secret):
        return None
    row = await store.get_log_request(state.reads, int(log_id))
    if row is None or row["station_id"] != station_id:
        return None
    if not hmac.compare_digest(row["token"].encode(), secret.encode()):
        return None
    return row


def _too_large() -> web.Response:
    return problem_response(
        413, "Content Too Large", f"an upload may hold {MAX_UPLOAD_BYTES} bytes at most"
    )


async def _store(
    request: web.Request, directory: Path, row: Mapping[str, Any]
) -> tuple[str, int, str]:
    """Stream the body to a temporary file, then put it in place; (name, size, sha256)."""
    partial = directory / f".{row['id']}.{secrets.token_hex(4)}.part"
    digest = hashlib.sha256()
    size = 0
    given: str | None = request.match_info.get("filename")
    try:
        out = await asyncio.to_thread(partial.open, "wb")
        try:
            async for part_name, chunk in _chunks(request):
                given = given or part_name
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise TooLarge
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
        finally:
            await asyncio.to_thread(out.close)
        name = safe_name(given, f"log-{row['id']}")
        # safe_name leaves no separator: the file is in the station's directory.
        target = directory / f"{row['id']}-{name}"
        if row["stored_path"] is not None:
            # A second upload for the request replaces the first.
            with contextlib.suppress(OSError):
                old = _inside(directory, directory.parent.parent / row["stored_path"])
                if old is not None and old != target.resolve():
                    old.unlink()
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return name, size, digest.hexdigest()


# -- OpenAPI ---------------------------------------------------------------------------------

_UPLOAD_OPERATION = {
    "security": [],
    "summary": "A station uploads the log it was asked for (the URL its GetLog or "
    "GetDiagnostics named): raw body or multipart/form-data, streamed, at most 256 MiB. "
    "Authenticated by the URL's token alone (a secret made for the request, valid while the "
    "request is in progress); no password is asked for or checked",
    "requestBody": {
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        }
    },
    "responses": {
        "201": json_content(ref("LogUploadReceived"), "stored"),
        "403": {
            **PROBLEM,
            "description": "the URL was not made for this station (or there is no such station)",
        },
        "409": {
            **PROBLEM,
            "description": "the log request is no longer in progress (Uploaded, Rejected, "
            "TimedOut...), or another upload of it is in progress",
        },
        "413": PROBLEM,
        "503": PROBLEM,
    },
}

_UPLOAD_PARAMETERS = [path_param("station_id"), path_param("token")]

PATHS: dict[str, Any] = {
    "/api/v1/stations/{station_id}/log-requests": {
        "parameters": [path_param("station_id")],
        "post": {
            "x-required-role": "operator",
            "summary": "Ask a connected station for its log (GetLog; a 1.6 station without the "
            "security extension gets GetDiagnostics), uploaded to this API and tracked to a "
            "final status",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("LogRequestBody")}},
            },
            "responses": {
                "201": json_content(ref("LogRequest"), "the request, as the station answered"),
                **STATION_CALL_PROBLEMS,
            },
        },
        "get": {
            "x-required-role": "viewer",
            "summary": "The station's log requests, newest first",
            "parameters": PAGING,
            "responses": {
                "200": json_content(page("LogRequest"), "log requests"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
    },
    "/api/v1/log-requests/{log_id}": {
        "parameters": [path_param("log_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "One log request, with the file the station sent (name, size, sha256)",
            "responses": {"200": json_content(ref("LogRequest"), "log request"), "404": PROBLEM},
        },
    },
    "/api/v1/log-requests/{log_id}/file": {
        "parameters": [path_param("log_id")],
        "get": {
            # Operator, not viewer: a station's logs may hold personal data (id tokens, times
            # of use, addresses of the networks it joined).
            "x-required-role": "operator",
            "summary": "Download the file the station uploaded (logs may hold personal data: "
            "operators only)",
            "responses": {
                "200": {
                    "description": "the file, as sent",
                    "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                },
                "404": PROBLEM,
            },
        },
    },
    "/uploads/{station_id}/{token}": {
        "parameters": _UPLOAD_PARAMETERS,
        "put": _UPLOAD_OPERATION,
        "post": _UPLOAD_OPERATION,
    },
    "/uploads/{station_id}/{token}/": {
        "parameters": _UPLOAD_PARAMETERS,
        "put": _UPLOAD_OPERATION,
        "post": _UPLOAD_OPERATION,
    },
    "/uploads/{station_id}/{token}/{filename}": {
        "parameters": [*_UPLOAD_PARAMETERS, path_param("filename")],
        "put": _UPLOAD_OPERATION,
        "post": _UPLOAD_OPERATION,
    },
}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""

SCHEMAS: dict[str, Any] = {
    "LogRequestBody": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "log_type": {"type": "string", "enum": list(LOG_TYPES), "default": "DiagnosticsLog"},
            "oldest": {**NULLABLE_TIME, "description": "oldest entry wanted (RFC 3339)"},
            "latest": {**NULLABLE_TIME, "description": "latest entry wanted (RFC 3339)"},
            "retries": {**NULLABLE_INT, "description": "upload retries of the station"},
            "retry_interval": {**NULLABLE_INT, "description": "seconds between them"},
        },
    },
    "LogRequest": {
        "type": "object",
        "required": ["id", "station_id", "log_type", "status", "final"],
        "properties": {
            "id": {"type": "integer"},
            "station_id": {"type": "string"},
            "request_id": NULLABLE_INT,
            "action": {"type": ["string", "null"], "enum": ["GetLog", "GetDiagnostics", None]},
            "log_type": {"type": "string"},
            "oldest": NULLABLE_TIME,
            "latest": NULLABLE_TIME,
            "retries": NULLABLE_INT,
            "retry_interval": NULLABLE_INT,
            "status": {
                "type": "string",
                "description": "Pending, NotSent, the station's answer (Accepted, Rejected; "
                "NoLogs: a 1.6 GetDiagnostics without a file), its last status notification "
                "(Uploading, Uploaded, UploadFailure/UploadFailed, BadMessage, "
                "NotSupportedOperation, PermissionDenied), TimedOut or Canceled",
            },
            "final": {"type": "boolean"},
            "detail": NULLABLE_STR,
            "announced_name": NULLABLE_STR,
            "file": {
                "type": ["object", "null"],
                "properties": {
                    "name": {"type": "string"},
                    "size": {"type": "integer"},
                    "sha256": {"type": "string"},
                    "uploaded_at": NULLABLE_TIME,
                    "href": {"type": "string"},
                },
            },
            "last_status_at": NULLABLE_TIME,
            "created_at": NULLABLE_TIME,
            "updated_at": NULLABLE_TIME,
        },
    },
    "LogUploadReceived": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "file_name": {"type": "string"},
            "size": {"type": "integer"},
            "sha256": {"type": "string"},
        },
    },
}
"""OpenAPI schemas of this resource."""
