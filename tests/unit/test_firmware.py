"""The pieces of firmware and log tracking that need no server: the requests built for each OCPP
version, the retry policy, what an answer means, upload URLs and file names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from csms.firmware import logs, updates
from csms.firmware import statuses as st
from csms.firmware.settings import FirmwareSettings
from csms.pki.passwords import redacted
from gateway.calls import CommandRejected
from http_api.access_log import logged_path
from http_api.log_uploads import RETRY_GRACE, safe_name, taking_uploads
from persistence import firmware as store
from persistence.keyed_rows import run_alone
from persistence.models import metadata
from transport.versions import OcppVersion

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 5,
        "station_id": "CP 1/x",
        "request_id": 42,
        "location": "https://fw.example.com/a.bin",
        "retrieve_at": None,
        "install_at": None,
        "retries": None,
        "retry_interval": None,
        "resends": None,
        "resend_interval": None,
        "signature": None,
        "signing_certificate": None,
        "attempts": 1,
    }
    row.update(changes)
    return row


def _set(change: Any, row: dict[str, Any]) -> dict[str, Any]:
    """What ``change`` sets on ``row`` (it must set something)."""
    values = change(row)
    assert values is not None
    return dict(values)


def test_a_16_update_is_plain_unless_signed() -> None:
    row = _row(retries=2, install_at=NOW)
    assert updates.action_for(row, OcppVersion.V16) == "UpdateFirmware"
    assert updates.request_payload(row, OcppVersion.V16, NOW) == {
        "location": "https://fw.example.com/a.bin",
        "retrieveDate": "2026-12-04T12:00:00.000Z",
        "retries": 2,
    }
    signed = _row(signature="c2ln", signing_certificate="PEM")
    assert updates.action_for(signed, OcppVersion.V16) == "SignedUpdateFirmware"
    payload = updates.request_payload(signed, OcppVersion.V16, NOW)
    assert payload["requestId"] == 42
    assert payload["firmware"]["signature"] == "c2ln"


def test_a_2x_update_carries_its_request_id_and_times() -> None:
    row = _row(retrieve_at=NOW + timedelta(hours=1), install_at=NOW + timedelta(hours=2))
    assert updates.action_for(row, OcppVersion.V201) == "UpdateFirmware"
    assert updates.request_payload(row, OcppVersion.V201, NOW) == {
        "requestId": 42,
        "firmware": {
            "location": "https://fw.example.com/a.bin",
            "retrieveDateTime": "2026-12-04T13:00:00.000Z",
            "installDateTime": "2026-12-04T14:00:00.000Z",
        },
    }


@pytest.mark.parametrize(
    ("response", "status"),
    [
        ({}, "Accepted"),
        ({"status": "AcceptedCanceled"}, "Accepted"),
        ({"status": "Rejected"}, "Rejected"),
    ],
)
def test_what_an_answer_means(response: dict[str, Any], status: str) -> None:
    assert st.answered_status(response) == status


def test_resends_are_counted_after_the_first_attempt() -> None:
    policy = st.RetryPolicy.of({"resends": 2, "resend_interval": 60}, timedelta(minutes=5))
    assert policy.next_attempt(1, NOW) == NOW + timedelta(seconds=60)
    assert policy.next_attempt(2, NOW) == NOW + timedelta(seconds=60)
    assert policy.next_attempt(3, NOW) is None
    none = st.RetryPolicy.of({"resends": None, "resend_interval": None}, timedelta(minutes=5))
    assert none.next_attempt(1, NOW) is None
    # The station's own download retries are not voltmesh's.
    station_only = st.RetryPolicy.of({"retries": 5, "retry_interval": 60}, timedelta(minutes=5))
    assert station_only.next_attempt(1, NOW) is None


def test_a_failure_schedules_a_retry_only_while_resends_are_left() -> None:
    change = updates.reported("DownloadFailed", NOW, timedelta(minutes=5))
    first = _set(change, _row(status="Downloading", resends=1))
    assert first["next_attempt_at"] == NOW + timedelta(minutes=5)
    second = _set(change, _row(status="Downloading", resends=1, attempts=2))
    assert second["next_attempt_at"] is None
    installed = updates.reported("Installed", NOW, timedelta(minutes=5))
    assert _set(installed, _row(status="Installing", resends=3))["next_attempt_at"] is None
    assert installed(_row(status=st.CANCELED)) is None


def test_an_answer_applies_once_to_a_pending_attempt() -> None:
    change = updates.answered("Accepted", NOW)
    assert change(_row(status=st.PENDING)) == {
        "status": "Accepted",
        "last_status_at": NOW,
        "next_attempt_at": None,
    }
    assert change(_row(status="Downloading")) is None


def test_silence_counts_from_the_time_the_station_was_told_to_act() -> None:
    before = NOW - timedelta(hours=2)
    change = updates.timed_out(before, NOW, timedelta(minutes=5))
    old = NOW - timedelta(hours=3)
    silent = _row(status="Accepted", last_status_at=old)
    assert _set(change, silent)["status"] == st.TIMED_OUT
    assert change({**silent, "retrieve_at": NOW + timedelta(hours=5)}) is None
    assert change({**silent, "install_at": before + timedelta(minutes=1)}) is None
    assert _set(change, {**silent, "install_at": old})["status"] == st.TIMED_OUT
    assert change({**silent, "status": "Installed"}) is None


def test_settled_updates_and_logs_ignore_late_notifications() -> None:
    firmware = updates.reported("Downloading", NOW, timedelta(minutes=5))
    assert firmware(_row(status="Installed")) is None
    assert _set(firmware, _row(status="DownloadFailed"))["status"] == "Downloading"
    log = logs.reported("Uploading", NOW)
    assert log({"status": st.UPLOADED}) is None
    assert log({"status": st.ACCEPTED}) == {"status": "Uploading", "last_status_at": NOW}


def test_a_silent_log_with_its_file_is_uploaded_not_timed_out() -> None:
    before = NOW - timedelta(hours=2)
    change = logs.timed_out(before, NOW)
    old = NOW - timedelta(hours=3)
    silent = {"status": "Uploading", "last_status_at": old, "stored_path": None}
    assert _set(change, silent)["status"] == st.TIMED_OUT
    received = {**silent, "stored_path": "uploads/CP/1-a.log"}
    assert _set(change, received)["status"] == st.UPLOADED
    assert change({**silent, "last_status_at": NOW}) is None


def test_upload_urls_quote_the_station_and_name_the_request() -> None:
    row = {"id": 7, "station_id": "CP 1/x", "token": "s3cret"}
    assert (
        logs.upload_url("http://csms:8080/", row) == "http://csms:8080/uploads/CP%201%2Fx/7-s3cret"
    )


def test_the_request_an_upload_url_names() -> None:
    row = {"id": 7, "station_id": "CP 1/x", "token": "s3cret"}
    url = logs.upload_url("https://csms.example.com/base/", row)
    assert logs.named_request("CP 1/x", url) == (7, "s3cret")
    assert logs.named_request("CP 2", url) is None
    assert logs.named_request("CP 1/x", "ftp://logs.example.com/in/") is None
    assert logs.named_request("CP 1/x", "https://other/in/7-s3cret") is None
    assert logs.named_request("CP 1/x", None) is None


def test_the_secret_of_an_upload_url_is_not_recorded() -> None:
    row = {"id": 7, "station_id": "CP 1/x", "token": "s3-cr_et"}
    url = logs.upload_url("https://csms.example.com/base/", row)
    get_log = logs.get_log_payload({"log_type": "SecurityLog", "request_id": 3, **row}, url)
    kept = redacted("GetLog", get_log)
    assert kept["log"]["remoteLocation"] == "https://csms.example.com/base/uploads/CP%201%2Fx/7-***"
    assert (kept["requestId"], kept["logType"]) == (3, "SecurityLog")
    assert get_log["log"]["remoteLocation"] == url  # the request as sent is left alone
    diagnostics = redacted("GetDiagnostics", logs.get_diagnostics_payload(row, url + "/"))
    assert diagnostics["location"] == "https://csms.example.com/base/uploads/CP%201%2Fx/7-***/"
    # An operator's own server: only the password it may embed is masked.
    ftp = {"location": "ftp://ops:p%40ss@ftp.example.com:21/in/"}
    assert redacted("GetDiagnostics", ftp)["location"] == "ftp://ops:***@ftp.example.com:21/in/"
    plain = {"location": "ftp://ftp.example.com/in/"}
    assert redacted("GetDiagnostics", plain) == plain
    assert redacted("UpdateFirmware", {"location": url}) == {"location": url}


def test_the_access_log_masks_upload_paths() -> None:
    assert logged_path("/uploads/CP-1/8-s3-cr_et") == "/uploads/CP-1/8-***"
    assert logged_path("/uploads/CP-1/8-s3cret/diag.zip") == "/uploads/CP-1/8-***/diag.zip"
    assert logged_path("/uploads/CP-1/s3cret") == "/uploads/CP-1/***"
    assert logged_path("/api/v1/log-requests/8") == "/api/v1/log-requests/8"


@pytest.mark.parametrize(
    ("status", "ago", "taken"),
    [
        (st.PENDING, timedelta(days=1), True),
        (st.ACCEPTED, timedelta(0), True),
        ("Uploading", timedelta(hours=1), True),
        ("UploadFailure", timedelta(0), True),
        ("UploadFailed", RETRY_GRACE - timedelta(seconds=1), True),
        ("UploadFailure", RETRY_GRACE, False),
        (st.UPLOADED, timedelta(0), False),
        (st.NOT_SENT, timedelta(0), False),
        (st.TIMED_OUT, timedelta(0), False),
        (st.CANCELED, timedelta(0), False),
        (st.NO_LOGS, timedelta(0), False),
        ("Rejected", timedelta(0), False),
        ("PermissionDenied", timedelta(0), False),
    ],
)
def test_an_upload_url_takes_uploads_only_while_its_request_is_in_progress(
    status: str, ago: timedelta, taken: bool
) -> None:
    assert taking_uploads({"status": status, "last_status_at": NOW - ago}, NOW) is taken


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("diag.zip", "diag.zip"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("..%2F..%2Fescape.log", "escape.log"),
        (".hidden", "hidden"),
        ("..", "log-1"),
        ("", "log-1"),
        (None, "log-1"),
        ("a b;c.txt", "a_b_c.txt"),
    ],
)
def test_file_names_stay_in_their_directory(given: str | None, kept: str) -> None:
    assert safe_name(given, "log-1") == kept


def test_the_loop_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLTMESH_FIRMWARE_TICK", "0.5")
    monkeypatch.setenv("VOLTMESH_FIRMWARE_STALE_AFTER", "600")
    conf = FirmwareSettings.from_environment()
    assert (conf.tick, conf.stale_after) == (0.5, timedelta(minutes=10))
    for bad in ("0", "-1", "soon", "nan", "inf"):
        monkeypatch.setenv("VOLTMESH_FIRMWARE_TICK", bad)
        with pytest.raises(ValueError, match="VOLTMESH_FIRMWARE_TICK"):
            FirmwareSettings.from_environment()


def test_a_station_that_does_not_implement_the_call_gets_no_resend() -> None:
    row = _row(status=st.PENDING, resends=3)
    unsupported = updates.command_failure(CommandRejected("NotImplemented", "", {}))
    assert unsupported.final
    assert (
        _set(updates.failed_to_send(unsupported, NOW, timedelta(0)), row)["next_attempt_at"] is None
    )
    busy = updates.command_failure(CommandRejected("InternalError", "", {}))
    assert not busy.final
    assert _set(updates.failed_to_send(busy, NOW, timedelta(0)), row)["next_attempt_at"] == NOW


async def test_a_canceled_update_is_not_sent(tmp_path: Path) -> None:
    """The loop picks a campaign member, the operator cancels the campaign: the attempt, checked
    inside its transaction, does not start."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/firmware.db")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        values = {"station_id": "CP-1", "campaign_id": 1, "location": "https://fw/a.bin"}
        row = await run_alone(engine, store.update_created({**values, "status": st.QUEUED}))
        attempt = store.attempt_started(row["id"], "UpdateFirmware", st.PENDING, unless={"X"})
        started = await run_alone(engine, attempt)
        assert (started["status"], started["attempts"]) == (st.PENDING, 1)
        await run_alone(engine, store.update_changed(row["id"], lambda _: {"status": st.CANCELED}))
        again = store.attempt_started(row["id"], "UpdateFirmware", st.PENDING, unless={st.CANCELED})
        assert await run_alone(engine, again) is None
        async with engine.connect() as conn:
            kept = (await conn.execute(select(store.firmware_updates))).mappings().one()
        assert (kept["status"], kept["attempts"]) == (st.CANCELED, 1)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("version", "action", "response", "supersedes"),
    [
        # 1.6 section 5.19: the newer UpdateFirmware replaces the one the station was running.
        (OcppVersion.V16, "UpdateFirmware", {}, True),
        # The security extension answers AcceptedCanceled when it canceled one; else it did not.
        (OcppVersion.V16, "SignedUpdateFirmware", {"status": "Accepted"}, False),
        (OcppVersion.V16, "SignedUpdateFirmware", {"status": "AcceptedCanceled"}, True),
        (OcppVersion.V201, "UpdateFirmware", {"status": "Accepted"}, False),
        (OcppVersion.V201, "UpdateFirmware", {"status": "AcceptedCanceled"}, True),
        (OcppVersion.V201, "UpdateFirmware", {"status": "Rejected"}, False),
        (None, "UpdateFirmware", {}, False),
    ],
)
def test_which_answers_end_the_station_s_other_updates(
    version: OcppVersion | None, action: str, response: dict[str, Any], supersedes: bool
) -> None:
    row = _row(action=action, status=st.answered_status(response))
    assert (updates.superseded_by(row, response, version, NOW) is not None) is supersedes


async def test_a_superseded_update_ends_canceled_with_who_replaced_it(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/firmware.db")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        values = {"station_id": "CP-1", "campaign_id": None, "location": "https://fw/a.bin"}
        running = await run_alone(engine, store.update_created({**values, "status": "Downloading"}))
        sending = await run_alone(engine, store.update_created({**values, "status": st.PENDING}))
        other = await run_alone(
            engine, store.update_created({**values, "station_id": "CP-2", "status": st.ACCEPTED})
        )
        newer = await run_alone(engine, store.update_created({**values, "status": st.ACCEPTED}))
        op = updates.superseded_by({**newer, "action": "UpdateFirmware"}, {}, OcppVersion.V16, NOW)
        assert op is not None
        (canceled,) = await run_alone(engine, op)
        assert canceled["id"] == running["id"]
        assert (canceled["status"], canceled["detail"]) == (
            st.CANCELED,
            f"replaced by firmware update {newer['id']}",
        )
        async with engine.connect() as conn:
            rows = (await conn.execute(select(store.firmware_updates))).mappings().all()
        statuses = {row["id"]: row["status"] for row in rows}
        assert statuses == {
            running["id"]: st.CANCELED,
            sending["id"]: st.PENDING,  # its own answer decides
            other["id"]: st.ACCEPTED,  # another station's
            newer["id"]: st.ACCEPTED,
        }
    finally:
        await engine.dispose()
