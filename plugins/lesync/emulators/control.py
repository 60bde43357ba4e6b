"""Fault injection and call counting shared by both emulators.

A test (in-process, or in another process over HTTP at ``/_emulator/...``) adds fault rules:
"the next 2 calls to a path matching X answer 429 with Retry-After 1", "drop the connection",
"answer slowly". Every API call is counted per endpoint so tests and benchmarks can assert API
economy without trusting the client's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from starlette.routing import Match

CONTROL_PREFIX = "/_emulator"


class FaultRule(BaseModel):
    """One injected fault; it applies to matching requests until its ``times`` are used up."""

    path: str = Field(".*", description="Regular expression searched in the request path.")
    method: str | None = Field(None, description="HTTP method to match; any when empty.")
    status: int | None = Field(None, description="Answer with this HTTP status instead.")
    body: Any = Field(None, description="JSON body to answer with; a vendor-style one if empty.")
    retry_after: float | None = Field(None, description="Retry-After header value, seconds.")
    delay: float = Field(0.0, ge=0, description="Seconds to wait before handling the request.")
    drop: bool = Field(False, description="Start the response, then close the connection.")
    times: int | None = Field(1, ge=1, description="Requests affected; empty means forever.")
    skip: int = Field(0, ge=0, description="Matching requests let through before the fault.")

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


class FaultPlan:
    """Thread-safe list of fault rules, consumed in the order they were added."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule | None = None, **fields: Any) -> FaultRule:
        rule = rule or FaultRule(**fields)
        with self._lock:
            self._rules.append(rule.model_copy())
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [r.model_copy() for r in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """The fault for this request, if any; consumes one use of it."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.skip:
                    rule.skip -= 1
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                return rule.model_copy()
        return None


class CallCounter:
    """API calls per endpoint ("METHOD /route/template"), as the service would bill them."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


ErrorBody = Callable[[int], Any]


class ControlMiddleware:
    """ASGI middleware: applies fault rules, then counts the call under its route template."""

    def __init__(self, app: Any, plan: FaultPlan, counter: CallCounter, error_body: ErrorBody, routes: list):
        self.app = app
        self.plan = plan
        self.counter = counter
        self.error_body = error_body
        self.routes = routes

    def endpoint_key(self, scope: dict) -> str:
        """'POST /api/account/{accountId}/...': the route template, so ids do not split counts."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} {scope['path']}"

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        self.counter.add(self.endpoint_key(scope))
        rule = self.plan.take(method, path)
        if rule is not None:
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.drop:
                await _drop_connection(send)
                return
            if rule.status is not None:
                await _send_fault(send, rule, self.error_body)
                return
        await self.app(scope, receive, send)


async def _send_fault(send: Callable, rule: FaultRule, error_body: ErrorBody) -> None:
    body = rule.body if rule.body is not None else error_body(rule.status)
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if rule.retry_after is not None:
        headers.append((b"retry-after", _retry_after_value(rule.retry_after).encode()))
    await send({"type": "http.response.start", "status": rule.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _retry_after_value(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


async def _drop_connection(send: Callable) -> None:
    """Promise a body, send part of it, and give up: the server then closes the socket, so the
    client sees a broken connection (requests raises ChunkedEncodingError / ConnectionError)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
    # Returning with the body unfinished makes uvicorn close the socket.


def install_control(app: FastAPI, plan: FaultPlan, counter: CallCounter, error_body: ErrorBody) -> None:
    """Add the middleware and the ``/_emulator`` endpoints (faults, calls) to an emulator app."""
    router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator control"])

    @router.get("/faults")
    def list_faults() -> list[FaultRule]:
        return plan.rules()

    @router.post("/faults", status_code=201)
    def add_fault(rule: FaultRule) -> FaultRule:
        return plan.add(rule)

    @router.delete("/faults", status_code=204)
    def clear_faults() -> None:
        plan.clear()

    @router.get("/calls")
    def calls() -> dict[str, Any]:
        return {"total": counter.total(), "by_endpoint": counter.snapshot()}

    @router.delete("/calls", status_code=204)
    def reset_calls() -> None:
        counter.reset()

    app.include_router(router)
    app.add_middleware(
        ControlMiddleware, plan=plan, counter=counter, error_body=error_body, routes=app.router.routes
    )
