"""The org schema file and its describe output, which the mapping engine and loader rely on."""

from __future__ import annotations

import pytest

from lesync.emulators.salesforce.schema import describe_sobject, load_schema


def _field(describe: dict, name: str) -> dict:
    return next(f for f in describe["fields"] if f["name"] == name)


def test_chat_transcript_has_the_contract_fields():
    describe = describe_sobject(load_schema(), "Chat_Transcript__c")
    external = _field(describe, "LP_Conversation_Id__c")
    assert (external["externalId"], external["unique"], external["idLookup"]) == (True, True, True)
    transcript = _field(describe, "Transcript__c")
    assert (transcript["type"], transcript["length"]) == ("textarea", 131072)
    channel = _field(describe, "SDK_API_Type__c")
    assert [v["value"] for v in channel["picklistValues"]] == ["Chat", "Messaging"]
    for lookup, target in [
        ("Account__c", "Account"),
        ("Contact__c", "Contact"),
        ("Lead__c", "Lead"),
        ("Case__c", "Case"),
        ("Opportunity__c", "Opportunity"),
    ]:
        assert _field(describe, lookup)["referenceTo"] == [target]
        assert _field(describe, lookup)["relationshipName"] == lookup[:-3] + "__r"
    name = _field(describe, "Name")
    assert name["autoNumber"] and not name["createable"]


def test_object_names_resolve_case_insensitively():
    assert describe_sobject(load_schema(), "chat_transcript__C")["name"] == "Chat_Transcript__c"
    assert describe_sobject(load_schema(), "NoSuch__c") is None


def test_system_fields_are_read_only():
    describe = describe_sobject(load_schema(), "Account")
    id_field = _field(describe, "Id")
    assert id_field["type"] == "id" and not id_field["createable"] and not id_field["nillable"]
    assert _field(describe, "Name")["nillable"] is False


def test_tests_can_extend_the_org():
    schema = load_schema(
        extra={
            "objects": {
                "Chat_Transcript__c": {"fields": {"Agent_Name__c": {"type": "string", "length": 20}}},
                "Widget__c": {"key_prefix": "a0W", "fields": {"Size__c": {"type": "double"}}},
            }
        }
    )
    assert _field(describe_sobject(schema, "Chat_Transcript__c"), "Agent_Name__c")["length"] == 20
    assert describe_sobject(schema, "Widget__c")["keyPrefix"] == "a0W"
    assert schema.object_for_prefix("a0W000000000001AAA") == "Widget__c"


def test_a_typo_in_the_schema_is_refused():
    with pytest.raises(ValueError, match="lenght"):
        load_schema(extra={"objects": {"Account": {"fields": {"X__c": {"type": "string", "lenght": 5}}}}})
