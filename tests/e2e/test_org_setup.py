"""The org set-up loop: metadata written by `lesync org metadata` becomes the emulated org's schema,
`lesync org check` passes on it, and a real sync (the manual DAG) lands there. An org missing a
field or a permission fails the check, naming it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from e2e_org import Org

from lesync.__main__ import main
from lesync.config import load_integrations
from lesync.demo import use_emulators
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce
from lesync.emulators.salesforce.metadata_schema import schema_from_metadata, write_schema
from lesync.org.metadata import DEFAULT_PERMISSION_SET

pytestmark = pytest.mark.e2e
MANUAL = "lesync__demo__manual"
FIELDS = Path("force-app/main/default/objects/Chat_Transcript__c/fields")
PERMISSIONS = Path(f"force-app/main/default/permissionsets/{DEFAULT_PERMISSION_SET}.permissionset-meta.xml")


def start_org_from_metadata(source: Path, data_dir: Path):
    schema = write_schema(schema_from_metadata(source, DEFAULT_PERMISSION_SET), data_dir / "schema.yaml")
    return start_salesforce(SalesforceEmulatorConfig(schema_path=schema), data_dir=data_dir)


@pytest.fixture(scope="module")
def metadata_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("metadata")
    assert main(["org", "metadata", "--out", str(out), "--integration", "demo"]) == 0
    return out


@pytest.fixture(scope="module")
def deployed(airflow_db, tmp_path_factory, metadata_dir) -> Org:
    data = tmp_path_factory.mktemp("org-emulators")
    now_ms = int(dt.datetime.now(dt.UTC).timestamp()) // 60 * 60000
    liveperson = start_liveperson(
        LivePersonEmulatorConfig(seed=5, conversations=80, days=1, now_ms=now_ms), data_dir=data
    )
    salesforce = start_org_from_metadata(metadata_dir, data / "salesforce")
    use_emulators(liveperson, salesforce)
    yield Org(liveperson, salesforce)
    liveperson.stop()
    salesforce.stop()


def test_the_generated_metadata_is_the_org(deployed):
    fields = deployed.salesforce.state.schema.objects["Chat_Transcript__c"].fields
    assert "Transcript__c" in fields and fields["LP_Conversation_Id__c"].external_id
    assert fields["Contact__c"].reference_to == ["Contact"]
    assert "Case__c" not in fields  # only what the mapping needs, not the shipped emulator schema


def test_org_check_passes_on_it(deployed, capsys):
    assert main(["org", "check", "--integration", "demo"]) == 0
    out = capsys.readouterr().out
    assert "0 blocker(s), 0 warning(s)" in out


def test_a_sync_lands_there(deployed):
    start, end = deployed.now - dt.timedelta(days=1, hours=1), deployed.now
    run = deployed.run(MANUAL, {"start": start.isoformat(), "end": end.isoformat()})
    assert str(run.state) == "success", deployed.states(run)
    ids = deployed.ids()
    assert ids and max(ids.values()) == 1
    assert deployed.expected_ids(start, end) <= set(ids)
    assert {r["SDK_API_Type__c"] for r in deployed.transcripts()} == {"Chat", "Messaging"}
    assert all(r["Transcript__c"] for r in deployed.transcripts())


def broken_copy(metadata_dir: Path, tmp_path: Path) -> Path:
    """The generated org without Agent_Name__c and without the permission on Skill_Name__c."""
    broken = tmp_path / "broken"
    shutil.copytree(metadata_dir, broken)
    (broken / FIELDS / "Agent_Name__c.field-meta.xml").unlink()
    permissions = broken / PERMISSIONS
    text = permissions.read_text(encoding="utf-8")
    marker = "<field>Chat_Transcript__c.Skill_Name__c</field>"
    begin = text.rindex("<fieldPermissions>", 0, text.index(marker))
    end = text.index("</fieldPermissions>", begin) + len("</fieldPermissions>")
    permissions.write_text(text[:begin] + text[end:], encoding="utf-8")
    return broken


def test_an_org_missing_a_field_and_a_permission_fails_the_check(deployed, metadata_dir, tmp_path, capsys):
    salesforce = start_org_from_metadata(broken_copy(metadata_dir, tmp_path), tmp_path / "salesforce")
    try:
        use_emulators(deployed.liveperson, salesforce)
        assert main(["org", "check", "--integration", "demo"]) == 1
    finally:
        use_emulators(deployed.liveperson, deployed.salesforce)
        salesforce.stop()
    out = capsys.readouterr().out
    assert "2 blocker(s)" in out
    assert "Chat_Transcript__c.Agent_Name__c: missing" in out
    assert "Chat_Transcript__c.Skill_Name__c: the integration user may not create or update it" in out


def test_the_plan_task_blocks_a_run_on_such_an_org_before_any_load(deployed, metadata_dir, tmp_path):
    salesforce = start_org_from_metadata(broken_copy(metadata_dir, tmp_path), tmp_path / "salesforce")
    start, end = deployed.now - dt.timedelta(days=1, hours=1), deployed.now
    try:
        use_emulators(deployed.liveperson, salesforce)
        lp_calls = deployed.liveperson.state.calls.total()
        run = deployed.run(MANUAL, {"start": start.isoformat(), "end": end.isoformat()})
        states = deployed.states(run)
        assert str(run.state) == "failed" and states["plan"] == "failed", states
        assert "load" not in states or states["load"] != "success"
        assert deployed.liveperson.state.calls.total() == lp_calls  # nothing extracted either
        assert salesforce.state.store.count("Chat_Transcript__c") == 0
    finally:
        use_emulators(deployed.liveperson, deployed.salesforce)
        salesforce.stop()


def test_the_demo_integration_is_the_one_checked():
    assert [i.name for i in load_integrations() if i.enabled] == ["demo"]


def test_an_object_the_org_lacks_is_one_blocker_not_a_crash(deployed):
    from lesync.mapping import compile_mapping
    from lesync.org.check import describe_and_check
    from lesync.pipeline.tasks import salesforce_client

    integration = next(i for i in load_integrations() if i.name == "demo")
    mapping = compile_mapping({"object": "Nope__c", "fields": [{"target": "A__c", "lp_field": "agentName"}]})
    client = salesforce_client(integration)
    calls = client.api_calls
    report, describes = describe_and_check(client, mapping, integration)
    assert describes["Nope__c"] is None and set(describes) == {"Nope__c", "Contact", "Lead", "Account"}
    assert [f.where for f in report.blockers] == ["Nope__c"]
    assert client.api_calls - calls == 4  # one describe per object
