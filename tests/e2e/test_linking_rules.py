"""Linking rules end to end: a sync through the pipeline's task functions (plan, extract, transform,
load) against both emulators (Salesforce: an org built from the generated metadata), with rules
for Contact (email or secondary email, then phone), Lead, Case (by the purchase SDE's order id,
mapped into a transcript field) and a custom object (by phone). The org holds phones as orgs do,
not as LivePerson sends them; each transcript must be linked exactly as the rules say, and
``org check`` must know the rules' lookups."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path
from typing import Any

import pytest

from lesync.__main__ import main
from lesync.config import FREE_MAIL_DOMAINS, load_integrations
from lesync.demo import use_emulators
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce
from lesync.emulators.salesforce.metadata_schema import schema_from_metadata, write_schema
from lesync.org.check import check_org, objects_involved
from lesync.org.metadata import DEFAULT_PERMISSION_SET, metadata_files, write_metadata
from lesync.pipeline import tasks
from lesync.pipeline.staging import read_jsonl_gz
from lesync.salesforce.load_plan import LoadOptions
from lesync.salesforce.phones import normalise_phone

pytestmark = pytest.mark.e2e
SHIPPED_MAPPING = Path(__file__).resolve().parents[2] / "include" / "mappings" / "chat_transcript.yaml"
INTEGRATIONS = """\
integrations:
  - name: linked
    mapping: linked.yaml
    linking:
      enabled: true
      rules:
        - {object: Contact, match: email, value: Visitor_Email__c, fields: [Email, Secondary_Email__c],
           lookup: Contact__c, group: person, also_set: {Account__c: AccountId}, skip_flag: Do_Not_Sync__c}
        - {object: Contact, match: phone, value: Visitor_Phone__c, lookup: Contact__c, group: person,
           also_set: {Account__c: AccountId}, skip_flag: Do_Not_Sync__c}
        - {object: Lead, match: email, value: Visitor_Email__c, lookup: Lead__c, group: person}
        - {object: Lead, match: phone, value: Visitor_Phone__c, lookup: Lead__c, group: person}
        - {object: Case, match: exact, value: Order_Id__c, fields: [Order_Id__c], lookup: Case__c}
        - {object: Loyalty_Member__c, match: phone, value: Visitor_Phone__c, fields: [Member_Phone__c],
           lookup: Loyalty_Member__c, skip_flag: Do_Not_Sync__c}
"""
ORDER_ID_ENTRY = """
  # The purchase SDE's order id, for the Case rule.
  - target: Order_Id__c
    lp_field: purchaseOrderId
"""


@pytest.fixture(scope="module")
def integration(tmp_path_factory):
    folder = tmp_path_factory.mktemp("linking-config")
    (folder / "mappings").mkdir()
    (folder / "mappings" / "linked.yaml").write_text(SHIPPED_MAPPING.read_text() + ORDER_ID_ENTRY)
    (folder / "integrations.yaml").write_text(INTEGRATIONS)
    (found,) = load_integrations(folder / "integrations.yaml")
    return found


@pytest.fixture(scope="module", params=["tokens", "digits"])
def emulators(request, tmp_path_factory, integration):
    data = tmp_path_factory.mktemp(f"linking-{request.param}")
    now_ms = int(dt.datetime.now(dt.UTC).timestamp()) // 60 * 60000
    liveperson = start_liveperson(
        LivePersonEmulatorConfig(seed=23, conversations=160, days=1, now_ms=now_ms), data_dir=data
    )
    config = SalesforceEmulatorConfig(
        sosl_phone_search=request.param, schema_path=org_from_metadata(integration, data)
    )
    salesforce = start_salesforce(config, data_dir=data)
    use_emulators(liveperson, salesforce, (integration.liveperson_conn_id, integration.salesforce_conn_id))
    yield liveperson, salesforce
    liveperson.stop()
    salesforce.stop()


def org_from_metadata(integration, folder: Path) -> Path:
    """The org an admin gets by deploying ``python -m lesync org metadata`` for this integration:
    its transcript object holds exactly what the mapping and the rules need (the objects the rules
    search are the org's own: the shipped standard and custom objects)."""
    mapping = tasks.compiled_mapping(integration)
    source = folder / "metadata"
    write_metadata(source, metadata_files(mapping, integration))
    schema = schema_from_metadata(source, DEFAULT_PERMISSION_SET)
    return write_schema(schema, folder / "schema.yaml")


def staged_rows(integration, liveperson, run_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    now = dt.datetime.fromtimestamp(liveperson.state.clock.now() / 1000, dt.UTC)
    params = {"start": (now - dt.timedelta(days=1, hours=1)).isoformat(), "end": now.isoformat()}
    units = tasks.plan(integration, "manual", params, None, now)
    extracted = [tasks.extract(integration, unit, run_id) for unit in units]
    transformed = tasks.transform(integration, extracted, run_id)
    rows = list(read_jsonl_gz(transformed["rows_path"]))
    return rows, transformed


class Seeder:
    """Puts records into the org and writes down which lookups each transcript must get."""

    def __init__(self, store, rows: list[dict[str, Any]]):
        self.store = store
        self.rows = [r for r in rows if not r.get("errors")]
        self.expected: dict[str, dict[str, str]] = {r["conversation_id"]: {} for r in self.rows}
        self.counter = itertools.count()

    def values(self, name: str, keep=lambda value: True) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            value = row["fields"].get(name)
            if value and keep(value):
                found.setdefault(value, []).append(row)
        return found

    def expect(self, rows: list[dict[str, Any]], **lookups: str) -> None:
        for row in rows:
            self.expected[row["conversation_id"]].update(lookups)

    def people_by_email(self) -> set[str]:
        """Company emails: Contact by Email (+ Account), Contact by secondary email in another
        case, Lead; every 7th a flagged Contact, whose email then finds nobody."""
        emails = self.values("Visitor_Email__c", lambda e: e.split("@")[-1].lower() not in FREE_MAIL_DOMAINS)
        for n, (email, rows) in enumerate(sorted(emails.items())):
            if n % 7 == 6:
                self.store.create("Contact", {"LastName": "Flagged", "Email": email, "Do_Not_Sync__c": True})
            elif n % 3 == 0:
                account = self.store.create("Account", {"Name": f"Acme {n}"}).id
                contact = self.store.create(
                    "Contact", {"LastName": "E", "Email": email, "AccountId": account}
                ).id
                self.expect(rows, Contact__c=contact, Account__c=account)
            elif n % 3 == 1:
                contact = self.store.create(
                    "Contact", {"LastName": "S", "Secondary_Email__c": email.upper()}
                ).id
                self.expect(rows, Contact__c=contact)
            else:
                lead = self.store.create("Lead", {"LastName": "L", "Company": "C", "Email": email}).id
                self.expect(rows, Lead__c=lead)
        return {r["conversation_id"] for rows in emails.values() for r in rows}

    def people_by_phone(self, email_rows: set[str]) -> None:
        """Phones of visitors no email found, held as orgs hold them: UI-formatted Contacts,
        dotted Leads with an extension, a converted Lead (never linked)."""
        phones = self.values("Visitor_Phone__c")
        for n, (phone, rows) in enumerate(sorted(phones.items())):
            if any(r["conversation_id"] in email_rows for r in rows):
                continue
            digits = normalise_phone(phone)[-10:]
            area, exchange, line = digits[:3], digits[3:6], digits[6:]
            if n % 3 == 0:
                contact = self.store.create(
                    "Contact", {"LastName": "P", "Phone": f"({area}) {exchange}-{line}"}
                ).id
                self.expect(rows, Contact__c=contact)
            elif n % 3 == 1:
                fields = {"LastName": "P", "Company": "C", "MobilePhone": f"{area}.{exchange}.{line} x{n}"}
                self.expect(rows, Lead__c=self.store.create("Lead", fields).id)
            else:
                self.store.insert_system(
                    "Lead",
                    {
                        "LastName": "V",
                        "Company": "C",
                        "Phone": f"{area}-{exchange}-{line}",
                        "IsConverted": True,
                    },
                )

    def cases(self) -> None:
        for n, (order, rows) in enumerate(sorted(self.values("Order_Id__c").items())):
            if n % 2 == 0:
                self.expect(
                    rows, Case__c=self.store.create("Case", {"Subject": "Order", "Order_Id__c": order}).id
                )

    def members(self) -> None:
        for n, (phone, rows) in enumerate(sorted(self.values("Visitor_Phone__c").items())):
            digits = normalise_phone(phone)[-10:]
            held = f"1-{digits[:3]}-{digits[3:6]}-{digits[6:]}"
            if n % 4 == 0:
                member = self.store.create("Loyalty_Member__c", {"Name": "M", "Member_Phone__c": held}).id
                self.expect(rows, Loyalty_Member__c=member)
            elif n % 4 == 2:
                self.store.create(
                    "Loyalty_Member__c", {"Name": "N", "Member_Phone__c": held, "Do_Not_Sync__c": True}
                )


def test_the_org_is_the_generated_metadata(emulators):
    fields = emulators[1].state.schema.objects["Chat_Transcript__c"].fields
    assert {"Case__c", "Loyalty_Member__c", "Order_Id__c", "Contact__c", "Lead__c"} <= set(fields)
    assert "Opportunity__c" not in fields  # in the shipped schema, needed by no rule here


def test_a_sync_links_each_transcript_as_the_rules_say(integration, emulators):
    liveperson, salesforce = emulators
    rows, transformed = staged_rows(integration, liveperson, "linking-run")
    seeder = Seeder(salesforce.state.store, rows)
    email_rows = seeder.people_by_email()
    seeder.people_by_phone(email_rows)
    seeder.cases()
    seeder.members()
    salesforce.state.calls.reset()

    loaded = tasks.load(integration, transformed, "linking-run")

    transcripts = {
        r["LP_Conversation_Id__c"]: r for r in salesforce.state.store.records("Chat_Transcript__c")
    }
    lookups = ("Contact__c", "Account__c", "Lead__c", "Case__c", "Loyalty_Member__c")
    got = {
        cid: {k: transcripts[cid][k] for k in lookups if transcripts[cid].get(k)} for cid in seeder.expected
    }
    assert got == seeder.expected
    kinds = {k for links in seeder.expected.values() for k in links}
    assert kinds == set(lookups)  # every rule had work, so the test proves each one
    assert loaded["linked"] == sum(1 for links in seeder.expected.values() if links)
    calls = salesforce.state.calls.snapshot()
    batches = math.ceil(len(rows) / LoadOptions().batch_rows)
    # the whole load's values in one composite call (probe, phone counts, email and exact rules),
    # the phone objects read whole or searched once, one lookup read per batch; no GET query
    assert calls.get("GET /services/data/v{version}/search", 0) <= 1
    assert calls.get("POST /services/data/v{version}/composite", 0) <= 2 + batches
    assert calls.get("GET /services/data/v{version}/query", 0) == 0


def test_a_rerun_keeps_every_link_and_links_nothing_new(integration, emulators):
    liveperson, salesforce = emulators
    before = {r["LP_Conversation_Id__c"]: r for r in salesforce.state.store.records("Chat_Transcript__c")}
    _, transformed = staged_rows(integration, liveperson, "linking-rerun")
    loaded = tasks.load(integration, transformed, "linking-rerun")
    after = {r["LP_Conversation_Id__c"]: r for r in salesforce.state.store.records("Chat_Transcript__c")}
    lookups = ("Contact__c", "Account__c", "Lead__c", "Case__c", "Loyalty_Member__c")
    assert {c: [after[c][k] for k in lookups] for c in after} == {
        c: [before[c][k] for k in lookups] for c in before
    }
    assert loaded["linked"] == 0 and loaded["created"] == 0


def test_org_check_knows_the_rules_lookups_and_fields(integration, emulators, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(
        "LESYNC_INTEGRATIONS_FILE", str(Path(integration.mapping).parents[1] / "integrations.yaml")
    )
    assert main(["org", "check", "--integration", "linked"]) == 0
    assert "0 blocker(s)" in capsys.readouterr().out

    mapping = tasks.compiled_mapping(integration)
    assert {"Contact", "Lead", "Case", "Loyalty_Member__c", "Account"} <= set(
        objects_involved(mapping, integration)
    )
    _, salesforce = emulators
    from lesync.emulators.salesforce.schema import describe_sobject

    describes = {
        obj: describe_sobject(salesforce.state.schema, obj) for obj in objects_involved(mapping, integration)
    }
    describes["Case"]["fields"] = [f for f in describes["Case"]["fields"] if f["name"] != "Order_Id__c"]
    transcript = describes[mapping.object]
    transcript["fields"] = [f for f in transcript["fields"] if f["name"] != "Loyalty_Member__c"]
    report = check_org(describes, mapping, integration)
    blockers = {(f.object, f.field) for f in report.findings if f.severity == "blocker"}
    assert ("Case", "Order_Id__c") in blockers
    assert (mapping.object, "Loyalty_Member__c") in blockers
    assert not report.ok
