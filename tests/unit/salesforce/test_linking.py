"""Linking rules against the Salesforce emulator, under both readings of phone search
(``tokens``: the documented word splitting only; ``digits``: an org that compares phone digits)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from emulator_clients import salesforce_settings
from lesync.config import LinkingSettings
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce
from lesync.salesforce import UpsertSettings, build_client
from lesync.salesforce import linking as linking_module
from lesync.salesforce import sosl as sosl_module
from lesync.salesforce.linking import Linker, LinkEstimate, plan_links

KEY = "LP_Conversation_Id__c"
_tags = itertools.count(100)
PERSON = [
    {"object": "Contact", "match": "email", "value": "Visitor_Email__c",
     "fields": ["Email", "Secondary_Email__c"], "lookup": "Contact__c", "group": "person",
     "also_set": {"Account__c": "AccountId"}, "skip_flag": "Do_Not_Sync__c"},
    {"object": "Contact", "match": "phone", "value": "Visitor_Phone__c", "lookup": "Contact__c",
     "group": "person", "also_set": {"Account__c": "AccountId"}, "skip_flag": "Do_Not_Sync__c"},
    {"object": "Lead", "match": "email", "value": "Visitor_Email__c", "lookup": "Lead__c", "group": "person"},
    {"object": "Lead", "match": "phone", "value": "Visitor_Phone__c", "lookup": "Lead__c", "group": "person"},
]  # fmt: skip
CASE = {
    "object": "Case",
    "match": "exact",
    "value": "Order_Id__c",
    "fields": ["Order_Id__c"],
    "lookup": "Case__c",
}
MEMBER = {
    "object": "Loyalty_Member__c",
    "match": "phone",
    "value": "Visitor_Phone__c",
    "fields": ["Member_Phone__c"],
    "lookup": "Loyalty_Member__c",
    "skip_flag": "Do_Not_Sync__c",
}


@pytest.fixture(scope="module", params=["tokens", "digits"])
def emulator(request, tmp_path_factory):
    config = SalesforceEmulatorConfig(sosl_phone_search=request.param)
    emu = start_salesforce(config, data_dir=tmp_path_factory.mktemp(f"sf-linking-{request.param}"))
    yield emu
    emu.stop()


@pytest.fixture
def client(emulator):
    settings = salesforce_settings(emulator)
    return build_client(settings)


@pytest.fixture
def tag() -> int:
    return next(_tags)


def linking(*rules: dict) -> LinkingSettings:
    return LinkingSettings(enabled=True, rules=rules or LinkingSettings().rules)


def rows(tag: int, *values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{KEY: f"c{tag}-{n}", **v} for n, v in enumerate(values)]


def link(client, settings: LinkingSettings, records: list[dict]) -> dict[int, dict[str, str]]:
    plans = plan_links(client, settings, UpsertSettings(), records)
    return {n: plans.get(r[KEY], {}) for n, r in enumerate(records)}


def us_number(tag: int, n: int) -> tuple[str, str, str]:
    """Area 2xx, exchange from the tag, line from n: (national digits, groups...)."""
    area, exchange, line = f"2{tag % 100:02d}", f"{300 + n}", f"{tag:04d}"[-4:]
    return area, exchange, line


# ---- phones ----------------------------------------------------------------------------------


def test_phones_held_as_orgs_hold_them_link_as_visitors_type_them(emulator, client, tag):
    """Stored as the UI formats it, as typed, with an extension, international; the visitor typed
    something else each time. The old ``Phone IN (...)`` found none of these."""
    store = emulator.state.store
    account = store.create("Account", {"Name": f"Acme {tag}"}).id
    formats = [
        ("(%s) %s-%s", "+1 %s-%s-%s"),  # UI-formatted vs LivePerson's "+1 212-788-8877"
        ("%s-%s-%s", "(%s) %s-%s"),  # as typed vs UI format
        ("%s.%s.%s x204", "+1%s%s%s"),  # extension vs E.164
        ("%s%s%s", "%s %s %s"),  # one word vs spaced
        ("+1 %s %s %s", "001 %s %s %s"),  # international both ways
    ]
    contacts, visitors = [], []
    for n, (stored, typed) in enumerate(formats):
        parts = us_number(tag, n)
        field = "MobilePhone" if n == 2 else "Phone"
        contacts.append(
            store.create("Contact", {"LastName": f"P{n}", field: stored % parts, "AccountId": account}).id
        )
        visitors.append({"Visitor_Phone__c": typed % parts})

    links = link(client, linking(), rows(tag, *visitors))

    assert [links[n].get("Contact__c") for n in range(len(formats))] == contacts
    assert all(links[n].get("Account__c") == account for n in range(len(formats)))


def test_the_old_exact_phone_comparison_misses_the_same_numbers(emulator, client, tag):
    store = emulator.state.store
    area, exchange, line = us_number(tag, 0)
    store.create("Contact", {"LastName": "Ui", "Phone": f"({area}) {exchange}-{line}"})
    visitor = {"Visitor_Phone__c": f"+1 {area}-{exchange}-{line}"}
    exact = {"object": "Contact", "match": "exact", "value": "Visitor_Phone__c", "fields": ["Phone"],
             "lookup": "Contact__c"}  # fmt: skip

    assert link(client, linking(exact), rows(tag, visitor)) == {0: {}}
    assert link(client, linking(PERSON[1]), rows(tag, visitor))[0].get("Contact__c")


def test_an_international_number_written_alike_links_under_both_readings(emulator, client, tag):
    store = emulator.state.store
    contact = store.create("Contact", {"LastName": "Uk", "Phone": f"+44 20 7946 {tag:04d}"}).id
    links = link(client, linking(PERSON[1]), rows(tag, {"Visitor_Phone__c": f"+44 20 7946 {tag:04d}"}))
    assert links[0].get("Contact__c") == contact


def test_a_full_search_answer_is_searched_again_in_halves(emulator, client, tag, monkeypatch):
    store = emulator.state.store
    numbers = [us_number(tag, n) for n in range(4)]
    contacts = [
        store.create("Contact", {"LastName": "H", "Phone": "({}) {}-{}".format(*p)}).id for p in numbers
    ]
    monkeypatch.setattr(sosl_module, "MAX_SEARCH_RESULTS", 2)
    monkeypatch.setattr(linking_module, "QUERY_PAGE", 0.001)  # searched, not read whole
    emulator.state.calls.reset()

    links = link(
        client, linking(PERSON[1]), rows(tag, *({"Visitor_Phone__c": "{}-{}-{}".format(*p)} for p in numbers))
    )

    assert [links[n].get("Contact__c") for n in range(4)] == contacts
    searches = emulator.state.calls.snapshot().get("GET /services/data/v{version}/search", 0)
    assert searches == 7  # 4 found (full), 2 + 2 (full), 1 + 1 + 1 + 1


# ---- rules -----------------------------------------------------------------------------------


def test_rules_link_contact_lead_case_and_a_custom_object(emulator, client, tag):
    store = emulator.state.store
    account = store.create("Account", {"Name": f"Rules {tag}"}).id
    by_secondary = store.create(
        "Contact", {"LastName": "S", "Email": f"work{tag}@corp.example",
                    "Secondary_Email__c": f"Home.{tag}@Corp.Example", "AccountId": account},
    ).id  # fmt: skip
    store.create("Contact", {"LastName": "F", "Email": f"flagged{tag}@corp.example", "Do_Not_Sync__c": True})
    flagged_lead = store.create(
        "Lead", {"LastName": "F", "Company": "C", "Email": f"flagged{tag}@corp.example"}
    ).id
    store.insert_system(
        "Lead",
        {"LastName": "V", "Company": "C", "Email": f"converted{tag}@corp.example", "IsConverted": True},
    )
    case = store.create("Case", {"Subject": "Order", "Order_Id__c": f"DRV{tag}XC"}).id
    area, exchange, line = us_number(tag, 7)
    member = store.create(
        "Loyalty_Member__c", {"Name": "M", "Member_Phone__c": f"{area}.{exchange}.{line}"}
    ).id
    store.create("Loyalty_Member__c", {"Name": "N", "Member_Phone__c": f"{area}-{exchange}-9999",
                                       "Do_Not_Sync__c": True})  # fmt: skip
    records = rows(
        tag,
        {"Visitor_Email__c": f"HOME.{tag}@corp.example", "Order_Id__c": f"drv{tag}xc"},
        {
            "Visitor_Email__c": f"flagged{tag}@corp.example",
            "Visitor_Phone__c": f"+1 {area}-{exchange}-{line}",
        },
        {"Visitor_Email__c": f"converted{tag}@corp.example"},
        {"Visitor_Phone__c": f"+1 {area} {exchange} 9999"},
    )

    links = link(client, linking(*PERSON, CASE, MEMBER), records)

    # secondary email, case-insensitive; its Account; and the Case by the order id, in one transcript
    assert links[0] == {"Contact__c": by_secondary, "Account__c": account, "Case__c": case}
    # the flagged Contact is skipped, so the Lead with that email wins the group; the member by phone
    assert links[1] == {"Lead__c": flagged_lead, "Loyalty_Member__c": member}
    assert links[2] == {}  # converted Leads are never linked
    assert links[3] == {}  # the only member with that phone does not want to be synced


def test_an_email_held_by_two_contacts_falls_through_to_the_phone(emulator, client, tag):
    store = emulator.state.store
    for name in ("A", "B"):
        store.create("Contact", {"LastName": name, "Email": f"shared{tag}@corp.example"})
    area, exchange, line = us_number(tag, 3)
    by_phone = store.create("Contact", {"LastName": "C", "Phone": f"({area}) {exchange}-{line}"}).id
    visitor = {"Visitor_Email__c": f"shared{tag}@corp.example", "Visitor_Phone__c": f"{area}{exchange}{line}"}
    assert link(client, linking(), rows(tag, visitor))[0] == {"Contact__c": by_phone}


def test_a_lookup_set_by_hand_keeps_its_group_and_its_also_set_field(emulator, client, tag):
    store = emulator.state.store
    account = store.create("Account", {"Name": f"Hand {tag}"}).id
    hand_account = store.create("Account", {"Name": f"Chosen {tag}"}).id
    contact = store.create(
        "Contact", {"LastName": "C", "Email": f"c{tag}@corp.example", "AccountId": account}
    ).id
    hand_lead = store.create("Lead", {"LastName": "L", "Company": "C"}).id
    store.create("Lead", {"LastName": "M", "Company": "C", "Email": f"m{tag}@corp.example"})
    case = store.create("Case", {"Subject": "Order", "Order_Id__c": f"H{tag}"}).id
    records = rows(
        tag,
        {"Visitor_Email__c": f"m{tag}@corp.example", "Order_Id__c": f"H{tag}"},
        {"Visitor_Email__c": f"c{tag}@corp.example"},
    )
    store.create("Chat_Transcript__c", {KEY: records[0][KEY], "Lead__c": hand_lead})
    store.create("Chat_Transcript__c", {KEY: records[1][KEY], "Account__c": hand_account})

    links = link(client, linking(*PERSON, CASE), records)

    assert links[0] == {"Case__c": case}  # the person group was set by hand; the Case group was not
    assert links[1] == {"Contact__c": contact}  # the Account chosen by hand stays


def test_a_row_naming_its_person_is_left_alone(emulator, client, tag):
    store = emulator.state.store
    store.create("Contact", {"LastName": "C", "Email": f"named{tag}@corp.example"})
    lead = store.create("Lead", {"LastName": "L", "Company": "C"}).id
    records = rows(tag, {"Visitor_Email__c": f"named{tag}@corp.example", "Lead__c": lead})
    assert link(client, linking(), records) == {0: {}}


def test_a_batch_costs_a_few_calls_whatever_its_size(emulator, client, tag):
    store = emulator.state.store
    for n in range(0, 2_000, 100):
        store.create("Contact", {"LastName": f"B{n}", "Email": f"b{tag}.{n}@corp.example"})
        store.create("Case", {"Subject": "O", "Order_Id__c": f"B{tag}-{n}"})
        area, exchange, line = f"3{tag % 100:02d}", f"{200 + n // 100}", f"{n:04d}"
        store.create("Lead", {"LastName": f"L{n}", "Company": "C", "Phone": f"({area}) {exchange}-{line}"})
    records = rows(
        tag,
        *(
            {
                "Visitor_Email__c": f"b{tag}.{n}@corp.example",
                "Visitor_Phone__c": f"+1 3{tag % 100:02d}-{200 + n // 100}-{n:04d}",
                "Order_Id__c": f"B{tag}-{n}",
            }
            for n in range(2_000)
        ),
    )
    emulator.state.calls.reset()

    links = link(client, linking(*PERSON, CASE), records)

    calls = emulator.state.calls.snapshot()
    searches = calls.get("GET /services/data/v{version}/search", 0)
    queries = calls.get("GET /services/data/v{version}/query", 0)
    assert sum(1 for n in range(0, 2_000, 100) if links[n].get("Contact__c")) == 20
    assert sum(1 for n in range(0, 2_000, 100) if links[n].get("Lead__c")) == 0  # Contact won the group
    assert sum(1 for v in links.values() if v.get("Case__c")) == 20
    assert sum(1 for n in range(2_000) if n % 100 and links[n].get("Lead__c")) == 0  # their numbers differ
    # 1,980 phones searched at ~190 a search; emails in two fields, Leads' emails, order ids, lookups
    assert searches <= 12 and queries <= 25, calls  # 2,000 rows: tens of calls, never thousands


# ---- one load: calls as a function of distinct values -----------------------------------------

COMPOSITE = "POST /services/data/v{version}/composite"
SEARCH = "GET /services/data/v{version}/search"


@pytest.fixture(params=["tokens", "digits"])
def fresh(request, tmp_path):
    """An org of its own: no transcript yet, no Contact or Lead with a phone."""
    emu = start_salesforce(SalesforceEmulatorConfig(sosl_phone_search=request.param), data_dir=tmp_path)
    yield emu, build_client(salesforce_settings(emu))
    emu.stop()


def load_linker(client, settings: LinkingSettings, records: list[dict]) -> Linker:
    """A linker as the load builds it: its first pass saw every record."""
    estimate = LinkEstimate(settings, UpsertSettings())
    for record in records:
        estimate.add(record)
    return Linker(client, settings, UpsertSettings(), estimate.values)


def calls_of(emulator) -> tuple[int, int]:
    snapshot = emulator.state.calls.snapshot()
    emulator.state.calls.reset()
    return snapshot.get(COMPOSITE, 0), snapshot.get(SEARCH, 0)


def test_the_first_batch_asks_about_the_whole_load_and_later_batches_only_match(emulator, client, tag):
    store = emulator.state.store
    contacts = [
        store.create("Contact", {"LastName": f"W{n}", "Email": f"whole{tag}.{n}@corp.example"}).id
        for n in range(3)
    ]
    area = f"4{tag % 100:02d}"
    lead = store.create("Lead", {"LastName": "P", "Company": "C", "Phone": f"({area}) 555-0007"}).id
    records = rows(
        tag,
        *(
            {
                "Visitor_Email__c": f"whole{tag}.{n % 40}@corp.example",
                "Visitor_Phone__c": f"+1 {area} 555 {n % 100:04d}",
            }
            for n in range(1_500)
        ),
    )
    linker = load_linker(client, linking(), records)
    emulator.state.calls.reset()

    plans = [linker.plan(records[start : start + 500]) for start in (0, 500)]
    first = calls_of(emulator)
    plans.append(linker.plan(records[1_000:]))
    last = calls_of(emulator)

    linked = {**plans[0], **plans[1], **plans[2]}
    for n, record in enumerate(records):
        if n % 40 < 3:  # by email, the Contact first
            expected = {"Contact__c": contacts[n % 40]}
        else:  # else by phone, the Lead
            expected = {"Lead__c": lead} if n % 100 == 7 else {}
        assert linked.get(record[KEY], {}) == expected, n
    assert last == (1, 0)  # a later batch: only the current lookups of its matched transcripts
    # two batches: the whole load's emails (one call), its 100 phones read whole or searched (one
    # call), one lookup read per batch
    assert sum(first) == 1 + 1 + 2


def test_calls_follow_distinct_values_not_rows(fresh, monkeypatch):
    emulator, client = fresh
    store = emulator.state.store
    store.create(
        "Contact", {"LastName": "Far", "Phone": "+44 20 7946 0000"}
    )  # one phone: searching is needed
    monkeypatch.setattr(linking_module, "QUERY_PAGE", 0.001)  # reading whole costs more than searching
    for distinct_phones in (50, 600):
        records = [
            {KEY: f"d{distinct_phones}-{n}", "Visitor_Email__c": f"v{n % 300}@corp.example",
             "Visitor_Phone__c": f"+1 312-5{n % distinct_phones // 100:02d}-{n % distinct_phones:04d}"}
            for n in range(3_000)
        ]  # fmt: skip
        emulator.state.calls.reset()
        load_linker(client, linking(), records).plan(records)
        composite, searches = calls_of(emulator)
        # 300 emails for two rules, the probe and two counts: one composite call; the phones of both
        # rules together, 47 characters each, 212 to a search
        assert composite == 1
        assert searches == math.ceil(distinct_phones / 212)


def test_into_an_empty_transcript_object_no_lookup_is_read(fresh):
    emulator, client = fresh
    store = emulator.state.store
    contact = store.create("Contact", {"LastName": "E", "Email": "empty@corp.example"}).id
    records = rows(1, {"Visitor_Email__c": "empty@corp.example"})

    assert link(client, linking(), records) == {0: {"Contact__c": contact}}
    assert calls_of(emulator) == (1, 0)  # probe, statements and counts in one call; no phone: no search

    store.create("Chat_Transcript__c", {KEY: "someone-else"})
    assert link(client, linking(), records) == {0: {"Contact__c": contact}}
    assert calls_of(emulator) == (2, 0)  # the object holds a transcript now: lookups are read


def test_phone_objects_are_skipped_when_empty_read_whole_when_small_searched_when_large(fresh, monkeypatch):
    emulator, client = fresh
    store = emulator.state.store
    visitor = rows(2, {"Visitor_Phone__c": "+1 212-788-8877"})
    assert link(client, linking(), visitor) == {0: {}}
    assert calls_of(emulator) == (1, 0)  # no Contact or Lead holds a phone: nothing to search

    contact = store.create("Contact", {"LastName": "S", "Phone": "(212) 788-8877"}).id
    store.create("Lead", {"LastName": "T", "Company": "C", "MobilePhone": "+1 646 555 0101"})
    assert link(client, linking(), visitor) == {0: {"Contact__c": contact}}
    assert calls_of(emulator) == (2, 0)  # two small objects read whole, side by side, in one call

    monkeypatch.setattr(linking_module, "QUERY_PAGE", 0.001)  # as if each held 1,000 pages of phones
    assert link(client, linking(), visitor) == {0: {"Contact__c": contact}}
    assert calls_of(emulator) == (1, 1)  # one search instead


def test_a_batch_with_nothing_to_match_costs_no_call(fresh):
    emulator, client = fresh
    records = rows(
        3, {"Visitor_Email__c": "someone@gmail.com"}, {"Visitor_Phone__c": "12"}
    )  # blocked, no phone
    assert link(client, linking(), records) == {0: {}, 1: {}}
    assert calls_of(emulator) == (0, 0)
