"""``POST /services/data/vNN.N/composite``: several REST requests in one call; the query subset.

As documented (REST API Developer Guide, "Send Multiple Requests Using Composite"): the body is
``{"allOrNone": bool, "compositeRequest": [{"method", "url", "referenceId"}, ...]}``, at most 25
subrequests of which at most five may be query operations (Query, QueryAll, or the next page of
either); the answer is ``{"compositeResponse": [{"body", "httpHeaders", "httpStatusCode",
"referenceId"}, ...]}`` in order, a failed subrequest carrying its error list as its body; and "the
entire series of requests counts as a single call toward your API limits". A query in the body
escapes the URL limit of ``GET /query`` (Help article 000386264), so it may use SOQL's full
100,000 characters.

The emulator runs ``GET`` query subrequests only (what lesync sends) and answers any other
subrequest with an error naming what it supports; ``@{reference}`` expressions are not resolved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from .errors import SalesforceApiError, error
from .rest import json_body

if TYPE_CHECKING:
    from .state import SalesforceState

MAX_SUBREQUESTS = 25
MAX_QUERY_SUBREQUESTS = 5
#: SOQL statements may be at most 100,000 characters (SOQL and SOSL Limits).
MAX_SOQL_CHARS = 100_000
_QUERY_RESOURCES = {"query": False, "queryAll": True}


def composite_router(state: SalesforceState, version_of: Any) -> APIRouter:
    router = APIRouter(prefix="/services/data/v{version}")

    @router.post("/composite")
    async def composite(request: Request, version: str = Depends(version_of)) -> dict[str, Any]:
        body = await json_body(request)
        subrequests = _subrequests(body)
        answers = []
        for sub in subrequests:
            status, payload = await run_in_threadpool(_run, state, sub, version)
            answers.append(
                {
                    "body": payload,
                    "httpHeaders": {},
                    "httpStatusCode": status,
                    "referenceId": sub["referenceId"],
                }
            )
        return {"compositeResponse": answers}

    return router


def _subrequests(body: Any) -> list[dict[str, Any]]:
    subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subrequests, list) or not subrequests:
        raise SalesforceApiError.of(
            400, "JSON_PARSER_ERROR", "compositeRequest: a list of subrequests is required"
        )
    if len(subrequests) > MAX_SUBREQUESTS:
        raise SalesforceApiError.of(
            400, "INVALID_BATCH_REQUEST", f"Composite request has more than {MAX_SUBREQUESTS} subrequests"
        )
    queries = sum(1 for sub in subrequests if _query_resource(str(sub.get("url", ""))) is not None)
    if queries > MAX_QUERY_SUBREQUESTS:
        raise SalesforceApiError.of(
            400,
            "INVALID_BATCH_REQUEST",
            f"Composite request has more than {MAX_QUERY_SUBREQUESTS} query or sObject Collections "
            "subrequests",
        )
    for sub in subrequests:
        if not isinstance(sub, dict) or not sub.get("url") or not sub.get("referenceId"):
            raise SalesforceApiError.of(
                400, "JSON_PARSER_ERROR", "each subrequest needs method, url and referenceId"
            )
    return subrequests


def _query_resource(url: str) -> tuple[str, str | None] | None:
    """(``query`` or ``queryAll``, the page locator or ``None``) for a query URL, else ``None``."""
    parts = urlsplit(url).path.rstrip("/").split("/")
    for position in (-1, -2):
        if len(parts) >= -position and parts[position] in _QUERY_RESOURCES:
            return parts[position], (parts[-1] if position == -2 else None)
    return None


def _run(state: SalesforceState, sub: dict[str, Any], version: str) -> tuple[int, Any]:
    url = str(sub["url"])
    resource = _query_resource(url)
    if str(sub.get("method", "")).upper() != "GET" or resource is None:
        message = "the emulator runs GET query subrequests only (Query, QueryAll, their next pages)"
        return 400, [error("INVALID_BATCH_REQUEST", message)]
    name, locator = resource
    try:
        if locator is not None:
            return 200, state.queries.more(locator, version, name)
        text = (parse_qs(urlsplit(url).query).get("q") or [""])[0]
        if not text:
            raise SalesforceApiError.of(400, "MALFORMED_QUERY", "A query string has to be specified")
        if len(text) > MAX_SOQL_CHARS:
            raise SalesforceApiError.of(
                400, "MALFORMED_QUERY", f"SOQL statements cannot exceed {MAX_SOQL_CHARS} characters"
            )
        return 200, state.queries.run(text, version, _QUERY_RESOURCES[name])
    except SalesforceApiError as failure:
        return failure.status, failure.errors
