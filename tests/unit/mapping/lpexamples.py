"""LivePerson's documented example payloads (copied into tests/fixtures/lp_docs_examples)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

from lesync.mapping import fields_meta_from_schema, load_mapping

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "fixtures" / "lp_docs_examples"
DEFAULT_MAPPING = REPO / "include" / "mappings" / "chat_transcript.yaml"


@cache
def _load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def chat_surveys() -> dict:
    """Chat with pre/post-chat surveys, PURCHASE SDEs, 9 transcript lines."""
    data = _load("enghist_interactions_search_response.docs_example_surveys.json")
    return copy.deepcopy(data["interactionHistoryRecords"][0])


def chat_all_sdes() -> dict:
    """Chat with every SDE container, no sdeType keys, flat personalInfo, viewProduct."""
    data = _load("enghist_interactions_search_response.docs_example_all_sdes.REPAIRED.json")
    return copy.deepcopy(data["interactionHistoryRecords"][0])


def customer_info_sdes() -> dict:
    return copy.deepcopy(_load("enghist_sde_customerInfo_example.docs.json"))


def messaging() -> dict:
    data = _load("msghist_conversations_search_response.docs_example.json")
    return copy.deepcopy(data["conversationHistoryRecords"][0])


def example_path(name: str) -> Path:
    return EXAMPLES / name


@cache
def default_mapping():
    return load_mapping(DEFAULT_MAPPING)


@cache
def org_fields():
    return fields_meta_from_schema("Chat_Transcript__c")
