"""The benchmark's Bulk API 1.0 add-on, driven by simple-salesforce's SFBulkHandler (what Airflow's
SalesforceBulkOperator uses), against a Salesforce emulator in this process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from bench.bulk1_emulator_addon import MAX_BATCH_RECORDS, mount_bulk1  # noqa: E402

from lesync.emulators.salesforce import SalesforceEmulatorConfig, SalesforceState, create_app  # noqa: E402
from lesync.emulators.server import serve_in_thread  # noqa: E402
from lesync.emulators.tls import ensure_certificates  # noqa: E402

CT = "Chat_Transcript__c"
EXT = "LP_Conversation_Id__c"


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("bulk1")
    state = SalesforceState(SalesforceEmulatorConfig(bulk_field_cap=100), data_dir)
    certs = ensure_certificates(data_dir / "tls")
    app = create_app(state)
    mount_bulk1(app, state)
    server = serve_in_thread(app, ssl_certfile=str(certs.cert_file), ssl_keyfile=str(certs.key_file))
    session = requests.Session()
    session.trust_env = False
    session.verify = str(certs.ca_file)
    config = state.config
    token = session.post(
        server.url + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        },
    ).json()["access_token"]
    yield state, server, session, token
    server.stop()


@pytest.fixture()
def sf(org, monkeypatch):
    """simple-salesforce against the org; its 5-second wait between batch polls made short."""
    import simple_salesforce.bulk
    from simple_salesforce import Salesforce

    monkeypatch.setattr(simple_salesforce.bulk, "sleep", lambda seconds: __import__("time").sleep(0.05))

    _, server, session, token = org
    return Salesforce(instance_url=server.url, session_id=token, session=session, version="62.0")


def test_upsert_creates_then_updates_results_in_input_order(org, sf):
    state = org[0]
    rows = [{EXT: f"b1-{i}", "Agent_Name__c": f"Agent {i}"} for i in range(25)]
    results = sf.bulk.Chat_Transcript__c.upsert(rows, EXT, batch_size=10)
    assert len(results) == 25
    assert all(r["success"] and r["created"] for r in results)
    stored = {r[EXT]: r for r in state.store.records(CT)}
    assert [stored[f"b1-{i}"]["Id"] for i in range(25)] == [r["id"] for r in results]
    again = sf.bulk.Chat_Transcript__c.upsert([{EXT: "b1-3", "Agent_Name__c": "Changed"}], EXT)
    assert again[0]["success"] and not again[0]["created"] and again[0]["id"] == results[3]["id"]
    assert next(r for r in state.store.records(CT) if r[EXT] == "b1-3")["Agent_Name__c"] == "Changed"


def test_values_over_the_bulk_cap_fail_per_record_not_the_batch(sf):
    rows = [{EXT: "cap-ok", "Transcript__c": "short"}, {EXT: "cap-long", "Transcript__c": "x" * 101}]
    ok, too_long = sf.bulk.Chat_Transcript__c.upsert(rows, EXT)
    assert ok["success"]
    assert not too_long["success"]
    assert too_long["errors"][0]["statusCode"] == "STRING_TOO_LONG"


def test_calls_are_counted_and_spend_the_api_limit(org, sf):
    state = org[0]
    state.calls.reset()
    used_before = state.limits.used
    sf.bulk.Chat_Transcript__c.upsert([{EXT: "count-1"}], EXT)
    counted = state.calls.snapshot()
    async_calls = {k: v for k, v in counted.items() if "/services/async/" in k}
    # create job, add batch, at least one status poll, result, close job
    assert sum(async_calls.values()) >= 5
    assert state.limits.used - used_before == sum(async_calls.values())


def test_a_bad_session_is_invalid_session_id(org):
    _, server, session, _ = org
    response = session.post(
        server.url + "/services/async/62.0/job",
        json={"operation": "upsert", "object": CT, "contentType": "JSON", "externalIdFieldName": EXT},
        headers={"X-SFDC-Session": "nope"},
    )
    assert response.status_code == 400
    assert response.json()["exceptionCode"] == "InvalidSessionId"


def test_oversized_batch_fails_whole(org):
    _, server, session, token = org
    headers = {"X-SFDC-Session": token}
    base = server.url + "/services/async/62.0/job"
    job = session.post(
        base,
        json={"operation": "upsert", "object": CT, "contentType": "JSON", "externalIdFieldName": EXT},
        headers=headers,
    ).json()
    records = [{EXT: f"big-{i}"} for i in range(MAX_BATCH_RECORDS + 1)]
    batch = session.post(f"{base}/{job['id']}/batch", json=records, headers=headers).json()
    assert batch["state"] == "Failed"
    assert "exceeds" in batch["stateMessage"]


def test_non_external_id_field_is_refused(org):
    _, server, session, token = org
    response = session.post(
        server.url + "/services/async/62.0/job",
        json={
            "operation": "upsert",
            "object": CT,
            "contentType": "JSON",
            "externalIdFieldName": "Agent_Name__c",
        },
        headers={"X-SFDC-Session": token},
    )
    assert response.status_code == 400
    assert response.json()["exceptionCode"] == "InvalidJob"
