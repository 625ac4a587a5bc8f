"""Local list entries without a server: the filter, the differences between what a station holds
and what it should, and SendLocalList payloads of each version read back as they were meant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ocpp.v201.enums import IdTokenEnumType

from csms.local_lists.carried import TOKEN_TYPES, TOKEN_TYPES_V201, token_types
from csms.local_lists.entries import (
    desired_list,
    differences,
    entry_of,
    send_local_list_payload,
    sent_update,
)
from csms.local_lists.filters import FilterError, parse_filter
from persistence.local_lists import ListEntry
from persistence.records import IdTokenRecord, IdTokenStatus
from transport.schemas import schemas_for
from transport.versions import OcppVersion


def token(value: str, parent: str | None = None, **kwargs: object) -> IdTokenRecord:
    return IdTokenRecord(
        id_token=value,
        type=kwargs.get("type"),  # type: ignore[arg-type]
        status=IdTokenStatus(str(kwargs.get("status", "Accepted"))),
        expiry_date=kwargs.get("expiry"),  # type: ignore[arg-type]
        parent_id_token=parent,
        evse_ids=kwargs.get("evse_ids"),  # type: ignore[arg-type]
    )


def test_filter_picks_named_tags_and_groups_case_insensitively() -> None:
    f = parse_filter({"include": ["alice"], "groups": ["fleet"]})
    assert f.matches(token("ALICE"))
    assert f.matches(token("BOB", "FLEET"))
    assert not f.matches(token("CAROL", "OTHER"))
    assert not f.matches(token("DAVE"))
    assert f.document() == {"include": ["ALICE"], "groups": ["FLEET"]}
    assert parse_filter({}).matches(token("ANY"))
    assert not parse_filter({"include": "none"}).matches(token("ANY"))
    assert parse_filter({"include": "none"}).document() == {"include": "none", "groups": []}


@pytest.mark.parametrize(
    "document",
    [[], {"include": "some"}, {"include": [""]}, {"groups": "G"}, {"other": 1}, {"include": 3}],
)
def test_bad_filters(document: object) -> None:
    with pytest.raises(FilterError):
        parse_filter(document)


def test_differences_add_change_and_remove() -> None:
    held = [
        ListEntry("A", None, "Accepted", None, None),
        ListEntry("B", None, "Accepted", None, None),
        ListEntry("C", None, "Accepted", None, None),
    ]
    desired = [
        ListEntry("A", None, "Accepted", None, None),
        ListEntry("B", None, "Blocked", None, None),
        ListEntry("D", None, "Accepted", None, None),
    ]
    changed, removed = differences(held, desired)
    assert [e.id_token for e in changed] == ["B", "D"]
    assert removed == ["C"]
    assert differences(desired, desired) == ([], [])


def test_an_expiry_compares_as_the_wire_carries_it() -> None:
    expiry = datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    entry = entry_of(token("A", expiry=expiry), OcppVersion.V16)
    payload = send_local_list_payload(OcppVersion.V16, 3, "Full", [entry], [])
    held = sent_update("ocpp1.6", payload).entries
    assert differences(held, [entry]) == ([], [])


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21])
def test_payloads_are_valid_and_read_back(version: OcppVersion) -> None:
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    entries = [
        entry_of(token("A", "G", expiry=expiry), version),
        entry_of(token("B", type="eMAID", status="Blocked"), version),
    ]
    payload = send_local_list_payload(version, 4, "Differential", entries, ["C"], {"G": "Local"})
    schemas_for(version).validate_request("SendLocalList", payload)
    update = sent_update(version.value, payload)
    assert (update.version, update.update_type) == (4, "Differential")
    assert update.entries == entries and update.removed == ["C"]
    if version is not OcppVersion.V16:
        info = payload["localAuthorizationList"][0]["idTokenInfo"]
        assert info["groupIdToken"] == {"idToken": "G", "type": "Local"}
        assert payload["localAuthorizationList"][1]["idToken"]["type"] == "eMAID"
    empty = send_local_list_payload(version, 5, "Full", [], [])
    schemas_for(version).validate_request("SendLocalList", empty)
    assert "localAuthorizationList" not in empty


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
def test_a_parent_written_in_lower_case_is_not_sent_again(version: OcppVersion) -> None:
    # The id tag's parent is stored as the operator wrote it; the station holds it as sent.
    entry = entry_of(token("A", "fleet"), version)
    assert entry.parent_id_token == "FLEET"
    payload = send_local_list_payload(version, 3, "Full", [entry], [])
    held = sent_update(version.value, payload).entries
    assert differences(held, [entry]) == ([], [])
    group = token("FLEET", type="Central")
    desired = desired_list(
        [token("A", "fleet"), group], parse_filter({"groups": ["FLEET"]}), version
    )
    assert desired.group_types == {"FLEET": "Central"}


def test_a_token_valid_at_some_evses_only() -> None:
    """2.x carries the EVSEs (IdTokenInfo.evseId); 1.6 cannot, and leaves it off when Accepted
    (it would charge at every connector offline), keeping it when it refuses anyway."""
    tokens = [
        token("HERE", evse_ids=(2, 1)),
        token("BLOCKED", status="Blocked", evse_ids=(1,)),
        token("ANYWHERE"),
    ]
    everyone = parse_filter({"include": "all"})
    v16 = desired_list(tokens, everyone, OcppVersion.V16)
    assert [e.id_token for e in v16.entries] == ["BLOCKED", "ANYWHERE"] and v16.skipped == 1
    assert all(e.evse_ids is None for e in v16.entries)
    v2 = desired_list(tokens, everyone, OcppVersion.V201)
    assert v2.skipped == 0 and v2.entries[0].evse_ids == (1, 2)
    payload = send_local_list_payload(OcppVersion.V201, 2, "Full", v2.entries, [])
    schemas_for(OcppVersion.V201).validate_request("SendLocalList", payload)
    assert payload["localAuthorizationList"][0]["idTokenInfo"]["evseId"] == [1, 2]
    held = sent_update(OcppVersion.V201.value, payload).entries
    assert differences(held, v2.entries) == ([], [])


def test_the_2_0_1_token_types_are_the_schema_enum() -> None:
    assert frozenset(t.value for t in IdTokenEnumType) == TOKEN_TYPES_V201
    assert TOKEN_TYPES_V201 < token_types(OcppVersion.V21) == TOKEN_TYPES
    assert token_types(OcppVersion.V16) == frozenset()


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21])
def test_a_token_the_version_cannot_carry_is_skipped_not_sent(version: OcppVersion) -> None:
    """Rows stored before the id tags resource checked them: a type no version has, an EVSE id
    out of range, a 2.1 type on a 2.0.1 station. Each is left off the list (and counted), and
    the rest of the list, the Blocked card among them, is a valid SendLocalList."""
    tokens = [
        token("BOGUS", type="Bogus"),
        token("HUGE-EVSE", status="Blocked", evse_ids=(2**40,)),
        token("NEGATIVE-EVSE", status="Blocked", evse_ids=(-1,)),
        token("VIN-TOKEN", type="VIN"),
        token("BLOCKED", status="Blocked", type="ISO15693"),
        token("MEMBER", "ODD-GROUP"),
        token("ODD-GROUP", type="Bogus", status="Blocked"),
    ]
    desired = desired_list(tokens, parse_filter({"include": "all"}), version)
    carried = {e.id_token for e in desired.entries}
    if version is OcppVersion.V16:
        # 1.6 has no token types, and a Blocked token is sent without its EVSEs.
        assert desired.skipped == 0 and len(carried) == len(tokens)
    elif version is OcppVersion.V201:
        assert carried == {"BLOCKED", "MEMBER"} and desired.skipped == 5
    else:
        assert carried == {"BLOCKED", "MEMBER", "VIN-TOKEN"} and desired.skipped == 4
    # The group's stored type is not one the version has: the group goes as Central.
    assert "ODD-GROUP" not in desired.group_types
    payload = send_local_list_payload(version, 7, "Full", desired.entries, [], desired.group_types)
    schemas_for(version).validate_request("SendLocalList", payload)
