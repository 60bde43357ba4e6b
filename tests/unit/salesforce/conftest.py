"""Fixtures: settings and a client whose HTTP is answered by requests-mock (no network)."""

from __future__ import annotations

import pytest
import requests_mock as requests_mock_module
from sf_fakes import SECRET, TOKEN_URL, token_answers

from lesync.salesforce import SalesforceConnectionSettings, build_client


@pytest.fixture
def settings() -> SalesforceConnectionSettings:
    return SalesforceConnectionSettings(client_id="cid", client_secret=SECRET, token_url=TOKEN_URL)


@pytest.fixture
def http():
    with requests_mock_module.Mocker() as mocker:
        yield mocker


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(http, settings, sleeps):
    http.post(TOKEN_URL, token_answers("tok-1", "tok-2", "tok-3"))
    return build_client(settings, sleep=sleeps.append)
