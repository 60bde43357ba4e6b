"""Redaction end to end: a chat with a card number, a CVV, an SSN and an IBAN lands in Salesforce
redacted in the transcript field and in the transcript file; the look-alikes stay."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest

from emulator_clients import salesforce_settings
from lesync.config import load_integrations
from lesync.contracts import ExtractResult
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce
from lesync.pipeline import tasks
from lesync.pipeline.staging import write_jsonl_gz
from lesync.salesforce import build_client

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (
    REPO / "tests/fixtures/lp_docs_examples/enghist_interactions_search_response.docs_example_surveys.json"
)
SECRETS = {
    "4111 1111 1111 1111": "[redacted card]",
    "CVV 123": "[redacted code]",
    "123-45-6789": "[redacted SSN]",
    "DE89 3704 0044 0532 0130 00": "[redacted IBAN]",
}
LOOK_ALIKES = ("order #4111111122", "tracking 1Z999AA10123456784", "2017-02-01 17:12")
INTEGRATIONS = """
integrations:
  - name: pci
    mapping: chat_transcript.yaml
    redaction:
      raw_archive: true
"""


@pytest.fixture(scope="module")
def integration(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pci")
    (folder / "mappings").mkdir()
    shipped = REPO / "include" / "mappings" / "chat_transcript.yaml"
    (folder / "mappings" / "chat_transcript.yaml").write_text(shipped.read_text())
    (folder / "integrations.yaml").write_text(INTEGRATIONS)
    (found,) = load_integrations(folder / "integrations.yaml")
    return found


@pytest.fixture(scope="module")
def salesforce(tmp_path_factory):
    emulator = start_salesforce(SalesforceEmulatorConfig(), data_dir=tmp_path_factory.mktemp("sf"))
    settings = salesforce_settings(emulator)
    yield emulator, build_client(settings)
    emulator.stop()


def chat_with_secrets() -> dict:
    record = copy.deepcopy(json.loads(EXAMPLE.read_text())["interactionHistoryRecords"][0])
    line = copy.deepcopy(record["transcript"]["lines"][-1])
    line.update(
        source="visitor",
        by="Visitor",
        text="my card is 4111 1111 1111 1111, CVV 123, SSN 123-45-6789, IBAN DE89 3704 0044 0532 0130 00; "
        "about order #4111111122 (tracking 1Z999AA10123456784) from 2017-02-01 17:12",
    )
    record["transcript"]["lines"].append(line)
    return record


def test_card_ssn_and_iban_land_redacted_in_the_field_and_the_file(integration, salesforce, tmp_path):
    emulator, client = salesforce
    record = chat_with_secrets()
    raw = tmp_path / "raw" / "chat-000-0000.jsonl.gz"
    write_jsonl_gz(raw, [record])
    extracted = [ExtractResult(channel="chat", paths=[str(raw)], records=1)]
    transformed = tasks.transform(integration, extracted, "manual__pci", client=client)
    loaded = tasks.load(integration, transformed, "manual__pci", client=client)
    assert (loaded["created"], loaded["failed"], loaded["files_uploaded"]) == (1, 0, 1)

    (stored,) = emulator.state.store.records("Chat_Transcript__c")
    (version,) = emulator.state.store.records("ContentVersion")
    data = version["VersionData"]
    file_text = (data if isinstance(data, bytes) else base64.b64decode(data)).decode("utf-8")
    for text in (stored["Transcript__c"], file_text):
        for secret, replacement in SECRETS.items():
            assert secret not in text and replacement in text
        for kept in LOOK_ALIKES:
            assert kept in text


def test_the_raw_archive_keeps_only_the_redacted_record(integration):
    _, prepare = tasks._extract_choices(integration)
    archived = json.dumps(prepare(chat_with_secrets()))
    assert all(secret not in archived for secret in SECRETS)
    assert "order #4111111122" in archived
