"""Scale-out tests: a real CeleryExecutor cluster (PostgreSQL + Redis on loopback).

Skipped, with the reason, only when PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) is not
reachable. Everything else that goes wrong is a failure with the process and task log tails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # harness.py, without making tests/ a package

from harness import service_unreachable  # noqa: E402


@pytest.fixture(scope="session")
def scaleout_services() -> None:
    if reason := service_unreachable():
        pytest.skip(f"scale-out test needs PostgreSQL and Redis on loopback: {reason}")
