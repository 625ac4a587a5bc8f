"""Whether an id token may charge: the stored status, its expiry, and its group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from actors.timestamps import ocpp_time
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

    def as_v16(self) -> dict[str, str]:
        """OCPP 1.6 IdTagInfo."""
        info = {"status": self.status.value}
        if self.expiry_date is not None:
            info["expiryDate"] = ocpp_time(self.expiry_date)
        if self.parent_id_token is not None:
            info["parentIdTag"] = self.parent_id_token
        return info


def authorize(record: IdTokenRecord | None, now: datetime) -> Authorization:
    """Unknown tokens are Invalid; a token past its expiry date is Expired whatever its stored status."""
    if record is None:
        return Authorization(IdTokenStatus.INVALID)
    status = record.status
    if (
        status is IdTokenStatus.ACCEPTED
        and record.expiry_date is not None
        and record.expiry_date <= now
    ):
        status = IdTokenStatus.EXPIRED
    return Authorization(status, record.expiry_date, record.parent_id_token)
