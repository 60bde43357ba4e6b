"""Batched SOQL: as few queries per batch of values (``WHERE x IN (...)``) as the limits allow.

A query sent as ``GET /query?q=<SOQL>`` meets the URL limit first: Salesforce refuses a request
line plus headers over 16,384 bytes, long before SOQL's own 100,000 characters. ``query_in`` cuts
each IN list so that the whole ``q`` value, percent-encoded as it goes on the wire, stays under
``SOQL_QUERY_BYTES``.

``query_statements`` sends queries in the body of a ``/composite`` call instead (Salesforce's own
advice against the URL limit, Help article 000386264): each statement may then be 100,000
characters, and up to five query subrequests share one call, which counts as a single call toward
the API limits (REST API Developer Guide, "Send Multiple Requests Using Composite").
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from simple_salesforce.format import quote_soql_value

from lesync.salesforce.client import SalesforceClient, SalesforceError
from lesync.salesforce.settings import SOQL_IN_CHARS, SOQL_QUERY_BYTES

#: SOQL statements may be at most 100,000 characters (SOQL and SOSL Limits); a margin for escapes
#: Salesforce may count differently.
SOQL_STATEMENT_CHARS = 99_000
#: Query subrequests (Query, QueryAll, the next page of either) one ``/composite`` call may hold.
COMPOSITE_QUERIES = 5

#: Bytes kept for the query around its IN list when estimating calls before the values are known.
QUERY_TEMPLATE_BYTES = 1_000
#: ``(`` and ``)`` percent-encoded.
_PARENS_BYTES = 6


def encoded_length(text: str) -> int:
    """Bytes of ``text`` percent-encoded with nothing left safe (``%20`` for a space): an upper
    bound of what requests sends (``urlencode`` writes a space as ``+``, the rest alike)."""
    return len(quote(text, safe=""))


def value_cost(value: str) -> int:
    """Bytes one value adds to an encoded IN list: quoted, escaped, encoded, plus its comma."""
    return encoded_length(quote_soql_value(value)) + 3


def in_chunks(
    values: Iterable[str], max_bytes: int = SOQL_QUERY_BYTES, max_chars: int = SOQL_IN_CHARS
) -> Iterator[list[str]]:
    """Split values so each IN list ``(...)`` is at most ``max_bytes`` percent-encoded (and
    ``max_chars`` as SOQL text); a single value over the limit still goes alone."""
    chunk: list[str] = []
    size = chars = _PARENS_BYTES
    for value in values:
        cost = value_cost(value)
        text_cost = len(quote_soql_value(value)) + 1
        if chunk and (size + cost > max_bytes or chars + text_cost > max_chars):
            yield chunk
            chunk, size, chars = [], _PARENS_BYTES, _PARENS_BYTES
        chunk.append(value)
        size += cost
        chars += text_cost
    if chunk:
        yield chunk


def in_list_budget(soql: str, max_bytes: int = SOQL_QUERY_BYTES) -> int:
    """Encoded bytes left for the IN list of ``soql`` (its single ``{}``) under ``max_bytes``."""
    return max_bytes - encoded_length(soql.replace("{}", "", 1))


def query_in(
    client: SalesforceClient, soql: str, values: Iterable[str], max_bytes: int = SOQL_QUERY_BYTES
) -> Iterator[dict[str, Any]]:
    """Records of ``soql`` whose single ``{}`` becomes a quoted IN list, in as many queries as the
    URL limit needs (``max_bytes`` for the whole encoded statement)."""
    unique = sorted({value for value in values if value})
    budget = in_list_budget(soql, max_bytes)
    for chunk in in_chunks(unique, budget, SOQL_IN_CHARS):
        yield from client.query_all(soql.format(quote_soql_value(chunk)))


def estimated_queries(value_bytes: int, batches: int, max_bytes: int = SOQL_QUERY_BYTES) -> int:
    """Queries for values costing ``value_bytes`` in all (``value_cost``), spread over ``batches``
    batches: each batch's last chunk may be part-full, so one per batch plus the full ones."""
    if value_bytes <= 0:
        return 0
    per_query = max_bytes - QUERY_TEMPLATE_BYTES
    return batches + math.ceil(value_bytes / per_query)


# --------------------------------------------------------------------------------------------
# Long statements, five to a call


def statements_in(soql: str, values: Iterable[str], max_chars: int = SOQL_STATEMENT_CHARS) -> Iterator[str]:
    """``soql`` with each of its ``{}`` replaced by a quoted IN list of the values, in as few
    statements of at most ``max_chars`` characters as the values need (each value once)."""
    unique = sorted({value for value in values if value})
    lists = soql.count("{}")
    budget = (max_chars - len(soql.replace("{}", ""))) // max(lists, 1)
    for chunk in in_chunks(unique, sys.maxsize, budget):
        yield soql.replace("{}", quote_soql_value(chunk))


@dataclass
class Answer:
    """One statement's records (every page) and ``totalSize`` (a ``COUNT()`` query's count)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


def query_statements(client: SalesforceClient, statements: Sequence[str]) -> list[Answer]:
    """Each statement's answer, from ``/composite`` calls of up to five queries; a statement's
    further pages (``nextRecordsUrl``) ride in the next calls. A failed query raises."""
    results = [Answer() for _ in statements]
    prefix = urlsplit(client.base_url).path.rstrip("/")
    pending = [(index, f"{prefix}/query?{urlencode({'q': soql})}") for index, soql in enumerate(statements)]
    while pending:
        call, pending = pending[:COMPOSITE_QUERIES], pending[COMPOSITE_QUERIES:]
        subrequests = [
            {"method": "GET", "url": url, "referenceId": f"q{n}"} for n, (_, url) in enumerate(call)
        ]
        answer = client.rest("POST", "composite", json={"allOrNone": False, "compositeRequest": subrequests})
        for (index, url), reply in zip(call, answer["compositeResponse"], strict=True):
            body = reply.get("body")
            if reply.get("httpStatusCode", 500) >= 300:
                raise SalesforceError(url, reply.get("httpStatusCode"), "composite query", body)
            if url.startswith(prefix + "/query?"):
                results[index].total = int(body.get("totalSize", 0))
            results[index].records.extend(body.get("records", []))
            if not body.get("done", True):
                pending.append((index, body["nextRecordsUrl"]))
    return results


def composite_calls(statements: int) -> int:
    """``/composite`` calls for ``statements`` single-page queries."""
    return math.ceil(statements / COMPOSITE_QUERIES)
