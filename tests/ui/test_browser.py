"""The lesync page in a real browser against a real ``airflow api-server``, the real state store
and the real replay DAG.

Headless Chromium from Debian's ``chromium`` package (``scripts/browser.sh`` installs it), driven
by Playwright for Python through ``executable_path``: Playwright's own browser download is never
used. The loop of issue 13: a real manual sync against both emulators in this process, with a
Salesforce validation rule rejecting one record, writes the rejection to a migrated SQLite state
store; ``airflow api-server`` (a private AIRFLOW_HOME, SQLite, SimpleAuthManager with an admin
and a viewer, lesync's real ``dags/``, the plugin loaded through lesync's ``airflow.plugins``
entry point) serves the page from that store (``LESYNC_STATE_URL``). The browser signs in, sees
the rejection, selects it and clicks Replay, which creates a run of ``lesync__demo__replay``
through Airflow's REST API. The API server runs no tasks, so the test then clears the fault and
runs the replay DAG with that run's own conf (read back from the API) here with ``dag.test``;
reloaded, the page shows the record resolved. Screenshots go to the test's tmp folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from ui_seed import PASSWORDS, USERS, new_store, seed

from lesync.demo import DAGS_DIR, load_dag, use_emulators
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MANUAL = "lesync__demo__manual"
REPLAY_DAG = "lesync__demo__replay"
OBJECT = "Chat_Transcript__c"
RULE_MESSAGE = "Agent notes are locked"
UI_TESTS = Path(__file__).resolve().parent
REPO = UI_TESTS.parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            "Debian's chromium is not installed and could not be (run `bash scripts/browser.sh` as root)"
        )
    return CHROMIUM


@dataclass
class World:
    """The emulators, the state store both processes share, and the record the sync rejected."""

    liveperson: Any
    salesforce: Any
    store_url: str
    store: Any
    victim: str

    def transcripts_of(self, liveperson_id: str) -> list[dict]:
        records = self.salesforce.state.store.records(OBJECT)
        return [r for r in records if r["LP_Conversation_Id__c"] == liveperson_id]


@pytest.fixture(scope="module")
def world(airflow_db, tmp_path_factory):
    """A real sync with one record rejected by a Salesforce validation rule, ledger in a fresh store
    (plus the seeded runs and failures of ``ui_seed`` for the viewer and error-code checks)."""
    from lesync.pipeline import operations

    data = tmp_path_factory.mktemp("world")
    now_ms = int(dt.datetime.now(dt.UTC).timestamp()) // 60 * 60000
    liveperson = start_liveperson(
        LivePersonEmulatorConfig(seed=7, conversations=40, days=1, now_ms=now_ms), data_dir=data
    )
    salesforce = start_salesforce(SalesforceEmulatorConfig(), data_dir=data)
    use_emulators(liveperson, salesforce)
    store_url = f"sqlite:///{data / 'state.db'}"
    previous_url = os.environ.get("LESYNC_STATE_URL")
    os.environ["LESYNC_STATE_URL"] = store_url
    operations._store.cache_clear()
    store = seed(new_store(data / "state.db"))
    victims: list[str] = []

    def reject_the_first(record: dict) -> str | None:
        key = record.get("LP_Conversation_Id__c")
        if not victims:
            victims.append(key)
        return RULE_MESSAGE if key == victims[0] else None

    salesforce.state.add_validation_rule(OBJECT, reject_the_first)
    now = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    started = time.monotonic()
    run = load_dag(MANUAL).test(
        run_conf={"start": (now - dt.timedelta(days=1, hours=1)).isoformat(), "end": now.isoformat()}
    )
    print(f"sync with one rejection: {time.monotonic() - started:.1f}s")
    assert str(run.state) == "failed" and victims  # the report fails the run over the rejection
    yield World(liveperson, salesforce, store_url, store, victims[0])
    liveperson.stop()
    salesforce.stop()
    store.dispose()
    operations._store.cache_clear()
    if previous_url is not None:
        os.environ["LESYNC_STATE_URL"] = previous_url


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    """A real ``airflow api-server`` on loopback with lesync's DAGs and plugin; yields its base URL."""
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "plugins").mkdir()  # empty: the plugin comes from lesync's entry point
    (home / "passwords.json").write_text(json.dumps(PASSWORDS))
    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "lesync-browser-test-only-" + "x" * 64,
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "LESYNC_STATE_URL": world.store_url,  # the same migrated SQLite store the sync wrote
    }
    airflow = [sys.executable, "-m", "airflow"]
    started = time.monotonic()
    for step in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run(airflow + step, env=env, check=True, capture_output=True, timeout=180)
    prepared = time.monotonic()
    log = (home / "api-server.log").open("w")
    proc = subprocess.Popen(
        airflow + ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, home / "api-server.log")
        print(f"db+dags ready in {prepared - started:.1f}s, server in {time.monotonic() - prepared:.1f}s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"api-server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/api/v2/monitor/health", timeout=10).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    raise AssertionError(f"api-server not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


def _token(base: str, username: str) -> str:
    response = requests.post(
        f"{base}/auth/token", json={"username": username, "password": PASSWORDS[username]}, timeout=10
    )
    response.raise_for_status()
    return response.json()["access_token"]


def _replay_runs(base: str) -> list[dict]:
    response = requests.get(
        f"{base}/api/v2/dags/{REPLAY_DAG}/dagRuns",
        headers={"Authorization": f"Bearer {_token(base, 'admin')}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["dag_runs"]


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def _sign_in(browser, base: str, username: str, start: str):
    """Open ``start`` anonymously, get sent to Airflow's login page, sign in, land back on ``start``."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{base}{start}")
    page.wait_for_url("**/auth/login**")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{start}*")
    return page


def test_anonymous_gets_nothing_from_the_real_server(server):
    assert requests.get(f"{server}/lesync/api/integrations/demo/failed", timeout=10).status_code == 401
    page = requests.get(f"{server}/lesync/integrations/demo", timeout=10, allow_redirects=False)
    assert page.status_code == 303 and "/auth/login" in page.headers["location"]
    assert "LP-REJECTED" not in page.text


def test_admin_replays_a_rejected_record_from_the_page(server, browser, world, tmp_path):
    victim = world.victim
    page = _sign_in(browser, server, "admin", "/lesync/integrations/demo")
    row = page.locator(f'tr[data-liveperson-id="{victim}"]')
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in row.inner_text() and RULE_MESSAGE in row.inner_text()
    assert "lesync__demo__manual" in row.inner_text()  # the run that rejected it
    assert page.locator("#user-name").inner_text() == "admin"
    assert world.transcripts_of(victim) == []
    page.screenshot(path=tmp_path / "1-failed-records.png", full_page=True)

    before = {run["dag_run_id"] for run in _replay_runs(server)}
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Replay selected (1)").click()
    page.locator("#replay-result.notice-ok").wait_for(timeout=10_000)
    page.screenshot(path=tmp_path / "2-replay-triggered.png", full_page=True)
    triggered = page.locator("#replay-run-link").inner_text()
    assert row.get_by_text("replay queued").is_visible()
    assert row.get_by_role("checkbox").is_disabled()  # a second click cannot queue it twice
    [new_run] = [run for run in _replay_runs(server) if run["dag_run_id"] not in before]
    assert new_run["dag_run_id"] == triggered
    assert new_run["conf"] == {"liveperson_ids": [victim]}

    # The fault is cleared; the API server runs no tasks, so the triggered run's conf runs here.
    world.salesforce.state.store.validation_rules.pop(OBJECT)
    replay = load_dag(REPLAY_DAG).test(run_conf=new_run["conf"])
    assert str(replay.state) == "success"

    page.goto(f"{server}/lesync/integrations/demo")
    assert page.locator(f'tr[data-liveperson-id="{victim}"]').count() == 0  # no longer open
    page.get_by_label("include resolved").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**resolved=true**")
    row = page.locator(f'tr[data-liveperson-id="{victim}"]')
    assert row.get_by_role("checkbox").count() == 0  # resolved: nothing to replay
    resolved_cell = row.locator("td").last.inner_text()
    assert resolved_cell.endswith("UTC"), resolved_cell
    page.screenshot(path=tmp_path / "3-resolved.png", full_page=True)

    status = world.store.record_status("demo", victim)
    [transcript] = world.transcripts_of(victim)  # the ledger and Salesforce agree: exactly one
    assert status["resolved_at"] is not None and status["salesforce_id"] == transcript["Id"]
    print(f"screenshots in {tmp_path}")


def test_admin_replays_all_records_with_one_error(server, browser, tmp_path):
    page = _sign_in(browser, server, "admin", "/lesync/integrations/demo")
    before = {run["dag_run_id"] for run in _replay_runs(server)}
    page.locator('button.replay-error[data-error-code="STRING_TOO_LONG"]').click()
    page.locator("#replay-result.notice-ok").wait_for(timeout=10_000)
    [new_run] = [run for run in _replay_runs(server) if run["dag_run_id"] not in before]
    assert new_run["conf"] == {"error_code": "STRING_TOO_LONG"}


def test_viewer_sees_the_records_but_cannot_replay(server, browser, tmp_path):
    page = _sign_in(browser, server, "viewer", "/lesync/integrations/demo?channel=chat")
    assert page.locator('tr[data-liveperson-id="LP-REJECTED-1"]').count() == 1
    assert page.locator('tr[data-liveperson-id="LP-REJECTED-2"]').count() == 0  # messaging, filtered out
    assert page.locator("#read-only").is_visible()
    assert page.locator("#replay-selected").count() == 0
    page.screenshot(path=tmp_path / "4-viewer.png", full_page=True)

    before = len(_replay_runs(server))
    status = page.evaluate(
        """async (dagId) => (await fetch(`/api/v2/dags/${dagId}/dagRuns`, {
             method: "POST", headers: {"Content-Type": "application/json"},
             body: JSON.stringify({logical_date: null, conf: {liveperson_ids: ["LP-REJECTED-1"]}}),
           })).status""",
        REPLAY_DAG,
    )
    assert status == 403  # Airflow itself refuses the viewer, with the viewer's own session
    assert len(_replay_runs(server)) == before


def test_the_page_is_in_airflow_navigation(server, browser, tmp_path):
    page = _sign_in(browser, server, "viewer", "/plugin/lesync")
    frame = page.frame_locator("iframe")
    frame.locator("h1").wait_for(timeout=15_000)
    assert frame.locator("h1").inner_text() == "lesync integrations"
    frame.get_by_role("link", name="demo").first.wait_for()
    page.screenshot(path=tmp_path / "5-in-airflow-ui.png")
