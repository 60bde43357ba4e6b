from __future__ import annotations

from typing import Any

import pytest
import requests_mock
from lpfake import ACCOUNT, DOMAIN, SECRETS, FakeLivePerson

from lesync.liveperson import LivePersonClient, LivePersonSettings, clear_discovery_cache


@pytest.fixture(autouse=True)
def _fresh_discovery():
    clear_discovery_cache()
    yield
    clear_discovery_cache()


class FakeClock:
    """Monotonic clock that only moves when told; ``sleep`` records and advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_settings(clock: FakeClock):
    def make(**overrides: Any) -> LivePersonSettings:
        fields: dict[str, Any] = {
            "account_id": ACCOUNT,
            "domain_api_url": DOMAIN,
            "conn_id": "liveperson_test",
            "sleep": clock.sleep,
            "clock": clock,
            **SECRETS,
        }
        fields.update(overrides)
        return LivePersonSettings(**fields)

    return make


@pytest.fixture
def mocker():
    with requests_mock.Mocker() as m:
        yield m


@pytest.fixture
def fake(mocker) -> FakeLivePerson:
    return FakeLivePerson(mocker)


@pytest.fixture
def client(make_settings, fake) -> LivePersonClient:
    return LivePersonClient(make_settings())
