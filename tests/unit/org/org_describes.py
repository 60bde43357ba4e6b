"""Helpers: describes of an emulated org (pure dicts, no server), integrations, mappings."""

from __future__ import annotations

import copy
from typing import Any

from lesync.config import Integration
from lesync.emulators.salesforce.schema import describe_sobject, load_schema
from lesync.mapping import compile_mapping, load_mapping
from lesync.org.check import objects_involved

TRANSCRIPT = "Chat_Transcript__c"


def integration(linking: bool = True, **changes: Any) -> Integration:
    return Integration(name="acme", linking={"enabled": linking}, **changes)


def shipped_mapping():
    from lesync.config import MAPPINGS_DIR

    return load_mapping(MAPPINGS_DIR / "chat_transcript.yaml")


def describes_for(mapping, integ, schema=None) -> dict[str, Any]:
    schema = schema or load_schema()
    return {obj: copy.deepcopy(describe_sobject(schema, obj)) for obj in objects_involved(mapping, integ)}


def field_of(describes: dict[str, Any], obj: str, name: str) -> dict[str, Any]:
    return next(f for f in describes[obj]["fields"] if f["name"] == name)


def drop_field(describes: dict[str, Any], obj: str, name: str) -> None:
    describes[obj]["fields"] = [f for f in describes[obj]["fields"] if f["name"] != name]


def small_mapping(**extra: Any):
    data = {
        "object": TRANSCRIPT,
        "external_id_field": "LP_Conversation_Id__c",
        "fields": [{"target": "Agent_Name__c", "lp_field": "agentName"}],
        **extra,
    }
    return compile_mapping(data, "small.yaml")
