"""Fixtures for the org checks: the shipped mapping."""

from __future__ import annotations

import pytest
from org_describes import shipped_mapping


@pytest.fixture
def mapping():
    return shipped_mapping()
