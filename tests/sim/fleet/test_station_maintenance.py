"""A simulated station walks a firmware update and a log upload through their statuses (really
uploading the file over HTTP), shows 2.x display messages, and refuses or ignores what its
behaviour says."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sim.fleet.maintenance import version_of
from sim.fleet.station import SimStation
from tests.sim.fleet.fake_csms import FakeCsms
from tests.sim.fleet.station_harness import station_against_csms, statuses
from tests.timing import UNIT, eventually
from transport.messages import CallError

VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
PAST = "2026-01-01T00:00:00Z"
FAST = {"step_seconds": 5}
"""Five simulated seconds between statuses: a twelfth of a wall-clock second."""


def firmware_status_action(version: str, signed: bool) -> str:
    return (
        "SignedFirmwareStatusNotification"
        if version == "ocpp1.6" and signed
        else ("FirmwareStatusNotification")
    )


def update(
    version: str, *, signed: bool, location: str = "https://fw.example/sim-2.4.bin"
) -> tuple[str, Any]:
    if version == "ocpp1.6" and not signed:
        return "UpdateFirmware", {"location": location, "retrieveDate": PAST, "retries": 2}
    firmware: dict[str, Any] = {"location": location, "retrieveDateTime": PAST}
    if signed:
        firmware |= {"signingCertificate": "-----BEGIN CERTIFICATE-----", "signature": "c2ln"}
    action = "SignedUpdateFirmware" if version == "ocpp1.6" else "UpdateFirmware"
    return action, {"requestId": 11, "retries": 2, "firmware": firmware}


def boots(csms: FakeCsms) -> list[dict[str, Any]]:
    return csms.of("BootNotification")


def firmware_of(boot: dict[str, Any]) -> str:
    station = boot.get("chargingStation", boot)
    return str(station.get("firmwareVersion"))


@pytest.mark.parametrize(
    ("version", "signed", "expected"),
    [
        ("ocpp1.6", False, ["Downloading", "Downloaded", "Installing", "Installed"]),
        (
            "ocpp1.6",
            True,
            ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"],
        ),
        (
            "ocpp2.0.1",
            True,
            [
                "Downloading",
                "Downloaded",
                "SignatureVerified",
                "Installing",
                "InstallRebooting",
                "Installed",
            ],
        ),
        (
            "ocpp2.0.1",
            False,
            ["Downloading", "Downloaded", "Installing", "InstallRebooting", "Installed"],
        ),
    ],
)
async def test_a_firmware_update_installs_and_reboots_on_the_new_version(
    version: str, signed: bool, expected: list[str]
) -> None:
    async with station_against_csms(version, FAST) as (csms, station):
        action, payload = update(version, signed=signed)
        reply = await csms.result(station.id, action, payload)
        assert reply == (
            {} if action == "UpdateFirmware" and version == "ocpp1.6" else {"status": "Accepted"}
        )
        status_action = firmware_status_action(version, signed)
        await eventually(
            lambda: statuses(csms, status_action)[-1:] == ["Installed"],
            within=200 * UNIT,
            what="Installed",
        )
        assert statuses(csms, status_action) == expected
        if version != "ocpp1.6":
            assert {p.get("requestId") for p in csms.of(status_action)} == {11}
        assert len(boots(csms)) == 2
        assert firmware_of(boots(csms)[-1]) == "sim-2.4"
        if version != "ocpp1.6":
            assert boots(csms)[-1]["reason"] == "FirmwareUpdate"
        assert station.firmware_version == "sim-2.4"


@pytest.mark.parametrize(
    ("version", "outcome", "signed", "last", "downloads"),
    [
        ("ocpp1.6", "DownloadFailed", False, "DownloadFailed", 3),
        ("ocpp2.0.1", "DownloadFailed", True, "DownloadFailed", 3),
        ("ocpp1.6", "InstallationFailed", False, "InstallationFailed", 1),
        ("ocpp2.0.1", "InstallationFailed", False, "InstallationFailed", 1),
        ("ocpp1.6", "InvalidSignature", True, "InvalidSignature", 1),
        ("ocpp2.0.1", "InvalidSignature", True, "InvalidSignature", 1),
    ],
)
async def test_a_firmware_update_that_fails(
    version: str, outcome: str, signed: bool, last: str, downloads: int
) -> None:
    behaviour = FAST | {"firmware_outcome": outcome}
    async with station_against_csms(version, behaviour) as (csms, station):
        action, payload = update(version, signed=signed)
        await csms.result(station.id, action, payload)
        status_action = firmware_status_action(version, signed)
        await eventually(
            lambda: statuses(csms, status_action)[-1:] == [last], within=200 * UNIT, what=last
        )
        # Retried as often as the CSMS allowed (retries 2: three attempts), no reboot.
        assert statuses(csms, status_action).count("Downloading") == downloads
        assert len(boots(csms)) == 1
        assert station.firmware_version == "sim-1.0"


async def test_a_firmware_update_waits_for_the_transaction_and_survives_a_lost_connection() -> None:
    async with station_against_csms("ocpp2.0.1", FAST) as (csms, station):
        station.arrive(1, "TAG", energy_wh=50_000)
        await eventually(lambda: station.evses[0].session is not None, what="a session")
        action, payload = update("ocpp2.0.1", signed=False)
        await csms.result(station.id, action, payload)
        await eventually(
            lambda: "Downloaded" in statuses(csms, "FirmwareStatusNotification"), what="Downloaded"
        )
        before = csms.connections[station.id]
        await csms.drop(station.id)
        await eventually(
            lambda: csms.connections.get(station.id) not in (None, before),
            what="the station came back",
        )
        assert "Installing" not in statuses(csms, "FirmwareStatusNotification")
        session = station.evses[0].session
        assert session is not None
        await csms.result(
            station.id, "RequestStopTransaction", {"transactionId": session.transaction_id}
        )
        await eventually(
            lambda: statuses(csms, "FirmwareStatusNotification")[-1:] == ["Installed"],
            within=200 * UNIT,
            what="Installed after the transaction",
        )


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_log_is_uploaded_without_the_station_password(version: str) -> None:
    """The station's OCPP password is its websocket credential: an upload URL may be plain http,
    so it never goes there."""
    async with station_against_csms(version, FAST, password="s3cret-pass") as (csms, station):
        location = f"{csms.http}/upload/logs/"
        if version == "ocpp1.6":
            reply = await csms.result(station.id, "GetDiagnostics", {"location": location})
            name = reply["fileName"]
            action = "DiagnosticsStatusNotification"
        else:
            reply = await csms.result(
                station.id,
                "GetLog",
                {"logType": "DiagnosticsLog", "requestId": 3, "log": {"remoteLocation": location}},
            )
            assert reply["status"] == "Accepted"
            name = reply["filename"]
            action = "LogStatusNotification"
        await eventually(lambda: statuses(csms, action)[-1:] == ["Uploaded"], what="Uploaded")
        assert statuses(csms, action) == ["Uploading", "Uploaded"]
        [upload] = csms.uploads
        assert upload.method == "PUT"
        assert upload.path == f"/upload/logs/{name}"
        assert station.id.encode() in upload.body
        assert upload.authorization is None


async def test_1_6_security_get_log_posts_where_told() -> None:
    behaviour = FAST | {"log_upload_method": "POST"}
    async with station_against_csms("ocpp1.6", behaviour) as (csms, station):
        location = f"{csms.http}/upload/exact-name.log"
        reply = await csms.result(
            station.id,
            "GetLog",
            {"logType": "SecurityLog", "requestId": 9, "log": {"remoteLocation": location}},
        )
        assert reply["status"] == "Accepted"
        await eventually(
            lambda: statuses(csms, "LogStatusNotification")[-1:] == ["Uploaded"], what="Uploaded"
        )
        assert [p["requestId"] for p in csms.of("LogStatusNotification")] == [9, 9]
        assert [(u.method, u.path, u.authorization) for u in csms.uploads] == [
            ("POST", "/upload/exact-name.log", None)
        ]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_log_upload_that_fails(version: str) -> None:
    async with station_against_csms(version, FAST) as (csms, station):
        location = f"{csms.http}/fail/"
        if version == "ocpp1.6":
            await csms.result(station.id, "GetDiagnostics", {"location": location, "retries": 1})
            action, failure = "DiagnosticsStatusNotification", "UploadFailed"
        else:
            await csms.result(
                station.id,
                "GetLog",
                {
                    "logType": "DiagnosticsLog",
                    "requestId": 3,
                    "retries": 1,
                    "log": {"remoteLocation": location},
                },
            )
            action, failure = "LogStatusNotification", "UploadFailure"
        await eventually(lambda: statuses(csms, action)[-1:] == [failure], what=failure)
        assert statuses(csms, action) == ["Uploading", failure]
        assert csms.uploads == []


async def test_a_configured_upload_failure_sends_nothing() -> None:
    behaviour = FAST | {"log_outcome": "UploadFailure"}
    async with station_against_csms("ocpp2.0.1", behaviour) as (csms, station):
        location = f"{csms.http}/upload/"
        await csms.result(
            station.id,
            "GetLog",
            {"logType": "DiagnosticsLog", "requestId": 3, "log": {"remoteLocation": location}},
        )
        await eventually(
            lambda: statuses(csms, "LogStatusNotification")[-1:] == ["UploadFailure"],
            what="UploadFailure",
        )
        assert csms.uploads == []


def message(mid: int, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "message": {
            "id": mid,
            "priority": "NormalCycle",
            "message": {"format": "UTF8", "content": text},
            **extra,
        }
    }


async def test_display_messages_are_kept_reported_and_cleared() -> None:
    async with station_against_csms("ocpp2.0.1") as (csms, station):
        assert (await csms.result(station.id, "SetDisplayMessage", message(1, "Hello")))[
            "status"
        ] == "Accepted"
        assert (await csms.result(station.id, "SetDisplayMessage", message(2, "Bye")))[
            "status"
        ] == "Accepted"
        unknown_tx = message(3, "Yours", transactionId="nope")
        assert (await csms.result(station.id, "SetDisplayMessage", unknown_tx))[
            "status"
        ] == "UnknownTransaction"
        reply = await csms.result(station.id, "GetDisplayMessages", {"requestId": 8, "id": [2]})
        assert reply["status"] == "Accepted"
        notified = await csms.wait_for("NotifyDisplayMessages")
        assert notified["requestId"] == 8
        assert [m["message"]["content"] for m in notified["messageInfo"]] == ["Bye"]
        assert (await csms.result(station.id, "ClearDisplayMessage", {"id": 2}))[
            "status"
        ] == "Accepted"
        assert (await csms.result(station.id, "ClearDisplayMessage", {"id": 2}))[
            "status"
        ] == "Unknown"
        assert (await csms.result(station.id, "GetDisplayMessages", {"requestId": 9, "id": [2]}))[
            "status"
        ] == "Unknown"
        assert list(station.display_messages) == [1]


async def test_a_message_bound_to_a_transaction_goes_with_it() -> None:
    async with station_against_csms("ocpp2.0.1") as (csms, station):
        station.arrive(1, "TAG")
        tx = await eventually(
            lambda: station.evses[0].session and station.evses[0].session.transaction_id,
            what="a transaction",
        )
        bound = message(5, "Charging for you", transactionId=tx)
        assert (await csms.result(station.id, "SetDisplayMessage", bound))["status"] == "Accepted"
        await csms.result(station.id, "RequestStopTransaction", {"transactionId": tx})
        await eventually(lambda: not station.display_messages, what="the message gone")


async def _refused(station: SimStation, csms: FakeCsms, version: str) -> None:
    action = "ReserveNow"
    payload = (
        {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "A", "reservationId": 1}
        if version == "ocpp1.6"
        else {
            "id": 1,
            "expiryDateTime": "2030-01-01T00:00:00Z",
            "idToken": {"idToken": "A", "type": "ISO14443"},
        }
    )
    assert await csms.result(station.id, action, payload) == {"status": "Rejected"}
    assert all(e.reservation is None for e in station.evses)


@pytest.mark.parametrize("version", VERSIONS)
async def test_behaviour_rejects_refuses_and_ignores(version: str) -> None:
    behaviour = {
        "reject": ["ReserveNow"],
        "unsupported": ["ClearCache"],
        "ignore": ["GetLocalListVersion"],
    }
    async with station_against_csms(version, behaviour) as (csms, station):
        await _refused(station, csms, version)
        unsupported = await csms.call(station.id, "ClearCache", {})
        assert isinstance(unsupported, CallError)
        assert unsupported.error_code == (
            "NotImplemented" if version == "ocpp1.6" else "NotSupported"
        )
        with pytest.raises(TimeoutError):
            await csms.call(station.id, "GetLocalListVersion", {}, timeout=10 * UNIT)
        # The station is still there and answers the next call.
        trigger = await csms.result(station.id, "TriggerMessage", {"requestedMessage": "Heartbeat"})
        assert trigger["status"] == "Accepted"


async def test_a_station_without_a_password_uploads_with_the_credentials_of_the_location() -> None:
    async with station_against_csms("ocpp2.0.1", FAST) as (csms, station):
        location = f"http://ops:p%40ss@127.0.0.1:{csms.port}/upload/there/"
        await csms.result(
            station.id,
            "GetLog",
            {"logType": "DiagnosticsLog", "requestId": 4, "log": {"remoteLocation": location}},
        )
        await eventually(
            lambda: statuses(csms, "LogStatusNotification")[-1:] == ["Uploaded"], what="Uploaded"
        )
        [upload] = csms.uploads
        assert upload.path == f"/upload/there/{station.id}-DiagnosticsLog-4.log"
        assert upload.authorization == "Basic " + base64.b64encode(b"ops:p@ss").decode()


CHECKSUM = "0123456789abcdef0123456789abcdef"


async def test_a_local_controller_publishes_and_unpublishes_firmware() -> None:
    behaviour = FAST | {"local_controller": True}
    async with station_against_csms("ocpp2.0.1", behaviour) as (csms, station):
        publish = {"location": "https://fw.example/lc.bin", "checksum": CHECKSUM, "requestId": 21}
        assert (await csms.result(station.id, "PublishFirmware", publish))["status"] == "Accepted"
        ongoing = await csms.result(station.id, "UnpublishFirmware", {"checksum": CHECKSUM})
        assert ongoing["status"] == "DownloadOngoing"
        await eventually(
            lambda: statuses(csms, "PublishFirmwareStatusNotification")[-1:] == ["Published"],
            what="Published",
        )
        assert statuses(csms, "PublishFirmwareStatusNotification") == [
            "Downloading",
            "Downloaded",
            "ChecksumVerified",
            "Published",
        ]
        published = csms.of("PublishFirmwareStatusNotification")[-1]
        assert published["requestId"] == 21
        assert published["location"] == [
            f"http://{station.id.lower()}.local/firmware/{CHECKSUM}.bin"
        ]
        done = await csms.result(station.id, "UnpublishFirmware", {"checksum": CHECKSUM})
        assert done["status"] == "Unpublished"
        none = await csms.result(station.id, "UnpublishFirmware", {"checksum": CHECKSUM})
        assert none["status"] == "NoFirmware"


async def test_a_publication_whose_download_fails() -> None:
    behaviour = FAST | {"local_controller": True, "firmware_outcome": "DownloadFailed"}
    async with station_against_csms("ocpp2.0.1", behaviour) as (csms, station):
        publish = {"location": "https://fw.example/lc.bin", "checksum": CHECKSUM, "requestId": 2}
        await csms.result(station.id, "PublishFirmware", publish | {"retries": 1})
        await eventually(
            lambda: statuses(csms, "PublishFirmwareStatusNotification")[-1:] == ["DownloadFailed"],
            what="DownloadFailed",
        )
        assert statuses(csms, "PublishFirmwareStatusNotification").count("Downloading") == 2
        assert station.published == {}


async def test_a_station_that_is_no_local_controller_does_not_publish() -> None:
    async with station_against_csms("ocpp2.0.1") as (csms, station):
        publish = {"location": "https://fw.example/lc.bin", "checksum": CHECKSUM, "requestId": 1}
        reply = await csms.call(station.id, "PublishFirmware", publish)
        assert isinstance(reply, CallError) and reply.error_code == "NotSupported"


@pytest.mark.parametrize(
    ("version", "requested"),
    [("ocpp1.6", "DiagnosticsStatusNotification"), ("ocpp2.0.1", "LogStatusNotification")],
)
async def test_a_triggered_log_status_is_idle(version: str, requested: str) -> None:
    async with station_against_csms(version) as (csms, station):
        reply = await csms.result(station.id, "TriggerMessage", {"requestedMessage": requested})
        assert reply["status"] == "Accepted"
        assert (await csms.wait_for(requested))["status"] == "Idle"


@pytest.mark.parametrize(
    ("location", "version"),
    [
        ("https://fw.example/sim-2.4.bin", "sim-2.4"),
        ("https://fw.example/dir/release", "release"),
        ("ftp://fw.example/a/.hidden", ".hidden"),
        ("https://fw.example/", "sim-next"),
        ("https://fw.example/" + "x" * 80 + ".bin", "x" * 50),
    ],
)
def test_the_new_firmware_version_is_named_by_the_location(location: str, version: str) -> None:
    assert version_of(location) == version


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_the_station_answers_while_its_log_uploads(version: str) -> None:
    """The HTTP transfer runs beside the station's loop: a slow upload server does not keep the
    station from answering the CSMS."""
    async with station_against_csms(version, FAST) as (csms, station):
        location = f"{csms.http}/hang/"
        if version == "ocpp1.6":
            await csms.result(station.id, "GetDiagnostics", {"location": location})
            action = "DiagnosticsStatusNotification"
        else:
            request = {
                "logType": "DiagnosticsLog",
                "requestId": 4,
                "log": {"remoteLocation": location},
            }
            await csms.result(station.id, "GetLog", request)
            action = "LogStatusNotification"
        await eventually(lambda: station.log_upload is not None, what="the transfer under way")
        # Held by the server, the transfer waits; the station answers meanwhile.
        reply = await csms.result(station.id, "GetLocalListVersion", {})
        assert reply == ({"listVersion": 0} if version == "ocpp1.6" else {"versionNumber": 0})
        assert statuses(csms, action) == ["Uploading"]
        csms.release_uploads.set()
        await eventually(lambda: statuses(csms, action)[-1:] == ["Uploaded"], what="Uploaded")
        assert [u.path.startswith("/hang/") for u in csms.uploads] == [True]


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_refused_firmware_update(version: str) -> None:
    """2.x UpdateFirmware has a refusal (Rejected); 1.6's has no status, so the station runs it."""
    async with station_against_csms(version, FAST | {"reject": ["UpdateFirmware"]}) as (
        csms,
        station,
    ):
        action, payload = update(version, signed=False)
        reply = await csms.result(station.id, action, payload)
        if version == "ocpp1.6":
            assert reply == {}
            await eventually(
                lambda: statuses(csms, "FirmwareStatusNotification")[-1:] == ["Installed"],
                within=200 * UNIT,
                what="Installed",
            )
        else:
            assert reply == {"status": "Rejected"}
            assert station.firmware_job is None
