"""A latency profile for both emulators: what a call costs on the other side of the internet.

On loopback a call costs a couple of milliseconds and the emulators' own CPU decides every
benchmark. A profile makes the emulators answer the way the real services do, in wall time:

* every call waits a base delay chosen by its route class (LivePerson: discovery, token,
  search, by_id; Salesforce: token, query, describe, sobject, collections, composite, files,
  bulk), plus a cost per KB of request and response body (the bandwidth);
* a Bulk API 2.0 job waits in a queue before it starts, then stays InProgress until its rows
  at the profile's rows per second have elapsed (or longer, if the emulator itself is slower);
* LivePerson throttles each account with a token bucket and answers 429 with Retry-After above
  the rate.

All waits on the request path are ``await asyncio.sleep``: uvicorn serves requests on one event
loop, so concurrent calls overlap as they do on a real server. Bulk jobs run on their own
threads, where ``time.sleep`` blocks only that job.

    control = latency_control(emulator.state)   # one per emulator state, created on first use
    control.use(load_profile("realistic"))      # or "none", or a YAML file (see bench/README.md)

The numbers of ``realistic`` and where they come from are in bench/README.md.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lesync.emulators.control import CONTROL_PREFIX

KB = 1024


class LivePersonLatency(BaseModel):
    """What a LivePerson call costs: a base delay per route class, bandwidth, and throttling."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_s: dict[str, float] = Field(
        default_factory=dict,
        description="Seconds per call by route class: discovery, token, search, by_id, other.",
    )
    per_kb_s: float = Field(0.0, ge=0, description="Seconds per KB of request and response body.")
    rate_per_s: float | None = Field(
        None,
        gt=0,
        description="Requests per second allowed per account (token bucket refill); none: no limit.",
    )
    burst: int = Field(1, ge=1, description="Token bucket size: calls allowed at once after a quiet spell.")


class SalesforceLatency(BaseModel):
    """What a Salesforce call costs: a base delay per route class, bandwidth, and Bulk processing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_s: dict[str, float] = Field(
        default_factory=dict,
        description="Seconds per call by route class: token, query, describe, sobject, collections, "
        "composite, files, bulk, other.",
    )
    per_kb_s: float = Field(0.0, ge=0, description="Seconds per KB of request and response body.")
    bulk_queue_s: float = Field(0.0, ge=0, description="Seconds a closed Bulk job waits before processing.")
    bulk_rows_per_s: float | None = Field(
        None, gt=0, description="Rows a Bulk job processes per second; none: as fast as the emulator."
    )


class LatencyProfile(BaseModel):
    """Both services' costs under one name; every field defaults to "no delay"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    liveperson: LivePersonLatency = Field(default_factory=LivePersonLatency)
    salesforce: SalesforceLatency = Field(default_factory=SalesforceLatency)

    @property
    def is_none(self) -> bool:
        return self.liveperson == LivePersonLatency() and self.salesforce == SalesforceLatency()


NONE = LatencyProfile(name="none")

#: Defaults with their sources in bench/README.md ("The realistic latency profile").
REALISTIC = LatencyProfile(
    name="realistic",
    liveperson=LivePersonLatency(
        base_s={"discovery": 0.15, "token": 0.25, "search": 0.5, "by_id": 0.4, "other": 0.2},
        per_kb_s=0.00005,
        rate_per_s=10.0,
        burst=20,
    ),
    salesforce=SalesforceLatency(
        base_s={
            "token": 0.25,
            "query": 0.2,
            "describe": 0.25,
            "sobject": 0.2,
            "collections": 1.0,
            "composite": 1.0,
            "files": 0.5,
            "bulk": 0.2,
            "other": 0.2,
        },
        per_kb_s=0.00005,
        bulk_queue_s=5.0,
        bulk_rows_per_s=1000.0,
    ),
)

PROFILES = {"none": NONE, "realistic": REALISTIC}


def load_profile(spec: str | Path | LatencyProfile | None) -> LatencyProfile:
    """``none``, ``realistic`` or a YAML file with the fields of ``LatencyProfile``.

    A file may start from a named profile with ``extends: realistic`` and override single
    fields (``salesforce: {bulk_rows_per_s: 500}``); fields it does not name are "no delay"
    otherwise.
    """
    if spec is None:
        return NONE
    if isinstance(spec, LatencyProfile):
        return spec
    if str(spec) in PROFILES:
        return PROFILES[str(spec)]
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"latency profile {spec!r}: use none, realistic, or the path of a YAML file")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"latency profile {path}: the file must hold a mapping (liveperson:, salesforce:)")
    base = data.pop("extends", None)
    if base is not None and base not in PROFILES:
        raise ValueError(f"latency profile {path}: extends must be one of {sorted(PROFILES)}, not {base!r}")
    merged = _merge(PROFILES[base].model_dump() if base else {}, data)
    merged["name"] = data.get("name") or path.stem
    try:
        return LatencyProfile.model_validate(merged)
    except ValidationError as exc:
        raise ValueError(f"latency profile {path}: {exc}") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


# --- route classes ------------------------------------------------------------------------------

_SF_DATA = re.compile(r"^/services/data/v[\d.]+(/.*)?$")


def salesforce_route_class(path: str) -> str:
    """token, query, describe, sobject, collections, composite, files, bulk or other."""
    if path.startswith("/services/oauth2/"):
        return "token"
    if path.startswith("/services/async/"):
        return "bulk"  # Bulk API 1.0 (the bench's add-on)
    match = _SF_DATA.match(path)
    rest = (match.group(1) or "") if match else ""
    if rest.startswith("/jobs/"):
        return "bulk"
    if rest.startswith(("/query", "/queryAll")):
        return "query"
    if rest.startswith("/composite/sobjects"):
        return "collections"
    if rest.startswith("/composite"):
        return "composite"
    if rest.startswith("/sobjects/ContentVersion") or rest.startswith("/sobjects/ContentDocument"):
        return "files"
    if rest == "/sobjects" or rest.endswith("/describe"):
        return "describe"
    if rest.startswith("/sobjects/"):
        return "sobject"
    return "other"


def liveperson_route_class(path: str) -> str:
    """discovery, token, search, by_id or other."""
    if path.endswith("/baseURI.json"):
        return "discovery"
    if path.startswith("/sentinel/"):
        return "token"
    if path.endswith("/conversations/conversation/search"):
        return "by_id"
    if path.endswith(("/interactions/search", "/conversations/search")):
        return "search"
    return "other"


_ACCOUNT = re.compile(r"/account/([^/]+)/")


def liveperson_account(path: str) -> str | None:
    match = _ACCOUNT.search(path)
    return match.group(1) if match else None


# --- throttling ---------------------------------------------------------------------------------


class TokenBucket:
    """``rate`` calls per second on average, ``burst`` at once; thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 if a call may go now (and spends a token), else the seconds until one is free."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


# --- the control each emulator state owns -------------------------------------------------------


class LatencyControl:
    """The active profile of one emulator, switchable at any time, plus its throttling state."""

    def __init__(
        self,
        profile: LatencyProfile = NONE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.clock = clock
        self.sleep = sleep  # the request path's wait; tests record it instead of waiting
        self.throttled = 0
        self._lock = threading.Lock()
        self.use(profile)

    def use(self, profile: LatencyProfile | str | Path | None) -> LatencyProfile:
        with self._lock:
            self.profile = load_profile(profile)
            self.active = not self.profile.is_none  # read on every request: computed once here
            self._buckets: dict[str, TokenBucket] = {}
        return self.profile

    def call_delay(self, service: str, route_class: str) -> float:
        costs = self.profile.liveperson if service == "liveperson" else self.profile.salesforce
        return costs.base_s.get(route_class, costs.base_s.get("other", 0.0))

    def per_kb(self, service: str) -> float:
        costs = self.profile.liveperson if service == "liveperson" else self.profile.salesforce
        return costs.per_kb_s

    def throttle_wait(self, account: str | None) -> float:
        """0 if the account may call now, else seconds until it may (LivePerson only)."""
        limits = self.profile.liveperson
        if limits.rate_per_s is None or account is None:
            return 0.0
        with self._lock:
            bucket = self._buckets.get(account)
            if bucket is None:
                bucket = self._buckets[account] = TokenBucket(limits.rate_per_s, limits.burst, self.clock)
        wait = bucket.take()
        if wait:
            with self._lock:
                self.throttled += 1
        return wait

    def bulk_queue_s(self) -> float:
        return self.profile.salesforce.bulk_queue_s

    def bulk_remaining_s(self, rows: int, started: float) -> float:
        """Seconds a job that began processing at ``started`` (``clock``) must still stay InProgress."""
        rate = self.profile.salesforce.bulk_rows_per_s
        if not rate:
            return 0.0
        return max(0.0, started + rows / rate - self.clock())


_controls: weakref.WeakKeyDictionary[Any, LatencyControl] = weakref.WeakKeyDictionary()
_controls_lock = threading.Lock()


def latency_control(state: Any) -> LatencyControl:
    """The latency control of an emulator state (LivePersonState, SalesforceState): "none" until set."""
    with _controls_lock:
        control = _controls.get(state)
        if control is None:
            control = _controls[state] = LatencyControl()
        return control


# --- the ASGI middleware ------------------------------------------------------------------------

ErrorBody = Callable[[int], Any]


class LatencyMiddleware:
    """Delays each API call as the active profile says; throttles LivePerson accounts with 429.

    Mounted inside the call counter, so a throttled call is still counted (it was a request);
    ``/_emulator`` controls are never delayed.
    """

    def __init__(self, app: Any, control: LatencyControl, service: str, error_body: ErrorBody):
        self.app = app
        self.control = control
        self.service = service
        self.error_body = error_body
        self.classify = liveperson_route_class if service == "liveperson" else salesforce_route_class

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX) or not self.control.active:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if self.service == "liveperson":
            wait = self.control.throttle_wait(liveperson_account(path))
            if wait:
                await self._too_many_requests(send, wait)
                return
        delay = self.control.call_delay(self.service, self.classify(path))
        if delay:
            await self.control.sleep(delay)
        per_kb = self.control.per_kb(self.service)
        if not per_kb:
            await self.app(scope, receive, send)
            return

        async def slow_receive() -> dict:
            message = await receive()
            await self._transfer(message, per_kb)
            return message

        async def slow_send(message: dict) -> None:
            await self._transfer(message, per_kb)
            await send(message)

        await self.app(scope, slow_receive, slow_send)

    async def _transfer(self, message: dict, per_kb: float) -> None:
        """Wait as long as the body in ``message`` takes over the profile's bandwidth."""
        kind = message.get("type")
        size = len(message.get("body") or b"") if kind in ("http.request", "http.response.body") else 0
        if size:
            await self.control.sleep(size / KB * per_kb)

    async def _too_many_requests(self, send: Callable, wait: float) -> None:
        payload = json.dumps(self.error_body(429)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"retry-after", str(max(1, math.ceil(wait))).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def install_latency(app: Any, state: Any, service: str, error_body: ErrorBody) -> LatencyControl:
    """Mount the middleware on an emulator app; the control is the state's (``latency_control``)."""
    control = latency_control(state)
    app.add_middleware(LatencyMiddleware, control=control, service=service, error_body=error_body)
    return control
