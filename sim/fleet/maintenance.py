"""A simulated station's firmware updates and log uploads, walked through their statuses one
``behaviour.step_seconds`` (simulated) apart.

Firmware (1.6 UpdateFirmware section 5.19 and SignedUpdateFirmware of the security whitepaper,
2.0.1 L01): at the retrieve time Downloading, then Downloaded (or DownloadFailed after the
retries), for a signed update SignatureVerified (or InvalidSignature), Installing once no
transaction runs, InstallRebooting (2.x), then a reboot with BootNotification reason
FirmwareUpdate and the new version (the last segment of the location), and Installed (or
InstallationFailed, without a reboot).

Logs (1.6 GetDiagnostics section 5.9, GetLog of the security whitepaper, 2.0.1 N01): Uploading,
then a real HTTP upload of a small text file to the location (``PUT`` or ``POST``; basic auth only
from credentials the location itself carries, never the station's OCPP password: an upload URL
may be plain http, and the password is the station's websocket credential), then Uploaded, or
UploadFailure (1.6 GetDiagnostics: UploadFailed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from csms.payloads.timestamps import ocpp_time
from sim.fleet.credentials import authorization

if TYPE_CHECKING:
    from sim.fleet.station import Handler, SimStation

Payload = dict[str, Any]

UPLOAD_TIMEOUT = 10.0
"""Wall-clock seconds a log upload may take."""
_FIRMWARE_VERSION = 50
"""1.6 firmwareVersion is CiString50."""
FIRMWARE = "firmware"
"""The station's timer key of the firmware update's next step: one update runs at a time."""
LOG = "log"
"""The timer key of the log upload's next step: one upload runs at a time."""
_KEPT_UPLOADS = 10
"""Names of the latest uploads a station remembers (a CSMS may ask for logs without end)."""


@dataclass(frozen=True, slots=True)
class FirmwareJob:
    """One firmware update as the station runs it."""

    kind: str
    """``plain`` (1.6 UpdateFirmware), ``signed`` (1.6 SignedUpdateFirmware), ``v2``."""
    location: str
    retrieve_at: datetime
    retries: int
    request_id: int | None
    signed: bool


def version_of(location: str) -> str:
    """The firmware version a location names: its last path segment without the file suffix
    (``.../sim-2.4.bin`` is ``sim-2.4``)."""
    name = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
    stem, dot, _ = name.rpartition(".")
    return ((stem if dot and stem else name) or "sim-next")[:_FIRMWARE_VERSION]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- firmware -----------------------------------------------------------------------------------


async def _firmware_status(st: SimStation, job: FirmwareJob, status: str) -> None:
    st.firmware_status = status
    if job.kind == "plain":
        await st.send_call("FirmwareStatusNotification", {"status": status})
        return
    action = (
        "SignedFirmwareStatusNotification" if job.kind == "signed" else "FirmwareStatusNotification"
    )
    payload: Payload = {"status": status}
    if job.request_id is not None:
        payload["requestId"] = job.request_id
    await st.send_call(action, payload)


def _start_firmware(st: SimStation, job: FirmwareJob) -> None:
    st.firmware_job = job
    retrieve_at = st.csms_time(job.retrieve_at)
    at = max(st.clock.elapsed(), (retrieve_at - st.clock.start).total_seconds())
    st.schedule(at, lambda: _download(st, job, attempt=0), key=FIRMWARE)


def _later(st: SimStation) -> float:
    return st.clock.elapsed() + st.behaviour.step_seconds


async def _download(st: SimStation, job: FirmwareJob, attempt: int) -> None:
    if st.firmware_job is not job:
        return  # replaced by a newer update
    await _firmware_status(st, job, "Downloading")
    outcome = st.behaviour.firmware_outcome
    if outcome == "DownloadFailed":
        if attempt < job.retries:
            st.schedule(_later(st), lambda: _download(st, job, attempt + 1), key=FIRMWARE)
            return
        st.schedule(_later(st), lambda: _end_firmware(st, job, "DownloadFailed"), key=FIRMWARE)
        return
    st.schedule(_later(st), lambda: _downloaded(st, job), key=FIRMWARE)


async def _downloaded(st: SimStation, job: FirmwareJob) -> None:
    if st.firmware_job is not job:
        return
    await _firmware_status(st, job, "Downloaded")
    if job.signed:
        if st.behaviour.firmware_outcome == "InvalidSignature":
            st.schedule(
                _later(st), lambda: _end_firmware(st, job, "InvalidSignature"), key=FIRMWARE
            )
            return
        st.schedule(_later(st), lambda: _verified(st, job), key=FIRMWARE)
        return
    st.schedule(_later(st), lambda: _install(st, job), key=FIRMWARE)


async def _verified(st: SimStation, job: FirmwareJob) -> None:
    if st.firmware_job is not job:
        return
    await _firmware_status(st, job, "SignatureVerified")
    st.schedule(_later(st), lambda: _install(st, job), key=FIRMWARE)


async def _install(st: SimStation, job: FirmwareJob) -> None:
    if st.firmware_job is not job:
        return
    if any(e.session is not None for e in st.evses):
        # 2.0.1 L01.FR.06 / 1.6: install once the running transactions have ended.
        st.schedule(_later(st), lambda: _install(st, job), key=FIRMWARE)
        return
    await _firmware_status(st, job, "Installing")
    if st.behaviour.firmware_outcome == "InstallationFailed":
        st.schedule(_later(st), lambda: _end_firmware(st, job, "InstallationFailed"), key=FIRMWARE)
        return
    st.schedule(_later(st), lambda: _reboot_into(st, job), key=FIRMWARE)


async def _reboot_into(st: SimStation, job: FirmwareJob) -> None:
    if st.firmware_job is not job:
        return
    if job.kind == "v2":
        await _firmware_status(st, job, "InstallRebooting")
    st.firmware_version = version_of(job.location)
    await st.reboot(reason="FirmwareUpdate")
    await _end_firmware(st, job, "Installed")


async def _end_firmware(st: SimStation, job: FirmwareJob, status: str) -> None:
    if st.firmware_job is not job:
        return
    st.firmware_job = None
    await _firmware_status(st, job, status)


def _update_16(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    job = FirmwareJob(
        "plain", p["location"], _when(p["retrieveDate"]), p.get("retries", 0), None, False
    )
    _start_firmware(st, job)
    return {}, None


def _signed(st: SimStation, p: Payload, kind: str) -> tuple[Payload, Any]:
    firmware = p["firmware"]
    signed = "signature" in firmware or kind == "signed"
    job = FirmwareJob(
        kind,
        firmware["location"],
        _when(firmware["retrieveDateTime"]),
        p.get("retries", 0),
        p["requestId"],
        signed,
    )
    # 2.0.1 L01.FR.24: a running update is cancelled for the new one.
    status = "AcceptedCanceled" if st.firmware_job is not None else "Accepted"
    _start_firmware(st, job)
    return {"status": status}, None


# --- logs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogJob:
    kind: str
    """``diagnostics`` (1.6 GetDiagnostics), ``log16`` (1.6 GetLog), ``v2``."""
    location: str
    file_name: str
    request_id: int | None
    retries: int


async def _log_status(st: SimStation, job: LogJob, status: str) -> None:
    if job.kind == "diagnostics":
        wire = "UploadFailed" if status == "UploadFailure" else status
        await st.send_call("DiagnosticsStatusNotification", {"status": wire})
        return
    payload: Payload = {"status": status}
    if job.request_id is not None:
        payload["requestId"] = job.request_id
    await st.send_call("LogStatusNotification", payload)


def _log_text(st: SimStation, job: LogJob) -> bytes:
    lines = [
        f"station {st.id} model {st.spec.model.model} firmware {st.firmware_version}",
        f"generated {ocpp_time(st.clock.now())} ({job.kind})",
        *(
            f"evse {e.number}: {'charging' if e.session else 'idle'}, register {e.register_wh:.1f} Wh"
            for e in st.evses
        ),
    ]
    return ("\n".join(lines) + "\n").encode()


def _without_credentials(location: str) -> tuple[str, dict[str, str]]:
    """The location without the user and password it may carry, and their Authorization."""
    parts = urlsplit(location)
    if parts.username is None:
        return location, {}
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    bare = urlunsplit(parts._replace(netloc=netloc))
    user, password = unquote(parts.username), unquote(parts.password or "")
    return bare, authorization(user, password)


async def upload(st: SimStation, job: LogJob) -> bool:
    """Send the log file to the job's location; True when the server took it (2xx)."""
    try:
        location, given = _without_credentials(job.location)
        if location.endswith("/"):
            location += job.file_name
        headers = {"Content-Type": "text/plain", "X-File-Name": job.file_name}
        # Only what the location carries: the station's OCPP password is for its websocket.
        headers |= given
        async with st.http.request(
            st.behaviour.log_upload_method,
            location,
            data=_log_text(st, job),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT),
        ) as response:
            return 200 <= response.status < 300
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return False


async def _upload_step(st: SimStation, job: LogJob, attempt: int) -> None:
    if st.log_job is not job:
        return  # replaced by a newer request
    if attempt == 0:
        await _log_status(st, job, "Uploading")
    if st.behaviour.log_outcome != "Uploaded":
        await _uploaded(st, job, attempt, ok=False)
        return

    async def transfer() -> None:
        ok = await upload(st, job)
        st.post(lambda: _uploaded(st, job, attempt, ok=ok))

    # The transfer runs beside the loop (it may take seconds), so that the station keeps
    # charging, metering and answering the CSMS meanwhile; its end comes back to the loop.
    st.log_upload = asyncio.create_task(transfer(), name=f"log upload {st.id}")


async def _uploaded(st: SimStation, job: LogJob, attempt: int, *, ok: bool) -> None:
    if st.log_job is not job:
        return
    st.log_upload = None
    if ok:
        st.log_job = None
        st.uploads.append(job.file_name)
        del st.uploads[:-_KEPT_UPLOADS]
        await _log_status(st, job, "Uploaded")
    elif attempt < job.retries:
        st.schedule(_later(st), lambda: _upload_step(st, job, attempt + 1), key=LOG)
    else:
        st.log_job = None
        await _log_status(st, job, "UploadFailure")


def _start_log(st: SimStation, job: LogJob) -> str:
    """Start ``job``, cancelling the upload under way; Accepted, or AcceptedCanceled when one
    was (2.0.1 N01.FR.12, 1.6 security GetLog)."""
    status = "Accepted" if st.log_job is None else "AcceptedCanceled"
    if st.log_upload is not None:
        st.log_upload.cancel()
        st.log_upload = None
    st.log_job = job
    st.schedule(_later(st), lambda: _upload_step(st, job, 0), key=LOG)
    return status


def _diagnostics(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    name = f"{st.id}-diagnostics-{st.clock.now():%Y%m%dT%H%M%S}.log"
    _start_log(st, LogJob("diagnostics", p["location"], name, None, p.get("retries", 0)))
    return {"fileName": name}, None


def _get_log(st: SimStation, p: Payload, kind: str) -> tuple[Payload, Any]:
    name = f"{st.id}-{p['logType']}-{p['requestId']}.log"
    job = LogJob(kind, p["log"]["remoteLocation"], name, p["requestId"], p.get("retries", 0))
    return {"status": _start_log(st, job), "filename": name}, None


HANDLERS_16: dict[str, Handler] = {
    "UpdateFirmware": _update_16,
    "SignedUpdateFirmware": lambda st, p: _signed(st, p, "signed"),
    "GetDiagnostics": _diagnostics,
    "GetLog": lambda st, p: _get_log(st, p, "log16"),
}
HANDLERS_2: dict[str, Handler] = {
    "UpdateFirmware": lambda st, p: _signed(st, p, "v2"),
    "GetLog": lambda st, p: _get_log(st, p, "v2"),
}
