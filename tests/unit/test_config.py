"""integrations.yaml: defaults, and errors that name the file, the integration, the key and the fix."""

from __future__ import annotations

import textwrap

import pytest

from lesync.config import FREE_MAIL_DOMAINS, IntegrationsError, load_integrations


def _write(tmp_path, body: str, mappings=("chat_transcript.yaml",)):
    (tmp_path / "mappings").mkdir(exist_ok=True)
    for name in mappings:
        (tmp_path / "mappings" / name).write_text("object: Chat_Transcript__c\n")
    path = tmp_path / "integrations.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_minimal_entry_gets_production_defaults(tmp_path):
    (integration,) = load_integrations(_write(tmp_path, "integrations:\n  - name: emea\n"))
    assert integration.enabled and integration.channels == ("chat", "messaging")
    assert integration.liveperson_conn_id == "liveperson_default"
    assert integration.salesforce_conn_id == "salesforce_default"
    assert integration.transcript.max_file_mb == 5
    assert integration.limits.liveperson_concurrency == 2 and integration.limits.salesforce_concurrency == 2
    assert integration.limits.api_reserve_percent == 10
    assert "gmail.com" in integration.linking.block_domains
    assert set(FREE_MAIL_DOMAINS) <= set(integration.linking.block_domains)
    assert integration.mapping_path(tmp_path / "mappings").is_file()


def test_shipped_file_is_valid():
    integrations = load_integrations()
    assert [i.name for i in integrations] == ["demo"]


def test_unknown_key_names_integration_key_and_allowed_keys(tmp_path):
    path = _write(
        tmp_path,
        """
        integrations:
          - name: emea
            transcript:
              max_file: 5
    """,
    )
    with pytest.raises(IntegrationsError) as info:
        load_integrations(path)
    message = str(info.value)
    assert str(path) in message
    assert "integration 'emea', key 'transcript.max_file': unknown key" in message
    assert "max_file_mb" in message


@pytest.mark.parametrize(
    ("old_key", "mapping_key"),
    [("save_mode", "mode"), ("include_private", "include_private"), ("split_parts", "split_parts")],
)
def test_transcript_choices_moved_to_the_mapping_file(tmp_path, old_key, mapping_key):
    """The mapping file owns what goes where; the old integration key is refused with the fix."""
    path = _write(tmp_path, f"integrations:\n  - name: emea\n    transcript: {{{old_key}: both}}\n")
    with pytest.raises(IntegrationsError) as info:
        load_integrations(path)
    message = str(info.value)
    assert f"integration 'emea', key 'transcript': 'transcript.{old_key}' moved to the mapping" in message
    assert f"'transcript: {{{mapping_key}: ...}}'" in message


def test_linking_is_one_model_the_load_reads(tmp_path):
    from lesync.salesforce.settings import LinkingSettings as LoadLinking

    body = "integrations:\n  - name: emea\n    linking: {enabled: true, block_addresses: [X@Corp.com]}\n"
    (integration,) = load_integrations(_write(tmp_path, body))
    assert isinstance(integration.linking, LoadLinking)
    assert integration.linking.block_addresses == ("x@corp.com",)
    assert [(r.object, r.match, r.lookup) for r in integration.linking.rules] == [
        ("Contact", "email", "Contact__c"),
        ("Contact", "phone", "Contact__c"),
        ("Lead", "email", "Lead__c"),
        ("Lead", "phone", "Lead__c"),
    ]


def test_bad_value_names_choices(tmp_path):
    path = _write(
        tmp_path,
        """
        integrations:
          - name: emea
          - name: apac
            channels: [chat, sms]
            schedule: {daily_hour: 25, timezone: Mars/Olympus}
    """,
    )
    with pytest.raises(IntegrationsError) as info:
        load_integrations(path)
    message = str(info.value)
    assert "3 problem(s)" in message
    assert "integration 'apac', key 'channels.1'" in message and "'chat' or 'messaging'" in message
    assert "key 'schedule.daily_hour'" in message and "23" in message
    assert "unknown time zone 'Mars/Olympus'" in message


def test_names_must_be_unique_and_dag_safe(tmp_path):
    with pytest.raises(IntegrationsError, match="two integrations are named 'emea'"):
        load_integrations(_write(tmp_path, "integrations:\n  - name: emea\n  - name: emea\n"))
    with pytest.raises(IntegrationsError, match="integration 'EMEA chat', key 'name'.*lowercase"):
        load_integrations(_write(tmp_path, "integrations:\n  - name: EMEA chat\n"))


def test_missing_mapping_file_is_named_with_alternatives(tmp_path):
    path = _write(tmp_path, "integrations:\n  - name: emea\n    mapping: nope.yaml\n")
    with pytest.raises(
        IntegrationsError, match="key 'mapping': file .*nope.yaml does not exist.*chat_transcript.yaml"
    ):
        load_integrations(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(IntegrationsError, match="file not found"):
        load_integrations(tmp_path / "absent.yaml")
    with pytest.raises(IntegrationsError, match="not valid YAML"):
        load_integrations(_write(tmp_path, "integrations: [\n"))
    with pytest.raises(IntegrationsError, match="key 'integrations': required key is missing"):
        load_integrations(_write(tmp_path, "something: else\n"))
