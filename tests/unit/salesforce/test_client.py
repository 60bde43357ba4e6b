"""Transport policy: re-login once, transient retries with backoff, API budget, CA trust."""

from __future__ import annotations

import pytest
import requests
from sf_fakes import BASE, TOKEN_URL

from lesync.salesforce import ApiBudgetExceededError, SalesforceConnectionSettings, build_client

EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_invalid_session_gets_one_new_token_and_repeats_the_call(http, client):
    http.get(f"{BASE}limits/", [{"status_code": 401, "json": EXPIRED}, {"json": {"DailyApiRequests": {}}}])
    client.limits()
    calls = [r for r in http.request_history if r.url.startswith(BASE)]
    assert [r.headers["Authorization"] for r in calls] == ["Bearer tok-1", "Bearer tok-2"]
    assert client.session.tokens.logins == 2


def test_second_invalid_session_in_a_row_is_an_error(http, client):
    http.get(f"{BASE}limits/", status_code=401, json=EXPIRED)
    with pytest.raises(Exception, match="INVALID_SESSION_ID"):
        client.limits()
    assert client.session.tokens.logins == 2


def test_transient_status_is_retried_with_backoff(http, client, sleeps):
    http.get(
        f"{BASE}limits/",
        [{"status_code": 503}, {"status_code": 429, "headers": {"Retry-After": "7"}}, {"json": {}}],
    )
    client.limits()
    assert sleeps == [1.0, 7.0]
    assert client.api_calls == 3


def test_post_is_not_retried_after_a_500(http, client, sleeps):
    http.post(f"{BASE}composite/sobjects", status_code=500, json=[{"errorCode": "X", "message": "boom"}])
    with pytest.raises(Exception, match="500"):
        client.rest("POST", "composite/sobjects", json={})
    assert sleeps == [] and client.api_calls == 1


def test_dropped_connection_is_retried_for_reads(http, client, sleeps):
    http.get(f"{BASE}limits/", [{"exc": requests.ConnectionError("reset")}, {"json": {}}])
    client.limits()
    assert len(sleeps) == 1


def test_limit_info_header_feeds_the_budget_and_stops_before_the_reserve(http, client):
    http.get(
        f"{BASE}limits/",
        [{"json": {}, "headers": {"Sforce-Limit-Info": f"api-usage={used}/1000"}} for used in (899, 900)],
    )
    client.limits()
    assert (client.budget.used, client.budget.max, client.budget.available) == (899, 1000, 1)
    client.limits()  # the last call lesync may make
    with pytest.raises(ApiBudgetExceededError, match="reserve of 10%"):
        client.limits()
    assert http.call_count == 1 + 2  # token + two calls; the third was never sent


def test_limits_endpoint_primes_the_budget(http, client):
    http.get(f"{BASE}limits/", json={"DailyApiRequests": {"Max": 100, "Remaining": 5}})
    client.limits()
    assert client.budget.used == 95 and client.budget.available == 0


def test_request_limit_exceeded_is_a_budget_error(http, client):
    body = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    http.get(f"{BASE}limits/", status_code=403, json=body)
    with pytest.raises(ApiBudgetExceededError):
        client.limits()


def test_ca_file_is_trusted_even_with_requests_ca_bundle_set(http, tmp_path):
    settings = SalesforceConnectionSettings(
        client_id="c", client_secret="s", token_url=TOKEN_URL, ca_file="/ca.pem"
    )
    from sf_fakes import token_answers

    http.post(TOKEN_URL, token_answers("t"))
    client = build_client(settings)
    assert client.session.verify == "/ca.pem" and client.session.trust_env is False
    assert client.session.tokens.session.verify == "/ca.pem"
