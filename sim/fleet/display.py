"""A simulated 2.x station's display messages: SetDisplayMessage, GetDisplayMessages (answered by
NotifyDisplayMessages) and ClearDisplayMessage (2.0.1 O01-O06). A message bound to a transaction
needs that transaction running (else UnknownTransaction) and goes when the transaction ends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.fleet.station import Handler, SimStation

Payload = dict[str, Any]

FORMATS = frozenset({"ASCII", "HTML", "URI", "UTF8"})
"""Message formats the simulated display shows (2.0.1 MessageFormatEnumType, without QRCODE)."""


MAX_MESSAGES = 100
"""Messages a display holds (2.0.1 DisplayMessageCtrlr.Available): beyond, a new one is
Rejected, so a CSMS cannot grow a station without bound."""


def _set(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    message = p["message"]
    if message["message"]["format"] not in FORMATS:
        return {"status": "NotSupportedMessageFormat"}, None
    if message["id"] not in st.display_messages and len(st.display_messages) >= MAX_MESSAGES:
        return {"status": "Rejected"}, None
    tx = message.get("transactionId")
    if tx is not None and not any(
        e.session is not None and e.session.transaction_id == tx for e in st.evses
    ):
        return {"status": "UnknownTransaction"}, None
    st.display_messages[message["id"]] = message
    return {"status": "Accepted"}, None


def _get(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    ids = p.get("id")
    found = [
        m
        for m in st.display_messages.values()
        if (not ids or m["id"] in ids)
        and (p.get("priority") is None or m["priority"] == p["priority"])
        and (p.get("state") is None or m.get("state") == p["state"])
    ]
    if not found:
        return {"status": "Unknown"}, None
    request_id = p["requestId"]

    async def notify() -> None:
        await st.send_call(
            "NotifyDisplayMessages",
            {"requestId": request_id, "tbc": False, "messageInfo": found},
        )

    return {"status": "Accepted"}, notify


def _clear(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    if st.display_messages.pop(p["id"], None) is None:
        return {"status": "Unknown"}, None
    return {"status": "Accepted"}, None


def transaction_ended(st: SimStation, transaction_id: str | None) -> None:
    """Forget the messages bound to a transaction that ended."""
    if transaction_id is None:
        return
    for key in [
        k for k, m in st.display_messages.items() if m.get("transactionId") == transaction_id
    ]:
        del st.display_messages[key]


HANDLERS_2: dict[str, Handler] = {
    "SetDisplayMessage": _set,
    "GetDisplayMessages": _get,
    "ClearDisplayMessage": _clear,
}
