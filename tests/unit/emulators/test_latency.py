"""The emulators' latency profile: delays per route class, bandwidth, Bulk queue and rate,
LivePerson throttling with 429, and "none" as loopback speed. Tiny numbers; most waits are
recorded instead of slept (``LatencyControl.sleep``), the timing tests use a few tenths of a second."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import requests

from lesync.emulators.latency import (
    NONE,
    REALISTIC,
    LatencyControl,
    LatencyProfile,
    LivePersonLatency,
    SalesforceLatency,
    TokenBucket,
    latency_control,
    liveperson_route_class,
    load_profile,
    salesforce_route_class,
)

CT = "Chat_Transcript__c"
EXT = "LP_Conversation_Id__c"


class Recorder:
    """Stands in for asyncio.sleep: keeps every requested wait, waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sf_latency(sf_emulator):
    control = latency_control(sf_emulator.state)
    yield control
    control.use(NONE)
    control.sleep = asyncio.sleep


@pytest.fixture
def lp_latency(lp_emulator):
    control = latency_control(lp_emulator.state)
    yield control
    control.use(NONE)
    control.sleep = asyncio.sleep


# --- pure parts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/services/oauth2/token", "token"),
        ("/services/data/v62.0/query", "query"),
        ("/services/data/v62.0/queryAll", "query"),
        (f"/services/data/v62.0/sobjects/{CT}/describe", "describe"),
        ("/services/data/v62.0/sobjects", "describe"),
        (f"/services/data/v62.0/sobjects/{CT}/{EXT}/conv-1", "sobject"),
        ("/services/data/v62.0/sobjects/ContentVersion", "files"),
        (f"/services/data/v62.0/composite/sobjects/{CT}/{EXT}", "collections"),
        ("/services/data/v62.0/composite", "composite"),
        ("/services/data/v62.0/jobs/ingest/750x/batches", "bulk"),
        ("/services/async/62.0/job/750x/batch", "bulk"),
        ("/services/data/v62.0/limits", "other"),
    ],
)
def test_salesforce_route_classes(path, expected):
    assert salesforce_route_class(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/account/le1/service/msgHist/baseURI.json", "discovery"),
        ("/sentinel/api/v2/account/le1/app/token", "token"),
        ("/interaction_history/api/account/le1/interactions/search", "search"),
        ("/messaging_history/api/account/le1/conversations/search", "search"),
        ("/messaging_history/api/account/le1/conversations/conversation/search", "by_id"),
    ],
)
def test_liveperson_route_classes(path, expected):
    assert liveperson_route_class(path) == expected


def test_profiles_by_name_and_from_yaml(tmp_path):
    assert load_profile("none").is_none and load_profile(None).is_none
    assert load_profile("realistic") == REALISTIC and not REALISTIC.is_none
    path = tmp_path / "slow-bulk.yaml"
    path.write_text("extends: realistic\nsalesforce:\n  bulk_rows_per_s: 250\n")
    profile = load_profile(str(path))
    assert profile.name == "slow-bulk"
    assert profile.salesforce.bulk_rows_per_s == 250
    assert profile.salesforce.base_s == REALISTIC.salesforce.base_s  # the rest as extended
    alone = tmp_path / "alone.yaml"
    alone.write_text("liveperson:\n  per_kb_s: 0.001\n")
    assert load_profile(str(alone)).salesforce == SalesforceLatency()  # unnamed fields: no delay


def test_a_bad_profile_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match="none, realistic, or the path of a YAML file"):
        load_profile("fast")
    typo = tmp_path / "typo.yaml"
    typo.write_text("salesforce:\n  bulk_rows_per_sec: 10\n")
    with pytest.raises(ValueError, match="bulk_rows_per_sec"):
        load_profile(str(typo))
    wrong_base = tmp_path / "base.yaml"
    wrong_base.write_text("extends: quick\n")
    with pytest.raises(ValueError, match="extends must be one of"):
        load_profile(str(wrong_base))


def test_token_bucket_allows_the_burst_then_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # one token every 1/rate seconds
    now[0] = 0.5
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)
    now[0] = 100.0
    assert [bucket.take() for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # refills up to the burst only


def test_throttling_is_per_account():
    control = LatencyControl(LatencyProfile(liveperson=LivePersonLatency(rate_per_s=1, burst=1)))
    assert control.throttle_wait("a") == 0.0
    assert control.throttle_wait("a") > 0
    assert control.throttle_wait("b") == 0.0
    assert control.throttled == 1


# --- through the emulators ----------------------------------------------------------------------


def test_salesforce_calls_wait_their_route_class_delay(sf_emulator, sf_api, sf_token, sf_latency):
    delays = {"token": 0.011, "query": 0.012, "describe": 0.013, "sobject": 0.014, "collections": 0.015}
    delays |= {"bulk": 0.016, "other": 0.017}
    sf_latency.use(LatencyProfile(salesforce=SalesforceLatency(base_s=delays)))
    sf_latency.sleep = recorder = Recorder()
    calls = [
        ("GET", "/query", {"params": {"q": f"SELECT Id FROM {CT} LIMIT 1"}}),
        ("GET", f"/sobjects/{CT}/describe", {}),
        ("PATCH", f"/sobjects/{CT}/{EXT}/lat-1", {"json": {"Agent_Name__c": "A"}}),
        ("PATCH", f"/composite/sobjects/{CT}/{EXT}", {"json": {"allOrNone": False, "records": []}}),
        ("GET", "/jobs/ingest", {}),
        ("GET", "/limits", {}),
    ]
    for method, path, kwargs in calls:
        assert sf_api(method, path, **kwargs).status_code < 500
    info = sf_emulator.connection_info()
    sf_api.session.post(
        info["token_url"],
        data={"grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": "x"},
    )
    sf_api("GET", sf_emulator.url + "/_emulator/calls")  # controls are never delayed
    expected = [delays[k] for k in ("query", "describe", "sobject", "collections", "bulk", "other", "token")]
    assert recorder.waits == expected


def test_liveperson_page_cost_grows_with_its_size(lp_api, lp_latency):
    per_kb = 0.001
    lp_latency.use(LatencyProfile(liveperson=LivePersonLatency(base_s={"search": 0.02}, per_kb_s=per_kb)))
    waits = {}
    for limit in (5, 50):
        lp_latency.sleep = recorder = Recorder()
        body = lp_api.window()
        response = lp_api.chat(body, limit=limit)
        assert response.status_code == 200 and len(response.json()["interactionHistoryRecords"]) == limit
        assert recorder.waits[0] == 0.02  # the base delay first, then the bytes
        sent = len(response.request.body or b"")
        assert sum(recorder.waits[1:]) == pytest.approx((len(response.content) + sent) / 1024 * per_kb)
        waits[limit] = sum(recorder.waits)
    assert waits[50] > 3 * waits[5]


def test_liveperson_answers_429_with_retry_after_above_the_rate(lp_api, lp_emulator, lp_latency):
    lp_latency.use(LatencyProfile(liveperson=LivePersonLatency(rate_per_s=0.5, burst=2)))
    lp_latency.sleep = Recorder()
    counted_before = lp_emulator.state.calls.total()
    statuses = [lp_api.chat(lp_api.window(), limit=1) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].headers["Retry-After"] == "2"  # a token every 2 s, none left
    assert statuses[2].json()["code"] == 429
    assert lp_emulator.state.calls.total() - counted_before == 3  # the refused call is counted too


def test_none_profile_adds_no_wait(lp_api, sf_api, lp_latency, sf_latency):
    for control in (lp_latency, sf_latency):
        control.use("none")
        control.sleep = Recorder()
    assert lp_api.chat(lp_api.window(), limit=3).status_code == 200
    assert sf_api("GET", f"/sobjects/{CT}/describe").status_code == 200
    assert lp_latency.sleep.waits == [] and sf_latency.sleep.waits == []


def _bulk_job_time(sf_api, rows: int) -> float:
    """Seconds from closing a job of ``rows`` rows until a poll shows it JobComplete."""
    job = sf_api(
        "POST", "/jobs/ingest", json={"object": CT, "operation": "upsert", "externalIdFieldName": EXT}
    ).json()
    csv_text = f"{EXT},Agent_Name__c\n" + "".join(f"bulk-lat-{i},A\n" for i in range(rows))
    upload = sf_api(
        "PUT", f"/jobs/ingest/{job['id']}/batches", data=csv_text, headers={"Content-Type": "text/csv"}
    )
    assert upload.status_code == 201
    closed = time.monotonic()
    assert sf_api("PATCH", f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).ok
    while True:
        state = sf_api("GET", f"/jobs/ingest/{job['id']}").json()["state"]
        if state == "JobComplete":
            return time.monotonic() - closed
        assert state in ("UploadComplete", "InProgress")
        assert time.monotonic() - closed < 30
        time.sleep(0.02)


def test_bulk_job_waits_in_the_queue_then_processes_at_the_rate(sf_api, sf_latency):
    sf_latency.use(LatencyProfile(salesforce=SalesforceLatency(bulk_queue_s=0.4, bulk_rows_per_s=10)))
    took = _bulk_job_time(sf_api, rows=4)  # 0.4 s queue + 4 rows at 10/s
    assert took >= 0.8
    sf_latency.use(NONE)
    assert _bulk_job_time(sf_api, rows=4) < 0.8  # the same job without the profile


def test_delays_overlap_like_a_real_server(sf_api, sf_latency):
    """``await asyncio.sleep``: four concurrent calls of 0.4 s take about 0.4 s, not 1.6 s."""
    sf_latency.use(LatencyProfile(salesforce=SalesforceLatency(base_s={"describe": 0.4})))
    durations: list[float] = []

    def call() -> None:
        session = requests.Session()  # one per thread: a Session is not shared across threads
        session.trust_env, session.verify = False, str(sf_api.emulator.ca_file)
        started = time.monotonic()
        response = session.get(
            f"{sf_api.emulator.url}/services/data/v62.0/sobjects/{CT}/describe",
            headers={"Authorization": f"Bearer {sf_api.token}"},
        )
        durations.append(time.monotonic() - started)
        session.close()
        assert response.status_code == 200

    started = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(durations) == 4 and min(durations) >= 0.4
    assert time.monotonic() - started < 1.2


def test_the_cli_takes_a_profile(tmp_path):
    from lesync.emulators.__main__ import parse_args

    assert parse_args([]).latency == NONE
    assert parse_args(["--latency", "realistic"]).latency == REALISTIC
    with pytest.raises(SystemExit):
        parse_args(["--latency", str(tmp_path / "missing.yaml")])
