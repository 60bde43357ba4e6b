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
