"""`python -m lesync pools` creates every enabled integration's pools, with the slots its limits say.

docker-compose's airflow-init runs the same command, so this is the one place pools come from.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lesync.factory import liveperson_pool, salesforce_pool

pytestmark = pytest.mark.e2e
INCLUDE = Path(__file__).resolve().parents[2] / "include"
COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yaml"


def _integrations(tmp_path: Path, body: str) -> Path:
    shutil.copytree(INCLUDE / "mappings", tmp_path / "mappings")
    path = tmp_path / "integrations.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def _pools() -> dict[str, tuple[int, str]]:
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    with create_session() as session:
        return {pool.pool: (pool.slots, pool.description) for pool in session.query(Pool)}


def _run_pools_command(integrations: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESYNC_INTEGRATIONS_FILE", str(integrations))
    done = subprocess.run([sys.executable, "-m", "lesync", "pools"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_pools_exist_with_the_slots_of_each_integration(airflow_db, tmp_path, monkeypatch):
    integrations = _integrations(
        tmp_path,
        """
        integrations:
          - name: emea
            limits: {liveperson_concurrency: 3, salesforce_concurrency: 1}
          - name: apac
          - name: paused
            enabled: false
        """,
    )
    _run_pools_command(integrations, monkeypatch)
    pools = _pools()
    assert pools[liveperson_pool("emea")][0] == 3 and pools[salesforce_pool("emea")][0] == 1
    assert pools[liveperson_pool("apac")][0] == 2 and pools[salesforce_pool("apac")][0] == 2
    assert not any("paused" in name for name in pools)

    # Re-running after a change updates the slots (airflow-init is safe to run again).
    integrations.write_text(
        integrations.read_text().replace("liveperson_concurrency: 3", "liveperson_concurrency: 5")
    )
    _run_pools_command(integrations, monkeypatch)
    assert _pools()[liveperson_pool("emea")][0] == 5


def test_docker_compose_creates_pools_with_the_same_command():
    compose = COMPOSE.read_text(encoding="utf-8")
    assert "python -m lesync pools" in compose
    assert "airflow pools set" not in compose  # no second definition of the slots
