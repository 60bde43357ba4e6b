"""What Salesforce holds for a window: a count (one ``SELECT COUNT()`` call), and ids only when asked.

Reconciliation asks for the count first because it is one call whatever the window's size; the
ids (one query page per 2,000 records) are fetched only when the counts disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from simple_salesforce.format import quote_soql_value

from lesync.salesforce.client import SalesforceClient


@dataclass(frozen=True)
class WindowQuery:
    """Which transcripts "started in the window" of one channel, in the org's own field names."""

    object_name: str
    external_id_field: str
    start_field: str
    start: dt.datetime
    end: dt.datetime
    channel_field: str | None = None
    channel_value: str | None = None

    def where(self) -> str:
        start, end = soql_datetime(self.start), soql_datetime(self.end)
        clause = f"{self.start_field} >= {start} AND {self.start_field} < {end}"
        if self.channel_field and self.channel_value is not None:
            clause += f" AND {self.channel_field} = {quote_soql_value(self.channel_value)}"
        return clause


def soql_datetime(value: dt.datetime) -> str:
    """A SOQL datetime literal (unquoted, UTC, ``Z``)."""
    if value.tzinfo is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def count_started(client: SalesforceClient, query: WindowQuery) -> int:
    """Transcripts of the window in Salesforce: one API call."""
    answer = client.sf.query(f"SELECT COUNT() FROM {query.object_name} WHERE {query.where()}")
    return int(answer["totalSize"])


def ids_started(client: SalesforceClient, query: WindowQuery) -> set[str]:
    """The LivePerson ids (external id values) Salesforce holds for the window."""
    soql = f"SELECT {query.external_id_field} FROM {query.object_name} WHERE {query.where()}"
    return {
        str(record[query.external_id_field])
        for record in client.query_all(soql)
        if record.get(query.external_id_field)
    }
