"""A simulated 2.x local controller publishing firmware for the stations behind it: PublishFirmware
(2.0.1 L03) walked through Downloading, Downloaded, ChecksumVerified to Published with the URIs it
serves the file at (or DownloadFailed), and UnpublishFirmware (L04). Only a model with
``behaviour.local_controller`` has it; other stations answer NotSupported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.fleet.station import Handler, SimStation

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Publication:
    checksum: str
    request_id: int
    retries: int


def served_at(st: SimStation, checksum: str) -> list[str]:
    """Where the local controller serves a published firmware (one URI per protocol it offers)."""
    return [f"http://{st.id.lower()}.local/firmware/{checksum}.bin"]


async def _status(st: SimStation, job: Publication, status: str, **extra: Any) -> None:
    await st.send_call(
        "PublishFirmwareStatusNotification",
        {"status": status, "requestId": job.request_id, **extra},
    )


def _key(job: Publication) -> str:
    """One timer per firmware being published (`SimStation.schedule`)."""
    return f"publish-{job.checksum}"


def _later(st: SimStation) -> float:
    return st.clock.elapsed() + st.behaviour.step_seconds


async def _download(st: SimStation, job: Publication, attempt: int) -> None:
    await _status(st, job, "Downloading")
    if st.behaviour.firmware_outcome == "DownloadFailed":
        if attempt < job.retries:
            st.schedule(_later(st), lambda: _download(st, job, attempt + 1), key=_key(job))
        else:
            st.schedule(_later(st), lambda: _failed(st, job), key=_key(job))
        return
    st.schedule(_later(st), lambda: _downloaded(st, job), key=_key(job))


async def _failed(st: SimStation, job: Publication) -> None:
    st.publishing.pop(job.checksum, None)
    await _status(st, job, "DownloadFailed")


async def _downloaded(st: SimStation, job: Publication) -> None:
    await _status(st, job, "Downloaded")
    await _status(st, job, "ChecksumVerified")
    st.schedule(_later(st), lambda: _published(st, job), key=_key(job))


async def _published(st: SimStation, job: Publication) -> None:
    if st.publishing.get(job.checksum) is not job:
        return
    st.published[job.checksum] = served_at(st, job.checksum)
    del st.publishing[job.checksum]
    await _status(st, job, "Published", location=st.published[job.checksum])


def _publish(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    job = Publication(p["checksum"].lower(), p["requestId"], p.get("retries", 0))
    st.publishing[job.checksum] = job
    return {"status": "Accepted"}, lambda: _download(st, job, 0)


def _unpublish(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    checksum = p["checksum"].lower()
    if checksum in st.publishing:
        return {"status": "DownloadOngoing"}, None
    if st.published.pop(checksum, None) is None:
        return {"status": "NoFirmware"}, None
    return {"status": "Unpublished"}, None


HANDLERS_2: dict[str, Handler] = {
    "PublishFirmware": _publish,
    "UnpublishFirmware": _unpublish,
}
