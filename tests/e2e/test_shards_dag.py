"""A manual run cut into shards, end to end: transform and load mapped over shards, each
conversation landing once even when two units staged it, the ledger counting every shard.

The integration is the demo one with ``limits.shard_rows`` small (its own integrations file,
read by the DAG file and again by each task), so 300 conversations make several shards.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from lesync.config import load_integrations
from lesync.pipeline import operations
from lesync.pipeline.staging import safe_name

pytestmark = pytest.mark.e2e
MANUAL = "lesync__demo__manual"
INCLUDE = Path(__file__).resolve().parents[2] / "include"
SHARD_ROWS = 60


@pytest.fixture(scope="module")
def small_shards(org, tmp_path_factory):
    """The demo integration with small shards, for this module's DAG runs."""
    folder = tmp_path_factory.mktemp("include")
    shutil.copytree(INCLUDE / "mappings", folder / "mappings")
    document = yaml.safe_load((INCLUDE / "integrations.yaml").read_text())
    (demo,) = [entry for entry in document["integrations"] if entry["name"] == "demo"]
    demo["limits"]["shard_rows"] = SHARD_ROWS
    path = folder / "integrations.yaml"
    path.write_text(textwrap.dedent(yaml.safe_dump({"integrations": [demo]})))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LESYNC_INTEGRATIONS_FILE", str(path))
        (integration,) = load_integrations()
        assert integration.limits.shard_rows == SHARD_ROWS
        yield integration


def _conf(org) -> dict[str, str]:
    return {"start": (org.now - dt.timedelta(days=2, hours=1)).isoformat(), "end": org.now.isoformat()}


def _latest_run(integration) -> dict:
    (run,) = operations.state_store(integration).latest_runs(integration.name, limit=1)
    return run


def _shard_labels(run, task_id: str) -> list[str]:
    return sorted(ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == task_id)


def test_a_sharded_run_lands_every_conversation_once(org, small_shards):
    conf = _conf(org)
    run = org.run(MANUAL, conf)
    states = org.states(run)
    assert str(run.state) == "success", states
    ids = org.ids()
    assert max(ids.values()) == 1, "a conversation landed twice"
    start, end = (dt.datetime.fromisoformat(conf[k]) for k in ("start", "end"))
    assert org.expected_ids(start, end) <= set(ids)
    transforms = _shard_labels(run, "transform")
    assert len(transforms) >= 3 and states["transform"] == f"success x{len(transforms)}"
    assert len(transforms) % small_shards.limits.salesforce_concurrency == 0, "a round of loads not full"
    assert states["load"] == f"success x{len(transforms)}"
    assert all(label.startswith("shard ") for label in transforms + _shard_labels(run, "load"))
    ledger = _latest_run(small_shards)
    assert ledger["state"] == "success"
    assert ledger["created"] == len(ids) and ledger["failed"] == 0, ledger


def test_a_rerun_with_copies_in_two_units_duplicates_nothing(org, small_shards):
    """Conversations queued for a replay are staged by the run's replay unit and again by their
    slice: one conversation in two units (often two shards), transformed and loaded once."""
    conf = _conf(org)
    if not org.transcripts():
        assert str(org.run(MANUAL, conf).state) == "success"
    before = org.ids()
    replayed = sorted(before)[::40]
    store = operations.state_store(small_shards)
    assert store.queue_replay(small_shards.name, replayed) == len(replayed)
    run = org.run(MANUAL, conf)
    assert str(run.state) == "success", org.states(run)
    assert org.ids() == before, "the rerun created or duplicated transcripts"
    labels = [ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "extract"]
    assert len(labels) == 8 and sum("replay" in label for label in labels) == 2, labels
    skipped = [
        pair
        for path in org.staging_root.glob(f"demo/{safe_name(run.run_id)}/shards/skip-*.json")
        for pair in json.loads(path.read_text())
    ]
    assert len(skipped) == len(replayed), "each replayed conversation is skipped once, in its slice"
    ledger = _latest_run(small_shards)
    assert ledger["created"] + ledger["updated"] == len(before) and ledger["failed"] == 0, ledger


def test_rejections_in_one_shard_fail_the_run_and_every_shard_is_counted(org, small_shards):
    conf = _conf(org)
    victims = set(sorted(org.ids())[:2])
    org.salesforce.state.add_validation_rule(
        "Chat_Transcript__c",
        lambda record: "Agent notes are locked" if record.get("LP_Conversation_Id__c") in victims else None,
    )
    try:
        run = org.run(MANUAL, conf)
    finally:
        org.salesforce.state.store.validation_rules.pop("Chat_Transcript__c", None)
    states = org.states(run)
    assert str(run.state) == "failed"
    assert states["load"].startswith("success x") and states["report"] == "failed", states
    ledger = _latest_run(small_shards)
    assert ledger["state"] == "failed" and ledger["failed"] == len(victims), ledger
    assert ledger["created"] + ledger["updated"] + ledger["failed"] == len(org.ids()), ledger
