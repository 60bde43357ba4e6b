"""The ledger on both backends: outcomes per attempt, run counts over all attempts, record status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lesync.state import LedgerOutcome, StateStore, StateStoreError, dag_run_of, run_key

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

RUN = "lesync__acme__window/scheduled__2026-03-01"


def ok(
    lp_id: str, operation: str = "created", sf_id: str | None = None, channel: str = "chat"
) -> LedgerOutcome:
    return LedgerOutcome(channel, lp_id, operation, salesforce_id=sf_id or f"0Mw{lp_id}")


def bad(lp_id: str, code: str = "INVALID_FIELD", transient: bool = False, **kw) -> LedgerOutcome:
    return LedgerOutcome("chat", lp_id, "failed", error_code=code, transient=transient, **kw)


def test_counts_cover_every_attempt_of_the_run(store: StateStore) -> None:
    store.start_run("acme", "window", RUN, T0, T0 + timedelta(hours=1), now=T0)
    store.record_outcomes(
        RUN, "acme", [ok("1"), ok("2"), bad("3", "UNABLE_TO_LOCK_ROW", True)], attempt=1, now=T0
    )
    # Airflow retried the load task: what attempt 1 created is now "updated", 3 now succeeds.
    retry = [ok("1", "updated"), ok("2", "unchanged"), ok("3", "created")]
    store.record_outcomes(RUN, "acme", retry, attempt=2, now=T0 + timedelta(minutes=5))

    counts = store.run_counts(RUN)

    assert (counts["created"], counts["updated"], counts["unchanged"], counts["failed"]) == (3, 0, 0, 0)
    assert counts["records"] == 3


def test_reporting_the_same_attempt_again_counts_nothing_twice(store: StateStore) -> None:
    batch = [ok("1"), bad("2", "UNABLE_TO_LOCK_ROW", True)]
    store.record_outcomes(RUN, "acme", batch, attempt=1, now=T0)
    store.record_outcomes(RUN, "acme", batch, attempt=1, now=T0 + timedelta(seconds=1))

    assert store.run_counts(RUN)["created"] == 1
    assert store.run_counts(RUN)["failed"] == 1
    assert store.record_status("acme", "2")["failures"] == 1
    assert len(store.record_history("acme", "1")) == 1


def test_a_later_report_of_the_same_attempt_replaces_its_outcome(store: StateStore) -> None:
    store.record_outcomes(RUN, "acme", [bad("1", "UNABLE_TO_LOCK_ROW", True)], attempt=1, now=T0)
    store.record_outcomes(RUN, "acme", [ok("1")], attempt=1, now=T0 + timedelta(seconds=5))

    assert store.run_counts(RUN)["created"] == 1
    assert store.run_counts(RUN)["failed"] == 0
    status = store.record_status("acme", "1")
    assert status["operation"] == "created"
    assert status["resolved_at"] == T0 + timedelta(seconds=5)


def test_a_new_runs_success_resolves_an_earlier_failure(store: StateStore) -> None:
    store.record_outcomes("run-1", "acme", [bad("7", fields=("Body",), message="bad value")], now=T0)
    later = T0 + timedelta(days=1)
    store.record_outcomes("run-2", "acme", [ok("7", "created", "0Mw7")], now=later)

    status = store.record_status("acme", "7")
    assert status["operation"] == "created"
    assert status["resolved_at"] == later
    assert status["first_failure_at"] == T0
    assert status["salesforce_id"] == "0Mw7"
    assert store.failed_records("acme") == []
    healed = store.failed_records("acme", resolved=True)
    assert [(r["liveperson_id"], r["error_code"], r["fields"]) for r in healed] == [
        ("7", "INVALID_FIELD", ["Body"])
    ]


def test_failures_count_attempts_across_runs_and_restart_after_a_success(store: StateStore) -> None:
    for number in range(3):
        store.record_outcomes(f"run-{number}", "acme", [bad("9")], now=T0 + timedelta(hours=number))
    assert store.record_status("acme", "9")["failures"] == 3
    store.record_outcomes("run-3", "acme", [ok("9")], now=T0 + timedelta(hours=3))
    store.record_outcomes("run-4", "acme", [bad("9", "STRING_TOO_LONG")], now=T0 + timedelta(hours=4))

    status = store.record_status("acme", "9")
    assert (status["failures"], status["error_code"], status["resolved_at"]) == (1, "STRING_TOO_LONG", None)
    assert status["first_failure_at"] == T0 + timedelta(hours=4)


def test_a_skipped_duplicate_never_hides_the_records_real_outcome(store: StateStore) -> None:
    store.record_outcomes(RUN, "acme", [ok("1"), LedgerOutcome("chat", "1", "skipped")], now=T0)
    store.record_outcomes(RUN, "acme", [LedgerOutcome("chat", "1", "skipped")], now=T0)

    assert store.run_counts(RUN)["created"] == 1
    assert store.run_counts(RUN)["skipped"] == 0
    assert store.record_status("acme", "1")["operation"] == "created"


def test_file_outcomes_are_counted_apart_from_records(store: StateStore) -> None:
    outcomes = [
        ok("1"),
        ok("2"),
        LedgerOutcome("chat", "1", "created", salesforce_id="068A", target="file"),
        LedgerOutcome("chat", "2", "failed", error_code="HTTP_5XX", transient=True, target="file"),
    ]
    store.record_outcomes(RUN, "acme", outcomes, now=T0)

    counts = store.run_counts(RUN)
    assert (counts["created"], counts["failed"]) == (2, 0)
    assert (counts["files_uploaded"], counts["files_failed"]) == (1, 1)
    failed = store.failed_records("acme")
    assert [(r["liveperson_id"], r["target"]) for r in failed] == [("2", "file")]


def test_finish_run_takes_record_counts_from_the_ledger(store: StateStore) -> None:
    store.start_run("acme", "window", RUN, T0, T0 + timedelta(hours=1), now=T0)
    store.record_outcomes(RUN, "acme", [ok("1"), ok("2")], attempt=1, now=T0)
    store.record_outcomes(RUN, "acme", [ok("1", "updated"), ok("2", "updated")], attempt=2, now=T0)
    summary = {
        "extracted": 3,
        "created": 0,
        "updated": 2,
        "skipped": 1,
        "liveperson_calls": 4,
        "salesforce_calls": 3,
    }

    stored = store.finish_run(RUN, summary, "success", {"verdict": "complete"}, now=T0 + timedelta(hours=1))

    assert (stored["created"], stored["updated"], stored["extracted"]) == (2, 0, 3)
    assert stored["skipped"] == 1  # a duplicate the load skipped without a ledger row
    run = store.get_run(RUN)
    assert (run["state"], run["created"], run["updated"], run["liveperson_calls"]) == ("success", 2, 0, 4)
    assert run["summary"]["created"] == 2
    assert run["verdict"] == {"verdict": "complete"}
    assert run["finished_at"] == T0 + timedelta(hours=1)


def test_start_run_is_idempotent_and_refuses_a_run_id_of_another_integration(store: StateStore) -> None:
    store.start_run("acme", "window", RUN, T0, T0 + timedelta(hours=1), now=T0)
    store.finish_run(RUN, {}, "failed", now=T0)
    store.start_run("acme", "window", RUN, T0, T0 + timedelta(hours=1), now=T0 + timedelta(minutes=1))

    runs = store.latest_runs("acme")
    assert [(r["run_id"], r["state"], r["started_at"]) for r in runs] == [(RUN, "running", T0)]
    with pytest.raises(StateStoreError, match="run_key"):
        store.start_run("globex", "window", RUN, T0, T0)
    with pytest.raises(StateStoreError, match="start_run first"):
        store.finish_run("never-started", {}, "success")


def test_latest_runs_newest_first_and_only_the_integrations(store: StateStore) -> None:
    for number in range(4):
        store.start_run("acme", "window", f"acme-{number}", T0, T0, now=T0 + timedelta(hours=number))
    store.start_run("globex", "window", "globex-0", T0, T0, now=T0 + timedelta(days=1))

    assert [r["run_id"] for r in store.latest_runs("acme", limit=3)] == ["acme-3", "acme-2", "acme-1"]


def test_failed_records_filters(store: StateStore) -> None:
    store.record_outcomes("run-1", "acme", [bad("1", "INVALID_FIELD"), bad("2", "STRING_TOO_LONG")], now=T0)
    messaging = LedgerOutcome("messaging", "m3", "failed", error_code="INVALID_FIELD")
    store.record_outcomes("run-2", "acme", [messaging], now=T0 + timedelta(days=2))
    store.record_outcomes("run-2", "globex", [bad("1")], now=T0)

    def ids(**filters) -> list[str]:
        return [r["liveperson_id"] for r in store.failed_records("acme", **filters)]

    assert ids() == ["m3", "1", "2"]
    assert ids(run_id="run-1") == ["1", "2"]
    assert ids(error_code="INVALID_FIELD") == ["m3", "1"]
    assert ids(channel="messaging") == ["m3"]
    assert ids(since=T0 + timedelta(days=1)) == ["m3"]
    assert ids(until=T0 + timedelta(days=1)) == ["1", "2"]
    assert ids(limit=1, offset=1) == ["1"]
    assert store.count_failed_records("acme", error_code="INVALID_FIELD") == 2
    assert store.error_code_counts("acme") == {"INVALID_FIELD": 2, "STRING_TOO_LONG": 1}


def test_outcome_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="operation 'deleted'"):
        LedgerOutcome("chat", "1", "deleted")
    with pytest.raises(ValueError, match="liveperson_id is empty"):
        LedgerOutcome("chat", "", "created")
    with pytest.raises(ValueError, match="target"):
        LedgerOutcome("chat", "1", "created", target="attachment")


def test_naive_datetimes_are_refused(store: StateStore) -> None:
    from datetime import datetime

    with pytest.raises(Exception, match="naive datetime"):
        store.start_run("acme", "window", RUN, datetime(2026, 3, 1), None)


def test_run_keys_are_unique_across_dags_and_split_back() -> None:
    key = run_key("lesync__acme__window", "scheduled__2026-03-01T00:00:00+00:00")
    assert key != run_key("lesync__globex__window", "scheduled__2026-03-01T00:00:00+00:00")
    assert dag_run_of(key) == ("lesync__acme__window", "scheduled__2026-03-01T00:00:00+00:00")
    with pytest.raises(ValueError, match="not a run key"):
        dag_run_of("manual__1")


def test_a_record_error_becomes_a_failed_outcome() -> None:
    from lesync.contracts import RecordError

    error = RecordError("STRING_TOO_LONG", "Body: data value too large", ("Body",))
    outcome = LedgerOutcome.failure("messaging", "c1", error, transient=False)
    assert (outcome.operation, outcome.error_code, outcome.fields) == ("failed", "STRING_TOO_LONG", ("Body",))
    assert outcome.message == "Body: data value too large" and outcome.transient is False
