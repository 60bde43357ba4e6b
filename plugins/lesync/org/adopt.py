"""Adopt existing transcripts: copy the LivePerson id into the mapping's external id.

An org that already holds transcripts (LivePerson's package, or its own object) keeps the
LivePerson id in some field, but not in the external id lesync upserts by; the first backfill
would create every conversation a second time. ``adopt`` fills the external id from that field
first, so the backfill updates history instead.

* Batched: keyset pages ``WHERE <ext> = null AND <source> != null AND Id > :last ORDER BY Id``
  (``batch_size`` records each), two checking queries per page, updates by sObject Collections
  of 200. About 20 API calls per 1,000 records.
* Resumable: only records whose external id is still empty are read, so a rerun (after a
  crash, a stop, or a fix) continues where the last one left off and skips what is done.
* Safe: a LivePerson id held by more than one record (or already the external id of another
  record) is a conflict. Conflicts are reported with every record id involved and never
  written: which record is right is for a person to decide.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce.format import quote_soql_value

from lesync.salesforce.settings import COLLECTION_LIMIT
from lesync.salesforce.soql import query_in

log = logging.getLogger(__name__)

TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "combobox"})
DEFAULT_PAGE = 2000


class AdoptError(ValueError):
    """Adopt cannot start (a field is missing or unwritable); the message says what to fix."""


@dataclass(frozen=True)
class AdoptSettings:
    object: str
    external_id_field: str
    source_field: str
    batch_size: int = DEFAULT_PAGE
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 50_000:
            raise AdoptError(f"--batch-size must be between 1 and 50000, not {self.batch_size}")
        if self.source_field.lower() == self.external_id_field.lower():
            raise AdoptError(
                f"--source-field {self.source_field} is the external id itself; name the field that "
                "holds the LivePerson id today (e.g. the LivePerson package's conversation id field)"
            )


@dataclass(frozen=True)
class Conflict:
    value: str
    record_ids: tuple[str, ...]
    reason: str

    def line(self) -> str:
        return f"{self.value}: {', '.join(self.record_ids)} ({self.reason})"


@dataclass
class AdoptResult:
    scanned: int = 0
    updated: int = 0
    would_update: int = 0
    skipped_blank: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    api_calls: int = 0

    def summary(self, dry_run: bool = False) -> str:
        done = f"would update {self.would_update}" if dry_run else f"updated {self.updated}"
        return (
            f"scanned {self.scanned}, {done}, conflicts {len(self.conflicts)}, "
            f"failed {len(self.failures)}, blank source {self.skipped_blank}, API calls {self.api_calls}"
        )


def adopt(
    client: Any, settings: AdoptSettings, progress: Callable[[AdoptResult], None] | None = None
) -> AdoptResult:
    """Fill the external id from the source field on every record that lacks it."""
    calls_before = client.api_calls
    _preflight(client, settings)
    result = AdoptResult()
    reported: set[str] = set()
    last_id: str | None = None
    while True:
        page = list(client.query_all(_page_query(settings, last_id)))
        if not page:
            break
        last_id = page[-1]["Id"]
        result.scanned += len(page)
        updates = _plan_page(client, settings, page, result, reported)
        if settings.dry_run:
            result.would_update += len(updates)
        else:
            _write(client, settings, updates, result, reported)
        result.api_calls = client.api_calls - calls_before
        log.info("adopt: %s", result.summary(settings.dry_run))
        if progress:
            progress(result)
    result.api_calls = client.api_calls - calls_before
    return result


def _preflight(client: Any, settings: AdoptSettings) -> None:
    fields = {f["name"].lower(): f for f in client.describe(settings.object)["fields"]}
    source = fields.get(settings.source_field.lower())
    if source is None:
        raise AdoptError(
            f"{settings.object} has no field {settings.source_field} (or the integration user cannot "
            "read it); pass --source-field with the API name of the field that holds the LivePerson id"
        )
    if source.get("type") not in TEXT_TYPES:
        raise AdoptError(
            f"{settings.object}.{settings.source_field} is {source.get('type')}; adopt copies text ids, "
            "so name a text field holding the LivePerson id"
        )
    ext = fields.get(settings.external_id_field.lower())
    if ext is None:
        raise AdoptError(
            f"{settings.object} has no field {settings.external_id_field}; create it first "
            "(`python -m lesync org metadata`) and run `python -m lesync org check`"
        )
    if not ext.get("updateable"):
        raise AdoptError(
            f"the integration user may not edit {settings.object}.{settings.external_id_field}; "
            "give it Edit access (field-level security)"
        )


def _page_query(settings: AdoptSettings, last_id: str | None) -> str:
    after = f" AND Id > {quote_soql_value(last_id)}" if last_id else ""
    return (
        f"SELECT Id, {settings.source_field} FROM {settings.object} "
        f"WHERE {settings.external_id_field} = null AND {settings.source_field} != null{after} "
        f"ORDER BY Id LIMIT {settings.batch_size}"
    )


def _plan_page(
    client: Any,
    settings: AdoptSettings,
    page: list[dict[str, Any]],
    result: AdoptResult,
    reported: set[str],
) -> list[tuple[str, str]]:
    """``(record id, LivePerson id)`` pairs that are safe to write; conflicts go to ``result``."""
    wanted: dict[str, str] = {}
    raw_values: set[str] = set()
    for record in page:
        raw = str(record.get(settings.source_field) or "")
        if raw.strip():
            wanted[record["Id"]] = raw.strip()
            raw_values.add(raw)
        else:
            result.skipped_blank += 1
    holders = _holders(client, settings, raw_values, set(wanted.values()))
    updates = []
    for record_id, value in wanted.items():
        others = holders.get(value, set()) - {record_id}
        if not others:
            updates.append((record_id, value))
        elif value not in reported:
            reported.add(value)
            ids = tuple(sorted({record_id, *others}))
            result.conflicts.append(Conflict(value, ids, "the same LivePerson id on several records"))
    return updates


def _holders(
    client: Any, settings: AdoptSettings, raw_values: set[str], values: set[str]
) -> dict[str, set[str]]:
    """LivePerson id -> ids of every record holding it, in the source field or the external id."""
    holders: dict[str, set[str]] = defaultdict(set)
    obj, src, ext = settings.object, settings.source_field, settings.external_id_field
    for record in query_in(client, f"SELECT Id, {src} FROM {obj} WHERE {src} IN {{}}", raw_values):
        holders[str(record.get(src) or "").strip()].add(record["Id"])
    for record in query_in(client, f"SELECT Id, {ext} FROM {obj} WHERE {ext} IN {{}}", values):
        holders[str(record.get(ext) or "").strip()].add(record["Id"])
    return holders


def _write(
    client: Any,
    settings: AdoptSettings,
    updates: list[tuple[str, str]],
    result: AdoptResult,
    reported: set[str],
) -> None:
    for chunk in _chunks(updates, COLLECTION_LIMIT):
        body = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": settings.object}, "Id": record_id, settings.external_id_field: value}
                for record_id, value in chunk
            ],
        }
        answers = client.rest("PATCH", "composite/sobjects", json=body) or []
        for (record_id, value), answer in zip(chunk, answers, strict=True):
            _count(answer, record_id, value, result, reported)


def _count(
    answer: dict[str, Any], record_id: str, value: str, result: AdoptResult, reported: set[str]
) -> None:
    if answer.get("success"):
        result.updated += 1
        return
    errors = answer.get("errors") or [{}]
    code, message = errors[0].get("statusCode") or errors[0].get("errorCode"), errors[0].get("message")
    if code == "DUPLICATE_VALUE":  # another record took this id since the page was checked
        if value not in reported:
            reported.add(value)
            result.conflicts.append(Conflict(value, (record_id,), f"DUPLICATE_VALUE: {message}"))
        return
    result.failures.append({"id": record_id, "value": value, "code": code, "message": message})


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
