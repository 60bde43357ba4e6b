"""The lesync pages and JSON endpoints in process: who sees what, filters, links, empty states."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from ui_seed import EARLIER_RUN, FAILED_RUN, T0, new_store, seed

from lesync.ui import data
from lesync.ui.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def auth_manager(airflow_db, auth_env):
    from airflow.api_fastapi import app as airflow_app

    airflow_app.purge_cached_app()
    manager = airflow_app.create_auth_manager()
    manager.init()
    yield manager
    airflow_app.purge_cached_app()


@pytest.fixture
def store(tmp_path):
    """A real SQLite state store, seeded through its public methods."""
    seeded = seed(new_store(tmp_path / "state.db"))
    data.use_store(seeded)
    yield seeded
    data.use_store(None)
    seeded.dispose()


@pytest.fixture
def client(auth_manager, store):
    return TestClient(create_app(), follow_redirects=False)


def login(client: TestClient, auth_manager, username: str, role: str) -> TestClient:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    client.cookies.set(
        "_token", auth_manager.generate_jwt(SimpleAuthManagerUser(username=username, role=role))
    )
    return client


def test_anonymous_requests_get_nothing(client):
    for endpoint in ("/api/integrations", "/api/integrations/demo/failed", "/api/integrations/demo/runs"):
        assert client.get(endpoint).status_code == 401
    assert client.get("/api/openapi.json").status_code == 404
    for page in ("/", "/integrations/demo"):
        response = client.get(page)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/auth/login?next=")
        assert "LP-REJECTED" not in response.text


def test_a_forged_token_is_refused(client):
    client.cookies.set("_token", "not-a-jwt")
    assert client.get("/api/integrations").status_code == 401
    assert client.get("/integrations/demo").status_code == 303


def test_viewer_sees_failed_records_but_no_replay_controls(client, auth_manager):
    page = login(client, auth_manager, "viewer", "viewer").get("/integrations/demo")
    assert page.status_code == 200
    assert "LP-REJECTED-1" in page.text and "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in page.text
    assert 'id="read-only"' in page.text
    assert 'id="replay-selected"' not in page.text and "replay-error" not in page.text
    assert 'class="pick"' not in page.text
    assert client.get("/api/integrations").json()[0]["can_replay"] is False


def test_admin_gets_replay_controls_for_the_replay_dag(client, auth_manager):
    page = login(client, auth_manager, "admin", "admin").get("/integrations/demo")
    assert 'id="replay-selected"' in page.text
    assert 'data-error-code="STRING_TOO_LONG"' in page.text
    assert 'value="LP-REJECTED-1"' in page.text
    assert '"replayDagId": "lesync__demo__replay"' in page.text
    [integration] = client.get("/api/integrations").json()
    assert integration == {
        "name": "demo",
        "replay_dag_id": "lesync__demo__replay",
        "can_replay": True,
        "replay_api": "/api/v2/dags/lesync__demo__replay/dagRuns",
    }


def test_a_bearer_token_works_for_scripts(client, auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = auth_manager.generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
    response = client.get("/api/integrations/demo/runs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    runs = response.json()
    assert [r["run_id"] for r in runs] == [FAILED_RUN, EARLIER_RUN]
    assert runs[0]["counts"]["failed"] == 3 and runs[0]["counts"]["created"] == 1  # from the ledger
    assert runs[0]["counts"]["extracted"] == 40 and runs[0]["salesforce_calls"] == 6
    assert runs[0]["verdict"]["agrees"] is False
    assert runs[0]["dag_id"] == "lesync__demo__periodic"
    assert runs[0]["dag_run_id"] == "scheduled__2026-11-30T09:00:00+00:00"
    assert runs[0]["finished_at"] == "2026-11-30T09:03:00+00:00"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"LP-REJECTED-1", "LP-REJECTED-2", "LP-OLD-3"}),
        ("error_code=STRING_TOO_LONG", {"LP-REJECTED-2"}),
        ("channel=chat", {"LP-REJECTED-1", "LP-OLD-3"}),
        ("since=2026-11-30", {"LP-REJECTED-1", "LP-REJECTED-2"}),
        ("until=2026-11-28", {"LP-OLD-3"}),
        (f"run_id={FAILED_RUN.replace('+', '%2B')}&channel=messaging", {"LP-REJECTED-2"}),
        ("error_code=&channel=&since=&until=", {"LP-REJECTED-1", "LP-REJECTED-2", "LP-OLD-3"}),
    ],
)
def test_failed_record_filters(client, auth_manager, query, expected):
    login(client, auth_manager, "viewer", "viewer")
    rows = client.get(f"/api/integrations/demo/failed?{query}").json()
    assert {r["liveperson_id"] for r in rows} == expected
    page = client.get(f"/integrations/demo?{query}").text
    assert {
        lp for lp in ("LP-REJECTED-1", "LP-REJECTED-2", "LP-OLD-3") if f"<code>{lp}</code>" in page
    } == expected


def test_resolved_records_show_only_when_asked(client, auth_manager, store):
    from lesync.state import LedgerOutcome, run_key

    replay = run_key("lesync__demo__replay", "manual__replay")
    store.start_run("demo", "replay", replay, None, None, now=T0 + dt.timedelta(hours=1))
    store.record_outcomes(
        replay,
        "demo",
        [LedgerOutcome("chat", "LP-REJECTED-1", "created", salesforce_id="a0B000000000009")],
        now=T0 + dt.timedelta(hours=1),
    )
    login(client, auth_manager, "admin", "admin")
    assert "LP-REJECTED-1" not in {
        r["liveperson_id"] for r in client.get("/api/integrations/demo/failed").json()
    }
    rows = client.get("/api/integrations/demo/failed?resolved=true").json()
    assert next(r for r in rows if r["liveperson_id"] == "LP-REJECTED-1")["resolved_at"]
    assert {r["liveperson_id"] for r in rows} == {"LP-REJECTED-1", "LP-REJECTED-2", "LP-OLD-3"}
    page = client.get("/integrations/demo?resolved=true").text
    assert "<code>LP-REJECTED-1</code>" in page and 'value="LP-REJECTED-1"' not in page  # nothing to replay
    assert "2026-11-30 10:00 UTC" in page  # its resolved time
    assert 'value="LP-REJECTED-2"' in page  # still open: still replayable
    assert 'data-error-code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"' not in page  # none open with it


@pytest.mark.parametrize(
    ("query", "named"),
    [("channel=sms", "'channel'"), ("since=yesterday", "'since'"), ("limit=0", "limit")],
)
def test_bad_filters_are_refused_naming_the_parameter(client, auth_manager, query, named):
    login(client, auth_manager, "viewer", "viewer")
    response = client.get(f"/api/integrations/demo/failed?{query}")
    assert response.status_code in (400, 422)
    assert named in response.text


def test_empty_states_say_so(client, auth_manager, tmp_path):
    login(client, auth_manager, "viewer", "viewer")
    filtered = client.get("/integrations/demo?error_code=NO_SUCH_ERROR").text
    assert "No failed records match these filters." in filtered
    data.use_store(new_store(tmp_path / "empty.db"))
    page = client.get("/integrations/demo").text
    assert "No failed records." in page and "No runs recorded yet" in page
    assert ">0</a></td>" in client.get("/").text  # overview: 0 pending


def test_each_record_links_to_its_run_load_log(client, auth_manager):
    page = login(client, auth_manager, "viewer", "viewer").get("/integrations/demo?channel=messaging").text
    assert (
        'href="/dags/lesync__demo__periodic/runs/scheduled__2026-11-30T09%3A00%3A00%2B00%3A00/tasks/load"'
        in page
    )
    assert 'target="_top"' in page


def test_unknown_integration_is_not_found(client, auth_manager):
    login(client, auth_manager, "admin", "admin")
    assert client.get("/api/integrations/nope/failed").status_code == 404
    assert client.get("/integrations/nope").status_code == 404


def test_overview_lists_integrations_with_last_run_and_pending_count(client, auth_manager):
    page = login(client, auth_manager, "viewer", "viewer").get("/").text
    assert 'href="integrations/demo"' in page
    assert FAILED_RUN in page and "state-failed" in page
    assert ">3</a></td>" in page


def test_the_plugin_declares_a_mounted_app_and_a_nav_entry():
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from lesync.ui.plugin import LesyncPlugin

    LesyncPlugin.validate()
    [mounted] = LesyncPlugin.fastapi_apps
    assert mounted["url_prefix"] == "/lesync"
    assert not any(mounted["url_prefix"].startswith(p) for p in RESERVED_URL_PREFIXES)
    [view] = LesyncPlugin.external_views
    assert ExternalViewResponse.model_validate(view).href == "/lesync/"


def test_the_class_path_for_the_entry_point_names_a_valid_plugin():
    """What the ``airflow.plugins`` entry point (and a provider's ``plugins`` list) will name."""
    from airflow.plugins_manager import import_string, is_valid_plugin

    assert is_valid_plugin(import_string("lesync.ui.plugin.LesyncPlugin"))


def test_the_nav_entry_follows_a_base_url_with_a_path(monkeypatch):
    from lesync.ui import plugin

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/ops/")
    assert plugin._page_path() == "/ops/lesync/"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://localhost:8080")
    assert plugin._page_path() == "/lesync/"


def test_runs_show_the_reconcile_verdict_in_one_line(client, auth_manager):
    page = login(client, auth_manager, "viewer", "viewer").get("/integrations/demo").text
    assert "DIFFERS: chat 40/37, 3 missing" in page and "verdict-differs" in page
    assert "agrees: chat 12/12" in page and "verdict-agrees" in page


def test_counts_cover_every_page_not_only_the_one_shown(client, auth_manager, store):
    """250 more lock failures: the overview counts all of them (no "200+"), and a page of 2 rows
    still shows the whole ledger's count per error code and how many match."""
    from lesync.state import LedgerOutcome

    locked = [
        LedgerOutcome("chat", f"LP-LOCK-{n}", "failed", error_code="UNABLE_TO_LOCK_ROW", transient=True)
        for n in range(250)
    ]
    store.record_outcomes(FAILED_RUN, "demo", locked, now=T0)
    viewer = login(client, auth_manager, "viewer", "viewer")
    assert ">253</a></td>" in viewer.get("/").text
    page = viewer.get("/integrations/demo?limit=2").text
    assert "<code>UNABLE_TO_LOCK_ROW</code> × 251" in page
    assert "2 of 253 record(s) shown" in page
    filtered = viewer.get("/integrations/demo?limit=2&error_code=STRING_TOO_LONG").text
    assert "1 of 1 record(s) shown" in filtered
