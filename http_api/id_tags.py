"""``/api/v1/id-tags``: the id tokens drivers present, with status, expiry and group."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from http_api.local_lists import id_tag_changed as local_lists_follow
from http_api.pagination import page_params
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE
from http_api.views import id_token_view
from persistence import id_tokens
from persistence.records import IdTokenRecord, IdTokenStatus, id_token_key

routes = web.RouteTableDef()

# ConcurrentTx and NotAtThisLocation are answers, never a stored status.
_STORABLE = [
    s.value
    for s in IdTokenStatus
    if s not in (IdTokenStatus.CONCURRENT_TX, IdTokenStatus.NOT_AT_THIS_LOCATION)
]


@routes.get("/api/v1/id-tags")
async def list_id_tags(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    limit, cursor = page_params(request)
    page = await id_tokens.list_id_tokens(state.reads, limit=limit, after=cursor)
    return json_response({"items": [id_token_view(t) for t in page.items], "next": page.next})


@routes.get("/api/v1/id-tags/{id_tag}")
async def get_id_tag(request: web.Request) -> web.Response:
    token = await id_tokens.get_id_token(
        request.app[API_STATE].reads, id_token_key(request.match_info["id_tag"])
    )
    if token is None:
        raise ApiProblem(404, "Not Found", "no such id tag")
    return json_response(id_token_view(token))


def _parse(id_tag: str, body: dict[str, object]) -> IdTokenRecord:
    unknown = set(body) - {"status", "expiry_date", "parent_id_tag", "type", "evse_ids"}
    if unknown:
        raise ApiProblem(400, "Bad Request", f"unknown fields: {', '.join(sorted(unknown))}")
    if len(id_tag) > 255:
        raise ApiProblem(400, "Bad Request", "id tag is longer than 255 characters")
    status = body.get("status", "Accepted")
    if status not in _STORABLE:
        raise ApiProblem(400, "Bad Request", f"status must be one of {', '.join(_STORABLE)}")
    expiry_raw = body.get("expiry_date")
    expiry = None
    if expiry_raw is not None:
        try:
            expiry = datetime.fromisoformat(str(expiry_raw))
        except ValueError:
            raise ApiProblem(
                400, "Bad Request", "expiry_date must be an RFC 3339 date-time"
            ) from None
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
    parent = body.get("parent_id_tag")
    token_type = body.get("type")
    for name, value in (("parent_id_tag", parent), ("type", token_type)):
        if value is not None and not isinstance(value, str):
            raise ApiProblem(400, "Bad Request", f"{name} must be a string")
    evse_ids = body.get("evse_ids")
    if evse_ids is not None and (
        not isinstance(evse_ids, list)
        or not all(isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in evse_ids)
    ):
        raise ApiProblem(400, "Bad Request", "evse_ids must be null or a list of EVSE ids (>= 0)")
    return IdTokenRecord(
        id_token=id_token_key(id_tag),
        type=token_type if isinstance(token_type, str) else None,
        status=IdTokenStatus(str(status)),
        expiry_date=expiry,
        parent_id_token=parent if isinstance(parent, str) else None,
        evse_ids=tuple(evse_ids) if isinstance(evse_ids, list) else None,
    )


@routes.put("/api/v1/id-tags/{id_tag}")
async def put_id_tag(request: web.Request) -> web.Response:
    record = _parse(request.match_info["id_tag"], read_object(await read_json(request)))
    state = request.app[API_STATE]
    created = await id_tokens.put_id_token(state.engine, record)
    state.id_token_changed(record.id_token)
    await local_lists_follow(state, record.id_token)
    return json_response(id_token_view(record), status=201 if created else 200)


@routes.delete("/api/v1/id-tags/{id_tag}")
async def delete_id_tag(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    id_tag = id_token_key(request.match_info["id_tag"])
    if not await id_tokens.delete_id_token(state.engine, id_tag):
        raise ApiProblem(404, "Not Found", "no such id tag")
    state.id_token_changed(id_tag)
    await local_lists_follow(state, id_tag)
    return web.Response(status=204)
