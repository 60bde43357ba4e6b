"""DagBag policy tests: every DAG file imports, each integration gets the expected DAGs and shape."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from lesync.config import load_integrations
from lesync.factory import EXTRACT_LABEL, SHARD_LABEL, dag_id, liveperson_pool, salesforce_pool
from lesync.pipeline.plan import stable_minute

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
INCLUDE_DIR = Path(__file__).resolve().parents[2] / "include"
TEN_MINUTES = dt.timedelta(minutes=10)
KINDS = ("periodic", "daily", "manual", "conversation", "replay", "reconcile", "incremental")


def _dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return _dagbag()


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_enabled_integration_has_its_dags(dagbag):
    expected = {
        dag_id(i.name, kind)
        for i in load_integrations()
        if i.enabled
        for kind in KINDS
        if kind != "incremental" or i.incremental.enabled
    }
    assert set(dagbag.dag_ids) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_dag_shape(dagbag, kind):
    dag = dagbag.dags[dag_id("demo", kind)]
    assert {"lesync", "integration:demo", kind} <= set(dag.tags)
    assert dag.doc_md and "lesync" in dag.doc_md
    assert dag.catchup is False
    expected = {
        "reconcile": ["plan", "extract", "shard", "transform", "reconcile", "report"],
        "replay": ["plan", "extract", "shard", "transform", "load", "report"],
        "conversation": ["plan", "extract", "shard", "transform", "load", "report"],
    }.get(kind, ["plan", "extract", "shard", "transform", "load", "reconcile", "report"])
    assert [t.task_id for t in dag.topological_sort()][: len(expected)] == expected
    extract = dag.get_task("extract")
    writer = dag.get_task("reconcile" if kind == "reconcile" else "load")
    assert extract.pool == liveperson_pool("demo") and writer.pool == salesforce_pool("demo")
    # The pool is the one concurrency limit (limits.liveperson_concurrency = its slots).
    assert extract.max_active_tis_per_dagrun is None
    assert extract.map_index_template == EXTRACT_LABEL
    assert dag.get_task("transform").map_index_template == SHARD_LABEL
    if kind != "reconcile":
        assert dag.get_task("load").map_index_template == SHARD_LABEL
    assert extract.retries == 3 and extract.retry_exponential_backoff
    assert dag.get_task("report").retries == 0
    cleanup = dag.get_task("cleanup")
    assert cleanup.is_teardown and cleanup.trigger_rule == "all_done_setup_success"


def test_schedules(dagbag):
    minute = stable_minute("demo")
    periodic = dagbag.dags[dag_id("demo", "periodic")].timetable
    daily = dagbag.dags[dag_id("demo", "daily")].timetable
    assert (periodic.expression, str(periodic.timezone)) == (f"{minute} */3 * * *", "UTC")
    assert (daily.expression, str(daily.timezone)) == (f"{minute} 2 * * *", "UTC")
    for kind in ("manual", "conversation"):
        assert not hasattr(dagbag.dags[dag_id("demo", kind)].timetable, "expression")


def test_incremental_runs_every_interval_one_at_a_time(dagbag):
    demo = next(i for i in load_integrations() if i.name == "demo")
    assert demo.incremental.enabled, "the demo integration shows the near-real-time DAG"
    dag = dagbag.dags[dag_id("demo", "incremental")]
    assert dag.timetable.delta == dt.timedelta(minutes=demo.incremental.interval_minutes) == TEN_MINUTES
    assert dag.max_active_runs == 1 and dag.catchup is False
    for kind in ("periodic", "daily"):
        assert dagbag.dags[dag_id("demo", kind)].max_active_runs == 1


def test_incremental_is_off_unless_switched_on(tmp_path, monkeypatch):
    _isolated_include(
        tmp_path,
        monkeypatch,
        """
        integrations:
          - name: quiet
          - name: live
            incremental: {enabled: true, interval_minutes: 5}
    """,
    )
    dags = _dagbag().dags
    assert dag_id("quiet", "incremental") not in dags and dag_id("quiet", "periodic") in dags
    assert dags[dag_id("live", "incremental")].timetable.delta == dt.timedelta(minutes=5)


def test_trigger_forms(dagbag):
    manual = dagbag.dags[dag_id("demo", "manual")].params
    assert manual.get_param("start").schema["format"] == "date-time"
    assert manual.get_param("end").schema["format"] == "date-time"
    assert manual["channels"] == ["chat", "messaging"]
    conversation = dagbag.dags[dag_id("demo", "conversation")].params
    assert conversation.get_param("channel").schema["enum"] == ["chat", "messaging"]


def _isolated_include(tmp_path: Path, monkeypatch, integrations: str) -> Path:
    include = tmp_path / "include"
    shutil.copytree(INCLUDE_DIR / "mappings", include / "mappings")
    (include / "integrations.yaml").write_text(textwrap.dedent(integrations))
    monkeypatch.setenv("LESYNC_INTEGRATIONS_FILE", str(include / "integrations.yaml"))
    return include


def test_disabled_integration_builds_no_dags(tmp_path, monkeypatch):
    _isolated_include(
        tmp_path,
        monkeypatch,
        """
        integrations:
          - name: live
          - name: paused
            enabled: false
          - name: nightly
            schedule: {periodic: false}
    """,
    )
    ids = set(_dagbag().dag_ids)
    assert not any("paused" in i for i in ids)
    assert dag_id("live", "periodic") in ids and dag_id("nightly", "daily") in ids
    assert dag_id("nightly", "periodic") not in ids


def test_broken_integrations_file_is_an_import_error_naming_it(tmp_path, monkeypatch):
    include = _isolated_include(
        tmp_path,
        monkeypatch,
        """
        integrations:
          - name: emea
            transcript: {save_mode: both}
    """,
    )
    errors = _dagbag().import_errors
    assert set(errors) == {str(DAGS_DIR / f"{kind}.py") for kind in KINDS}
    message = next(iter(errors.values()))
    assert str(include / "integrations.yaml") in message
    assert "integration 'emea', key 'transcript': 'transcript.save_mode' moved to the mapping file" in message


def test_broken_mapping_is_an_import_error_naming_it(tmp_path, monkeypatch):
    include = _isolated_include(
        tmp_path,
        monkeypatch,
        """
        integrations:
          - name: emea
            mapping: broken.yaml
            incremental: {enabled: true}
    """,
    )
    (include / "mappings" / "broken.yaml").write_text(
        "object: Chat_Transcript__c\n"
        "external_id_field: LP_Conversation_Id__c\n"
        "fields:\n"
        "  - target: Agent_Name__c\n"
        "    api_field: info.agentFullName[\n"
    )
    errors = _dagbag().import_errors
    assert len(errors) == len(KINDS)
    message = next(iter(errors.values()))
    assert "broken.yaml" in message and "Agent_Name__c" in message
