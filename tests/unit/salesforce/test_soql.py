"""Batched SOQL: IN lists cut so that every query URL stays under Salesforce's limit."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sf_fakes import BASE
from simple_salesforce.format import quote_soql_value

from lesync.salesforce.client import SalesforceError
from lesync.salesforce.settings import SOQL_QUERY_BYTES
from lesync.salesforce.soql import (
    SOQL_STATEMENT_CHARS,
    composite_calls,
    encoded_length,
    estimated_queries,
    in_chunks,
    query_in,
    query_statements,
    statements_in,
    value_cost,
)

SOQL = "SELECT Id, Email FROM Contact WHERE Email IN {}"


def emails(count: int) -> list[str]:
    return [f"firstname.o'lastname.{n:05d}@customer-company-{n % 37}.example.com" for n in range(count)]


def test_in_chunks_keep_every_encoded_list_under_the_budget_and_lose_nothing():
    values = emails(3_000)
    chunks = list(in_chunks(values, max_bytes=5_000))
    assert [v for chunk in chunks for v in chunk] == values
    for chunk in chunks:
        in_list = "(" + ",".join("'" + v.replace("'", "\\'") + "'" for v in chunk) + ")"
        assert encoded_length(in_list) <= 5_000
    assert len(chunks) <= estimated_queries(sum(value_cost(v) for v in values), 1, 5_000 + 1_000)


def test_a_value_over_the_budget_still_goes_alone():
    assert list(in_chunks(["a" * 50, "b" * 50], max_bytes=20)) == [["a" * 50], ["b" * 50]]


def test_query_in_splits_a_large_batch_into_urls_under_the_limit(http, client):
    http.get(f"{BASE}query/", json={"totalSize": 0, "done": True, "records": []})
    values = emails(2_000)

    assert list(query_in(client, SOQL, [*values, "", *values[:10]])) == []

    calls = [r for r in http.request_history if "/query" in r.url]
    assert len(calls) > 1
    sent = []
    for request in calls:
        query = urlsplit(request.url).query
        assert len(query) <= len("q=") + SOQL_QUERY_BYTES
        assert len(urlsplit(request.url).path) + len(query) + 1 < 16_384 - 2_000  # room for headers
        soql = parse_qs(query)["q"][0]
        assert len(quote(soql, safe="")) <= SOQL_QUERY_BYTES
        assert soql.startswith("SELECT Id, Email FROM Contact WHERE Email IN (")
        sent += soql.split(" IN ", 1)[1].strip("()").split("','")
    assert len(sent) == 2_000  # each distinct value once, the empty one never


def test_a_small_batch_is_one_query(http, client):
    http.get(f"{BASE}query/", json={"totalSize": 0, "done": True, "records": []})
    list(query_in(client, SOQL, emails(50)))
    assert len([r for r in http.request_history if "/query" in r.url]) == 1


# ---- long statements in /composite calls ---------------------------------------------------------


def test_statements_stay_under_soql_s_limit_and_ask_each_value_once():
    values = emails(8_000)
    template = "SELECT Id FROM Contact WHERE Email IN {} OR Secondary_Email__c IN {}"
    statements = list(statements_in(template, [*values, "", *values[:50]]))
    assert all(len(s) <= SOQL_STATEMENT_CHARS for s in statements)
    sent = [v for s in statements for v in s.split(" IN ")[1].split(" OR ")[0].strip("()").split(",")]
    assert len(sent) == 8_000  # each distinct value once per list, the empty one never
    # ~70 characters a value, in two lists: ~700 values a statement, as few statements as that allows
    per_list = (SOQL_STATEMENT_CHARS - len(template.replace("{}", ""))) // 2
    assert len(statements) == math.ceil(sum(len(quote_soql_value(v)) + 1 for v in values) / per_list)


def composite_answer(*bodies: dict) -> dict:
    return {
        "compositeResponse": [
            {"body": b, "httpStatusCode": 200, "referenceId": f"q{n}"} for n, b in enumerate(bodies)
        ]
    }


def test_five_statements_go_in_one_composite_call_and_further_pages_follow(http, client):
    page = {"totalSize": 1, "done": True, "records": [{"Id": "003A"}]}
    first_page = {
        "totalSize": 3,
        "done": False,
        "nextRecordsUrl": "/services/data/v62.0/query/01g-2",
        "records": [{"Id": "003B"}],
    }
    http.post(
        f"{BASE}composite",
        [
            {"json": composite_answer(first_page, page, page, page, page)},
            {"json": composite_answer(page, {"totalSize": 3, "done": True, "records": [{"Id": "003C"}]})},
        ],
    )

    answers = query_statements(client, [f"SELECT Id FROM Contact WHERE Name = 'n{n}'" for n in range(6)])

    calls = [r for r in http.request_history if r.url.endswith("/composite")]
    assert len(calls) == 2
    assert [len(r.json()["compositeRequest"]) for r in calls] == [5, 2]
    assert calls[1].json()["compositeRequest"][1]["url"] == "/services/data/v62.0/query/01g-2"
    assert [a.records for a in answers][0] == [{"Id": "003B"}, {"Id": "003C"}]
    assert answers[0].total == 3 and answers[5].records == [{"Id": "003A"}]
    assert composite_calls(6) == 1 + 1


def test_a_failed_query_in_a_composite_call_raises(http, client):
    failure = {"body": [{"errorCode": "INVALID_FIELD", "message": "No such column"}], "httpStatusCode": 400}
    http.post(f"{BASE}composite", json={"compositeResponse": [{**failure, "referenceId": "q0"}]})
    with pytest.raises(SalesforceError, match="INVALID_FIELD"):
        query_statements(client, ["SELECT Nope FROM Contact"])
