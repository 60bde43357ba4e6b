"""Mapping files: validated whole, errors naming the file, the entry and the fix."""

from __future__ import annotations

import pytest
from lpexamples import DEFAULT_MAPPING, org_fields

from lesync.mapping import MappingError, compile_mapping, load_mapping


def write(tmp_path, text: str):
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(MappingError) as caught:
        load_mapping(write(tmp_path, text))
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_default_mapping_loads_and_targets_exist_in_the_org():
    mapping = load_mapping(DEFAULT_MAPPING)
    assert mapping.object == "Chat_Transcript__c"
    assert mapping.external_id_field == "LP_Conversation_Id__c"
    assert mapping.transcript.mode == "both"
    assert len(mapping.entries) >= 30
    org = org_fields()
    missing = [name for name in mapping.targets() if name not in org]
    assert missing == []


def test_unknown_predefined_field_suggests_the_right_one(tmp_path):
    message = error_of(tmp_path, "fields:\n  - target: Agent_Name__c\n    lp_field: agentNme\n")
    assert "team.yaml" in message
    assert "fields[0] (target Agent_Name__c)" in message
    assert "unknown predefined field 'agentNme' — did you mean 'agentName'?" in message


def test_path_syntax_error_names_entry_and_position(tmp_path):
    message = error_of(
        tmp_path,
        (
            "fields:\n"
            "  - target: Agent_Name__c\n    lp_field: agentName\n"
            "  - target: Account_Number__c\n    api_field: 'surveys.preChat[displayName=Acct'\n"
        ),
    )
    assert (
        "fields[1] (target Account_Number__c): api_field path syntax error at position 32: expected ']'"
        in message
    )


def test_misspelt_key_suggests_the_right_key(tmp_path):
    message = error_of(tmp_path, "fields:\n  - target: City__c\n    lp_feild: city\n")
    assert "fields[0] (target City__c): unknown key 'lp_feild' — did you mean 'lp_field'?" in message


def test_bad_convert_names_the_choices(tmp_path):
    message = error_of(
        tmp_path, "fields:\n  - target: Start_Time__c\n    lp_field: startTime\n    convert: datetme\n"
    )
    assert "fields[0] (target Start_Time__c) convert: must be" in message
    assert "'datetime'" in message and "'datetme'" in message


def test_both_sources_or_none_are_rejected(tmp_path):
    both = error_of(tmp_path, "fields:\n  - target: City__c\n    lp_field: city\n    api_field: info.x\n")
    assert "fields[0] (target City__c): give either lp_field or api_field/msg_api_field" in both
    none = error_of(tmp_path, "fields:\n  - target: City__c\n")
    assert "needs a source" in none


def test_duplicate_and_reserved_targets(tmp_path):
    message = error_of(
        tmp_path,
        (
            "fields:\n"
            "  - {target: City__c, lp_field: city}\n"
            "  - {target: City__c, lp_field: country}\n"
            "  - {target: LP_Conversation_Id__c, lp_field: conversationId}\n"
        ),
    )
    assert "fields[1] (target City__c): City__c is already mapped by fields[0]" in message
    assert (
        "fields[2] (target LP_Conversation_Id__c): "
        "LP_Conversation_Id__c is already written by external_id_field" in message
    )


def test_all_problems_are_reported_at_once(tmp_path):
    message = error_of(
        tmp_path, ("fields:\n  - {target: A__c, lp_field: agentNme}\n  - {target: B__c, api_field: 'a[1'}\n")
    )
    assert "fields[0] (target A__c)" in message and "fields[1] (target B__c)" in message


def test_transcript_settings_are_checked(tmp_path):
    message = error_of(tmp_path, "transcript:\n  mode: attachmnet\n")
    assert "transcript.mode: must be 'field', 'attachment' or 'both'" in message
    message = error_of(tmp_path, "transcript:\n  split_parts: true\n")
    assert "split_parts: true needs part_fields" in message
    message = error_of(tmp_path, "transcript:\n  file_name: '{conversation}.txt'\n")
    assert "file_name may only use" in message


def test_yaml_errors_give_the_line(tmp_path):
    message = error_of(tmp_path, "fields:\n  - target: [unclosed\n")
    assert "team.yaml: not valid YAML at line" in message


def test_top_level_must_be_a_mapping(tmp_path):
    assert "expected a mapping" in error_of(tmp_path, "- a\n- b\n")


def test_unreadable_file(tmp_path):
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "missing.yaml")


def test_picklist_map_and_transcript_override():
    mapping = compile_mapping(
        {"fields": [{"target": "Status__c", "lp_field": "status", "map": {"OPEN": "Open"}}]}
    )
    entry = mapping.entries[0]
    assert entry.converter("open") == "Open"  # case-insensitive
    assert entry.converter("CLOSE") == "CLOSE"  # unmapped passes through to the picklist check
    attachment_only = mapping.with_transcript(mode="attachment")
    assert attachment_only.transcript.mode == "attachment"
    assert mapping.transcript.mode == "both"  # the original is untouched
