"""``GET /api/v1/events``: the operators' live event stream of this member, as a WebSocket (one text
frame per event) when the request is an upgrade, or as Server-Sent Events when it accepts
``text/event-stream``.

``station_id`` (exact) and ``type`` (comma-separated; an item ending in "." is a prefix) filter it
(other query parameters are refused, as the OpenAPI document declares only these);
``after`` (or, for SSE, the ``Last-Event-ID`` header) first replays the buffered events with a larger
id, preceded by ``stream.behind`` when some were forgotten already. A client that cannot keep up
(its queue of 1,000 events full) gets ``stream.dropped`` if its socket still takes it, and is
disconnected: publishing never waits for a client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from csms.events import TOO_SLOW, Event, EventBus, EventFilter, Subscription, notice
from http_api.auth import authenticate, bearer_of
from http_api.problems import ApiProblem
from http_api.state import API_STATE

routes = web.RouteTableDef()

KEEPALIVE_SECONDS = 15.0
"""An idle SSE stream gets a comment this often: proxies keep it open, and a client that left is
noticed (a write to it fails)."""
PING_SECONDS = 30.0
"""WebSocket pings, to notice a client that left without closing."""
FAREWELL_SECONDS = 2.0
"""How long a dropped client's socket may take to flush ``stream.dropped`` before it is cut."""
CLOSE_TOO_SLOW = 1008
"""WebSocket close code of a dropped client (policy violation: it did not keep up)."""
WRITE_BATCH = 64
"""Events taken from the queue at once when several wait (one write on an SSE stream)."""

Send = Callable[[list[Event]], Awaitable[None]]


def _after(query: str | None, header: str | None) -> int | None:
    """The id to resume after: the ``Last-Event-ID`` header (what an SSE client saw last), else
    the ``after`` parameter."""
    for name, raw in (("Last-Event-ID", header), ("after", query)):
        if raw is not None and raw.strip():
            try:
                return int(raw)
            except ValueError:
                raise ApiProblem(400, "Bad Request", f"{name} must be an event id") from None
    return None


CREDENTIAL_RECHECK_SECONDS = 30.0
"""How often an open stream checks that its credential still holds (expired, user deleted, password
changed): a stream never outlives its token by more than this."""
CLOSE_CREDENTIAL_ENDED = 1008
MAX_STREAMS = 256
"""Streams a member serves at once: each one costs every publish on the chargers' event loop."""


async def _credential_ended(request: web.Request) -> None:
    """Returns once the request's bearer credential no longer authenticates."""
    state = request.app[API_STATE]
    credential = bearer_of(request) or ""
    while True:
        await asyncio.sleep(CREDENTIAL_RECHECK_SECONDS)
        if await authenticate(state, credential) is None:
            return


@routes.get("/api/v1/events")
async def event_stream(request: web.Request) -> web.StreamResponse:
    types = [t.strip() for item in request.query.getall("type", []) for t in item.split(",")]
    wanted = EventFilter(station_id=request.query.get("station_id") or None, types=types)
    websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    sse = not websocket and "text/event-stream" in request.headers.get("Accept", "")
    after = _after(
        request.query.get("after"), request.headers.get("Last-Event-ID") if sse else None
    )
    bus = request.app[API_STATE].events
    if bus.subscriber_count() >= MAX_STREAMS:
        raise ApiProblem(
            503, "Service Unavailable", f"{MAX_STREAMS} event streams are open on this node"
        )
    if websocket:
        return await _websocket(request, bus, wanted, after)
    if sse:
        return await _server_sent_events(request, bus, wanted, after)
    raise ApiProblem(
        406, "Not Acceptable", "ask for a WebSocket upgrade or Accept: text/event-stream"
    )


async def _websocket(
    request: web.Request, bus: EventBus, wanted: EventFilter, after: int | None
) -> web.WebSocketResponse:
    # No compression: deflating every frame for every client would cost the event loop that
    # also answers the chargers more than the bytes are worth on an operator's network.
    ws = web.WebSocketResponse(heartbeat=PING_SECONDS, compress=False, timeout=FAREWELL_SECONDS)
    await ws.prepare(request)

    async def send(events: list[Event]) -> None:
        for event in events:
            # The JSON encoded once for every client, sent as it is in a text frame.
            await ws.send_frame(event.json(), WSMsgType.TEXT)

    async def close_too_slow() -> None:
        await ws.close(code=CLOSE_TOO_SLOW, message=b"client too slow")

    async def client_left() -> None:
        # Nothing is expected from the client; its close (or a dead socket) ends the stream.
        async for message in ws:
            if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    subscription = bus.subscribe(wanted, after=after)
    ended = asyncio.ensure_future(_credential_ended(request))
    dropped = await _stream(subscription, send, client_left(), keepalive=None, ended=ended)
    if dropped:
        await _farewell(request, send, close_too_slow)
    elif ended.done() and not ended.cancelled():
        await ws.close(code=CLOSE_CREDENTIAL_ENDED, message=b"credential no longer valid")
    else:
        await ws.close()
    return ws


async def _server_sent_events(
    request: web.Request, bus: EventBus, wanted: EventFilter, after: int | None
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            # Reverse proxies (nginx) would otherwise hold events back to fill a buffer.
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)

    async def send(events: list[Event]) -> None:
        await response.write(b"".join(map(_sse_frame, events)))

    async def keepalive() -> None:
        await response.write(b": keepalive\n\n")

    subscription = bus.subscribe(wanted, after=after)
    ended = asyncio.ensure_future(_credential_ended(request))
    dropped = await _stream(subscription, send, None, keepalive=keepalive, ended=ended)
    if dropped:
        await _farewell(request, send, None)
    else:
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    return response


def _sse_frame(event: Event) -> bytes:
    # A notice (stream.behind) has no id: a client never resumes from it.
    head = f"id: {event.id}\n" if event.id else ""
    return f"{head}event: {event.type}\n".encode() + b"data: " + event.json() + b"\n\n"


async def _stream(
    subscription: Subscription,
    send: Send,
    client_left: Awaitable[None] | None,
    *,
    keepalive: Callable[[], Awaitable[None]] | None,
    ended: asyncio.Future[None],
) -> bool:
    """Send the subscription's events until the client leaves, its credential ends (``ended``)
    or it is dropped (True)."""
    pump = asyncio.create_task(_pump(subscription, send, keepalive))
    # The pump may be stuck writing to a client that does not read: the drop cuts it short.
    subscription.on_drop = lambda _: pump.cancel()
    watchers: set[asyncio.Future[None]] = {pump, ended}
    if client_left is not None:
        watchers.add(asyncio.ensure_future(client_left))
    try:
        await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
    finally:
        subscription.close()
        for task in watchers:
            if task is not ended or not task.done():
                task.cancel()
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
    return subscription.dropped is not None


async def _pump(
    subscription: Subscription, send: Send, keepalive: Callable[[], Awaitable[None]] | None
) -> None:
    if subscription.behind is not None:
        await send([notice("stream.behind", {"oldest": subscription.behind or None})])
    while True:
        event = subscription.take_now()
        if event is None:
            try:
                async with asyncio.timeout(KEEPALIVE_SECONDS if keepalive else None):
                    event = await subscription.next()
            except TimeoutError:
                assert keepalive is not None
                await keepalive()
                continue
            if event is None:
                return
        batch = [event]
        while len(batch) < WRITE_BATCH and (more := subscription.take_now()) is not None:
            batch.append(more)
        await send(batch)


async def _farewell(
    request: web.Request, send: Send, close: Callable[[], Awaitable[None]] | None
) -> None:
    """Tell a dropped client why, if its socket takes it within ``FAREWELL_SECONDS``; then cut
    what it has not read (a client that does not read would hold the buffers for ever)."""
    transport = request.transport
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(FAREWELL_SECONDS):
            await send([notice("stream.dropped", {"reason": TOO_SLOW})])
            if close is not None:
                await close()
    if transport is not None and transport.get_write_buffer_size() > 0:
        transport.abort()
