"""The manual DAG end to end: emulators, Airflow on SQLite, dag.test."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from lesync.pipeline.staging import read_jsonl_gz

pytestmark = pytest.mark.e2e
MANUAL = "lesync__demo__manual"


def _window(org) -> tuple[dt.datetime, dt.datetime]:
    return org.now - dt.timedelta(days=2, hours=1), org.now


def test_every_conversation_lands_exactly_once(org):
    start, end = _window(org)
    run = org.run(MANUAL, {"start": start.isoformat(), "end": end.isoformat()})
    assert str(run.state) == "success", org.states(run)
    ids = org.ids()
    assert max(ids.values()) == 1, "a conversation landed twice"
    assert org.expected_ids(start, end) <= set(ids)
    assert len(ids) >= 250
    channels = {r["SDK_API_Type__c"] for r in org.transcripts()}
    assert channels == {"Chat", "Messaging"}
    assert org.states(run)["extract"].startswith("success x")  # mapped: one per channel and slice
    labels = sorted(ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "extract")
    assert labels[0] == "chat 000" and all(re.fullmatch(r"(chat|messaging) \d{3}", x) for x in labels)


def test_rerun_changes_nothing(org):
    start, end = _window(org)
    if not org.transcripts():  # self-contained: do the first sync when run alone
        assert str(org.run(MANUAL, {"start": start.isoformat(), "end": end.isoformat()}).state) == "success"
    before = {r["Id"]: r for r in org.transcripts()}
    assert before
    files_before = org.salesforce.state.store.count("ContentVersion")
    run = org.run(MANUAL, {"start": start.isoformat(), "end": end.isoformat()})
    assert str(run.state) == "success", org.states(run)
    after = {r["Id"]: r for r in org.transcripts()}
    assert set(after) == set(before)
    strip = lambda r: {k: v for k, v in r.items() if k not in ("LastModifiedDate", "SystemModstamp")}  # noqa: E731
    assert [strip(after[i]) for i in sorted(after)] == [strip(before[i]) for i in sorted(before)]
    assert org.salesforce.state.store.count("ContentVersion") == files_before


@pytest.mark.parametrize(
    ("start_delta", "end_delta"),
    [
        (dt.timedelta(days=31, hours=1), dt.timedelta(hours=1)),
        (dt.timedelta(hours=2), dt.timedelta(hours=-1)),
    ],
    ids=["31-day window", "end in the future"],
)
def test_refused_windows_fail_at_plan_without_calling_anyone(org, start_delta, end_delta):
    calls_before = org.liveperson.state.calls.total()
    start, end = org.now - start_delta, org.now - end_delta
    run = org.run(MANUAL, {"start": start.isoformat(), "end": end.isoformat()})
    states = org.states(run)
    assert str(run.state) == "failed"
    assert states["plan"] == "failed"
    assert "extract" not in states or "success" not in states["extract"]
    assert org.liveperson.state.calls.total() == calls_before


def test_rejected_records_fail_the_run_after_loading_the_rest(org):
    victims = sorted(org.ids())[:3]
    org.salesforce.state.add_validation_rule(
        "Chat_Transcript__c",
        lambda record: "Agent notes are locked" if record.get("LP_Conversation_Id__c") in victims else None,
    )
    start, end = _window(org)
    modified_before = {r["LP_Conversation_Id__c"]: r["LastModifiedDate"] for r in org.transcripts()}
    run = org.run(MANUAL, {"start": start.isoformat(), "end": end.isoformat()})
    states = org.states(run)
    assert str(run.state) == "failed"
    assert states["load"] == "success" and states["report"] == "failed"
    assert states["cleanup"] == "success"
    failed_files = list(org.staging_root.glob("**/load/failed-*.jsonl.gz"))
    assert failed_files
    rejected = [row for path in failed_files for row in read_jsonl_gz(path)]
    assert {row["conversation_id"] for row in rejected} >= set(victims)
    assert all("Agent notes are locked" in str(row) for row in rejected if row["conversation_id"] in victims)
    untouched = {r["LP_Conversation_Id__c"]: r["LastModifiedDate"] for r in org.transcripts()}
    assert all(untouched[v] == modified_before[v] for v in victims)
    org.salesforce.state.store.validation_rules.pop("Chat_Transcript__c")
