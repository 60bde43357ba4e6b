"""sObject REST, validation like an org, limits, row locks and fault injection."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce

CT = "Chat_Transcript__c"
EXTRA_SCHEMA = {
    "objects": {
        CT: {"fields": {"Legacy_Key__c": {"type": "string", "length": 40, "external_id": True}}},
    }
}


@pytest.fixture(scope="module")
def sf_emulator(tmp_path_factory):
    """This module's org has a non-unique external id too (only those can answer 300)."""
    config = SalesforceEmulatorConfig(schema_extra=EXTRA_SCHEMA)
    emulator = start_salesforce(config, data_dir=tmp_path_factory.mktemp("salesforce-rest"))
    yield emulator
    emulator.stop()


def error_codes(exc) -> list[str]:
    return [e["errorCode"] for e in exc.value.content]


def test_describe_comes_from_the_schema(sf_client):
    described = sf_client.Chat_Transcript__c.describe()
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["Transcript__c"]["length"] == 131072
    assert fields["LP_Conversation_Id__c"]["externalId"] is True
    assert fields["Legacy_Key__c"]["externalId"] is True


def test_describe_unknown_object_is_not_found(sf_api):
    response = sf_api("GET", "/sobjects/Nope__c/describe")
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"


def test_create_get_update_delete(sf_client):
    created = sf_client.Chat_Transcript__c.create(
        {"LP_Conversation_Id__c": "rest-1", "Transcript__c": "Visitor: hi", "Duration_Seconds__c": 12}
    )
    assert created["success"] is True and created["errors"] == []
    record_id = created["id"]
    assert len(record_id) == 18 and record_id.startswith("a0L")
    record = sf_client.Chat_Transcript__c.get(record_id)
    assert record["Name"].startswith("CT-") and record["Duration_Seconds__c"] == 12.0
    assert record["CreatedDate"].endswith("+0000") and record["Transcript_Truncated__c"] is False
    assert sf_client.Chat_Transcript__c.update(record_id, {"Agent_Name__c": "Ann"}) == 204
    assert sf_client.Chat_Transcript__c.get(record_id)["Agent_Name__c"] == "Ann"
    assert sf_client.Chat_Transcript__c.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf_client.Chat_Transcript__c.get(record_id)


def test_get_with_fields_parameter(sf_client, sf_api):
    record_id = sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "rest-fields"})["id"]
    body = sf_api("GET", f"/sobjects/{CT}/{record_id}", params={"fields": "Id,Name"}).json()
    assert set(body) == {"attributes", "Id", "Name"}


def test_upsert_creates_then_updates(sf_client, sf_emulator):
    first = sf_client.Chat_Transcript__c.upsert("LP_Conversation_Id__c/rest-up", {"Agent_Name__c": "A"}, True)
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["success"] is True
    second = sf_client.Chat_Transcript__c.upsert(
        "LP_Conversation_Id__c/rest-up", {"Agent_Name__c": "B"}, raw_response=True
    )
    # api-facts "Update by upsert": from API 46.0 an update answers 200 with a body, not 204.
    assert second.status_code == 200
    assert second.json() == {"id": first.json()["id"], "success": True, "errors": [], "created": False}
    rows = [r for r in sf_emulator.state.store.records(CT) if r["LP_Conversation_Id__c"] == "rest-up"]
    assert len(rows) == 1 and rows[0]["Agent_Name__c"] == "B"


def test_upsert_update_before_api_46_answers_204_without_body(sf_emulator, sf_api):
    from lesync.emulators.salesforce.rest import _upsert_answer

    assert _upsert_answer("a0L1", False, "45.0").status_code == 204
    assert _upsert_answer("a0L1", True, "45.0").status_code == 201


def test_lesync_client_reads_the_update_answer_of_an_upsert(sf_emulator):
    from lesync.salesforce import SalesforceConnectionSettings, build_client

    info = sf_emulator.connection_info()
    client = build_client(
        SalesforceConnectionSettings(
            client_id=info["client_id"],
            client_secret=info["client_secret"],
            token_url=info["token_url"],
            ca_file=info["ca_file"],
        )
    )
    path = f"sobjects/{CT}/LP_Conversation_Id__c/rest-client-up"
    created = client.rest("PATCH", path, json={"Agent_Name__c": "A"})
    updated = client.rest("PATCH", path, json={"Agent_Name__c": "B"})
    assert created["created"] is True and updated == {**created, "created": False}


def test_upsert_with_null_or_empty_clears_the_field(sf_client, sf_emulator):
    sf_client.Chat_Transcript__c.upsert(
        "LP_Conversation_Id__c/rest-null", {"Agent_Name__c": "A", "City__c": "X"}
    )
    sf_client.Chat_Transcript__c.upsert(
        "LP_Conversation_Id__c/rest-null", {"Agent_Name__c": None, "City__c": ""}
    )
    row = next(r for r in sf_emulator.state.store.records(CT) if r["LP_Conversation_Id__c"] == "rest-null")
    assert row["Agent_Name__c"] is None and row["City__c"] is None


def test_upsert_on_a_field_that_is_not_an_external_id(sf_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.Chat_Transcript__c.upsert("Agent_Name__c/x", {"City__c": "X"})
    assert error_codes(raised) == ["INVALID_FIELD"]


def test_upsert_matching_several_records_answers_300(sf_client):
    for conversation in ("rest-dup-1", "rest-dup-2"):
        sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": conversation, "Legacy_Key__c": "same"})
    with pytest.raises(SalesforceMoreThanOneRecord) as raised:
        sf_client.Chat_Transcript__c.upsert("Legacy_Key__c/same", {"City__c": "X"})
    assert raised.value.status == 300
    assert len(raised.value.content) == 2


@pytest.mark.parametrize(
    "values, code, field",
    [
        ({"Transcript__c": "x" * 131073}, "STRING_TOO_LONG", "Transcript__c"),
        ({"Nope__c": "x"}, "INVALID_FIELD", "Nope__c"),
        ({"Status__c": "Pending"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status__c"),
        ({"Duration_Seconds__c": "abc"}, "INVALID_TYPE_ON_FIELD_IN_RECORD", "Duration_Seconds__c"),
        ({"Start_Time__c": "yesterday"}, "INVALID_TYPE_ON_FIELD_IN_RECORD", "Start_Time__c"),
        ({"Visitor_Email__c": "not-an-email"}, "INVALID_EMAIL_ADDRESS", "Visitor_Email__c"),
        ({"Account__c": "001000000000000"}, "INVALID_CROSS_REFERENCE_KEY", "Account__c"),
        ({"Account__c": "003EM0000000001"}, "MALFORMED_ID", "Account__c"),
        ({"Account__c": "garbage"}, "MALFORMED_ID", "Account__c"),
        ({"Name": "CT-1"}, "INVALID_FIELD_FOR_INSERT_UPDATE", "Name"),
    ],
)
def test_validation_errors_like_an_org(sf_client, values, code, field):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": f"bad-{code}-{field}", **values})
    error = raised.value.content[0]
    assert error["errorCode"] == code
    assert field in error["fields"]


def test_string_too_long_message_names_label_and_max(sf_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.Chat_Transcript__c.create({"Transcript__c": "y" * 131073})
    message = raised.value.content[0]["message"]
    assert message.startswith("Transcript: data value too large: ") and message.endswith(
        "(max length=131072)"
    )


def test_required_field_missing(sf_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.Contact.create({"FirstName": "Ann"})
    assert raised.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert raised.value.content[0]["fields"] == ["LastName"]


def test_duplicate_value_on_unique_external_id(sf_client):
    sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "rest-unique"})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "rest-unique"})
    assert error_codes(raised) == ["DUPLICATE_VALUE"]


def test_valid_reference_is_accepted(sf_client):
    account_id = sf_client.Account.create({"Name": "Acme"})["id"]
    created = sf_client.Chat_Transcript__c.create(
        {"LP_Conversation_Id__c": "rest-ref", "Account__c": account_id[:15]}
    )
    assert sf_client.Chat_Transcript__c.get(created["id"])["Account__c"] == account_id


def test_custom_validation_rule(sf_client, sf_emulator):
    def no_test_agents(record):
        return "Test agents may not own transcripts" if record.get("Agent_Name__c") == "TEST" else None

    sf_emulator.state.add_validation_rule(CT, no_test_agents)
    try:
        with pytest.raises(SalesforceMalformedRequest) as raised:
            sf_client.Chat_Transcript__c.create(
                {"LP_Conversation_Id__c": "rest-rule", "Agent_Name__c": "TEST"}
            )
        assert raised.value.content[0] == {
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "message": "Test agents may not own transcripts",
            "fields": [],
        }
    finally:
        sf_emulator.state.store.validation_rules[CT].remove(no_test_agents)


def test_every_response_carries_the_api_usage_header(sf_client, sf_api, sf_emulator):
    sf_client.query("SELECT Id FROM Account")
    usage = sf_client.api_usage["api-usage"]
    assert usage.total == 100_000 and usage.used == sf_emulator.state.limits.used
    response = sf_api("GET", "/limits")
    assert response.headers["Sforce-Limit-Info"] == f"api-usage={sf_emulator.state.limits.used}/100000"
    limits = response.json()
    assert limits["DailyApiRequests"]["Max"] == 100_000
    assert limits["DailyApiRequests"]["Remaining"] == 100_000 - sf_emulator.state.limits.used
    assert "DailyBulkV2QueryJobs" in limits


def test_request_limit_exceeded(sf_client, sf_emulator, sf_session):
    used, maximum = sf_emulator.state.limits.used, sf_emulator.state.limits.max
    try:
        sf_emulator.state.set_api_usage(used=99_999, max=100_000)
        sf_client.query("SELECT Id FROM Account")
        with pytest.raises(SalesforceRefusedRequest) as raised:
            sf_client.query("SELECT Id FROM Account")
        assert raised.value.content == [
            {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded.", "fields": []}
        ]
        reset = sf_session.post(
            f"{sf_emulator.url}/_emulator/salesforce/limits", json={"used": 10, "max": 500}
        )
        assert reset.json() == {"used": 10, "max": 500}
        sf_client.query("SELECT Id FROM Account")
        assert sf_client.api_usage["api-usage"].used == 11
    finally:
        sf_emulator.state.set_api_usage(used=used, max=maximum)


def test_unable_to_lock_row_on_a_chosen_record(sf_client, sf_emulator):
    sf_emulator.state.lock_rows(["rest-locked"], times=2)
    for _ in range(2):
        with pytest.raises(SalesforceMalformedRequest) as raised:
            sf_client.Chat_Transcript__c.upsert("LP_Conversation_Id__c/rest-locked", {"City__c": "X"})
        assert error_codes(raised) == ["UNABLE_TO_LOCK_ROW"]
        assert "unable to obtain exclusive access to this record" in raised.value.content[0]["message"]
    assert sf_client.Chat_Transcript__c.upsert("LP_Conversation_Id__c/rest-locked", {"City__c": "X"}) == 201


def test_lock_rows_over_http(sf_client, sf_emulator, sf_session):
    response = sf_session.post(
        f"{sf_emulator.url}/_emulator/salesforce/faults", json={"lock_rows": {"rest-http": 1}}
    )
    assert response.json()["lock_rows"]["rest-http"] == 1
    with pytest.raises(SalesforceMalformedRequest):
        sf_client.Chat_Transcript__c.upsert("LP_Conversation_Id__c/rest-http", {"City__c": "X"})
    assert sf_client.Chat_Transcript__c.upsert("LP_Conversation_Id__c/rest-http", {"City__c": "X"}) == 201


def test_injected_server_error_is_salesforce_shaped_and_used_once(sf_client, sf_emulator):
    sf_emulator.state.faults.add(path="/query", status=503)
    with pytest.raises(SalesforceGeneralError) as raised:
        sf_client.query("SELECT Id FROM Account")
    assert raised.value.status == 503 and raised.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf_client.query("SELECT Id FROM Account")["done"] is True


def test_calls_are_counted_per_endpoint(sf_client, sf_emulator, sf_session):
    sf_emulator.state.calls.reset()
    sf_client.query("SELECT Id FROM Account")
    sf_client.Chat_Transcript__c.upsert("LP_Conversation_Id__c/rest-count", {"City__c": "X"})
    calls = sf_session.get(f"{sf_emulator.url}/_emulator/calls").json()
    assert calls["by_endpoint"] == {
        "GET /services/data/v{version}/query": 1,
        "PATCH /services/data/v{version}/sobjects/{object_name}/{external_field}/{value}": 1,
    }


def test_data_is_readable_with_sqlite(sf_client, sf_emulator):
    import sqlite3

    sf_client.Chat_Transcript__c.upsert(
        "LP_Conversation_Id__c/rest-sqlite", {"Transcript__c": "Agent: hello"}
    )
    with sqlite3.connect(sf_emulator.db_path) as connection:
        row = connection.execute(
            "SELECT Name, Transcript__c FROM Chat_Transcript__c WHERE LP_Conversation_Id__c = 'rest-sqlite'"
        ).fetchone()
    assert row[0].startswith("CT-") and row[1] == "Agent: hello"


def test_request_limit_faults_tell_the_daily_from_the_concurrent_limit(sf_emulator, sf_session, sf_api):
    """api-facts "REQUEST_LIMIT_EXCEEDED": one code, two messages; only the concurrent one is transient."""
    sf_session.post(f"{sf_emulator.url}/_emulator/salesforce/faults", json={"concurrent_limit": 1})
    concurrent = sf_api("GET", "/limits")
    assert concurrent.status_code == 403
    assert concurrent.json()[0] == {
        "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
        "errorCode": "REQUEST_LIMIT_EXCEEDED",
        "fields": [],
    }
    assert sf_api("GET", "/limits").status_code == 200  # used once
    used, maximum = sf_emulator.state.limits.used, sf_emulator.state.limits.max
    sf_emulator.state.set_api_usage(used=maximum)
    try:
        daily = sf_api("GET", "/limits")
    finally:
        sf_emulator.state.set_api_usage(used=used)
    assert daily.status_code == 403 and daily.json()[0]["message"] == "TotalRequests Limit exceeded."
