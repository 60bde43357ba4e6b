"""Incremental windows: overlap, settle time, chat lookback, bounded catch-up, never a gap."""

from __future__ import annotations

import datetime as dt

from lesync.pipeline.incremental import incremental_plan

MIN = dt.timedelta(minutes=1)
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SETTINGS = {
    "overlap": 5 * MIN,
    "settle": 5 * MIN,
    "chat_lookback": 120 * MIN,
    "first_lookback": 60 * MIN,
    "max_catch_up": 360 * MIN,
}


def test_first_run_looks_back_and_ends_before_now():
    plan = incremental_plan(None, NOW, **SETTINGS)
    assert plan.end == NOW - 5 * MIN
    assert plan.messaging_start == plan.end - 60 * MIN - 5 * MIN
    assert plan.chat_start == plan.messaging_start - 120 * MIN


def test_consecutive_runs_overlap_and_leave_no_gap():
    mark = None
    covered = []
    for step in range(6):
        plan = incremental_plan(mark, NOW + step * 10 * MIN, **SETTINGS)
        covered.append((plan.messaging_start, plan.end))
        mark = plan.next_mark
    for (_, previous_end), (start, _) in zip(covered, covered[1:], strict=False):
        assert start == previous_end - 5 * MIN  # overlap, never a gap


def test_nothing_settled_since_the_mark_is_no_run():
    assert incremental_plan(NOW - 5 * MIN, NOW, **SETTINGS) is None


def test_a_mark_far_behind_catches_up_in_bounded_steps():
    mark = NOW - dt.timedelta(days=2)
    plan = incremental_plan(mark, NOW, **SETTINGS)
    assert plan.messaging_start == mark - 5 * MIN
    assert plan.end == mark + 360 * MIN  # at most max_catch_up past the mark
    again = incremental_plan(plan.next_mark, NOW, **SETTINGS)
    assert again.messaging_start == plan.end - 5 * MIN


# --- the incremental run's plan and mark (tasks.py, against a state store of the test's own) ---

import pytest  # noqa: E402

from lesync.config import Integration  # noqa: E402
from lesync.pipeline import operations, tasks  # noqa: E402

EXTRACTED = [{"channel": "chat", "paths": ["a"], "records": 3, "calls": 2}]
TRANSFORMED = {"rows_path": "rows.jsonl.gz", "rows": 3, "salesforce_calls": 1}
LOADED = {"created": 3, "updated": 0, "failed": 0, "api_calls": 2}


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("LESYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    operations._store.cache_clear()
    yield operations.state_store(_integration(tmp_path))
    operations._store.cache_clear()


def _integration(tmp_path, **changes) -> Integration:
    base = {"name": "emea", "staging": {"root": str(tmp_path)}, "incremental": {"enabled": True}}
    return Integration.model_validate({**base, **changes})


def _mark(store):
    return store.get_watermark("emea", tasks.INCREMENTAL_STREAM)


def test_the_run_starts_at_the_stored_mark(tmp_path, store):
    mark = NOW - 17 * MIN
    store.set_watermark("emea", tasks.INCREMENTAL_STREAM, mark)
    units = tasks.plan(_integration(tmp_path), "incremental", {}, NOW, NOW + 3 * MIN, run_id="r1")
    windows = {u["channel"]: (u["start"], u["end"]) for u in units}
    end = (NOW - 5 * MIN).isoformat()  # the run's scheduled time minus settle, not the wall clock
    assert windows == {
        "chat": ((mark - 5 * MIN - 120 * MIN).isoformat(), end),
        "messaging": ((mark - 5 * MIN).isoformat(), end),
    }
    assert [u["slice"] for u in units] == ["000", "000"]  # the messaging slice runs the update search
    run = store.get_run(operations.run_key_of(_integration(tmp_path), "incremental", "r1"))
    assert (run["window_start"], run["window_end"]) == (mark - 5 * MIN, NOW - 5 * MIN)


def test_the_first_run_looks_back_from_the_settled_end(tmp_path, store):
    units = tasks.plan(_integration(tmp_path, channels=["messaging"]), "incremental", {}, NOW, run_id="r1")
    assert [(u["start"], u["end"]) for u in units] == [
        ((NOW - 5 * MIN - 65 * MIN).isoformat(), (NOW - 5 * MIN).isoformat())
    ]


def test_nothing_settled_is_no_work_and_no_run(tmp_path, store):
    store.set_watermark("emea", tasks.INCREMENTAL_STREAM, NOW - 5 * MIN)
    integration = _integration(tmp_path)
    for moment in (NOW, NOW - 3 * MIN):  # the settled end is at the mark, or before it
        assert tasks.plan(integration, "incremental", {}, moment, run_id="r2") == []
    assert store.get_run(operations.run_key_of(integration, "incremental", "r2")) is None
    assert tasks.plan(integration, "incremental", {}, NOW + MIN, run_id="r2")  # one settled minute


def test_open_conversations_started_before_the_window_are_rechecked(tmp_path, store):
    store.set_watermark("emea", tasks.INCREMENTAL_STREAM, NOW - 10 * MIN)
    store.remember_open("emea", "messaging", ["old-open"], started={"old-open": NOW - 3 * 60 * MIN})
    store.remember_open("emea", "messaging", ["new-open"], started={"new-open": NOW - 8 * MIN})
    units = tasks.plan(_integration(tmp_path), "incremental", {}, NOW, run_id="r3")
    assert [u["recheck"] for u in units if "recheck" in u] == [["old-open"]]  # the search finds the other


def test_each_run_rechecks_a_share_so_each_open_conversation_is_checked_about_hourly(tmp_path, store):
    ids = [f"open-{n:02d}" for n in range(12)]
    store.remember_open("emea", "messaging", ids, started=dict.fromkeys(ids, NOW - 5 * 60 * MIN))
    integration = _integration(tmp_path)  # every 10 minutes, each open one re-checked every 60
    checked: list[str] = []
    for run in range(6):
        store.set_watermark("emea", tasks.INCREMENTAL_STREAM, NOW + (run * 10 - 10) * MIN)
        units = tasks.plan(integration, "incremental", {}, NOW + run * 10 * MIN, run_id=f"r{run}")
        (taken,) = [u["recheck"] for u in units if "recheck" in u]
        assert len(taken) == 2
        store.touch_open_checked("emea", "messaging", taken, now=NOW + run * 10 * MIN)
        checked += taken
    assert sorted(checked) == ids  # all of them within the hour, none twice
    every_run = _integration(tmp_path, incremental={"enabled": True, "recheck_open_every_minutes": 0})
    units = tasks.plan(every_run, "incremental", {}, NOW + 60 * MIN, run_id="all")
    assert len(next(u["recheck"] for u in units if "recheck" in u)) == 12


def test_the_mark_moves_to_the_window_end_when_the_run_succeeds(tmp_path, store):
    integration = _integration(tmp_path)
    store.set_watermark("emea", tasks.INCREMENTAL_STREAM, NOW - 30 * MIN)
    tasks.plan(integration, "incremental", {}, NOW, run_id="ok")
    summary = tasks.report_incremental(integration, EXTRACTED, TRANSFORMED, LOADED, "ok")
    assert summary["liveperson_calls"] == 2
    assert _mark(store) == NOW - 5 * MIN
    # The next run starts from there (with the overlap).
    units = tasks.plan(integration, "incremental", {}, NOW + 10 * MIN, run_id="next")
    assert units[1]["start"] == (NOW - 10 * MIN).isoformat()


def test_a_run_that_fails_before_its_report_leaves_the_mark(tmp_path, store):
    integration = _integration(tmp_path)
    store.set_watermark("emea", tasks.INCREMENTAL_STREAM, NOW - 30 * MIN)
    first = tasks.plan(integration, "incremental", {}, NOW, run_id="broken")
    tasks.cleanup(integration, kind="incremental", run_id="broken")  # the teardown after a failed load
    assert _mark(store) == NOW - 30 * MIN
    key = operations.run_key_of(integration, "incremental", "broken")
    assert store.get_run(key)["state"] == "failed"
    again = tasks.plan(integration, "incremental", {}, NOW + 10 * MIN, run_id="retry")
    assert again[1]["start"] == first[1]["start"]  # the same start: nothing is skipped


def test_rejected_records_fail_the_run_but_the_ledger_keeps_them_and_the_mark_moves(tmp_path, store):
    integration = _integration(tmp_path)
    store.set_watermark("emea", tasks.INCREMENTAL_STREAM, NOW - 30 * MIN)
    tasks.plan(integration, "incremental", {}, NOW, run_id="rejects")
    with pytest.raises(tasks.RecordsRejectedError):
        tasks.report_incremental(integration, EXTRACTED, TRANSFORMED, {**LOADED, "failed": 1}, "rejects")
    assert _mark(store) == NOW - 5 * MIN


def test_an_older_run_reported_late_never_moves_the_mark_back(tmp_path, store):
    integration = _integration(tmp_path)
    store.set_watermark("emea", tasks.INCREMENTAL_STREAM, NOW - 60 * MIN)
    tasks.plan(integration, "incremental", {}, NOW - 30 * MIN, run_id="older")
    tasks.plan(integration, "incremental", {}, NOW, run_id="newer")
    tasks.report_incremental(integration, EXTRACTED, TRANSFORMED, LOADED, "newer")
    tasks.report_incremental(integration, EXTRACTED, TRANSFORMED, LOADED, "older")
    assert _mark(store) == NOW - 5 * MIN


def test_the_reconcile_compares_every_channel_from_the_messaging_start():
    units = [
        {"channel": "chat", "slice": "000", "start": "2026-12-01T09:00:00+00:00",
         "end": "2026-12-01T11:55:00+00:00", "reconcile_from": "2026-12-01T11:00:00+00:00"},
        {"channel": "messaging", "slice": "000", "start": "2026-12-01T11:00:00+00:00",
         "end": "2026-12-01T11:55:00+00:00", "reconcile_from": "2026-12-01T11:00:00+00:00"},
        {"channel": "messaging", "slice": "recheck", "recheck": ["x"]},
    ]  # fmt: skip
    clipped = tasks.incremental_reconcile_units(units)
    assert [u["start"] for u in clipped[:2]] == ["2026-12-01T11:00:00+00:00"] * 2
    assert clipped[2] == units[2]


class _Chats:
    """A LivePerson client with three chats: ended long ago, ended recently, end unknown."""

    stats = dict.fromkeys(("calls", "pages", "retries", "partial_refetched", "partial_failed"), 0)

    def chats(self, start, end, skills=None):
        yield {"info": {"engagementId": "ended-before", "endTimeL": int((NOW - 31 * MIN).timestamp() * 1000)}}
        yield {"info": {"engagementId": "ended-since", "endTimeL": int((NOW - 29 * MIN).timestamp() * 1000)}}
        yield {"info": {"engagementId": "end-unknown"}}


def _staged_ids(result) -> list[str]:
    from lesync.pipeline.staging import read_jsonl_gz

    return [r["info"]["engagementId"] for path in result["paths"] for r in read_jsonl_gz(path)]


def test_chats_the_previous_run_delivered_are_not_loaded_again(tmp_path, store):
    integration = _integration(tmp_path, channels=["chat"])
    store.set_watermark("emea", tasks.INCREMENTAL_STREAM, NOW - 25 * MIN)  # messaging_start: NOW - 30
    (unit,) = tasks.plan(integration, "incremental", {}, NOW, run_id="r")
    assert unit["ended_since"] == (NOW - 30 * MIN).isoformat()
    result = tasks.extract(integration, unit, "r", client=_Chats())
    assert _staged_ids(result) == ["ended-since", "end-unknown"] and result["records"] == 2
    # The first run (no mark: nothing delivered yet) keeps every chat its search returns.
    store_free = _integration(tmp_path, name="fresh", channels=["chat"])
    (first,) = tasks.plan(store_free, "incremental", {}, NOW, run_id="first")
    assert "ended_since" not in first
    assert len(_staged_ids(tasks.extract(store_free, first, "first", client=_Chats()))) == 3
