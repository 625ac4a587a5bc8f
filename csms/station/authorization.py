"""Whether an id token may charge: the stored status, its expiry, and its group."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.payloads.timestamps import ocpp_time
from persistence.records import IdTokenRecord, IdTokenStatus


@dataclass(frozen=True, slots=True)
class Authorization:
    """What the CSMS answers for an id token (1.6 IdTagInfo, 2.x IdTokenInfo)."""

    status: IdTokenStatus
    """Accepted, Blocked, Expired, Invalid or ConcurrentTx."""
    expiry_date: datetime | None = None
    """Until when the charger may cache the answer."""
    parent_id_token: str | None = None
    """The token's group."""
    known: bool = True
    """False for a token the CSMS has no record of (2.x answers Unknown, 1.6 Invalid)."""
    evse_ids: tuple[int, ...] | None = None
    """EVSEs the token is valid at; None: all of them."""
    group_type: str | None = None
    """IdTokenEnumType of the group token, when the store knows it."""

    def as_v16(self) -> dict[str, str]:
        """OCPP 1.6 IdTagInfo."""
        info = {"status": self.status.value}
        if self.expiry_date is not None:
            info["expiryDate"] = ocpp_time(self.expiry_date)
        if self.parent_id_token is not None:
            info["parentIdTag"] = self.parent_id_token
        return info

    def as_v2(self) -> dict[str, Any]:
        """OCPP 2.0.1/2.1 IdTokenInfoType."""
        status = self.status.value if self.known else "Unknown"
        info: dict[str, Any] = {"status": status}
        if self.expiry_date is not None:
            info["cacheExpiryDateTime"] = ocpp_time(self.expiry_date)
        if self.parent_id_token is not None:
            # A group token is an identifier the CSMS assigned unless the store says otherwise.
            info["groupIdToken"] = {
                "idToken": self.parent_id_token,
                "type": self.group_type or "Central",
            }
        if self.evse_ids:
            info["evseId"] = list(self.evse_ids)
        return info

    def at_evse(self, evse_id: int | None) -> Authorization:
        """The answer for a transaction on ``evse_id``: a token valid at other EVSEs only is not
        valid here (2.0.1 IdTokenInfoType.evseId)."""
        if (
            self.status is IdTokenStatus.ACCEPTED
            and self.evse_ids
            and evse_id is not None
            and evse_id not in self.evse_ids
        ):
            return dataclasses.replace(self, status=IdTokenStatus.NOT_AT_THIS_LOCATION)
        return self


def authorize(record: IdTokenRecord | None, now: datetime) -> Authorization:
    """Unknown tokens are Invalid; a token past its expiry date is Expired whatever its stored status."""
    if record is None:
        return Authorization(IdTokenStatus.INVALID, known=False)
    status = record.status
    if (
        status is IdTokenStatus.ACCEPTED
        and record.expiry_date is not None
        and record.expiry_date <= now
    ):
        status = IdTokenStatus.EXPIRED
    return Authorization(
        status, record.expiry_date, record.parent_id_token, evse_ids=record.evse_ids
    )
