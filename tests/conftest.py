"""Test-wide settings: every test process gets its own Airflow home and metadata database.

Unconditional on purpose: tests never touch a developer's ~/airflow, and pytest-xdist workers
(which inherit the parent's environment) must not share one SQLite database, or concurrent
dag.test runs corrupt each other's runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_AIRFLOW_HOME = tempfile.mkdtemp(prefix=f"lesync-test-airflow-{_WORKER}-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["LESYNC_STAGING_ROOT"] = os.path.join(_AIRFLOW_HOME, "staging")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
