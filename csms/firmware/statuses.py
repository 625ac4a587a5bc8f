"""The states of a firmware update and of a log request, one vocabulary for OCPP 1.6 and 2.x.

The station's words are kept as it sent them (FirmwareStatusEnumType, UploadLogStatusEnumType, 1.6
DiagnosticsStatus); the CSMS adds its own for what only it knows: an attempt being sent
(``Pending``), a campaign member waiting its turn (``Queued``), an attempt that never reached the
station (``NotSent``), news that stopped coming (``TimedOut``) and an update the station dropped
for a newer one (``Canceled``, after AcceptedCanceled, or when a 1.6 station accepted a newer
UpdateFirmware, which replaces the one it was running).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

PENDING = "Pending"
QUEUED = "Queued"
NOT_SENT = "NotSent"
TIMED_OUT = "TimedOut"
CANCELED = "Canceled"
ACCEPTED = "Accepted"
IDLE = "Idle"

# -- firmware --------------------------------------------------------------------------------

INSTALLED = "Installed"
FIRMWARE_RETRYABLE = frozenset(
    {"DownloadFailed", "InstallationFailed", "InstallVerificationFailed", NOT_SENT, TIMED_OUT}
)
"""Failures worth sending the update again for (within its resends)."""
FIRMWARE_FINAL = frozenset(
    {
        INSTALLED,
        CANCELED,
        "Rejected",
        "InvalidCertificate",
        "RevokedCertificate",
        "InvalidSignature",
        *FIRMWARE_RETRYABLE,
    }
)
"""Nothing more happens to the update unless the CSMS retries it."""
FIRMWARE_SETTLED = frozenset({INSTALLED, CANCELED})
"""No notification changes these any more."""
FIRMWARE_ACTIVE = frozenset(
    {
        PENDING,
        ACCEPTED,
        "Downloading",
        "Downloaded",
        "DownloadScheduled",
        "DownloadPaused",
        "SignatureVerified",
        "InstallScheduled",
        "Installing",
        "InstallRebooting",
    }
)
"""Sent and in progress: the station's notifications are expected (and their absence times out)."""

# -- logs ------------------------------------------------------------------------------------

UPLOADED = "Uploaded"
NO_LOGS = "NoLogs"
"""1.6 GetDiagnostics answered without a fileName: no diagnostics available (1.6 section 6.28)."""
LOG_FINAL = frozenset(
    {
        UPLOADED,
        NO_LOGS,
        CANCELED,
        NOT_SENT,
        TIMED_OUT,
        "Rejected",
        "UploadFailure",
        "UploadFailed",
        "BadMessage",
        "NotSupportedOperation",
        "PermissionDenied",
    }
)
LOG_ACTIVE = frozenset({PENDING, ACCEPTED, "Uploading"})
LOG_SETTLED = frozenset({UPLOADED, CANCELED})
"""No notification changes these any more."""


def answered_status(response: Mapping[str, Any]) -> str:
    """What an update or log request is once the station answered it: its status, where the
    1.6 UpdateFirmware (an empty answer) means accepted, and AcceptedCanceled an accepted request
    that replaced an earlier one."""
    status = response.get("status")
    if status is None or status == "AcceptedCanceled":
        return ACCEPTED
    return str(status)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """voltmesh's re-sends of an update that failed: ``resends`` more attempts after the first,
    ``interval`` apart. Not the ``retries`` sent to the station, which are its own download
    retries within one attempt (1.6 section 6.53, 2.0.1 UpdateFirmwareRequest): DownloadFailed
    comes once those are used up."""

    resends: int
    interval: timedelta

    @classmethod
    def of(cls, row: Mapping[str, Any], default_interval: timedelta) -> RetryPolicy:
        interval = row.get("resend_interval")
        return cls(
            int(row.get("resends") or 0),
            timedelta(seconds=interval) if interval is not None else default_interval,
        )

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failed; None when they are used up."""
        return now + self.interval if attempts <= self.resends else None
