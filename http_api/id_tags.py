"""``/api/v1/id-tags``: the id tokens drivers present, with status, expiry and group."""

from __future__ import annotations

from aiohttp import web

from csms.local_lists.carried import (
    HIGHEST_EVSE,
    LOWEST_EVSE,
    MAX_TOKEN_V2,
    TOKEN_TYPES,
    evse_ids_valid,
)
from http_api.fields import bad, one_of, refuse_unknown, text_field, time_field
from http_api.local_lists import id_tag_changed as local_lists_follow
from http_api.pagination import page_params
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE
from http_api.views import id_token_view
from persistence import id_tokens
from persistence.records import IdTokenRecord, IdTokenStatus, id_token_key

routes = web.RouteTableDef()

# ConcurrentTx and NotAtThisLocation are answers, never a stored status.
_STORABLE = tuple(
    s.value
    for s in IdTokenStatus
    if s not in (IdTokenStatus.CONCURRENT_TX, IdTokenStatus.NOT_AT_THIS_LOCATION)
)


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


_FIELDS = ("status", "expiry_date", "parent_id_tag", "type", "evse_ids")
_TYPES = tuple(sorted(TOKEN_TYPES, key=str.lower))


def _parse(id_tag: str, body: dict[str, object]) -> IdTokenRecord:
    """An id tag that every version's messages can carry (``csms.local_lists.carried``): one that
    a station's schema refuses would fail each SendLocalList and Authorize answer it is in."""
    refuse_unknown(body, _FIELDS)
    if len(id_tag) > MAX_TOKEN_V2:
        # 2.0.1 IdTokenType.idToken; 1.6 lists leave tags over 20 characters off.
        raise bad(f"id tag is longer than {MAX_TOKEN_V2} characters")
    status = one_of(body.get("status", "Accepted"), "status", _STORABLE)
    parent = text_field(body, "parent_id_tag", limit=MAX_TOKEN_V2)
    token_type = body.get("type")
    if token_type is not None:
        token_type = one_of(token_type, "type (2.x IdTokenEnumType)", _TYPES)
    evse_ids = body.get("evse_ids")
    if evse_ids is not None and (
        not isinstance(evse_ids, list)
        or not all(isinstance(e, int) and not isinstance(e, bool) for e in evse_ids)
        or not evse_ids_valid(evse_ids)
    ):
        raise bad(f"evse_ids must be null or a list of EVSE ids ({LOWEST_EVSE} to {HIGHEST_EVSE})")
    return IdTokenRecord(
        id_token=id_token_key(id_tag),
        type=token_type,
        status=IdTokenStatus(status),
        expiry_date=time_field(body, "expiry_date"),
        parent_id_token=parent,
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
