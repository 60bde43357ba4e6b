"""Operations end to end: the ledger, replays, transient healing, run counts and reconcile.

Real DAGs run by ``dag.test`` against both emulators, with the module's own SQLite state store
(``use_fresh_state_store``). Each test syncs its own window of the emulator's two days, so the
tests do not see each other's records.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lesync.config import load_integrations
from lesync.pipeline import operations, tasks
from lesync.state import RetryPolicy, run_key

pytestmark = pytest.mark.e2e
MANUAL = "lesync__demo__manual"
REPLAY = "lesync__demo__replay"
RECONCILE = "lesync__demo__reconcile"
OBJECT = "Chat_Transcript__c"
RULE_MESSAGE = "Agent notes are locked"


@pytest.fixture(scope="module")
def demo():
    [integration] = [i for i in load_integrations() if i.name == "demo"]
    return integration


@pytest.fixture(scope="module")
def store(org, demo):
    """The store the tasks use (module-fresh), with no backoff so a transient failure is due at
    the next run (the policy knob, instead of sleeping 15 minutes)."""
    state = operations.state_store(demo)
    state.retry_policy = RetryPolicy(base=dt.timedelta(0), cap=dt.timedelta(0))
    return state


def _span(org, hours_ago_start: float, hours_ago_end: float) -> dict[str, str]:
    start = org.now - dt.timedelta(hours=hours_ago_start)
    end = org.now - dt.timedelta(hours=hours_ago_end)
    return {"start": start.isoformat(), "end": end.isoformat()}


def _window_ids(org, conf: dict[str, str]) -> list[str]:
    return sorted(
        org.expected_ids(dt.datetime.fromisoformat(conf["start"]), dt.datetime.fromisoformat(conf["end"]))
    )


def _reject(org, victims: set[str]) -> None:
    org.salesforce.state.add_validation_rule(
        OBJECT, lambda record: RULE_MESSAGE if record.get("LP_Conversation_Id__c") in victims else None
    )


def _clear_rules(org) -> None:
    org.salesforce.state.store.validation_rules.pop(OBJECT, None)


def _key(dag_id: str, run) -> str:
    return run_key(dag_id, run.run_id)


def _liveperson_calls(org) -> int:
    return org.liveperson.state.calls.total()


def test_a_rejection_lands_in_the_ledger_and_replays_resolve_it(org, store, demo):
    conf = _span(org, 8, 0)
    ids = _window_ids(org, conf)
    victims = ids[:3]
    _reject(org, set(victims))
    try:
        sync = org.run(MANUAL, conf)
    finally:
        _clear_rules(org)
    assert str(sync.state) == "failed" and org.states(sync)["load"] == "success"
    for victim in victims:
        status = store.record_status("demo", victim)
        assert status["operation"] == "failed", status
        assert status["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        assert RULE_MESSAGE in status["message"] and status["transient"] is False
        assert status["last_run_id"] == _key(MANUAL, sync)
    assert victims[0] not in org.ids()
    assert store.get_run(_key(MANUAL, sync))["failed"] == 3

    # 1) replay one id: the record comes from the run's raw archive, no LivePerson call
    before = _liveperson_calls(org)
    replay = org.run(REPLAY, {"liveperson_ids": [victims[0]]})
    assert str(replay.state) == "success", org.states(replay)
    assert _liveperson_calls(org) == before, "the replay called LivePerson although the archive had it"
    resolved = store.record_status("demo", victims[0])
    assert resolved["operation"] == "created" and resolved["resolved_at"] is not None
    assert (
        resolved["salesforce_id"]
        == org.salesforce.state.store.find_ids(OBJECT, "LP_Conversation_Id__c", victims[0])[0]
    )
    run = store.get_run(_key(REPLAY, replay))
    assert (run["state"], run["created"], run["updated"], run["failed"]) == ("success", 1, 0, 0)
    assert {store.record_status("demo", v)["operation"] for v in victims[1:]} == {"failed"}

    # 2) replay by error code after the raw archive is gone: fetched from LivePerson by id
    raw = tasks.run_dir(demo, sync.run_id) / "raw"
    raw.fs.rm(raw.path, recursive=True)
    assert not raw.exists()
    before = _liveperson_calls(org)
    replay = org.run(REPLAY, {"error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION"})
    assert str(replay.state) == "success", org.states(replay)
    assert _liveperson_calls(org) > before, "without the archive the replay must fetch by id"
    run = store.get_run(_key(REPLAY, replay))
    assert (run["created"], run["updated"], run["failed"]) == (2, 0, 0)
    counts = org.ids()
    for victim in victims:
        assert counts[victim] == 1, f"{victim} landed {counts[victim]} times"
        assert store.record_status("demo", victim)["resolved_at"] is not None
    assert store.failed_records("demo") == []
    assert {r["liveperson_id"] for r in store.failed_records("demo", resolved=True)} >= set(victims)


def test_a_transient_failure_heals_on_the_next_run_of_another_window(org, store):
    first, second = _span(org, 20, 14), _span(org, 14, 8)
    victim = _window_ids(org, first)[0]
    assert victim not in _window_ids(org, second)
    org.salesforce.state.lock_rows({victim: 2})  # the upsert and its in-run retry both fail
    sync = org.run(MANUAL, first)
    assert str(sync.state) == "failed"
    status = store.record_status("demo", victim)
    assert (status["operation"], status["error_code"], status["transient"]) == (
        "failed",
        "UNABLE_TO_LOCK_ROW",
        True,
    )
    assert status["next_retry_at"] is not None
    assert victim not in org.ids()

    nxt = org.run(MANUAL, second)
    assert str(nxt.state) == "success", org.states(nxt)
    healed = store.record_status("demo", victim)
    assert healed["operation"] == "created" and healed["resolved_at"] is not None
    assert healed["last_run_id"] == _key(MANUAL, nxt)
    assert org.ids()[victim] == 1
    run = store.get_run(_key(MANUAL, nxt))
    assert run["failed"] == 0 and run["created"] >= 1


def test_counts_cover_every_attempt_of_a_retried_load(org, store, demo):
    conf = _span(org, 30, 24)
    run_id = "manual__retried-load"
    before = set(org.ids())
    units = tasks.plan(demo, "manual", conf, None, run_id=run_id)
    extracted = [tasks.extract(demo, unit, run_id) for unit in units]
    transformed = tasks.transform(demo, extracted, run_id)
    first = tasks.load(demo, transformed, run_id, kind="manual", attempt=1)
    second = tasks.load(demo, transformed, run_id, kind="manual", attempt=2)  # Airflow's retry
    new = set(org.ids()) - before
    assert first["created"] == len(new) > 0
    assert second["created"] == 0 and second["updated"] >= len(new)  # the last attempt alone says "updated"
    summary = tasks.report(demo, "manual", extracted, transformed, second, run_id)
    assert summary["created"] == len(new)
    assert summary["updated"] == second["updated"] - len(new)
    stored = store.get_run(run_key(MANUAL, run_id))
    assert (stored["state"], stored["created"], stored["failed"]) == ("success", len(new), 0)


def test_a_window_run_stores_an_agreeing_verdict(org, store):
    sync = org.run(MANUAL, _span(org, 44, 32))
    assert str(sync.state) == "success", org.states(sync)
    verdict = store.get_run(_key(MANUAL, sync))["verdict"]
    assert verdict["agrees"] is True, verdict
    assert {c["channel"] for c in verdict["channels"]} == {"chat", "messaging"}
    assert sum(c["liveperson"] for c in verdict["channels"]) > 0


def _delete_transcript(org, liveperson_id: str) -> None:
    [record_id] = org.salesforce.state.store.find_ids(OBJECT, "LP_Conversation_Id__c", liveperson_id)
    assert org.salesforce.state.store.delete(OBJECT, record_id).success
    assert liveperson_id not in org.ids()


def test_reconcile_finds_a_deleted_transcript_and_heals_it(org, store):
    conf = _span(org, 44, 32)
    if not set(_window_ids(org, conf)) <= set(org.ids()):  # self-contained when run alone
        assert str(org.run(MANUAL, conf).state) == "success"
    gone = _window_ids(org, conf)[1]
    _delete_transcript(org, gone)
    run = org.run(RECONCILE, {**conf, "heal": True})
    assert str(run.state) == "success", org.states(run)
    verdict = store.get_run(_key(RECONCILE, run))["verdict"]
    assert verdict["agrees"] is False
    assert [m for c in verdict["channels"] for m in c["missing"]] == [gone]
    assert verdict["healed"]["created"] == 1
    assert org.ids()[gone] == 1


def test_reconcile_without_heal_queues_the_next_run_heals(org, store):
    conf = _span(org, 44, 32)
    if not set(_window_ids(org, conf)) <= set(org.ids()):
        assert str(org.run(MANUAL, conf).state) == "success"
    gone = _window_ids(org, conf)[2]
    _delete_transcript(org, gone)
    run = org.run(RECONCILE, conf)
    assert str(run.state) == "success", org.states(run)
    verdict = store.get_run(_key(RECONCILE, run))["verdict"]
    assert verdict["queued"] == 1 and gone not in org.ids()
    assert store.record_status("demo", gone)["replay_requested"] is True

    nxt = org.run(MANUAL, _span(org, 48, 44))  # another window: the queued replay rides along
    assert str(nxt.state) == "success", org.states(nxt)
    assert org.ids()[gone] == 1
    healed = store.record_status("demo", gone)
    assert healed["replay_requested"] is False and healed["last_run_id"] == _key(MANUAL, nxt)


def test_a_replay_of_a_record_found_nowhere_ends_as_a_permanent_failure(org, store):
    gone = "no-such-engagement-1"
    run = org.run(REPLAY, {"liveperson_ids": [gone], "channel": "chat"})
    assert str(run.state) == "failed", org.states(run)  # a record that cannot come back is reported
    status = store.record_status("demo", gone)
    assert (status["operation"], status["error_code"], status["transient"]) == ("failed", "NOT_FOUND", False)
    assert status["replay_requested"] is False
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # past any replay lease
    pending = store.pending_replays("demo", later, max_attempts=8, mapping_version=status["mapping_version"])
    assert gone not in {row["liveperson_id"] for row in pending}, "every run would fetch it again"
