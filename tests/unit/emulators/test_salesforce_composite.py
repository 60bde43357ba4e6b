"""The emulator's ``POST /composite`` (query subrequests), checked with simple-salesforce's own
``restful`` (an independent client): documented limits, answers in order, one call for all."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

COMPOSITE = "POST /services/data/v{version}/composite"


def query(soql: str, ref: str) -> dict:
    return {
        "method": "GET",
        "url": f"/services/data/v62.0/query?q={soql.replace(' ', '+')}",
        "referenceId": ref,
    }


def composite(sf_client, *subrequests: dict) -> list[dict]:
    body = {"allOrNone": False, "compositeRequest": list(subrequests)}
    return sf_client.restful("composite", method="POST", json=body)["compositeResponse"]


def test_five_queries_in_one_call_answer_in_order(sf_emulator, sf_client):
    store = sf_emulator.state.store
    store.create("Contact", {"LastName": "Composite", "Email": "composite@corp.example"})
    sf_emulator.state.calls.reset()

    answers = composite(
        sf_client,
        query("SELECT Id, Email FROM Contact WHERE Email = 'composite@corp.example'", "a"),
        query("SELECT COUNT() FROM Contact WHERE Email = 'composite@corp.example'", "b"),
        query("SELECT Id FROM Contact WHERE Email = 'nobody@corp.example'", "c"),
        query("SELECT Id FROM NoSuchObject__c", "d"),
        query("SELECT Id FROM Lead LIMIT 1", "e"),
    )

    assert [a["referenceId"] for a in answers] == ["a", "b", "c", "d", "e"]
    assert answers[0]["httpStatusCode"] == 200
    assert answers[0]["body"]["records"][0]["Email"] == "composite@corp.example"
    assert answers[1]["body"]["totalSize"] == 1
    assert answers[2]["body"]["records"] == []
    assert answers[3]["httpStatusCode"] == 400  # one failed subrequest, the others still answer
    assert answers[3]["body"][0]["errorCode"] == "INVALID_TYPE"
    assert sf_emulator.state.calls.snapshot() == {COMPOSITE: 1}  # the series counts as one call


def test_a_statement_too_long_for_a_url_fits_in_the_body(sf_emulator, sf_client):
    emails = ",".join(f"'long{n:05d}@corp.example'" for n in range(3_000))  # ~75,000 characters
    answers = composite(sf_client, query(f"SELECT Id FROM Contact WHERE Email IN ({emails})", "long"))
    assert answers[0]["httpStatusCode"] == 200

    too_long = ",".join(f"'long{n:06d}@corp.example'" for n in range(4_000))  # over 100,000
    answers = composite(sf_client, query(f"SELECT Id FROM Contact WHERE Email IN ({too_long})", "over"))
    assert answers[0]["httpStatusCode"] == 400
    assert "100000" in answers[0]["body"][0]["message"]


def test_next_pages_are_query_subrequests_too(sf_emulator, sf_client, monkeypatch):
    for n in range(5):
        sf_emulator.state.store.create("Lead", {"LastName": f"Page{n}", "Company": "Paging"})
    monkeypatch.setattr(sf_emulator.state.queries, "page_size", 2)

    first = composite(sf_client, query("SELECT Id FROM Lead WHERE Company = 'Paging'", "p1"))[0]["body"]
    assert first["totalSize"] == 5 and not first["done"]
    second = composite(sf_client, {"method": "GET", "url": first["nextRecordsUrl"], "referenceId": "p2"})
    assert len(second[0]["body"]["records"]) == 2


def test_the_documented_limits_refuse_the_whole_call(sf_client):
    six = [query("SELECT Id FROM Lead LIMIT 1", f"q{n}") for n in range(6)]
    with pytest.raises(SalesforceMalformedRequest, match="more than 5 query"):
        composite(sf_client, *six)
    many = [
        {"method": "GET", "url": "/services/data/v62.0/sobjects/Lead", "referenceId": f"s{n}"}
        for n in range(26)
    ]
    with pytest.raises(SalesforceMalformedRequest, match="more than 25 subrequests"):
        composite(sf_client, *many)


def test_other_subrequests_are_refused_by_name(sf_client):
    answers = composite(
        sf_client,
        {"method": "POST", "url": "/services/data/v62.0/sobjects/Lead", "referenceId": "x", "body": {}},
    )
    assert answers[0]["httpStatusCode"] == 400
    assert "query subrequests only" in answers[0]["body"][0]["message"]
