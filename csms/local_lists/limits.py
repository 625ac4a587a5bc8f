"""How many entries one SendLocalList may carry to a station: 1.6 ``SendLocalListMaxLength`` (a
key of the Local Auth List Management profile, from its configuration as last read), 2.0.1
``LocalAuthListCtrlr.ItemsPerMessage`` (from its device model as last reported). A longer update
goes out as several messages: the first of the update's type, the rest Differential, each with
the next version (2.0.1 D01)."""

from __future__ import annotations

import logging

from csms.station.router import CommandRouter
from gateway.calls import CommandError
from persistence.device_model import list_device_variables
from persistence.reads import Reads
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

DEFAULT_ITEMS_PER_MESSAGE = 250
"""Entries per message when the station never told its limit: small enough for any frame size
a charger accepts, large enough that most lists go in one message."""


def _positive(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


async def items_per_message(
    router: CommandRouter, reads: Reads, station_id: str, version: OcppVersion
) -> int:
    if version is OcppVersion.V16:
        try:
            view = await router.configuration(station_id)
        except CommandError:
            return DEFAULT_ITEMS_PER_MESSAGE
        for key in view.get("keys", []):
            if key.get("key") == "SendLocalListMaxLength":
                return _positive(key.get("value")) or DEFAULT_ITEMS_PER_MESSAGE
        return DEFAULT_ITEMS_PER_MESSAGE
    page = await list_device_variables(
        reads,
        station_id,
        component="LocalAuthListCtrlr",
        variable="ItemsPerMessage",
        attribute_type="Actual",
        limit=1,
        after=None,
    )
    if page.items:
        return _positive(page.items[0].get("value")) or DEFAULT_ITEMS_PER_MESSAGE
    return DEFAULT_ITEMS_PER_MESSAGE
