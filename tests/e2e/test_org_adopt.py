"""`lesync org adopt` on an org already full of transcripts that lack the external id (as an org
with LivePerson's package has them): it fills the id from the field that holds it, in pages,
resumably, never writing a conflicting id; afterwards a backfill creates nothing new."""

from __future__ import annotations

import datetime as dt

import pytest
from e2e_org import Org

from lesync.__main__ import main
from lesync.config import load_integrations
from lesync.demo import use_emulators
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce
from lesync.org.adopt import AdoptSettings, adopt
from lesync.pipeline.tasks import salesforce_client

pytestmark = pytest.mark.e2e
MANUAL = "lesync__demo__manual"
OBJECT, EXT, SOURCE = "Chat_Transcript__c", "LP_Conversation_Id__c", "LivePerson_Id__c"
PACKAGE_FIELD = {"objects": {OBJECT: {"fields": {SOURCE: {"type": "string", "length": 80}}}}}


class StopRunError(Exception):
    pass


@pytest.fixture(scope="module")
def history(airflow_db, tmp_path_factory):
    """An org holding one package-made transcript per conversation of the last day, plus
    a duplicated id and an id another record already holds as its external id."""
    data = tmp_path_factory.mktemp("adopt-emulators")
    now_ms = int(dt.datetime.now(dt.UTC).timestamp()) // 60 * 60000
    liveperson = start_liveperson(
        LivePersonEmulatorConfig(seed=8, conversations=60, days=1, now_ms=now_ms), data_dir=data
    )
    salesforce = start_salesforce(SalesforceEmulatorConfig(schema_extra=PACKAGE_FIELD), data_dir=data)
    use_emulators(liveperson, salesforce)
    org = Org(liveperson, salesforce)
    window = (org.now - dt.timedelta(days=1, hours=1), org.now)
    ids = sorted(org.expected_ids(*window))
    store = salesforce.state.store
    for conversation_id in ids:
        assert store.create(OBJECT, {SOURCE: conversation_id, "Agent_Name__c": "from the package"}).success
    duplicated = [store.create(OBJECT, {SOURCE: "dup-1"}).id for _ in range(2)]
    holder = store.create(OBJECT, {EXT: "taken-1"}).id
    claimant = store.create(OBJECT, {SOURCE: "taken-1"}).id
    yield org, window, ids, {"dup-1": sorted(duplicated), "taken-1": sorted([holder, claimant])}
    liveperson.stop()
    salesforce.stop()


def filled(org) -> dict[str, str]:
    return {r["Id"]: r[EXT] for r in org.transcripts() if r.get(EXT)}


def test_dry_run_counts_and_writes_nothing(history, capsys):
    org, _, ids, _ = history
    assert main(["org", "adopt", "--source-field", SOURCE, "--dry-run"]) == 1  # conflicts found
    out = capsys.readouterr().out
    assert f"would update {len(ids)}" in out and "conflicts 2" in out
    assert f"scanned {len(ids) + 3}" in out
    assert set(filled(org).values()) == {"taken-1"}


def test_adopt_is_batched_resumable_and_reports_conflicts(history, capsys):
    org, _, ids, conflicts = history
    integration = next(i for i in load_integrations() if i.name == "demo")
    client = salesforce_client(integration)
    settings = AdoptSettings(OBJECT, EXT, SOURCE, batch_size=7)

    def stop_after_first_page(result):
        raise StopRunError

    with pytest.raises(StopRunError):
        adopt(client, settings, progress=stop_after_first_page)
    first = len(filled(org)) - 1
    assert 0 < first <= 7  # one page written, then the run died

    assert main(["org", "adopt", "--source-field", SOURCE, "--batch-size", "9"]) == 1
    out = capsys.readouterr().out
    assert f"updated {len(ids) - first}," in out  # the rest, not again what the first run did
    for value, record_ids in conflicts.items():
        assert f"conflict {value}: {', '.join(record_ids)}" in out
    values = filled(org)
    assert sorted(v for v in values.values() if v != "taken-1") == ids
    by_source = {r["Id"]: r.get(SOURCE) for r in org.transcripts()}
    assert all(by_source[record_id] == value for record_id, value in values.items() if value != "taken-1")


def test_a_rerun_only_meets_the_conflicts(history, capsys):
    assert main(["org", "adopt", "--source-field", SOURCE]) == 1
    out = capsys.readouterr().out
    assert "scanned 3, updated 0, conflicts 2" in out


def test_after_adopt_a_backfill_creates_nothing(history):
    org, (start, end), ids, _ = history
    main(["org", "adopt", "--source-field", SOURCE])  # done already when run in order; a no-op then
    before = {r["Id"] for r in org.transcripts()}
    run = org.run(MANUAL, {"start": start.isoformat(), "end": end.isoformat()})
    assert str(run.state) == "success", org.states(run)
    after = org.transcripts()
    assert {r["Id"] for r in after} == before  # nothing created
    synced = [r for r in after if r.get(EXT) in set(ids)]
    assert len(synced) == len(ids)
    assert all(r["Transcript__c"] for r in synced)  # the sync updated the adopted records


def test_adopt_refuses_a_source_field_the_org_lacks(history, capsys):
    assert main(["org", "adopt", "--source-field", "No_Such__c"]) == 2
    assert "has no field No_Such__c" in capsys.readouterr().err
