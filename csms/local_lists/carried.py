"""What an id token may be for a version's messages to carry it: its length, its 2.x type and the
EVSEs it is valid at. The id tags resource refuses what no version can carry; the list builder
skips a stored token its station's version cannot carry (rows written before the resource checked
as much), rather than send a SendLocalList the station would refuse whole.
"""

from __future__ import annotations

from collections.abc import Iterable

from persistence.ids import INT32_MAX
from transport.versions import OcppVersion

MAX_TOKEN_V16 = 20
"""1.6 IdToken is CiString20Type (section 7.28)."""
MAX_TOKEN_V2 = 36
"""2.0.1 IdTokenType.idToken is at most 36 characters (2.1 allows 255; voltmesh keeps to 36, so
that a token moves between 2.0.1 and 2.1 stations)."""

TOKEN_TYPES_V201 = frozenset(
    {
        "Central",
        "eMAID",
        "ISO14443",
        "ISO15693",
        "KeyCode",
        "Local",
        "MacAddress",
        "NoAuthorization",
    }
)
"""2.0.1 IdTokenEnumType (the enum of the 2.0.1 schemas)."""
TOKEN_TYPES_V21 = TOKEN_TYPES_V201 | {"DirectPayment", "EVCCID", "NEVI", "VIN"}
"""2.1 IdTokenEnumStringType (2.1 appendices; the 2.1 schemas only bound it to 20 characters)."""
TOKEN_TYPES = TOKEN_TYPES_V21
"""Every type some version can carry: what an id tag may be stored with."""

LOWEST_EVSE = 1
"""2.0.1 IdTokenInfo.evseId names EVSEs, numbered from 1 (0 is the station, which no list says)."""
HIGHEST_EVSE = INT32_MAX
"""A JSON integer a station keeps as a signed 32-bit value."""


def max_token(version: OcppVersion) -> int:
    return MAX_TOKEN_V16 if version is OcppVersion.V16 else MAX_TOKEN_V2


def token_types(version: OcppVersion) -> frozenset[str]:
    """The 2.x token types a station of ``version`` takes (1.6 has none)."""
    if version is OcppVersion.V16:
        return frozenset()
    return TOKEN_TYPES_V201 if version is OcppVersion.V201 else TOKEN_TYPES_V21


def evse_ids_valid(evse_ids: Iterable[int]) -> bool:
    return all(LOWEST_EVSE <= e <= HIGHEST_EVSE for e in evse_ids)
