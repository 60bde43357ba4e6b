"""Linking rules as integrations.yaml declares them: defaults, validation, the old keys, estimates."""

from __future__ import annotations

import math

import pytest

from lesync.config import IntegrationsError, LinkingSettings, load_integrations
from lesync.salesforce import UpsertSettings
from lesync.salesforce.linking import LinkEstimate, lookup_fields


def write(tmp_path, linking: str) -> str:
    (tmp_path / "mappings").mkdir(exist_ok=True)
    (tmp_path / "mappings" / "m.yaml").write_text("object: X\n")
    path = tmp_path / "integrations.yaml"
    path.write_text(f"integrations:\n  - name: emea\n    mapping: m.yaml\n    linking:\n{linking}")
    return str(path)


def test_the_default_rules_are_todays_behaviour():
    rules = LinkingSettings().rules
    assert [(r.object, r.match, r.value, r.fields, r.lookup, r.group_name) for r in rules] == [
        ("Contact", "email", "Visitor_Email__c", ("Email",), "Contact__c", "person"),
        ("Contact", "phone", "Visitor_Phone__c", ("Phone", "MobilePhone"), "Contact__c", "person"),
        ("Lead", "email", "Visitor_Email__c", ("Email",), "Lead__c", "person"),
        ("Lead", "phone", "Visitor_Phone__c", ("Phone", "MobilePhone"), "Lead__c", "person"),
    ]
    assert rules[0].also_set == {"Account__c": "AccountId"}
    assert rules[2].skips_converted and not rules[0].skips_converted
    assert lookup_fields(LinkingSettings()) == ["Contact__c", "Lead__c", "Account__c"]


def test_the_old_keys_fail_naming_the_key_and_the_rules_they_meant(tmp_path):
    path = write(tmp_path, "      enabled: true\n      phone_field: Mobile__c\n      match_leads: false\n")
    with pytest.raises(IntegrationsError) as failed:
        load_integrations(path)
    message = str(failed.value)
    assert "integration 'emea', key 'linking'" in message
    assert "'linking.phone_field' was replaced by 'linking.rules'" in message
    assert "{object: Contact, match: phone, value: Mobile__c, lookup: Contact__c" in message
    assert "object: Lead" not in message  # match_leads: false meant no Lead rules


def test_rules_load_from_yaml_with_kind_defaults(tmp_path):
    path = write(
        tmp_path,
        "      enabled: true\n      default_country_code: '44'\n      rules:\n"
        "        - {object: Case, match: exact, value: Order_Id__c, fields: [Order_Id__c], lookup: Case__c}\n"
        "        - {object: Member__c, match: phone, value: Visitor_Phone__c, lookup: Member__c,"
        " skip_flag: Do_Not_Sync__c}\n",
    )
    (integration,) = load_integrations(path)
    case, member = integration.linking.rules
    assert (case.match, case.fields, case.group_name) == ("exact", ("Order_Id__c",), "Case__c")
    assert member.fields == ("Phone", "MobilePhone") and member.skip_flag == "Do_Not_Sync__c"
    assert integration.linking.default_country_code == "44"


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("{object: Case, match: exact, value: Order_Id__c, lookup: Case__c}", "an exact rule needs 'fields'"),
        ("{object: Case, match: fuzzy, value: X__c, lookup: Case__c}", "rules.0.match"),
        ("{object: Case, match: email, value: 'bad name', lookup: Case__c}", "rules.0.value"),
    ],
)
def test_a_bad_rule_names_its_key(tmp_path, rule, says):
    with pytest.raises(IntegrationsError) as failed:
        load_integrations(write(tmp_path, f"      rules:\n        - {rule}\n"))
    assert says in str(failed.value)


def test_one_lookup_written_by_two_groups_is_refused():
    rules = [
        {"object": "Contact", "match": "email", "value": "E__c", "lookup": "Contact__c", "group": "a"},
        {"object": "Contact", "match": "phone", "value": "P__c", "lookup": "Contact__c", "group": "b"},
    ]
    with pytest.raises(ValueError, match="rules writing one lookup must share a group"):
        LinkingSettings(rules=rules)


def estimate_for(emails: int, phones: int, batches: int = 1) -> int:
    estimate = LinkEstimate(LinkingSettings(enabled=True), UpsertSettings())
    for n in range(max(emails, phones)):
        estimate.add(
            {
                "LP_Conversation_Id__c": f"id-{n}",
                "Visitor_Email__c": f"v{n}@corp.example" if n < emails else None,
                "Visitor_Phone__c": f"+1 212-5{n // 10_000:02d}-{n % 10_000:04d}" if n < phones else None,
            }
        )
    estimate.add({"LP_Conversation_Id__c": "blocked", "Visitor_Email__c": "x@gmail.com"})
    return estimate.calls(batches=batches)


def test_the_estimate_counts_composite_calls_for_statements_and_searches_for_phones():
    assert estimate_for(0, 0) == 0
    # probe + Contact and Lead emails, one statement each: one composite call; one per batch for
    # the current lookups
    assert estimate_for(2_000, 0) == 1 + 1
    assert estimate_for(2_000, 0, batches=10) == 1 + 10
    # 20,000 emails: 22 characters each in an IN list, 5 statements per rule, 11 statements: 3
    # composite calls; as if every email matched a record, 9 more pages per rule: 4 calls
    assert estimate_for(20_000, 0) == 3 + 4 + 1
    # phones: 47 characters of terms each (with " OR "), 212 to a 10,000-character search, both
    # rules at once
    assert estimate_for(0, 2_000) == 1 + math.ceil(2_000 / 212) + 1
    assert estimate_for(0, 7_000) == 1 + math.ceil(7_000 / 212) + 1
