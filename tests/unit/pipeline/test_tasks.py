"""The DAG task functions without Airflow: plan units, the run report's verdict, staging cleanup."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from lesync.config import Integration
from lesync.contracts import ExtractResult, SchemaMismatchError
from lesync.pipeline import tasks

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def _integration(tmp_path, **changes) -> Integration:
    base = {
        "name": "emea",
        "staging": {"root": str(tmp_path), "retention_days": 7},
        "limits": {"slice_hours": 24},
    }
    return Integration.model_validate({**base, **changes})


def test_manual_plan_is_one_unit_per_channel_and_slice(tmp_path):
    units = tasks.plan(
        _integration(tmp_path),
        "manual",
        {"start": "2026-11-20T00:00:00+00:00", "end": "2026-11-22T12:00:00+00:00"},
        None,
        NOW,
    )
    assert [(u["channel"], u["slice"]) for u in units] == [
        ("chat", "000"), ("chat", "001"), ("chat", "002"),
        ("messaging", "000"), ("messaging", "001"), ("messaging", "002"),
    ]  # fmt: skip
    assert units[0]["start"] == "2026-11-20T00:00:00+00:00" and units[2]["end"] == "2026-11-22T12:00:00+00:00"


def test_plan_takes_airflows_pendulum_datetimes(tmp_path):
    import pendulum

    end = pendulum.datetime(2026, 11, 24, 12, tz="UTC")
    units = tasks.plan(_integration(tmp_path, channels=["chat"]), "daily", {}, end, pendulum.now("UTC"))
    assert [(u["start"], u["end"]) for u in units] == [
        ("2026-11-22T12:00:00+00:00", "2026-11-23T12:00:00+00:00"),
        ("2026-11-23T12:00:00+00:00", "2026-11-24T12:00:00+00:00"),
    ]


def test_scheduled_plans_use_the_interval_end(tmp_path):
    (periodic,) = tasks.plan(_integration(tmp_path, channels=["chat"]), "periodic", {}, NOW, NOW)
    assert (periodic["start"], periodic["end"]) == ("2026-11-24T06:00:00+00:00", "2026-11-24T12:00:00+00:00")
    daily = tasks.plan(_integration(tmp_path, channels=["chat"]), "daily", {}, NOW, NOW)
    assert daily[0]["start"] == "2026-11-22T12:00:00+00:00" and len(daily) == 2


START, END, LATER = "2026-11-20T00:00:00+00:00", "2026-11-21T00:00:00+00:00", "2026-11-25T00:00:00+00:00"


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("manual", {"start": START}, "needs both 'start' and 'end'"),
        ("manual", {"start": START, "end": LATER}, "in the future"),
        ("manual", {"start": START, "end": END, "channels": ["sms"]}, "unknown channel"),
        ("conversation", {"conversation_id": " ", "channel": "chat"}, "'conversation_id' is empty"),
        ("conversation", {"conversation_id": "abc", "channel": "email"}, "'channel' must be 'chat' or"),
        ("hourly", {}, "unknown sync kind"),
    ],
)
def test_refusals_say_what_to_fix(tmp_path, kind, params, message):
    with pytest.raises(tasks.SyncRefusedError, match=message):
        tasks.plan(_integration(tmp_path), kind, params, NOW, NOW)


def test_a_channel_the_integration_does_not_sync_is_refused(tmp_path):
    params = {
        "start": "2026-11-20T00:00:00+00:00",
        "end": "2026-11-21T00:00:00+00:00",
        "channels": ["messaging"],
    }
    with pytest.raises(tasks.SyncRefusedError, match="not enabled for integration 'emea'"):
        tasks.plan(_integration(tmp_path, channels=["chat"]), "manual", params, None, NOW)


def test_conversation_plan(tmp_path):
    params = {"conversation_id": " e-42 ", "channel": "messaging"}
    assert tasks.plan(_integration(tmp_path), "conversation", params, None, NOW) == [
        {"channel": "messaging", "conversation_id": "e-42", "slice": "conversation"}
    ]


def test_report_sums_the_stages_and_fails_on_rejections(tmp_path):
    extracted = [
        {"channel": "chat", "paths": ["a"], "records": 10, "calls": 3},
        ExtractResult(channel="messaging", paths=["b"], records=5, calls=2),  # the dataclass works too
    ]
    transformed = {"rows_path": "rows.jsonl.gz", "rows": 14, "salesforce_calls": 2}
    loaded = {"created": 9, "updated": 5, "failed": 0, "api_calls": 8, "files_uploaded": 14}
    summary = tasks.report(_integration(tmp_path), "manual", extracted, transformed, loaded)
    assert summary["extracted"] == 15 and summary["conversations"] == 14
    assert summary["liveperson_calls"] == 5 and summary["salesforce_calls"] == 10
    with pytest.raises(
        tasks.RecordsRejectedError, match="2 record\\(s\\) were rejected .* in /x/failed-1.jsonl.gz"
    ):
        tasks.report(_integration(tmp_path), "manual", extracted, transformed,
                     {**loaded, "failed": 2, "failed_path": "/x/failed-1.jsonl.gz"})  # fmt: skip


def _aged(folder, days: float) -> None:
    moment = time.time() - days * 86400
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (moment, moment))


def test_cleanup_keeps_the_raw_archive_past_staging_retention_until_its_own(tmp_path):
    integration = _integration(tmp_path)  # staging 7 days, raw archive 30 days
    runs = {name: tmp_path / "emea" / name for name in ("manual__fresh", "manual__week", "manual__old")}
    for run in runs.values():
        for part in ("raw", "rows", "load"):
            (run / part).mkdir(parents=True)
            (run / part / "part-0000.jsonl.gz").write_bytes(b"x")
    _aged(runs["manual__week"], 8)
    _aged(runs["manual__old"], 31)
    removed = tasks.cleanup(integration)
    assert sorted(removed) == ["manual__old", "manual__week/load", "manual__week/rows"]
    assert (runs["manual__week"] / "raw" / "part-0000.jsonl.gz").exists()  # kept for replays
    assert not runs["manual__old"].exists() and (runs["manual__fresh"] / "rows").exists()
    assert tasks.cleanup(integration) == []


def test_report_refuses_a_stage_result_with_a_key_it_does_not_know(tmp_path):
    """A typo between stages is an error, not a silent zero (the old ``.get(key, 0)``)."""
    extracted = [{"channel": "chat", "paths": [], "records": 1}]
    with pytest.raises(ValueError, match=r"TransformResult got unknown key\(s\) \['row'\]"):
        tasks.report(_integration(tmp_path), "manual", extracted, {"rows_path": "r", "row": 1}, {})


def _permanent_examples():
    from lesync.liveperson.errors import LivePersonAuthError, LivePersonPermissionError
    from lesync.mapping.spec import MappingError
    from lesync.salesforce.auth import SalesforceAuthError
    from lesync.salesforce.budget import ApiBudgetExceededError

    return [
        LivePersonAuthError("401 from LivePerson: check the app key and secret", 401),
        LivePersonPermissionError("403", 403),
        ApiBudgetExceededError("the org's daily API limit is spent"),
        MappingError("mapping.yaml", ["fields[2]: unknown key"]),
        SchemaMismatchError("Chat_Transcript__c has no field(s) ['X__c']"),
        tasks.SyncRefusedError("conversation c-1 is still open"),
        tasks.RecordsRejectedError("2 record(s) were rejected"),
        SalesforceAuthError(
            "Salesforce refused the client_credentials login at https://x (HTTP 400 invalid_client: bad)."
        ),
        SalesforceAuthError(
            "Salesforce refused the jwt_bearer login at https://x (HTTP 400 invalid_grant: user)."
        ),
    ]


def _transient_examples():
    from lesync.liveperson.errors import LivePersonRequestError, LivePersonUnavailableError
    from lesync.salesforce.auth import SalesforceAuthError

    return [
        LivePersonUnavailableError("429 after 5 attempts", 429),
        LivePersonRequestError("400 window too long", 400),
        SalesforceAuthError("Salesforce token endpoint https://x unreachable: ConnectionError"),
        ConnectionResetError("peer reset"),
        TimeoutError("Bulk job 750 still InProgress after 3600 s"),
    ]


@pytest.mark.parametrize("exc", _permanent_examples(), ids=lambda e: type(e).__name__)
def test_faults_no_retry_can_fix_are_permanent(exc):
    assert tasks.is_permanent(exc)


@pytest.mark.parametrize("exc", _transient_examples(), ids=lambda e: type(e).__name__)
def test_faults_that_can_pass_stay_retryable(exc):
    assert not tasks.is_permanent(exc)


def _mapping(tmp_path, mode: str):
    path = tmp_path / "mappings" / f"{mode}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"object: Chat_Transcript__c\ntranscript:\n  field: Transcript__c\n  mode: {mode}\n")
    return str(path)


@pytest.mark.parametrize("mode", ["field", "attachment", "both"])
def test_the_mapping_file_decides_where_the_transcript_goes(tmp_path, mode):
    """Before: the integration's default ``field`` silently won over a mapping that said ``both``."""
    integration = _integration(tmp_path, mapping=_mapping(tmp_path, mode))
    assert tasks.compiled_mapping(integration).transcript.mode == mode
    assert tasks.load_options(integration).transcript_mode == mode


def test_load_options_carry_the_integration_linking_and_limits(tmp_path):
    integration = _integration(
        tmp_path,
        mapping=_mapping(tmp_path, "both"),
        linking={"enabled": True, "block_domains": ["corp.example"]},
        limits={"bulk_threshold": 7},
        transcript={"max_file_mb": 1},
    )
    options = tasks.load_options(integration)
    assert options.linking.enabled and options.linking.block_domains == ("corp.example",)
    assert options.upsert.bulk_threshold == 7 and options.files.max_file_bytes == 1024 * 1024


def test_units_are_labelled_for_the_ui():
    assert tasks.unit_label({"channel": "chat", "slice": "000"}) == "chat 000"
    assert tasks.unit_label({"channel": "messaging", "slice": "conversation"}) == "messaging conversation"
