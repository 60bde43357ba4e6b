"""The load stage against the Salesforce emulator: idempotence, modes, linking, faults, budget."""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce
from lesync.pipeline.load import LoadOptions, load_rows
from lesync.pipeline.staging import read_jsonl_gz, write_jsonl_gz
from lesync.salesforce import (
    ApiBudgetExceededError,
    LinkingSettings,
    SalesforceConnectionSettings,
    TranscriptMode,
    UpsertSettings,
    build_client,
)

OBJECT = "Chat_Transcript__c"
_ids = itertools.count()


def short_sleep(seconds: float) -> None:
    """Bulk polls wait a moment for the emulator's worker; retries and backoff do not wait."""
    time.sleep(min(seconds, 0.02))


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    config = SalesforceEmulatorConfig(bulk_start_delay_s=0.0)
    emu = start_salesforce(config, data_dir=tmp_path_factory.mktemp("sf-emulator"))
    yield emu
    emu.stop()


def connection_settings(emulator) -> SalesforceConnectionSettings:
    info = emulator.connection_info()
    return SalesforceConnectionSettings(
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        token_url=info["token_url"],
        ca_file=info["ca_file"],
        backoff_seconds=0,
    )


@pytest.fixture
def client(emulator):
    emulator.state.faults.clear()
    emulator.state.set_api_usage(used=0, max=100_000)
    return build_client(connection_settings(emulator), sleep=short_sleep)


def conversation_ids(count: int) -> list[str]:
    prefix = f"t{next(_ids)}-"
    return [f"{prefix}{i}" for i in range(count)]


def row(conversation_id: str, transcript: str = 'Visitor: hi\nAgent: hello, "friend"', **fields) -> dict:
    return {
        "conversation_id": conversation_id,
        "channel": "chat",
        "status": "closed",
        "fields": {
            "LP_Conversation_Id__c": conversation_id,
            "SDK_API_Type__c": "Chat",
            "Agent_Name__c": "Ann",
            "Transcript__c": transcript,
            **fields,
        },
        "transcript_file": {
            "title": f"Transcript {conversation_id}",
            "path_on_client": f"{conversation_id}.txt",
            "content": transcript,
        },
        "errors": [],
    }


def stage(tmp_path, rows: list[dict], name: str = "rows.jsonl.gz"):
    path = tmp_path / name
    write_jsonl_gz(path, rows)
    return path


def transcripts(emulator, ids: list[str]) -> dict[str, dict]:
    wanted = set(ids)
    return {
        r["LP_Conversation_Id__c"]: r
        for r in emulator.state.store.records(OBJECT)
        if r["LP_Conversation_Id__c"] in wanted
    }


def files_on(emulator, record_ids: set[str]) -> list[dict]:
    return [
        v
        for v in emulator.state.store.records("ContentVersion")
        if v.get("FirstPublishLocationId") in record_ids
    ]


def documents_on(emulator, record_ids: set[str]) -> set[str]:
    links = emulator.state.store.records("ContentDocumentLink")
    return {link["ContentDocumentId"] for link in links if link["LinkedEntityId"] in record_ids}


def options(**kwargs) -> LoadOptions:
    upsert = kwargs.pop("upsert", {})
    return LoadOptions(
        upsert=UpsertSettings(retry_delay_seconds=0, bulk_poll_seconds=0.01, **upsert), **kwargs
    )


# ---- idempotence and save modes --------------------------------------------------------------


@pytest.mark.parametrize("threshold", [2, 10_000], ids=["bulk", "collections"])
def test_rerun_creates_no_record_and_no_file_twice(emulator, client, tmp_path, threshold):
    ids = conversation_ids(5)
    path = stage(tmp_path, [row(i) for i in ids])
    opts = options(transcript_mode=TranscriptMode.BOTH, upsert={"bulk_threshold": threshold})

    first = load_rows(client, [path], tmp_path, opts)
    second = load_rows(client, [path], tmp_path, opts)

    assert (first["created"], first["files_uploaded"], first["failed"]) == (5, 5, 0)
    assert (second["created"], second["updated"], second["files_uploaded"], second["files_unchanged"]) == (
        0,
        5,
        0,
        5,
    )
    assert first["mode"] == ("bulk" if threshold == 2 else "collections")
    records = transcripts(emulator, ids)
    assert len(records) == 5
    record_ids = {r["Id"] for r in records.values()}
    assert len(documents_on(emulator, record_ids)) == 5


def test_changed_transcript_becomes_a_new_version_of_the_same_file(emulator, client, tmp_path):
    (cid,) = conversation_ids(1)
    opts = options(transcript_mode=TranscriptMode.ATTACHMENT)
    load_rows(client, [stage(tmp_path, [row(cid, "first")], "a.jsonl.gz")], tmp_path, opts)
    result = load_rows(client, [stage(tmp_path, [row(cid, "first\nand more")], "b.jsonl.gz")], tmp_path, opts)
    third = load_rows(client, [tmp_path / "b.jsonl.gz"], tmp_path, opts)

    assert result["files_uploaded"] == 1 and third["files_unchanged"] == 1 and third["files_uploaded"] == 0
    record_id = transcripts(emulator, [cid])[cid]["Id"]
    assert len(documents_on(emulator, {record_id})) == 1
    versions = [
        v for v in emulator.state.store.records("ContentVersion") if v["Title"] == f"Transcript {cid}"
    ]
    assert len(versions) == 2
    assert [v for v in versions if v["IsLatest"]][0]["ContentSize"] == len(b"first\nand more")


@pytest.mark.parametrize(
    ("mode", "field_set", "file_count"),
    [(TranscriptMode.FIELD, True, 0), (TranscriptMode.ATTACHMENT, False, 1), (TranscriptMode.BOTH, True, 1)],
)
def test_save_modes(emulator, client, tmp_path, mode, field_set, file_count):
    (cid,) = conversation_ids(1)
    result = load_rows(
        client, [stage(tmp_path, [row(cid, "line 1\nline 2")])], tmp_path, options(transcript_mode=mode)
    )

    record = transcripts(emulator, [cid])[cid]
    assert (record["Transcript__c"] == "line 1\nline 2") is field_set
    assert len(documents_on(emulator, {record["Id"]})) == file_count == result["files_uploaded"]


def test_legacy_attachment_mode_uploads_once(emulator, client, tmp_path):
    (cid,) = conversation_ids(1)
    opts = options(transcript_mode=TranscriptMode.ATTACHMENT, files={"kind": "attachment"})
    path = stage(tmp_path, [row(cid)])
    first = load_rows(client, [path], tmp_path, opts)
    second = load_rows(client, [path], tmp_path, opts)

    record_id = transcripts(emulator, [cid])[cid]["Id"]
    attachments = [a for a in emulator.state.store.records("Attachment") if a["ParentId"] == record_id]
    assert len(attachments) == 1 and attachments[0]["Name"] == f"{cid}.txt"
    assert (first["files_uploaded"], second["files_unchanged"]) == (1, 1)


def test_empty_values_never_blank_a_field(emulator, client, tmp_path):
    (cid, other) = conversation_ids(2)
    load_rows(
        client,
        [stage(tmp_path, [row(cid, Skill_Name__c="Billing"), row(other)], "a.jsonl.gz")],
        tmp_path,
        options(upsert={"bulk_threshold": 1}),
    )
    again = row(cid)
    again["fields"]["Skill_Name__c"] = ""
    load_rows(
        client,
        [stage(tmp_path, [again, row(other, Skill_Name__c="Sales")], "b.jsonl.gz")],
        tmp_path,
        options(upsert={"bulk_threshold": 1}),
    )

    records = transcripts(emulator, [cid, other])
    assert records[cid]["Skill_Name__c"] == "Billing" and records[other]["Skill_Name__c"] == "Sales"


def test_later_row_of_a_conversation_wins_and_the_earlier_is_skipped(emulator, client, tmp_path):
    (cid,) = conversation_ids(1)
    rows = [row(cid, Status__c="Open"), row(cid, Status__c="Closed")]
    result = load_rows(client, [stage(tmp_path, rows)], tmp_path, options())
    assert (result["created"], result["skipped"]) == (1, 1)
    assert transcripts(emulator, [cid])[cid]["Status__c"] == "Closed"


# ---- long transcripts and big files ----------------------------------------------------------


def test_transcript_over_bulk_cap_goes_through_collections(emulator, client, tmp_path):
    ids = conversation_ids(4)
    long_text = "x" * 40_000
    rows = [row(i) for i in ids[:3]] + [row(ids[3], long_text)]
    result = load_rows(client, [stage(tmp_path, rows)], tmp_path, options(upsert={"bulk_threshold": 2}))

    assert result["mode"] == "bulk" and result["created"] == 4 and result["failed"] == 0
    assert transcripts(emulator, ids)[ids[3]]["Transcript__c"] == long_text


@pytest.mark.parametrize(
    ("threshold", "collections_calls"), [(2, 1), (10_000, 3)], ids=["bulk", "collections"]
)
def test_long_rows_are_gathered_across_batches_into_full_collections_calls(
    emulator, client, tmp_path, people, threshold, collections_calls
):
    ids = conversation_ids(450)
    long_ids = set(ids[7::15])  # 30 rows over the Bulk cap, spread over the batches of 100
    email = f"jane{people['tag']}@acme.example"
    rows = [
        row(cid, ("x" * 33_000 + cid) if cid in long_ids else "short", Visitor_Email__c=email) for cid in ids
    ]
    opts = options(
        batch_rows=100, linking=LinkingSettings(enabled=True), upsert={"bulk_threshold": threshold}
    )
    emulator.state.calls.reset()

    result = load_rows(client, [stage(tmp_path, rows)], tmp_path, opts)

    calls = emulator.state.calls.snapshot()
    upserts = calls.get("PATCH /services/data/v{version}/composite/sobjects/{object_name}/{external_field}")
    assert upserts == collections_calls  # bulk: the 30 long rows in one call, not one per batch
    assert (result["created"], result["failed"], result["linked"]) == (450, 0, 450)
    records = transcripts(emulator, ids)
    assert all(records[cid]["Transcript__c"] == "x" * 33_000 + cid for cid in long_ids)
    assert {records[cid]["Contact__c"] for cid in ids} == {people["contact"]}  # long rows linked too


def test_file_over_cap_is_skipped_while_the_record_syncs(emulator, client, tmp_path):
    (big, small) = conversation_ids(2)
    huge = "y" * (5 * 1024 * 1024 + 1)
    rows = [row(big, "short"), row(small, "short")]
    rows[0]["transcript_file"]["content"] = huge
    result = load_rows(
        client, [stage(tmp_path, rows)], tmp_path, options(transcript_mode=TranscriptMode.ATTACHMENT)
    )

    records = transcripts(emulator, [big, small])
    assert set(records) == {big, small} and result["created"] == 2
    assert (result["files_skipped"], result["files_uploaded"]) == (1, 1)
    assert not documents_on(emulator, {records[big]["Id"]})


# ---- linking ---------------------------------------------------------------------------------


@pytest.fixture
def people(emulator):
    store = emulator.state.store
    tag = next(_ids)
    account = store.create("Account", {"Name": f"Acme {tag}"}).id
    contact = store.create(
        "Contact", {"LastName": "Doe", "Email": f"jane{tag}@acme.example", "AccountId": account}
    ).id
    phone_contact = store.create("Contact", {"LastName": "Roe", "Phone": f"+1 555 {tag:04d}"}).id
    lead = store.create(
        "Lead", {"LastName": "Poe", "Company": "Poe Inc", "Email": f"poe{tag}@poe.example"}
    ).id
    free = store.create("Contact", {"LastName": "Free", "Email": f"free{tag}@gmail.com"}).id
    return {
        "tag": tag,
        "account": account,
        "contact": contact,
        "phone_contact": phone_contact,
        "lead": lead,
        "free": free,
    }


def test_linking_by_email_then_phone_contact_then_lead_with_block_list(emulator, client, tmp_path, people):
    tag = people["tag"]
    ids = conversation_ids(5)
    rows = [
        row(ids[0], Visitor_Email__c=f"JANE{tag}@acme.example"),
        row(ids[1], Visitor_Phone__c=f"+1 555 {tag:04d}"),
        row(ids[2], Visitor_Email__c=f"poe{tag}@poe.example"),
        row(ids[3], Visitor_Email__c=f"free{tag}@gmail.com"),
        row(ids[4], Visitor_Email__c="nobody@nowhere.example"),
    ]
    opts = options(linking=LinkingSettings(enabled=True), upsert={"bulk_threshold": 2})
    emulator.state.calls.reset()
    result = load_rows(client, [stage(tmp_path, rows)], tmp_path, opts)

    records = transcripts(emulator, ids)
    assert (records[ids[0]]["Contact__c"], records[ids[0]]["Account__c"]) == (
        people["contact"],
        people["account"],
    )
    assert records[ids[1]]["Contact__c"] == people["phone_contact"]
    assert records[ids[2]]["Lead__c"] == people["lead"] and records[ids[2]]["Contact__c"] is None
    assert records[ids[3]]["Contact__c"] is None  # free-mail domain blocked
    assert records[ids[4]]["Contact__c"] is None and records[ids[4]]["Lead__c"] is None
    assert result["linked"] == 3
    queries = emulator.state.calls.snapshot().get("GET /services/data/v{version}/query", 0)
    assert queries <= 5  # existing lookups; Contact by email, by phone; Lead by email, by phone
    assert emulator.state.calls.total() == result["api_calls"] <= 20  # batched, never per record


def test_linking_a_full_batch_keeps_every_query_url_under_salesforce_limit(
    emulator, client, tmp_path, caplog
):
    """2,000 rows with realistic ids and emails made one ~100 KB query URL; Salesforce (and the
    emulator) refuse a request line plus headers over 16,384 bytes."""
    store = emulator.state.store
    tag = next(_ids)
    ids = [f"{cid}-{uuid.UUID(int=n + tag * 10_000)}" for n, cid in enumerate(conversation_ids(2_000))]

    def email(n: int) -> str:
        return f"firstname.lastname.{tag}.{n:05d}@customer-company-{n % 37}.example.com"

    contacts = {
        n: store.create("Contact", {"LastName": f"C{n}", "Email": email(n)}).id for n in range(0, 2_000, 50)
    }
    leads = {
        n: store.create("Lead", {"LastName": f"L{n}", "Company": "Co", "Email": email(n)}).id
        for n in range(25, 2_000, 50)
    }
    phone_contact = store.create("Contact", {"LastName": "P", "Phone": f"+1 555 {tag:04d} 77"}).id
    rows = [
        row(
            cid,
            Visitor_Email__c=email(n),
            **({"Visitor_Phone__c": f"+1 555 {tag:04d} {n % 100:02d}"} if n % 4 else {}),
        )
        for n, cid in enumerate(ids)
    ]
    requests_sent = []
    client.session.hooks["response"].append(
        lambda response, *args, **kwargs: requests_sent.append(response.request)
    )
    emulator.state.calls.reset()

    with caplog.at_level(logging.INFO, logger="lesync.pipeline.load"):
        result = load_rows(
            client, [stage(tmp_path, rows)], tmp_path, options(linking=LinkingSettings(enabled=True))
        )

    for request in requests_sent:  # no request line over the limit ...
        parts = urlsplit(request.url)
        request_line = f"{request.method} {parts.path}?{parts.query} HTTP/1.1\r\n"
        headers = sum(len(name) + len(value) + 4 for name, value in request.headers.items())
        assert len(request_line) + headers + len(f"Host: {parts.netloc}\r\n") < 16_384 - 2_000
    composite = [r for r in requests_sent if urlsplit(r.url).path.rstrip("/").endswith("/composite")]
    subrequests = [sub for r in composite for sub in json.loads(r.body)["compositeRequest"]]
    statements = [parse_qs(urlsplit(sub["url"]).query).get("q", [""])[0] for sub in subrequests]
    assert statements and all(len(soql) <= 100_000 for soql in statements)  # ... the values in the bodies
    records = transcripts(emulator, ids)
    assert result["mode"] == "bulk" and (result["created"], result["failed"]) == (2_000, 0)
    # and linking still works: Contacts by email, Leads for the rest, the one phone Contact
    assert {records[ids[n]]["Contact__c"] for n in contacts} == set(contacts.values())
    assert {records[ids[n]]["Lead__c"] for n in leads} == set(leads.values())
    assert records[ids[77]]["Contact__c"] == phone_contact
    assert result["linked"] == len(contacts) + len(leads) + 20  # n % 100 == 77: 20 rows by phone
    estimate = int(re.search(r"~(\d+) API calls needed", caplog.text).group(1))
    # the estimate counts ~7 polls a job at the load's own pace; here polls wait 0.02 s, so as many
    # as the emulator's work takes: they are left out of the comparison
    polls = emulator.state.calls.snapshot().get("GET /services/data/v{version}/jobs/ingest/{job_id}", 0)
    assert emulator.state.calls.total() == result["api_calls"]
    assert result["api_calls"] - polls <= estimate


def test_hand_set_lookup_survives_a_rerun(emulator, client, tmp_path, people):
    (cid,) = conversation_ids(1)
    path = stage(tmp_path, [row(cid, Visitor_Email__c=f"jane{people['tag']}@acme.example")])
    opts = options(linking=LinkingSettings(enabled=True))
    load_rows(client, [path], tmp_path, opts)
    record = transcripts(emulator, [cid])[cid]
    emulator.state.store.update(
        OBJECT, record["Id"], {"Contact__c": people["phone_contact"], "Account__c": None}
    )

    result = load_rows(client, [path], tmp_path, opts)

    record = transcripts(emulator, [cid])[cid]
    assert record["Contact__c"] == people["phone_contact"] and record["Account__c"] is None
    assert result["linked"] == 0 and result["updated"] == 1


# ---- failures and faults ---------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [2, 10_000], ids=["bulk", "collections"])
def test_partial_failures_are_reported_with_salesforce_messages(emulator, client, tmp_path, threshold):
    ids = conversation_ids(4)
    bad_picklist = row(ids[1], SDK_API_Type__c="Carrier Pigeon")
    too_long = row(ids[2], Agent_Name__c="a" * 300)
    rejected = row(ids[3])
    rejected["errors"] = [{"field": "Start_Time__c", "code": "BAD_DATE", "message": "not a date"}]
    path = stage(tmp_path, [row(ids[0]), bad_picklist, too_long, rejected])

    result = load_rows(client, [path], tmp_path / "run", options(upsert={"bulk_threshold": threshold}))

    assert (result["created"], result["failed"]) == (1, 3)
    assert set(transcripts(emulator, ids)) == {ids[0]}
    failures = {f["conversation_id"]: f for f in read_jsonl_gz(result["failed_path"])}
    assert result["failed_path"].endswith("/run/failed-1.jsonl.gz")
    assert failures[ids[1]]["errors"][0]["code"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert failures[ids[2]]["errors"][0]["code"] == "STRING_TOO_LONG"
    assert "Agent_Name__c" in failures[ids[2]]["errors"][0]["fields"] + [
        failures[ids[2]]["errors"][0]["message"]
    ]
    assert failures[ids[3]]["stage"] == "transform" and failures[ids[3]]["errors"][0]["code"] == "BAD_DATE"
    assert all(f["errors"][0]["message"] for f in failures.values())


@pytest.mark.parametrize("threshold", [2, 10_000], ids=["bulk", "collections"])
def test_unable_to_lock_row_is_retried_and_succeeds(emulator, client, tmp_path, threshold):
    ids = conversation_ids(3)
    emulator.state.lock_rows([ids[1]], times=1)
    result = load_rows(
        client,
        [stage(tmp_path, [row(i) for i in ids])],
        tmp_path,
        options(upsert={"bulk_threshold": threshold}),
    )
    assert (result["created"], result["failed"], result["failed_path"]) == (3, 0, None)


def test_lock_that_outlasts_the_retry_is_reported(emulator, client, tmp_path):
    ids = conversation_ids(2)
    emulator.state.lock_rows([ids[0]], times=5)
    result = load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, options())
    failures = list(read_jsonl_gz(result["failed_path"]))
    assert result["failed"] == 1 and failures[0]["errors"][0]["code"] == "UNABLE_TO_LOCK_ROW"


def test_failed_bulk_job_rows_are_retried(emulator, client, tmp_path):
    ids = conversation_ids(3)
    emulator.state.fail_next_bulk_job()
    result = load_rows(
        client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, options(upsert={"bulk_threshold": 2})
    )
    assert (result["created"], result["failed"]) == (3, 0)


def test_expired_session_is_recovered_transparently(emulator, client, tmp_path):
    ids = conversation_ids(2)
    load_rows(client, [stage(tmp_path, [row(ids[0])], "a.jsonl.gz")], tmp_path, options())
    logins = client.session.tokens.logins
    emulator.state.expire_tokens()
    result = load_rows(client, [stage(tmp_path, [row(ids[1])], "b.jsonl.gz")], tmp_path, options())
    assert result["created"] == 1 and client.session.tokens.logins == logins + 1


def test_transient_5xx_and_dropped_connection_are_retried(emulator, client, tmp_path):
    ids = conversation_ids(2)
    emulator.state.faults.add(path="composite/sobjects", status=503, times=1)
    emulator.state.faults.add(path="/query", drop=True, times=1)
    result = load_rows(
        client,
        [stage(tmp_path, [row(i) for i in ids])],
        tmp_path,
        options(transcript_mode=TranscriptMode.BOTH),
    )
    assert (result["created"], result["files_uploaded"], result["failed"]) == (2, 2, 0)


def test_budget_reserve_is_respected_before_any_write(emulator, client, tmp_path):
    ids = conversation_ids(3)
    emulator.state.set_api_usage(used=89_998, max=100_000)
    with pytest.raises(ApiBudgetExceededError, match="reserve"):
        load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, options())
    assert transcripts(emulator, ids) == {}
    assert emulator.state.limits.used <= 90_000


# ---- real-API fidelity (issue 17) and the run's verdict (issue 13) ----------------------------


def test_concurrent_request_limit_is_backed_off_and_retried(emulator, client, tmp_path):
    """ConcurrentPerOrgLongTxn is transient: retried, never reported as a spent daily budget."""
    ids = conversation_ids(2)
    emulator.state.limit_concurrent_requests(times=2, path="composite/sobjects")
    result = load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, options())
    assert (result["created"], result["failed"]) == (2, 0)


def test_daily_request_limit_fails_fast_with_one_call(emulator, client, tmp_path):
    ids = conversation_ids(2)
    emulator.state.set_api_usage(used=100_000, max=100_000)
    emulator.state.calls.reset()
    with pytest.raises(ApiBudgetExceededError, match="TotalRequests"):
        load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, options())
    assert emulator.state.calls.total() == 1  # refused once, not retried


def test_at_the_ceiling_no_call_crosses_it(emulator, tmp_path):
    """The usage known from the previous task stops the load before its first call: a retry of the
    task at the ceiling spends nothing (it used to spend /limits first: 90,001 against 90,000)."""
    ids = conversation_ids(2)
    emulator.state.set_api_usage(used=90_000, max=100_000)
    for _attempt in range(3):
        client = build_client(connection_settings(emulator), sleep=short_sleep, known_usage=(90_000, 100_000))
        with pytest.raises(ApiBudgetExceededError, match="reserve"):
            load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, options())
    assert emulator.state.limits.used == 90_000


def test_usage_is_learnt_from_the_describe_answer_without_a_limits_call(emulator, client, tmp_path):
    ids = conversation_ids(1)
    emulator.state.calls.reset()
    load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, options())
    assert "GET /services/data/v{version}/limits" not in emulator.state.calls.snapshot()
    assert client.api_usage == (emulator.state.limits.used, 100_000)


@pytest.mark.parametrize("threshold", [2, 10_000], ids=["bulk", "collections"])
def test_emoji_transcript_under_the_cap_in_code_points_but_over_in_utf16_units_still_loads(
    emulator, client, tmp_path, threshold
):
    """20,000 emoji are 40,000 UTF-16 units: over the Bulk cap of 32,000 as Salesforce counts."""
    ids = conversation_ids(3)
    emoji = "\U0001f600" * 20_000
    rows = [row(ids[0]), row(ids[1]), row(ids[2], emoji)]
    result = load_rows(
        client, [stage(tmp_path, rows)], tmp_path, options(upsert={"bulk_threshold": threshold})
    )
    assert (result["created"], result["failed"]) == (3, 0)
    assert transcripts(emulator, ids)[ids[2]]["Transcript__c"] == emoji


@pytest.mark.parametrize("threshold", [2, 10_000], ids=["bulk", "collections"])
def test_on_empty_clear_sets_only_the_named_fields_to_null(emulator, client, tmp_path, threshold):
    ids = conversation_ids(3)
    opts = options(upsert={"bulk_threshold": threshold})
    first = [row(i, Skill_Name__c="Billing", Agent_Name__c="Ann") for i in ids]
    load_rows(client, [stage(tmp_path, first, "a.jsonl.gz")], tmp_path, opts)
    again = [row(i) for i in ids]
    for item in again:
        item["fields"]["Skill_Name__c"] = ""
        item["fields"].pop("Agent_Name__c")
    again[0]["clear"] = ["Skill_Name__c"]  # the mapping says on_empty: clear for this field
    again[1]["clear"] = ["Skill_Name__c"]
    again[1]["fields"]["Skill_Name__c"] = "Sales"  # a value wins over clear

    result = load_rows(client, [stage(tmp_path, again, "b.jsonl.gz")], tmp_path, opts)

    records = transcripts(emulator, ids)
    assert result["failed"] == 0
    assert records[ids[0]]["Skill_Name__c"] is None and records[ids[0]]["Agent_Name__c"] == "Ann"
    assert records[ids[1]]["Skill_Name__c"] == "Sales"
    assert records[ids[2]]["Skill_Name__c"] == "Billing"  # no clear asked: left alone


def test_file_shared_to_the_record_by_another_user_is_not_uploaded_again(emulator, client, tmp_path):
    (cid,) = conversation_ids(1)
    path = stage(tmp_path, [row(cid, "the transcript")])
    load_rows(client, [path], tmp_path, options())  # field mode: the record, no file
    record_id = transcripts(emulator, [cid])[cid]["Id"]
    emulator.state.share_file(record_id, f"Transcript {cid}", f"{cid}.txt", b"the transcript")

    result = load_rows(client, [path], tmp_path, options(transcript_mode=TranscriptMode.BOTH))

    assert (result["files_unchanged"], result["files_uploaded"]) == (1, 0)
    assert len(documents_on(emulator, {record_id})) == 1


def test_file_upload_hit_by_a_500_is_retried_once_without_duplicate(emulator, client, tmp_path):
    ids = conversation_ids(3)
    opts = options(transcript_mode=TranscriptMode.ATTACHMENT)
    path = stage(tmp_path, [row(i) for i in ids])
    load_rows(client, [path], tmp_path, options())  # records exist: the files pass looks them up
    emulator.state.faults.add(path="composite/sobjects$", method="POST", status=500, times=1)

    result = load_rows(client, [path], tmp_path, opts)

    assert (result["files_uploaded"], result["files_failed"], result["failed"]) == (3, 0, 0)
    record_ids = {r["Id"] for r in transcripts(emulator, ids).values()}
    assert len(documents_on(emulator, record_ids)) == 3


def test_file_that_still_fails_fails_the_run(emulator, client, tmp_path):
    ids = conversation_ids(2)
    emulator.state.faults.add(path="composite/sobjects$", method="POST", status=500, times=None)
    try:
        result = load_rows(
            client,
            [stage(tmp_path, [row(i) for i in ids])],
            tmp_path / "run",
            options(transcript_mode=TranscriptMode.ATTACHMENT),
        )
    finally:
        emulator.state.faults.clear()
    assert (result["created"], result["files_failed"], result["failed"]) == (2, 2, 2)
    failures = list(read_jsonl_gz(result["failed_path"]))
    assert {f["stage"] for f in failures} == {"file"} and failures[0]["errors"][0]["code"] == "HTTP_5XX"


UPSERTS = "PATCH /services/data/v{version}/composite/sobjects/{object_name}/{external_field}"
JOBS = "POST /services/data/v{version}/jobs/ingest"


def load_through_a_failed_job(emulator, client, tmp_path, caplog, count: int, reason: str):
    """Load ``count`` rows in Bulk mode while the first job ends Failed with ``reason``."""
    ids = conversation_ids(count)
    emulator.state.fail_next_bulk_job(reason)
    emulator.state.calls.reset()
    with caplog.at_level(logging.WARNING):
        result = load_rows(
            client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, options(upsert={"bulk_threshold": 2})
        )
    assert (result["created"], result["failed"]) == (count, 0)
    assert reason in caplog.text  # the job's errorMessage is logged
    return emulator.state.calls.snapshot()


def test_failed_bulk_job_logs_its_reason_and_falls_back_to_full_collections_calls(
    emulator, client, tmp_path, caplog
):
    calls = load_through_a_failed_job(
        emulator, client, tmp_path, caplog, 450, "InvalidBatch : Failed to process query"
    )
    assert calls.get(UPSERTS) == 3  # 200 + 200 + 50, never batches of 50
    assert calls.get(JOBS) == 1


def test_failed_bulk_job_for_a_passing_reason_gets_one_new_job(emulator, client, tmp_path, caplog):
    calls = load_through_a_failed_job(
        emulator, client, tmp_path, caplog, 300, "Internal server error, please retry"
    )
    assert calls.get(JOBS) == 2 and UPSERTS not in calls


def test_transform_errors_in_both_staged_shapes_become_one_record_error(emulator, client, tmp_path):
    ids = conversation_ids(2)
    old_shape, new_shape = row(ids[0]), row(ids[1])
    old_shape["errors"] = [{"field": "Start_Time__c", "code": "BAD_DATE", "message": "not a date"}]
    new_shape["errors"] = [{"fields": ["Agent_Name__c"], "code": "TOO_LONG", "message": "cut"}]
    result = load_rows(client, [stage(tmp_path, [old_shape, new_shape])], tmp_path, options())
    failures = {f["conversation_id"]: f["errors"] for f in read_jsonl_gz(result["failed_path"])}
    assert failures[ids[0]] == [{"code": "BAD_DATE", "message": "not a date", "fields": ["Start_Time__c"]}]
    assert failures[ids[1]] == [{"code": "TOO_LONG", "message": "cut", "fields": ["Agent_Name__c"]}]


# ---- several Bulk jobs in flight -------------------------------------------------------------


def bulk_timeline(client) -> list[tuple[str, str]]:
    """(event, job id) in the order the client made them: ``create`` (answer), ``results``."""
    events: list[tuple[str, str]] = []
    rest, raw = client.rest, client.raw

    def recording_rest(method, path, **kwargs):
        answer = rest(method, path, **kwargs)
        if (method, path) == ("POST", "jobs/ingest"):
            events.append(("create", answer["id"]))
        return answer

    def recording_raw(method, path, **kwargs):
        if path.endswith("/successfulResults/"):
            events.append(("results", path.split("/")[2]))
        return raw(method, path, **kwargs)

    client.rest, client.raw = recording_rest, recording_raw
    return events


def parallel(**upsert) -> LoadOptions:
    return options(batch_rows=7, upsert={"bulk_threshold": 2, "bulk_job_rows": 10, **upsert})


def test_a_large_load_runs_jobs_of_bulk_job_rows_several_at_once(emulator, client, tmp_path):
    ids = conversation_ids(45)
    events = bulk_timeline(client)
    emulator.state.calls.reset()

    result = load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, parallel())

    assert (result["created"], result["failed"], result["mode"]) == (45, 0, "bulk")
    assert len(transcripts(emulator, ids)) == 45
    jobs = [job for event, job in events if event == "create"]
    assert len(jobs) == 5  # 45 rows in jobs of 10
    first_results = events.index(("results", jobs[0]))
    assert events.index(("create", jobs[1])) < first_results  # the second job overlaps the first
    assert result["api_calls"] == emulator.state.calls.total()


def test_one_job_at_a_time_when_asked(emulator, client, tmp_path):
    ids = conversation_ids(25)
    events = bulk_timeline(client)
    result = load_rows(
        client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, parallel(bulk_parallel_jobs=1)
    )
    assert (result["created"], result["failed"]) == (25, 0)
    order = [event for event, _ in events]
    assert order == ["create", "results"] * 3  # strictly one after another


def test_parallel_jobs_give_each_record_exactly_one_outcome_and_reruns_update(emulator, client, tmp_path):
    ids = conversation_ids(38)
    long_ids = set(ids[5::9])  # over the Bulk cap: Collections, while the jobs run
    rows = [row(i, ("y" * 33_000 + i) if i in long_ids else "short") for i in ids]
    path = stage(tmp_path, rows)

    first = load_rows(client, [path], tmp_path, parallel())
    again = load_rows(client, [path], tmp_path, parallel())

    assert (first["created"], first["updated"], first["failed"]) == (38, 0, 0)
    assert (again["created"], again["updated"], again["failed"]) == (0, 38, 0)
    landed = [r for r in emulator.state.store.records(OBJECT) if r["LP_Conversation_Id__c"] in set(ids)]
    assert sorted(r["LP_Conversation_Id__c"] for r in landed) == sorted(ids)  # no duplicate
    assert all(transcripts(emulator, ids)[i]["Transcript__c"] == "y" * 33_000 + i for i in long_ids)


def test_lock_errors_across_parallel_jobs_are_retried(emulator, client, tmp_path):
    ids = conversation_ids(40)
    locked = ids[3::7]  # rows in every job
    emulator.state.lock_rows(locked, times=1)
    result = load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, parallel())
    assert (result["created"], result["failed"], result["failed_path"]) == (40, 0, None)
    assert len(transcripts(emulator, ids)) == 40


def test_a_failed_job_among_parallel_ones_is_redone_once(emulator, client, tmp_path):
    ids = conversation_ids(30)
    emulator.state.fail_next_bulk_job()
    emulator.state.calls.reset()
    result = load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, parallel())
    assert (result["created"], result["failed"]) == (30, 0)
    creates = emulator.state.calls.snapshot().get("POST /services/data/v{version}/jobs/ingest")
    assert creates == 4  # three jobs of 10, one again


def test_a_lock_that_outlasts_the_retry_fails_only_its_row_in_a_parallel_load(emulator, client, tmp_path):
    ids = conversation_ids(30)
    emulator.state.lock_rows([ids[17]], times=5)
    result = load_rows(client, [stage(tmp_path, [row(i) for i in ids])], tmp_path, parallel())
    failures = list(read_jsonl_gz(result["failed_path"]))
    assert (result["created"], result["failed"]) == (29, 1)
    assert [f["conversation_id"] for f in failures] == [ids[17]]
    assert failures[0]["errors"][0]["code"] == "UNABLE_TO_LOCK_ROW"
