"""Fault injection and call counting, through a real HTTP server and an independent client."""

from __future__ import annotations

import pytest
import requests
from fastapi import FastAPI

from lesync.emulators.control import CallCounter, FaultPlan, FaultRule, install_control
from lesync.emulators.server import serve_in_thread


def _error_body(status: int) -> list[dict]:
    return [{"errorCode": "INJECTED", "message": f"injected {status}"}]


@pytest.fixture(scope="module")
def served():
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: str) -> dict:
        return {"id": item_id}

    plan, counter = FaultPlan(), CallCounter()
    install_control(app, plan, counter, _error_body)
    server = serve_in_thread(app)
    yield server.url, plan, counter
    server.stop()


@pytest.fixture(autouse=True)
def _clean(served):
    _, plan, counter = served
    plan.clear()
    counter.reset()


def test_status_fault_with_retry_after_then_recovers(served):
    url, plan, _ = served
    plan.add(path="^/items/", status=429, retry_after=2, times=2)
    first, second, third = (requests.get(f"{url}/items/{i}") for i in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["Retry-After"] == "2"
    assert first.json() == [{"errorCode": "INJECTED", "message": "injected 429"}]
    assert third.json() == {"id": "2"}


def test_skip_lets_calls_through_before_faulting(served):
    url, plan, _ = served
    plan.add(path="/items", status=503, skip=1, times=1)
    codes = [requests.get(f"{url}/items/{i}").status_code for i in range(3)]
    assert codes == [200, 503, 200]


def test_method_filter(served):
    url, plan, _ = served
    plan.add(path="/items", method="POST", status=500)
    assert requests.get(f"{url}/items/1").status_code == 200
    assert len(plan.rules()) == 1


def test_dropped_connection_breaks_the_client(served):
    url, plan, _ = served
    plan.add(path="/items", drop=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{url}/items/1")
    assert requests.get(f"{url}/items/1").status_code == 200


def test_delay_slows_the_answer(served):
    url, plan, _ = served
    plan.add(path="/items", delay=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{url}/items/1", timeout=0.2)


def test_forever_rule_until_cleared_over_http(served):
    url, _, _ = served
    assert requests.post(f"{url}/_emulator/faults", json={"path": "/items", "status": 500, "times": None}).ok
    assert [requests.get(f"{url}/items/{i}").status_code for i in range(3)] == [500] * 3
    assert requests.get(f"{url}/_emulator/faults").json()[0]["status"] == 500
    assert requests.delete(f"{url}/_emulator/faults").status_code == 204
    assert requests.get(f"{url}/items/9").status_code == 200


def test_calls_counted_per_route_template_including_faulted_ones(served):
    url, plan, counter = served
    plan.add(path="/items", status=500)
    for i in range(3):
        requests.get(f"{url}/items/{i}")
    requests.get(f"{url}/nowhere")
    calls = requests.get(f"{url}/_emulator/calls").json()
    assert calls == {"total": 4, "by_endpoint": {"GET /items/{item_id}": 3, "GET /nowhere": 1}}
    requests.delete(f"{url}/_emulator/calls")
    assert counter.total() == 0


def test_rule_validation_rejects_nonsense():
    with pytest.raises(ValueError):
        FaultRule(times=0)
    with pytest.raises(ValueError):
        FaultRule(delay=-1)
