"""Batched SOQL: as few queries per batch of values (``WHERE x IN (...)``) as the URL allows.

A query is sent as ``GET /query?q=<SOQL>``: Salesforce refuses a request line plus headers over
16,384 bytes, long before SOQL's own 100,000 characters. Each IN list is therefore cut so that
the whole ``q`` value, percent-encoded as it goes on the wire, stays under ``SOQL_QUERY_BYTES``
(one query per batch when the values fit, more when they do not; never one per record).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from simple_salesforce.format import quote_soql_value

from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.settings import SOQL_IN_CHARS, SOQL_QUERY_BYTES

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
