"""Batched SOQL: IN lists cut so that every query URL stays under Salesforce's limit."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from sf_fakes import BASE

from lesync.salesforce.settings import SOQL_QUERY_BYTES
from lesync.salesforce.soql import encoded_length, estimated_queries, in_chunks, query_in, value_cost

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
