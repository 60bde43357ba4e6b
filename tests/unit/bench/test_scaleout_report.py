"""bench/scaleout_backfill.py without a cluster: stages from task instances (mapped or not), the
report's speed-up and hosts, and the integration's limits overridden in a copy of the file."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from bench.common import INTEGRATIONS_FILE  # noqa: E402
from bench.scaleout_backfill import integrations_with_limits, limits_of, markdown, stages  # noqa: E402

from lesync.config import IntegrationsError, load_integrations  # noqa: E402

TRIGGERED = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def _ti(task_id: str, start: float, end: float, host: str, map_index: int = -1, queued: float = 1.0):
    at = lambda s: (TRIGGERED + dt.timedelta(seconds=s)).isoformat()  # noqa: E731
    return {
        "task_id": task_id,
        "map_index": map_index,
        "state": "success",
        "queued_when": at(start - queued),
        "start_date": at(start),
        "end_date": at(end),
        "duration": end - start,
        "hostname": host,
    }


def _run(shards_on_two_hosts: bool) -> list[dict]:
    """plan, 3 mapped extracts, transform and load mapped per shard (2), report."""
    second = "lesync-worker-2" if shards_on_two_hosts else "lesync-worker-1"
    return [
        _ti("report", 60, 61, "lesync-worker-1"),
        _ti("plan", 1, 3, "lesync-worker-1"),
        _ti("extract", 5, 20, "lesync-worker-1", 0, queued=2),
        _ti("extract", 6, 25, second, 1, queued=3),
        _ti("extract", 21, 30, "lesync-worker-1", 2, queued=4),
        _ti("transform", 32, 40, "lesync-worker-1", 0),
        _ti("transform", 33, 38, second, 1),
        _ti("load", 41, 58, "lesync-worker-1", 0),
        _ti("load", 42, 50, second, 1),
    ]


def test_stages_follow_start_order_and_sum_every_instance():
    found = {s["task_id"]: s for s in stages(_run(True), TRIGGERED)}
    assert [s["task_id"] for s in stages(_run(True), TRIGGERED)] == [
        "plan",
        "extract",
        "transform",
        "load",
        "report",
    ]
    extract = found["extract"]
    assert (extract["instances"], extract["mapped"]) == (3, True)
    assert (extract["from_s"], extract["to_s"], extract["wall_s"]) == (5.0, 30.0, 25.0)
    assert extract["task_s"] == 15 + 19 + 9
    assert extract["queued_s"] == 2 + 3 + 4
    assert extract["hosts"] == {"lesync-worker-1": 2, "lesync-worker-2": 1}
    assert found["load"]["wall_s"] == 17.0 and found["load"]["task_s"] == 25
    assert found["plan"]["mapped"] is False and found["plan"]["instances"] == 1


def test_a_stage_not_started_has_no_wall_time():
    pending = {"task_id": "load", "map_index": -1, "state": "upstream_failed", "duration": None}
    (stage,) = stages([pending], TRIGGERED)
    assert stage["wall_s"] is None and stage["states"] == {"upstream_failed": 1}


def _result(workers: int, seconds: float, tis: list[dict]) -> dict:
    return {
        "dag_id": "lesync__demo__manual",
        "workers": workers,
        "concurrency": 2,
        "state": "success",
        "seconds": seconds,
        "stages": stages(tis, TRIGGERED),
        "calls": {
            "liveperson": 120,
            "liveperson_by_class": {"search": 70, "by_id": 40, "discovery": 10},
            "salesforce": 30,
        },
        "transcripts_in_org": 3000,
        "load_average": [1.5, 2.0],
    }


def test_report_gives_speed_up_stage_times_and_hosts_per_worker_count():
    args = argparse.Namespace(
        dag="manual",
        conversations=3000,
        days=30,
        latency="realistic",
        concurrency=2,
        liveperson_slots=16,
        salesforce_slots=2,
    )
    facts = {
        "cpu": "x",
        "cores": 2,
        "python": "3.11",
        "date": "d",
        "command": "c",
        "limits": {"slice_hours": 24},
    }
    text = markdown([_result(1, 300.0, _run(False)), _result(2, 160.0, _run(True))], args, facts)
    assert "| 1 | 2 | 300.0 | 1.00x |" in text
    assert "| 2 | 4 | 160.0 | 1.88x |" in text
    assert "120 (70 / 40 / 10)" in text
    assert "| transform | 2 | 8.0 (+32.0) / 13.0 / 2.0 | 8.0 (+32.0) / 13.0 / 2.0 |" in text
    assert "| load | 2 | lesync-worker-1 x1, lesync-worker-2 x1 |" in text
    assert "| load | 1 | lesync-worker-1 x2 |" in text
    assert "`slice_hours` 24" in text


def test_limits_are_overridden_in_a_validated_copy(tmp_path):
    path = integrations_with_limits(["liveperson_requests_per_second=12", "liveperson_burst=4"], tmp_path)
    limits = limits_of(path)
    assert (limits["liveperson_requests_per_second"], limits["liveperson_burst"]) == (12, 4)
    (demo,) = (i for i in load_integrations(INTEGRATIONS_FILE) if i.name == "demo")
    assert limits_of(integrations_with_limits([], tmp_path)) == demo.limits.model_dump()


def test_a_bad_limit_names_the_field(tmp_path):
    with pytest.raises(IntegrationsError, match="liveperson_requests_per_second"):
        integrations_with_limits(["liveperson_requests_per_second=0"], tmp_path)
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        integrations_with_limits(["liveperson_burst"], tmp_path)
