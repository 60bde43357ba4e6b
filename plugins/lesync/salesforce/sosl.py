"""SOSL searches (``GET /search?q=FIND {...} IN ... FIELDS RETURNING ...``), batched.

What Salesforce documents and this module keeps to (SOQL and SOSL Reference, "FIND {SearchQuery}",
"SOSL Limits", "LIMIT n"; REST API "Search"):

* the characters ``? & | ! { } [ ] ( ) ^ ~ * : \\ " ' + -`` are operators in a search query:
  lesync's search terms are digits and quoted digit groups only (``search_forms``), so none needs
  escaping;
* a search query over 10,000 characters returns nothing; over 4,000 it loses its logical
  operators and every term is OR'ed ("the AND operator ... will default to the OR operator").
  lesync's searches are ORs of terms and quoted phrases only, so that leaves their meaning as it
  is: the terms are cut into searches of at most ``SEARCH_QUERY_CHARS`` (the documented 10,000,
  counted exactly: the terms hold no escapes; a value's terms never split);
* a search returns at most 2,000 records (API 28.0 on): a search that comes back full may have
  lost matches, so its values are searched again in two halves;
* the statement travels in the URL like a query, so its encoded size (as requests encodes
  ``params``: ``urlencode``) stays under ``SOQL_QUERY_BYTES`` as well.

Search finds candidates; callers confirm each by comparing the field values themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.settings import SOQL_QUERY_BYTES

log = logging.getLogger(__name__)

#: A search query longer than this returns nothing (SOSL Syntax, "FIND {SearchQuery}").
SEARCH_QUERY_CHARS = 10_000
#: Records one search returns at most (API 28.0 and later).
MAX_SEARCH_RESULTS = 2_000
_JOIN = " OR "


@dataclass(frozen=True)
class Returning:
    """One ``RETURNING`` item: an object, the fields to return, an optional filter."""

    object: str
    fields: tuple[str, ...]
    where: str | None = None

    def clause(self) -> str:
        where = f" WHERE {self.where}" if self.where else ""
        return f"{self.object}({', '.join(self.fields)}{where})"


def statement(terms: Iterable[str], scope: str, returning: Sequence[Returning]) -> str:
    """``FIND {a OR b} IN <scope> FIELDS RETURNING Obj(f1, f2 WHERE ...), ...``."""
    query = _JOIN.join(terms)
    return f"FIND {{{query}}} IN {scope} FIELDS RETURNING {', '.join(r.clause() for r in returning)}"


def search(client: SalesforceClient, sosl: str) -> list[dict[str, Any]]:
    """One search call: the records found (each with ``attributes.type``)."""
    answer = client.rest("GET", "search/", params={"q": sosl}) or {}
    return list(answer.get("searchRecords", []) if isinstance(answer, dict) else answer)


def search_values(
    client: SalesforceClient,
    terms_per_value: Sequence[Sequence[str]],
    scope: str,
    returning: Sequence[Returning],
    max_chars: int = SEARCH_QUERY_CHARS,
) -> Iterator[dict[str, Any]]:
    """Records found for the values (each given as its OR'ed terms), in as few searches as the
    limits allow; records may repeat across searches."""
    for chunk in term_chunks(terms_per_value, scope, returning, max_chars):
        yield from _search_complete(client, chunk, scope, returning)


def term_chunks(
    terms_per_value: Sequence[Sequence[str]],
    scope: str,
    returning: Sequence[Returning],
    max_chars: int = SEARCH_QUERY_CHARS,
    max_bytes: int = SOQL_QUERY_BYTES,
) -> Iterator[list[Sequence[str]]]:
    """Values grouped so each search query stays under ``max_chars`` and its encoded statement
    under ``max_bytes``; one value too long alone still goes alone."""
    frame = len(urlencode({"q": statement([], scope, returning)}))
    chunk: list[Sequence[str]] = []
    chars, size = 0, frame
    for terms in terms_per_value:
        text = _JOIN.join(terms)
        cost, encoded = len(text) + len(_JOIN), len(quote_plus(text + _JOIN))
        if chunk and (chars + cost > max_chars or size + encoded > max_bytes):
            yield chunk
            chunk, chars, size = [], 0, frame
        chunk.append(terms)
        chars += cost
        size += encoded
    if chunk:
        yield chunk


def _search_complete(
    client: SalesforceClient, chunk: list[Sequence[str]], scope: str, returning: Sequence[Returning]
) -> Iterator[dict[str, Any]]:
    """A full answer (2,000 records) may be cut: search the two halves instead."""
    found = search(client, statement((t for terms in chunk for t in terms), scope, returning))
    if len(found) < MAX_SEARCH_RESULTS:
        yield from found
        return
    if len(chunk) == 1:
        log.warning(
            "Salesforce search: one value matches %d+ records; only those returned are used", len(found)
        )
        yield from found
        return
    middle = len(chunk) // 2
    yield from _search_complete(client, chunk[:middle], scope, returning)
    yield from _search_complete(client, chunk[middle:], scope, returning)
