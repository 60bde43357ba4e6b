"""Records fetched by id: replays of rejected records, and conversations re-checked by id.

A replay takes the record from the raw archive when the archive still holds it (no LivePerson
call, and the very copy that failed, so a mapping fix is tested on it), else fetches it again by
id. Either way it is staged like any extract, and flows through transform and load unchanged:
the upsert key is still the LivePerson id, so a replay can never create a duplicate.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

from lesync.contracts import ExtractResult
from lesync.mapping.transform import conversation_id
from lesync.pipeline.staging import as_path

log = logging.getLogger(__name__)

#: Ids per extract unit: a by-id fetch costs one LivePerson call each, so units stay small
#: enough to spread over workers and to retry cheaply.
IDS_PER_UNIT = 200


def replay_units(
    pending: Iterable[dict[str, Any]], ids_per_unit: int = IDS_PER_UNIT, label: str = "byid"
) -> list[dict[str, Any]]:
    """Extract units for records wanted by id: ``{"channel", "slice", "ids": {id: raw_path|None}}``.

    ``pending`` rows carry ``channel``, ``liveperson_id`` and optionally ``raw_path``: the staged
    file, or the run's ``raw/`` folder, that held the record when it failed. Each id once, grouped
    per channel, in units of at most ``ids_per_unit``.
    """
    by_channel: dict[str, dict[str, str | None]] = {}
    for row in pending:
        ids = by_channel.setdefault(str(row["channel"]), {})
        ids.setdefault(str(row["liveperson_id"]), row.get("raw_path") or None)
    units = []
    for channel, ids in sorted(by_channel.items()):
        items = sorted(ids.items())
        for index in range(0, len(items), ids_per_unit):
            chunk = dict(items[index : index + ids_per_unit])
            units.append({"channel": channel, "slice": f"{label}-{index // ids_per_unit:03d}", "ids": chunk})
    return units


#: The record's id as LivePerson writes it first in a staged line (``info`` comes first): found
#: without decoding the whole line, so a run's archive is searched at the speed of a regex.
_ID_IN_LINE = re.compile(rb'"(?:engagementId|conversationId)"\s*:\s*"?([^",}]+)')


def archived(channel: str, wanted: dict[str, str | None]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, record) for each wanted id still in the raw archive it names: a staged file or a
    run's ``raw/`` folder (its ``<channel>-*.jsonl.gz`` files); each file read once."""
    by_location: dict[str, set[str]] = {}
    for liveperson_id, location in wanted.items():
        if location:
            by_location.setdefault(location, set()).add(liveperson_id)
    for location, ids in by_location.items():
        for path in _archive_files(as_path(location), channel):
            yield from _matching(path, channel, ids)
            if not ids:
                break


def _archive_files(location: Any, channel: str) -> list[Any]:
    if not location.exists():
        return []
    if location.is_dir():
        return sorted(location.glob(f"{channel}-*.jsonl.gz"))
    return [location]


def _matching(path: Any, channel: str, ids: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Records of one staged file whose id is wanted; found ids leave ``ids``."""
    with path.open("rb") as raw, gzip.open(raw, "rb") as lines:
        for line in lines:
            match = _ID_IN_LINE.search(line)
            if not match or match.group(1).decode("utf-8", "replace") not in ids:
                continue
            record = json.loads(line)
            found = conversation_id(record, channel)
            if found in ids:
                ids.discard(found)
                yield found, record
                if not ids:
                    return


def collect_by_id(
    client: Any, channel: str, wanted: dict[str, str | None], content: list[str] | None = None
) -> tuple[list[dict[str, Any]], list[str], int]:
    """The wanted records (archive first, then LivePerson by id), the ids found nowhere, and how
    many came from the archive."""
    records: dict[str, dict[str, Any]] = dict(archived(channel, wanted))
    from_archive = len(records)
    for liveperson_id in sorted(set(wanted) - set(records)):
        if channel == "chat":
            record = client.chat(liveperson_id)
        else:
            record = client.conversation(liveperson_id, **({"content": content} if content else {}))
        if record is not None:
            records[liveperson_id] = record
    missing = sorted(set(wanted) - set(records))
    if missing:
        log.warning(
            "%d %s record(s) are neither in the raw archive nor in LivePerson any more: %s",
            len(missing),
            channel,
            ", ".join(missing[:20]),
        )
    return [records[key] for key in sorted(records)], missing, from_archive


def extract_by_id(
    client: Any, unit: dict[str, Any], out_dir: Any, content: list[str] | None = None, prepare: Any = None
) -> ExtractResult:
    """Stage one by-id unit (see ``replay_units``) like any extract (``content`` and ``prepare`` as
    in ``extract_window``)."""
    from lesync.pipeline.extract import stage_records
    from lesync.pipeline.staging import safe_name

    channel = unit["channel"]
    before = dict(client.stats)
    records, missing, from_archive = collect_by_id(client, channel, dict(unit["ids"]), content)
    if prepare is not None:  # redaction is idempotent: archived copies pass through unchanged
        records = [prepare(record) for record in records]
    paths, count = stage_records(records, out_dir, f"{channel}-{safe_name(unit['slice'])}")
    after = client.stats
    result = ExtractResult(
        channel=channel,
        paths=paths,
        records=count,
        calls=after["calls"] - before["calls"],
        pages=after["pages"] - before["pages"],
        retries=after["retries"] - before["retries"],
        not_found=missing,
        from_archive=from_archive,
    )
    log.info(
        "By id: %d %s record(s), %d from the raw archive, %d from LivePerson (%d calls), %d not found",
        len(records),
        channel,
        from_archive,
        len(records) - from_archive,
        result.calls,
        len(missing),
    )
    return result
