"""Where a stage's wall time goes: HTTP calls by Salesforce route class, and the client's sleeps.

Under a latency profile the load is mostly waiting; this says on what. ``HttpTrace`` wraps
``requests.Session.request`` (every client in the process: ours, simple-salesforce, Airflow's
hook) and adds up calls and seconds per route class (token, query, describe, sobject,
collections, composite, files, bulk); ``sleep`` is a drop-in for ``time.sleep`` that adds up
the client's own waits (Bulk job polls, retry backoff). The rest of the wall time is CPU and
streamed downloads read after ``request`` returned.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import requests

from lesync.emulators.latency import salesforce_route_class


class HttpTrace:
    """``with HttpTrace() as trace:`` records every request made in this process meanwhile."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.slept = 0.0
        self.sleeps = 0
        self._original = None
        self._lock = threading.Lock()  # our load calls from several threads

    def __enter__(self) -> HttpTrace:
        self._original = original = requests.Session.request
        trace = self

        def request(session: requests.Session, method: str, url: str, *args: Any, **kwargs: Any):
            started = time.perf_counter()
            try:
                return original(session, method, url, *args, **kwargs)
            finally:
                trace.add(salesforce_route_class(urlsplit(str(url)).path.rstrip("/")), started)

        requests.Session.request = request  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        requests.Session.request = self._original  # type: ignore[method-assign]

    def add(self, route_class: str, started: float) -> None:
        """Seconds are summed over threads: with calls in parallel they may exceed the wall time."""
        with self._lock:
            self.calls[route_class] += 1
            self.seconds[route_class] += time.perf_counter() - started

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that is counted (give it to the client as its sleep)."""
        with self._lock:
            self.sleeps += 1
            self.slept += seconds
        time.sleep(seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "by_class": {
                k: {"calls": self.calls[k], "s": round(self.seconds[k], 2)} for k in sorted(self.calls)
            },
            "http_s": round(sum(self.seconds.values()), 2),
            "slept_s": round(self.slept, 2),
            "sleeps": self.sleeps,
        }
