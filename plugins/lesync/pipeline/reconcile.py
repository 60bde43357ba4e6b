"""Reconciliation: does Salesforce hold every conversation LivePerson has for a window?

Per channel, LivePerson's side is the set of conversations the run staged that *started* in the
window (10-minute rounding and the update search stage more; those are not this window's).
Salesforce's side is first a count (one ``SELECT COUNT()``); only when the counts differ are
the ids fetched, to name what is missing in Salesforce (queued for replay) and what Salesforce
holds that LivePerson no longer returns (reported, never deleted: lesync is one-way).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Ids listed per side in a verdict (the full sets go to the replay queue, not to XCom).
LISTED_IDS = 50


@dataclass(frozen=True)
class Seen:
    """One conversation as LivePerson returned it: enough to place it in a window."""

    channel: str
    liveperson_id: str
    start: dt.datetime


@dataclass
class ChannelVerdict:
    channel: str
    liveperson: int
    salesforce: int
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    missing_total: int = 0
    extra_total: int = 0

    @property
    def agrees(self) -> bool:
        return self.liveperson == self.salesforce and not self.missing_total and not self.extra_total


@dataclass
class Verdict:
    """The reconcile task's answer, XCom-sized: counts per channel and a few ids of each kind."""

    start: str
    end: str
    channels: list[ChannelVerdict]

    @property
    def agrees(self) -> bool:
        return all(channel.agrees for channel in self.channels)

    def as_dict(self) -> dict:
        return {**asdict(self), "agrees": self.agrees}

    def line(self) -> str:
        parts = [
            f"{c.channel}: LivePerson {c.liveperson}, Salesforce {c.salesforce}"
            + (f", {c.missing_total} missing" if c.missing_total else "")
            + (f", {c.extra_total} only in Salesforce" if c.extra_total else "")
            for c in self.channels
        ]
        return (
            ("agrees" if self.agrees else "DIFFERS")
            + f" over {self.start} .. {self.end}: "
            + "; ".join(parts)
        )


def started_in(seen: Iterable[Seen], start: dt.datetime, end: dt.datetime) -> dict[str, set[str]]:
    """LivePerson ids per channel of the conversations that started in [start, end)."""
    by_channel: dict[str, set[str]] = {}
    for item in seen:
        if start <= item.start < end and item.liveperson_id:
            by_channel.setdefault(item.channel, set()).add(item.liveperson_id)
    return by_channel


def reconcile_channel(
    channel: str,
    liveperson_ids: set[str],
    count_salesforce: Callable[[], int],
    salesforce_ids: Callable[[], set[str]],
    *,
    compare_ids: bool = False,
) -> tuple[ChannelVerdict, set[str]]:
    """The channel's verdict and the full set of ids missing in Salesforce (to replay).

    Equal counts end the check (one call) unless ``compare_ids``: equal counts can hide one
    missing and one extra record, which a manual reconcile looks for id by id.
    """
    counted = count_salesforce()
    verdict = ChannelVerdict(channel, len(liveperson_ids), counted)
    if counted == len(liveperson_ids) and not compare_ids:
        return verdict, set()
    held = salesforce_ids()
    missing, extra = liveperson_ids - held, held - liveperson_ids
    verdict.missing, verdict.extra = sorted(missing)[:LISTED_IDS], sorted(extra)[:LISTED_IDS]
    verdict.missing_total, verdict.extra_total = len(missing), len(extra)
    return verdict, missing


def reconcile_window(
    client: Any,
    mapping: Any,
    start_field: str,
    start: dt.datetime,
    end: dt.datetime,
    channels: Iterable[str],
    seen: Iterable[Seen],
    *,
    explained: set[str] = frozenset(),
    compare_ids: bool = False,
) -> tuple[Verdict, dict[str, set[str]]]:
    """The window's verdict per channel, and per channel the ids missing in Salesforce that no
    known failure of this run explains (those go to the replay queue)."""
    from lesync.salesforce.reconcile import WindowQuery, count_started, ids_started

    by_channel = started_in(seen, start, end)
    verdicts, missing = [], {}
    for channel in channels:
        values = mapping.channel_field.values if mapping.channel_field else {}
        query = WindowQuery(
            mapping.object,
            mapping.external_id_field,
            start_field,
            start,
            end,
            channel_field=mapping.channel_field.field if mapping.channel_field else None,
            channel_value=values.get(channel),
        )
        verdict, lacking = reconcile_channel(
            channel,
            by_channel.get(channel, set()),
            lambda q=query: count_started(client, q),
            lambda q=query: ids_started(client, q),
            compare_ids=compare_ids,
        )
        verdicts.append(verdict)
        missing[channel] = lacking - explained
    return Verdict(start.isoformat(), end.isoformat(), verdicts), missing


def salesforce_moment(value: Any) -> dt.datetime | None:
    """A staged row's datetime value (``2017-02-01T17:11:59.916Z``) as an aware datetime."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
