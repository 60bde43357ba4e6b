"""Batched SOQL: one query per batch of values (``WHERE x IN (...)``), never one per record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from simple_salesforce.format import quote_soql_value

from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.settings import SOQL_IN_CHARS


def in_chunks(values: Iterable[str], max_chars: int = SOQL_IN_CHARS) -> Iterator[list[str]]:
    """Split values so that each quoted IN list keeps the statement under SOQL's length limit."""
    chunk: list[str] = []
    size = 0
    for value in values:
        cost = len(value) + 4  # quotes, comma, a possible escape
        if chunk and size + cost > max_chars:
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += cost
    if chunk:
        yield chunk


def query_in(client: SalesforceClient, soql: str, values: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Records of ``soql`` whose single ``{}`` becomes a quoted IN list, chunked by length."""
    unique = sorted({value for value in values if value})
    for chunk in in_chunks(unique):
        yield from client.query_all(soql.format(quote_soql_value(chunk)))
