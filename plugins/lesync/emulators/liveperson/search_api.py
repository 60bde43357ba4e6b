"""Request validation and response paging for the two history search APIs.

The rules are LivePerson's: ``limit`` at most 100, ``source`` at most 20 characters (and
required for messaging), ``start`` required and at most one month (chat) or three months
(messaging) long, window edges rounded to 10 minutes (from down, to up) so neighbouring windows
overlap, and ``_metadata`` links as full URLs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from lesync.emulators.liveperson.errors import ApiError
from lesync.emulators.liveperson.messaging import CONTENT_PARTS, DEFAULT_CONTENT
from lesync.emulators.liveperson.store import DAY_MS, SearchQuery

TEN_MINUTES_MS = 600_000
MAX_LIMIT = 100
DEFAULT_LIMIT = 50
MAX_SOURCE_CHARS = 20
CHAT_MAX_DAYS = 31
MESSAGING_MAX_DAYS = 93
SORT_FIELDS = ("start", "end")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


@dataclass
class Paging:
    offset: int
    limit: int
    sort_field: str
    descending: bool
    link_params: dict[str, str]  # what the client sent, echoed in _metadata links


def round_down(ms: int) -> int:
    return ms - ms % TEN_MINUTES_MS


def round_up(ms: int) -> int:
    return -(-ms // TEN_MINUTES_MS) * TEN_MINUTES_MS


def parse_paging(query: dict[str, str], source_required: bool) -> Paging:
    offset = _int_param(query, "offset", 0)
    limit = _int_param(query, "limit", DEFAULT_LIMIT)
    if offset < 0:
        raise bad_request("offset must be 0 or more")
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    source = query.get("source")
    if source_required and not source:
        raise bad_request("Missing required query parameter 'source' (the calling application's name)")
    if source is not None and len(source) > MAX_SOURCE_CHARS:
        raise bad_request(f"source must be at most {MAX_SOURCE_CHARS} characters, got {len(source)}")
    sort_field, descending = _parse_sort(query.get("sort", "start:asc"))
    link_params = {k: query[k] for k in ("sort", "source", "v") if k in query}
    return Paging(offset, limit, sort_field, descending, link_params)


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise bad_request(f"{name} must be an integer, got {raw!r}") from exc


def _parse_sort(raw: str) -> tuple[str, bool]:
    field, _, direction = raw.partition(":")
    direction = direction or "asc"
    if field not in SORT_FIELDS or direction not in ("asc", "desc"):
        raise bad_request(f"Invalid sort {raw!r}: use start|end followed by :asc or :desc")
    return field, direction == "desc"


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def parse_window(body: dict[str, Any], max_days: int | None) -> tuple[int, int]:
    """The rounded (from, to) of the required ``start`` filter (``max_days=None``: no length limit,
    as with ``engagementId``)."""
    start = body.get("start")
    if not isinstance(start, dict) or "from" not in start or "to" not in start:
        raise bad_request("Missing required body field 'start' with 'from' and 'to' (epoch ms)")
    start_from, start_to = _epoch(start["from"], "start.from"), _epoch(start["to"], "start.to")
    if start_to < start_from:
        raise bad_request("start.to must not be before start.from")
    if max_days is not None and start_to - start_from > max_days * DAY_MS:
        raise bad_request(f"Time range too long: start.from to start.to may span at most {max_days} days")
    return round_down(start_from), round_up(start_to)


def _epoch(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
        raise bad_request(f"{name} must be epoch milliseconds, got {value!r}")
    return int(value)


def _id_set(body: dict[str, Any], name: str) -> frozenset[int] | None:
    values = body.get(name)
    if values is None:
        return None
    if not isinstance(values, list):
        raise bad_request(f"{name} must be a list")
    try:
        return frozenset(int(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"{name} must hold numeric ids") from exc


def _keyword(body: dict[str, Any]) -> str | None:
    keyword = body.get("keyword")
    if keyword is not None and not isinstance(keyword, str):
        raise bad_request("keyword must be a string")
    return keyword or None


def chat_query(body: dict[str, Any], paging: Paging) -> SearchQuery:
    start_from, start_to = parse_window(body, CHAT_MAX_DAYS)
    return SearchQuery(
        start_from=start_from,
        start_to=start_to,
        sort_field=paging.sort_field,
        descending=paging.descending,
        skill_ids=_id_set(body, "skillIds"),
        agent_ids=_id_set(body, "agentIds"),
        keyword=_keyword(body),
    )


def messaging_query(body: dict[str, Any], paging: Paging, ignore_updated_since: bool = False) -> SearchQuery:
    """Filters are ANDed, like the real API: ``latestUpdateTime`` narrows the required ``start``
    range, it does not widen it. A client wanting "started in the window OR updated in it"
    issues two searches (one by start, one by a wide start range plus latestUpdateTime).

    ``ignore_updated_since``: the other reading of the docs, which do not clearly show
    ``latestUpdateTime`` as a filter: it is checked for shape and then not applied."""
    updated_since = _updated_since(body)
    start_from, start_to = parse_window(body, MESSAGING_MAX_DAYS)
    return SearchQuery(
        start_from=start_from,
        start_to=start_to,
        sort_field=paging.sort_field,
        descending=paging.descending,
        skill_ids=_id_set(body, "skillIds"),
        agent_ids=_id_set(body, "agentIds"),
        statuses=_statuses(body),
        updated_since=None if ignore_updated_since else updated_since,
        keyword=_keyword(body),
    )


def _statuses(body: dict[str, Any]) -> frozenset[str] | None:
    status = body.get("status")
    if status is None:
        return None
    if not isinstance(status, list) or not all(isinstance(s, str) for s in status):
        raise bad_request("status must be a list of OPEN and/or CLOSE")
    spelled = {s.upper() for s in status}  # enumerations are case-insensitive
    if not spelled <= {"OPEN", "CLOSE"}:
        raise bad_request("status must be a list of OPEN and/or CLOSE")
    return frozenset(spelled)


def _updated_since(body: dict[str, Any]) -> int | None:
    latest = body.get("latestUpdateTime")
    if latest is None:
        return None
    if not isinstance(latest, dict) or "from" not in latest:
        raise bad_request("latestUpdateTime must be an object with 'from' (epoch ms)")
    return round_down(_epoch(latest["from"], "latestUpdateTime.from"))


def content_to_retrieve(body: dict[str, Any]) -> frozenset[str]:
    parts = body.get("contentToRetrieve")
    if parts is None:
        return DEFAULT_CONTENT
    if not isinstance(parts, list):
        raise bad_request("contentToRetrieve must be a list")
    unknown = [p for p in parts if p not in CONTENT_PARTS]
    if unknown:
        raise bad_request(f"Unknown contentToRetrieve values: {unknown}")
    return frozenset(parts)


def metadata(base_url: str, path: str, paging: Paging, count: int) -> dict[str, Any]:
    """``_metadata`` with full-URL links; ``next`` only when another page exists."""

    def link(rel: str, offset: int) -> dict[str, str]:
        params = {"offset": str(offset), "limit": str(paging.limit), **paging.link_params}
        return {"rel": rel, "href": f"{base_url}{path}?{urlencode(params, safe=':')}"}

    meta: dict[str, Any] = {"count": count, "self": link("self", paging.offset)}
    if paging.offset + paging.limit < count:
        meta["next"] = link("next", paging.offset + paging.limit)
    if paging.offset > 0:
        meta["prev"] = link("prev", max(paging.offset - paging.limit, 0))
    if count > 0:
        meta["last"] = link("last", (count - 1) // paging.limit * paging.limit)
    meta["shardsStatusResult"] = {"partialResult": False}
    return meta
