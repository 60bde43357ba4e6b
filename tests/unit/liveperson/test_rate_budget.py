"""A shared LivePerson rate budget: the client asks a limiter before every request; tasks wire it
to the state store's token bucket keyed by the account, so parallel extracts (threads, tasks,
workers) stay under LivePerson's throttling instead of meeting 429 storms."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import URL

from lesync.emulators.latency import LatencyProfile, LivePersonLatency, latency_control
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.liveperson import LivePersonClient, LivePersonSettings
from lesync.liveperson.errors import LivePersonUnavailableError
from lesync.liveperson.http import rate_limiter
from lesync.state import StateStore

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
#: The emulator throttles the account above this (a token bucket), as the latency profile does.
SERVER_RATE, SERVER_BURST = 20.0, 8
THREADS, CALLS_EACH = 4, 6


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    config = LivePersonEmulatorConfig(seed=7, conversations=50, days=1, now_ms=int(NOW.timestamp() * 1000))
    emu = start_liveperson(config, data_dir=tmp_path_factory.mktemp("lp"))
    yield emu
    emu.stop()


@pytest.fixture
def throttling(emulator):
    control = latency_control(emulator.state)
    control.use(LatencyProfile(liveperson=LivePersonLatency(rate_per_s=SERVER_RATE, burst=SERVER_BURST)))
    before = control.throttled  # a running total over the emulator's life
    yield lambda: control.throttled - before
    control.use(None)


def settings_for(emulator) -> LivePersonSettings:
    info = emulator.connection_info()
    return LivePersonSettings(
        account_id=info["account_id"],
        consumer_key=info["consumer_key"],
        consumer_secret=info["consumer_secret"],
        access_token=info["access_token"],
        access_token_secret=info["access_token_secret"],
        domain_api_url=info["domain_api_url"],
        ca_file=info["ca_file"],
        conn_id="liveperson_emu",
        sleep=lambda seconds: time.sleep(min(seconds, 0.05)),  # 429s are retried, quickly
    )


def hammer(emulator, limiter_for) -> list[LivePersonClient]:
    """``THREADS`` clients of one account, each reading ``CALLS_EACH`` pages at once."""
    clients = [LivePersonClient(settings_for(emulator), limiter=limiter_for(n)) for n in range(THREADS)]
    for client in clients:
        client.service_url("engHistDomain")  # discovery once, before the race

    def work(client: LivePersonClient) -> None:
        try:
            for _ in range(CALLS_EACH):
                list(client.chats(NOW - timedelta(hours=2), NOW))
        except LivePersonUnavailableError:  # a 429 storm outlasting the retries
            failed.append(client)

    failed: list[LivePersonClient] = []

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return clients


def store_limiter(url: URL, rate: float, burst: int, granted: list[float]):
    """What tasks.liveperson_limiter builds, with its own StateStore (as another process would)."""
    store = StateStore(url)

    def take() -> float:
        return store.take_rate_tokens("liveperson:acct", 1, rate, burst)

    limit = rate_limiter(take)

    def limiter() -> None:
        limit()
        granted.append(time.monotonic())

    return limiter


@pytest.fixture
def store_url(tmp_path) -> URL:
    url = URL.create("sqlite", database=str(tmp_path / "state.db"))
    StateStore(url).migrate()
    return url


def test_without_a_shared_budget_parallel_clients_meet_429s(emulator, throttling):
    clients = hammer(emulator, lambda n: None)
    assert throttling() > 0
    assert sum(client.stats["retries"] for client in clients) > 0


def test_with_the_shared_budget_no_429_and_never_over_the_rate(emulator, throttling, store_url):
    rate, burst = 10.0, 3  # under the server's rate, with room for requests that bunch up in transit
    granted: list[float] = []
    clients = hammer(emulator, lambda n: store_limiter(store_url, rate, burst, granted))

    assert throttling() == 0
    assert sum(client.stats["retries"] for client in clients) == 0
    assert len(granted) == sum(client.stats["calls"] for client in clients)  # asked before every call
    granted.sort()
    for i, start in enumerate(granted):  # any window: at most burst + rate x its length (+ clock slack)
        for j in range(i + 1, len(granted)):
            assert j - i + 1 <= burst + rate * (granted[j] - start + 0.02)


def test_the_limiter_is_asked_before_each_retry_too(emulator):
    emulator.state.faults.add(path="interactions/search", status=503, times=1)
    asked = []
    settings = settings_for(emulator).model_copy(update={"retry_delays": (0.0,)})
    client = LivePersonClient(settings, limiter=lambda: asked.append(1))
    list(client.chats(NOW - timedelta(hours=2), NOW))
    assert client.stats["retries"] == 1 and len(asked) == client.stats["calls"]
