"""Service discovery: the host of each LivePerson service, looked up at run time, once per process.

LivePerson moves accounts between data centres, so hosts are never hard-coded; but they change
rarely, so one lookup per (domain API, account, service) per process is enough.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lesync.liveperson.errors import LivePersonError

_CACHE: dict[tuple[str, str, str], str] = {}
_LOCK = threading.Lock()


def discovery_url(domain_api_url: str, account_id: str, service: str) -> str:
    return f"{domain_api_url}/api/account/{account_id}/service/{service}/baseURI.json"


def base_url(domain_api_url: str, account_id: str, service: str, lookup: Callable[[str], Any]) -> str:
    """``https://<host>`` of ``service``; ``lookup(url)`` fetches the JSON on a cache miss."""
    key = (domain_api_url, account_id, service)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached:
        return cached
    body = lookup(discovery_url(domain_api_url, account_id, service))
    found = _as_url(_base_uri(body, service))
    if not found:
        raise LivePersonError(f"LivePerson service discovery found no {service!r} for account {account_id}")
    with _LOCK:
        _CACHE[key] = found
    return found


def clear_cache() -> None:
    """Forget every discovered host (tests, or after LivePerson moved the account)."""
    with _LOCK:
        _CACHE.clear()


def _base_uri(body: Any, service: str) -> str | None:
    """``baseURI`` from the single-service answer, or from a ``baseURIs`` list of them."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("baseURI"), str):
        return body["baseURI"]
    for entry in body.get("baseURIs") or []:
        if isinstance(entry, dict) and entry.get("service") == service:
            return entry.get("baseURI")
    return None


def _as_url(host: str | None) -> str | None:
    if not host:
        return None
    host = host.strip().rstrip("/")
    return host if "://" in host else f"https://{host}"
