"""Redaction: the labelled corpus, the checks, the switches, and where the policy applies."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lpexamples import chat_surveys, default_mapping, messaging, org_fields

from lesync.mapping import RedactionPolicy, compile_mapping, redact_record, redactor, transform_record
from lesync.mapping.redaction import is_card_number, is_iban, luhn_valid

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "bench"))
from redaction import load_corpus, score  # noqa: E402

CARD, SSN, IBAN = "4111 1111 1111 1111", "123-45-6789", "DE89 3704 0044 0532 0130 00"
SECRET_TEXT = f"card {CARD}, CVV 123, ssn {SSN}, iban {IBAN}, mail me at jo@example.com"


def default_redactor():
    return redactor(RedactionPolicy())


@pytest.mark.parametrize("row", load_corpus(), ids=lambda row: f"line{row['id']}")
def test_corpus_line(row):
    out = default_redactor().text(row["text"])
    for kind, text in row["secrets"]:
        assert text not in out, f"{kind} {text!r} survived: {out!r}"
        assert getattr(RedactionPolicy().replacement, kind) in out
    for text in row["lookalikes"]:
        assert text in out, f"look-alike {text!r} was redacted: {out!r}"


def test_corpus_score_is_perfect_and_counts_every_replacement():
    result = score(default_redactor(), load_corpus())
    assert result.found > 50 and result.lookalikes > 30
    assert (result.precision, result.recall) == (1.0, 1.0)


def test_checks():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert is_card_number("4111111111111111") and not is_card_number("4111111111111112")
    assert not is_card_number("1485969115781")  # an epoch-ms timestamp that passes Luhn or not
    assert is_iban("GB82 WEST 1234 5698 7654 32") and not is_iban("GB82 WEST 1234 5698 7654 33")
    assert not is_iban("XX82 WEST 1234 5698 7654 32")  # no such country


def test_detectors_switch_off_one_by_one():
    for name in ("payment_card", "card_security_code", "us_ssn", "iban", "email"):
        policy = RedactionPolicy(detectors={name: False})
        out = redactor(policy).text(SECRET_TEXT)
        assert getattr(policy.replacement, name) not in out, name
    assert redactor(RedactionPolicy(detectors={"phone": False})).text("call +1 212-788-8877") == (
        "call +1 212-788-8877"
    )


def test_replacement_text_is_the_policys():
    policy = RedactionPolicy(replacement={"payment_card": "****"})
    assert redactor(policy).text(f"card {CARD}") == "card ****"


def test_text_without_digits_or_at_sign_is_returned_as_is():
    text = "Hello, I need help with my order"
    assert default_redactor().text(text) is text


# --------------------------------------------------------------------------------------------
# In the transform


def chat_with_secrets() -> dict:
    record = chat_surveys()
    record["transcript"]["lines"][3]["text"] = SECRET_TEXT
    return record


def redacting(policy: RedactionPolicy | None = None, **changes):
    return default_mapping().with_transcript(mode="both").with_redaction(policy or RedactionPolicy(**changes))


def test_transcript_field_and_file_are_redacted():
    row = transform_record(chat_with_secrets(), "chat", redacting(), org_fields()).to_dict()
    for text in (row["fields"]["Transcript__c"], row["transcript_file"]["content"]):
        for secret in (CARD, SSN, IBAN, "jo@example.com", "CVV 123"):
            assert secret not in text
        assert "[redacted card]" in text and "[redacted IBAN]" in text and "CVV [redacted code]" in text
        assert "liorr@liveperson.com:" in text  # speaker names are not free text


def test_without_a_policy_nothing_is_redacted():
    row = transform_record(chat_with_secrets(), "chat", default_mapping(), org_fields()).to_dict()
    assert CARD in row["fields"]["Transcript__c"]


def test_disabled_policy_redacts_nothing():
    mapping = redacting(RedactionPolicy(enabled=False))
    row = transform_record(chat_with_secrets(), "chat", mapping, org_fields()).to_dict()
    assert CARD in row["fields"]["Transcript__c"] and CARD in row["transcript_file"]["content"]


def test_field_only_and_file_only_scopes():
    field_only = redacting(apply_to={"transcript_file": False})
    row = transform_record(chat_with_secrets(), "chat", field_only, org_fields()).to_dict()
    assert CARD not in row["fields"]["Transcript__c"] and CARD in row["transcript_file"]["content"]
    file_only = redacting(apply_to={"transcript_text": False})
    row = transform_record(chat_with_secrets(), "chat", file_only, org_fields()).to_dict()
    assert CARD in row["fields"]["Transcript__c"] and CARD not in row["transcript_file"]["content"]


def test_messaging_messages_are_redacted():
    record = messaging()
    record["messageRecords"][0]["messageData"]["msg"]["text"] = SECRET_TEXT
    row = transform_record(record, "messaging", redacting(), org_fields()).to_dict()
    assert CARD not in row["fields"]["Transcript__c"] and "[redacted card]" in row["fields"]["Transcript__c"]


def mapped(policy: RedactionPolicy, redact=None) -> dict:
    entries = [
        {"target": "Visitor_Email__c", "lp_field": "visitorEmail"},
        {"target": "Account_Number__c", "api_field": "surveys.preChat[displayName=Email].value"},
    ]
    if redact is not None:
        entries[0]["redact"] = redact
    mapping = compile_mapping({"transcript": None, "fields": entries}).with_redaction(policy)
    return transform_record(chat_surveys(), "chat", mapping, org_fields()).to_dict()["fields"]


def test_structured_fields_stay_and_free_text_fields_are_redacted():
    fields = mapped(RedactionPolicy())
    assert "@" in fields["Visitor_Email__c"]  # mapped on purpose: stays
    assert fields["Account_Number__c"] == "[redacted email]"  # a custom path: free text


def test_policy_all_and_entry_overrides():
    assert mapped(RedactionPolicy(apply_to={"mapped_fields": "all"})).get("Visitor_Email__c") is None
    # the redacted text is no email address any more: the field reports it instead of loading it
    assert "@" not in str(mapped(RedactionPolicy(), redact=True).get("Visitor_Email__c"))
    none = mapped(RedactionPolicy(apply_to={"mapped_fields": "none"}))
    assert "@" in none["Account_Number__c"]


def test_raw_records_are_redacted_only_when_the_policy_says():
    record = chat_with_secrets()
    assert redact_record(record, RedactionPolicy()) is record  # raw_archive off by default
    assert redact_record(record, None) is record
    redacted = redact_record(record, RedactionPolicy(raw_archive=True))
    assert CARD not in str(redacted) and CARD in str(record)  # a copy; the original is untouched
    assert redacted["info"]["startTimeL"] == record["info"]["startTimeL"]
    assert redacted.keys() == record.keys()


def test_policy_refuses_unknown_keys():
    with pytest.raises(ValueError, match="cards"):
        RedactionPolicy.model_validate({"detectors": {"cards": True}})
