"""The distributed path, for real: CeleryExecutor, two workers, REST API v2, the emulators.

A fresh PostgreSQL database and AIRFLOW_HOME, a private Redis database index and Celery queue;
scheduler, DAG processor, API server and two ``airflow celery worker`` processes (concurrency 2,
distinct hostnames through ``lesync.hostname``). The manual DAG of the ``demo`` integration is
triggered over the whole seeded range through ``POST /api/v2/dags/{dag_id}/dagRuns``; then the
Salesforce emulator must hold every conversation exactly once, and the mapped ``extract`` task
instances must have run on more than one worker. Everything is torn down even on failure.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
import yaml
from harness import REPO, Cluster, EmulatorOptions, start_cluster

MANUAL_DAG = REPO / "dags" / "manual.py"
PROBE_DAGS = Path(__file__).parent / "dags_probe"
DAG_ID = "lesync__demo__manual"
PROBE_DAG_ID = "lesync_scaleout_probe"
INTEGRATION = "demo"
CONVERSATIONS = 60
DAYS = 3
RUN_TIMEOUT = 200
SHARD_ROWS = 10

pytestmark = [pytest.mark.scaleout, pytest.mark.slow]


def seeded_window(summary: dict) -> tuple[str, str]:
    """From the first seeded conversation's start (whole minute) to the emulator's now."""
    first = min(summary[c]["min_start"] for c in ("chat", "messaging") if summary[c]["total"])
    start = dt.datetime.fromtimestamp(first // 60000 * 60, dt.UTC)
    end = dt.datetime.fromtimestamp(summary["now"] // 60000 * 60, dt.UTC)
    return start.isoformat(), end.isoformat()


def transcripts(cluster: Cluster) -> list[sqlite3.Row]:
    """The Chat Transcript rows in the Salesforce emulator's SQLite org (read-only)."""
    db = cluster.emulator_dir / "salesforce.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM Chat_Transcript__c").fetchall()


def run_and_check_spread(cluster: Cluster, dag_id: str, conf: dict, mapped_task: str) -> list[dict]:
    cluster.wait_for_dag(dag_id)
    run_id = cluster.trigger(dag_id, conf)
    state = cluster.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    if state != "success":
        pytest.fail(f"DAG run {run_id} ended {state!r}\n{cluster.diagnostics(dag_id, run_id)}", pytrace=False)
    tis = cluster.task_instances(dag_id, run_id)
    mapped = [ti for ti in tis if ti["task_id"] == mapped_task]
    hosts = Counter(ti["hostname"] for ti in mapped)
    assert len(mapped) > 1, f"expected several mapped {mapped_task} instances, got {len(mapped)}"
    assert all(ti["state"] == "success" for ti in mapped)
    assert set(hosts) <= {f"lesync-{name}" for name in cluster.worker_names}, hosts
    assert len(hosts) > 1, f"every {mapped_task} instance ran on one worker: {dict(hosts)}"
    print(f"{dag_id} {run_id}: {len(mapped)} {mapped_task} instances on {dict(hosts)}")
    return tis


def small_shards(folder: Path) -> Path:
    """include/ with the demo integration's ``limits.shard_rows`` at SHARD_ROWS, so the seeded
    conversations make several shards (mapped transform and load instances)."""
    shutil.copytree(REPO / "include" / "mappings", folder / "mappings")
    document = yaml.safe_load((REPO / "include" / "integrations.yaml").read_text())
    for entry in document["integrations"]:
        entry.setdefault("limits", {})["shard_rows"] = SHARD_ROWS
    path = folder / "integrations.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.skipif(not MANUAL_DAG.exists(), reason="dags/manual.py not yet present")
def test_manual_backfill_spreads_over_two_celery_workers(scaleout_services, tmp_path):
    cluster = start_cluster(
        workers=2,
        concurrency=2,
        dags_folder=REPO / "dags",
        emulators=EmulatorOptions(conversations=CONVERSATIONS, days=DAYS),
        # 4 LivePerson slots = both workers' slots: the DAG's own per-run cap decides, not the pool.
        pools={f"lesync_{INTEGRATION}_liveperson": 4, f"lesync_{INTEGRATION}_salesforce": 2},
        extra_env={"LESYNC_INTEGRATIONS_FILE": str(small_shards(tmp_path / "include"))},
        root=tmp_path / "cluster",
    )
    with cluster:
        summary = cluster.emulator_info["liveperson"]["summary"]
        start, end = seeded_window(summary)
        tis = run_and_check_spread(cluster, DAG_ID, {"start": start, "end": end}, "extract")
        for task_id in ("transform", "load"):
            shards = [ti for ti in tis if ti["task_id"] == task_id]
            assert len(shards) > 1 and all(ti["state"] == "success" for ti in shards), shards
            assert all(str(ti.get("rendered_map_index") or "").startswith("shard ") for ti in shards)
            print(f"{len(shards)} {task_id} instances on {dict(Counter(ti['hostname'] for ti in shards))}")

        rows = transcripts(cluster)
        ids = Counter(row["LP_Conversation_Id__c"] for row in rows)
        duplicates = {cid: n for cid, n in ids.items() if n > 1}
        assert not duplicates, f"conversations loaded more than once: {duplicates}"
        assert None not in ids, "a transcript without its LivePerson conversation id"
        print(f"{len(ids)} transcripts; seeded: {json.dumps(summary)}")
        closed = summary["chat"]["closed"] + summary["messaging"]["closed"]
        total = summary["chat"]["total"] + summary["messaging"]["total"]
        # Every ended conversation lands; an open one may (messaging syncs open ones as partial).
        assert closed <= len(ids) <= total, (
            f"{len(ids)} transcripts for {closed} closed / {total} seeded conversations: "
            + json.dumps(summary)
        )
        # The state store on PostgreSQL, written by tasks on both workers: the run closed with
        # the ledger's counts, one ledger record per transcript, nothing lost or counted twice.
        from lesync.state import StateStore

        store = StateStore(cluster.env["LESYNC_STATE_URL"])
        (run,) = store.latest_runs(INTEGRATION, limit=5)
        assert run["state"] == "success", run
        assert run["created"] + run["updated"] == len(ids) and run["failed"] == 0, run
        assert store.run_counts(run["run_id"])["records"] == len(ids)
        store.dispose()


def test_probe_dag_spreads_over_two_celery_workers(scaleout_services, tmp_path):
    """The infrastructure alone (no lesync I/O): Celery, API auth, triggering, worker spread."""
    cluster = start_cluster(workers=2, concurrency=2, dags_folder=PROBE_DAGS, root=tmp_path / "cluster")
    with cluster:
        tis = run_and_check_spread(cluster, PROBE_DAG_ID, {"slices": 8, "sleep": 2}, "extract")
        assert len([ti for ti in tis if ti["task_id"] == "extract"]) == 8
