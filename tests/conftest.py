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
os.environ["LESYNC_STATE_URL"] = f"sqlite:///{os.path.join(_AIRFLOW_HOME, 'lesync-state.db')}"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)


# --- markers: what a test is follows from where it lives and what its module does -------------

import re  # noqa: E402

import pytest  # noqa: E402

_TESTS = Path(__file__).resolve().parent
#: Names whose use in a module means its tests start servers or processes (loopback emulators,
#: TLS servers, subprocesses): those are "integration", never "unit", wherever the file lives.
_STARTS_SOMETHING = re.compile(r"\b(start_salesforce|start_liveperson|serve_in_thread|subprocess)\b")
#: Fixtures that start an emulator for the test (tests/unit/emulators/conftest.py, tests/e2e/).
_SERVER_FIXTURES = frozenset({"sf_emulator", "lp_emulator", "org", "airflow_db"})
_module_starts: dict[Path, bool] = {}


def _starts_something(path: Path) -> bool:
    if path not in _module_starts:
        _module_starts[path] = bool(_STARTS_SOMETHING.search(path.read_text(encoding="utf-8")))
    return _module_starts[path]


def _kind(item: pytest.Item) -> str:
    parts = Path(item.path).resolve().relative_to(_TESTS).parts
    if parts[0] in ("e2e", "scaleout"):
        return parts[0]
    if _starts_something(Path(item.path)) or _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "integration"
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """unit: pure and fast (`pytest -m unit` runs in seconds); integration: starts emulators or
    processes on loopback; e2e: runs DAGs against the emulators (also slow); scaleout: Celery."""
    for item in items:
        kind = _kind(item)
        item.add_marker(kind)
        if kind in ("e2e", "scaleout"):
            item.add_marker("slow")
