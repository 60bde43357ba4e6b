"""org check: describes in, findings out (no server)."""

from __future__ import annotations

import pytest
from org_describes import TRANSCRIPT, describes_for, drop_field, field_of, integration, small_mapping

from lesync.org.check import OrgCheckError, check_org, objects_involved


def findings_at(report, where: str):
    return [f for f in report.findings if f.where == where]


def only_blocker(report, where: str):
    found = findings_at(report, where)
    assert [f.severity for f in found] == ["blocker"], report.format()
    return found[0]


def test_the_shipped_emulated_org_fits_the_shipped_mapping(mapping):
    integ = integration()
    report = check_org(describes_for(mapping, integ), mapping, integ)
    assert report.ok and not report.findings, report.format()
    assert report.objects == (TRANSCRIPT, "Contact", "Lead", "Account")


def test_linking_off_describes_only_the_target(mapping):
    assert objects_involved(mapping, integration(linking=False)) == [TRANSCRIPT]


def test_a_missing_field_is_a_blocker_naming_object_field_and_fix(mapping):
    integ = integration()
    describes = describes_for(mapping, integ)
    drop_field(describes, TRANSCRIPT, "Agent_Name__c")
    report = check_org(describes, mapping, integ)
    finding = only_blocker(report, f"{TRANSCRIPT}.Agent_Name__c")
    assert "missing" in finding.problem and "lp_field agentName" in finding.problem
    assert "lesync org metadata" in finding.fix
    assert not report.ok
    with pytest.raises(OrgCheckError, match="Chat_Transcript__c.Agent_Name__c"):
        report.raise_on_blockers()


def test_field_level_security_shows_as_not_updateable(mapping):
    integ = integration()
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "Skill_Name__c")["updateable"] = False
    finding = only_blocker(check_org(describes, mapping, integ), f"{TRANSCRIPT}.Skill_Name__c")
    assert "may not update" in finding.problem and "field-level security" in finding.fix


def test_object_the_user_cannot_create_is_a_blocker(mapping):
    integ = integration()
    describes = describes_for(mapping, integ)
    describes[TRANSCRIPT]["createable"] = False
    assert "may not create" in only_blocker(check_org(describes, mapping, integ), TRANSCRIPT).problem


def test_a_missing_object_is_one_blocker(mapping):
    integ = integration(linking=False)
    report = check_org({TRANSCRIPT: None}, mapping, integ)
    assert [f.where for f in report.findings] == [TRANSCRIPT]
    assert "does not exist" in report.findings[0].problem


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"externalId": False, "idLookup": False}, "not an External ID"),
        ({"unique": False}, "not Unique"),
        ({"length": 20}, "holds 20 characters"),
        ({"type": "double"}, "is double"),
    ],
)
def test_the_external_id_must_be_text_external_unique_and_long_enough(mapping, change, problem):
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "LP_Conversation_Id__c").update(change)
    found = findings_at(check_org(describes, mapping, integ), f"{TRANSCRIPT}.LP_Conversation_Id__c")
    assert any(problem in f.problem and f.severity == "blocker" for f in found), found


def test_the_transcript_must_be_a_long_text_area(mapping):
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "Transcript__c").update(type="string", length=255)
    finding = only_blocker(check_org(describes, mapping, integ), f"{TRANSCRIPT}.Transcript__c")
    assert "Long Text Area" in finding.problem


def test_a_short_long_text_area_is_a_warning(mapping):
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "Transcript__c")["length"] = 32_000
    report = check_org(describes, mapping, integ)
    assert report.ok
    [warning] = findings_at(report, f"{TRANSCRIPT}.Transcript__c")
    assert warning.severity == "warning" and "32,000" in warning.problem


def test_a_mapped_picklist_value_the_field_does_not_allow(mapping):
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    status = field_of(describes, TRANSCRIPT, "Status__c")
    status["picklistValues"] = [{"value": "Open", "active": True}, {"value": "Closed", "active": False}]
    finding = only_blocker(check_org(describes, mapping, integ), f"{TRANSCRIPT}.Status__c")
    assert "'Closed'" in finding.problem and "add 'Closed'" in finding.fix
    status["restrictedPicklist"] = False
    [warning] = findings_at(check_org(describes, mapping, integ), f"{TRANSCRIPT}.Status__c")
    assert warning.severity == "warning"


def test_the_channel_picklist_is_checked_too(mapping):
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "SDK_API_Type__c")["picklistValues"] = [{"value": "Chat"}]
    assert (
        "'Messaging'"
        in only_blocker(check_org(describes, mapping, integ), f"{TRANSCRIPT}.SDK_API_Type__c").problem
    )


def test_mapped_values_longer_than_a_text_field_warn():
    mapping = small_mapping(
        fields=[{"target": "Agent_Name__c", "lp_field": "status", "map": {"OPEN": "Still open"}}]
    )
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "Agent_Name__c")["length"] = 5
    [warning] = findings_at(check_org(describes, mapping, integ), f"{TRANSCRIPT}.Agent_Name__c")
    assert warning.severity == "warning" and "up to 10" in warning.problem


@pytest.mark.parametrize(
    ("target_type", "severity"),
    [
        ("datetime", None),
        ("date", "warning"),
        ("string", "warning"),
        ("double", "blocker"),
        ("boolean", "blocker"),
    ],
)
def test_a_datetime_value_against_each_field_type(mapping, target_type, severity):
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "Start_Time__c")["type"] = target_type
    found = findings_at(check_org(describes, mapping, integ), f"{TRANSCRIPT}.Start_Time__c")
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_a_custom_path_without_convert_takes_any_type():
    mapping = small_mapping(fields=[{"target": "Agent_Name__c", "api_field": "info.agentId"}])
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "Agent_Name__c")["type"] = "double"
    assert check_org(describes, mapping, integ).findings == ()


def test_lookups_must_point_at_the_linked_object(mapping):
    integ = integration()
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "Lead__c")["referenceTo"] = ["Contact"]
    finding = only_blocker(check_org(describes, mapping, integ), f"{TRANSCRIPT}.Lead__c")
    assert "lookup to Contact" in finding.problem and "Lookup(Lead)" in finding.fix


def test_linking_needs_to_read_contacts_and_leads(mapping):
    integ = integration()
    describes = describes_for(mapping, integ)
    drop_field(describes, "Lead", "Email")
    describes["Contact"] = None
    report = check_org(describes, mapping, integ)
    only_blocker(report, "Lead.Email")
    only_blocker(report, "Contact")


def test_a_required_field_the_mapping_never_writes(mapping):
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    describes[TRANSCRIPT]["fields"].append(
        {
            "name": "Region__c",
            "type": "string",
            "nillable": False,
            "createable": True,
            "defaultedOnCreate": False,
        }
    )
    assert "required" in only_blocker(check_org(describes, mapping, integ), f"{TRANSCRIPT}.Region__c").problem


def test_field_names_match_case_insensitively_as_in_salesforce(mapping):
    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    field_of(describes, TRANSCRIPT, "Agent_Name__c")["name"] = "agent_name__C"
    assert check_org(describes, mapping, integ).ok


def test_report_as_dict_is_json_ready(mapping):
    import json

    integ = integration(linking=False)
    describes = describes_for(mapping, integ)
    drop_field(describes, TRANSCRIPT, "City__c")
    data = json.loads(json.dumps(check_org(describes, mapping, integ).as_dict()))
    assert data["ok"] is False
    assert data["findings"][0]["field"] == "City__c"
