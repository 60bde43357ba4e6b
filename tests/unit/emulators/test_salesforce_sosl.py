"""The emulator's SOSL (``GET /search``): the documented subset lesync uses, checked with
simple-salesforce's own ``search`` (an independent client)."""

from __future__ import annotations

import itertools

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce
from lesync.emulators.salesforce.sosl import parse_search, words

_tags = itertools.count(1000)


@pytest.fixture
def tag() -> int:
    return next(_tags)


def ids(answer: dict, obj: str | None = None) -> set[str]:
    return {r["Id"] for r in answer["searchRecords"] if obj is None or r["attributes"]["type"] == obj}


def test_the_documented_tokenizer_splits_at_punctuation_and_letter_digit_changes():
    assert words("(212) 788-8877 x204") == ["212", "788", "8877", "x", "204"]
    assert words("Jane.Doe@Acme.example") == ["jane", "doe", "acme", "example"]
    assert words("abc123") == ["abc", "123"]


def test_phone_fields_match_words_and_phrases_not_reformatted_digits(sf_emulator, sf_client, tag):
    store = sf_emulator.state.store
    ui = store.create("Contact", {"LastName": "Ui", "Phone": f"(212) 555-{tag:04d}"}).id
    typed = store.create("Contact", {"LastName": "Typed", "MobilePhone": f"212555{tag:04d}"}).id
    lead = store.create(
        "Lead", {"LastName": "L", "Company": "C", "Phone": f"+1 212.555.{tag:04d} ext. 12"}
    ).id

    phrase = sf_client.search(
        f'FIND {{"212 555 {tag:04d}"}} IN PHONE FIELDS RETURNING Contact(Id, Phone), Lead(Id, Phone)'
    )
    digits = sf_client.search(f"FIND {{212555{tag:04d}}} IN PHONE FIELDS RETURNING Contact(Id), Lead(Id)")

    assert ids(phrase) == {ui, lead}  # the words in a row, whatever the punctuation
    assert ids(digits) == {typed}  # one word: only where it was typed as one
    assert {r["attributes"]["type"] for r in phrase["searchRecords"]} == {"Contact", "Lead"}
    assert all("Phone" in r for r in phrase["searchRecords"])


def test_digits_mode_also_compares_phone_digits(tmp_path, tag):
    import requests
    from simple_salesforce import Salesforce

    emulator = start_salesforce(SalesforceEmulatorConfig(sosl_phone_search="digits"), data_dir=tmp_path)
    try:
        info = emulator.connection_info()
        session = requests.Session()
        session.trust_env, session.verify = False, str(emulator.ca_file)
        token = session.post(
            info["token_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
            },  # fmt: skip
        ).json()["access_token"]
        client = Salesforce(instance_url=emulator.url, session_id=token, session=session, version="62.0")
        ui = emulator.state.store.create("Contact", {"LastName": "Ui", "Phone": "(212) 555-0101"}).id
        answer = client.search("FIND {12125550101} IN PHONE FIELDS RETURNING Contact(Id)")
        assert ids(answer) == {ui}
    finally:
        emulator.stop()


def test_email_fields_or_terms_and_returning_where(sf_emulator, sf_client, tag):
    store = sf_emulator.state.store
    open_lead = store.create("Lead", {"LastName": "O", "Company": "C", "Email": f"o{tag}@acme.example"}).id
    store.insert_system(
        "Lead", {"LastName": "V", "Company": "C", "Email": f"v{tag}@acme.example", "IsConverted": True}
    )
    other = store.create("Contact", {"LastName": "X", "Email": f"x{tag}@acme.example"}).id

    answer = sf_client.search(
        f"FIND {{o{tag}@acme.example OR v{tag}@acme.example OR x{tag}@acme.example}} IN EMAIL FIELDS "
        "RETURNING Lead(Id, Email WHERE IsConverted = false), Contact(Id)"
    )
    assert ids(answer, "Lead") == {open_lead}  # the converted Lead is filtered out
    assert ids(answer, "Contact") == {other}


def test_reserved_characters_must_be_escaped(sf_emulator, sf_client, tag):
    email = f"o'brien-{tag}@acme.example"
    record = sf_emulator.state.store.create("Contact", {"LastName": "O", "Email": email}).id
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf_client.search(f"FIND {{{email}}} IN EMAIL FIELDS RETURNING Contact(Id)")
    assert "MALFORMED_SEARCH" in str(refused.value)
    escaped = email.replace("'", "\\'").replace("-", "\\-")
    assert ids(sf_client.search(f"FIND {{{escaped}}} IN EMAIL FIELDS RETURNING Contact(Id)")) == {record}


def test_limits_per_object_in_order_and_overall(sf_emulator, sf_client, tag):
    store = sf_emulator.state.store
    word = f"zeta{tag}"
    for n in range(5):
        store.create("Contact", {"LastName": f"{word} {n}"})
        store.create("Lead", {"LastName": f"{word} {n}", "Company": "C"})
    answer = sf_client.search(
        f"FIND {{{word}}} IN NAME FIELDS RETURNING Contact(Id LIMIT 2), Lead(Id) LIMIT 6"
    )
    assert (len(ids(answer, "Contact")), len(ids(answer, "Lead"))) == (2, 4)


def test_a_search_query_over_10000_characters_returns_nothing_and_over_4000_drops_operators():
    long_query = " OR ".join(f"{n:08d}" for n in range(1200))  # ~14,000 characters
    assert parse_search(f"FIND {{{long_query}}}").empty
    letters = "abcdefghijklmnopqrstuvwxyz"
    middle = " ".join(f"w{letters[n // 26]}{letters[n % 26]}xyz" for n in range(676))  # ~4,700 characters
    search = parse_search(f"FIND {{{middle}}}")
    assert len(search.terms) == 676  # one term of 676 words became 676 OR'ed words
    short = parse_search("FIND {wabxyz wacxyz}")
    assert len(short.terms) == 1 and short.terms[0].words == ["wabxyz", "wacxyz"]


def test_a_search_is_an_api_call(sf_emulator, sf_client):
    sf_emulator.state.calls.reset()
    used = sf_emulator.state.limits.used
    sf_client.search("FIND {nobody} IN ALL FIELDS RETURNING Contact(Id)")
    assert sf_emulator.state.limits.used == used + 1
    assert sf_emulator.state.calls.total() == 1


def test_unsupported_operators_are_refused_not_guessed(sf_client):
    for sosl in ("FIND {a AND b}", "FIND {jo*}", "FIND {(a OR b)}"):
        with pytest.raises(SalesforceMalformedRequest):
            sf_client.search(sosl + " RETURNING Contact(Id)")
