"""Link transcripts to the visitor's Contact (and its Account) or Lead, by email, then phone.

Per batch of transcripts a handful of queries, never one per record: Contacts by email, Contacts
by phone, Leads by email, Leads by phone, each for the whole batch, then the current lookups of
only the transcripts that matched someone (by external id); each split into a few queries when
the IN list would make the query URL too long (``soql.query_in``). A lookup someone already set
(an agent in the widget) is never overwritten: a transcript that already has a Contact or Lead
is left alone, and an Account set by hand stays. Free-mail domains and blocked addresses are
never matched; an email or phone that matches more than one record is not linked (a wrong link
is worse than none).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.settings import LinkingSettings, UpsertSettings
from lesync.salesforce.soql import query_in

log = logging.getLogger(__name__)

Record = dict[str, Any]
#: Lower-cased blocked email domains and addresses.
Blocked = tuple[frozenset[str], frozenset[str]]


def normalized_email(value: Any, settings: LinkingSettings, blocked: Blocked | None = None) -> str | None:
    """The address in lower case, or ``None`` when empty, malformed or blocked."""
    email = str(value or "").strip().lower()
    if "@" not in email:
        return None
    domains, addresses = blocked or blocked_sets(settings)
    if email.rsplit("@", 1)[1] in domains or email in addresses:
        return None
    return email


def blocked_sets(settings: LinkingSettings) -> Blocked:
    """Blocked domains and addresses in lower case (build once, reuse for many records)."""
    return (
        frozenset(d.lower() for d in settings.block_domains),
        frozenset(a.lower() for a in settings.block_addresses),
    )


def link_values(
    linking: LinkingSettings, upsert: UpsertSettings, record: Record, blocked: Blocked | None = None
) -> tuple[str, str | None, str | None] | None:
    """(external id, email, phone) a record would be matched on, or ``None`` when it names its
    person itself or carries neither a usable email nor a phone."""
    if record.get(linking.contact_lookup) or record.get(linking.lead_lookup):
        return None  # the row itself names the person
    email = normalized_email(record.get(linking.email_field), linking, blocked)
    phone = str(record.get(linking.phone_field) or "").strip() if linking.phone_field else ""
    if not (email or phone):
        return None
    return str(record[upsert.external_id_field]), email, phone or None


def plan_links(
    client: SalesforceClient, linking: LinkingSettings, upsert: UpsertSettings, records: Iterable[Record]
) -> dict[str, dict[str, str]]:
    """External id -> lookup fields to add, for one batch of records about to be upserted."""
    candidates = _candidates(linking, upsert, records)
    if not candidates:
        return {}
    contacts = _match_contacts(client, linking, candidates)
    leads: dict[str, Record] = {}
    if linking.match_leads:
        leads = _match_leads(client, linking, {k: v for k, v in candidates.items() if k not in contacts})
    if not (contacts or leads):
        return {}
    # Only the matched transcripts' current lookups are read (a batch's few, not all its rows).
    existing = _existing_lookups(client, linking, upsert, [*contacts, *leads])
    plans: dict[str, dict[str, str]] = {}
    for key, contact in contacts.items():
        if not _has_person(existing.get(key), linking):
            plans[key] = _contact_links(contact, existing.get(key), linking)
    for key, lead in leads.items():
        if not _has_person(existing.get(key), linking):
            plans[key] = {linking.lead_lookup: lead["Id"]}
    return plans


def _candidates(
    linking: LinkingSettings, upsert: UpsertSettings, records: Iterable[Record]
) -> dict[str, tuple]:
    """External id -> (email, phone) for records that carry a usable one and no person lookup."""
    blocked = blocked_sets(linking)
    found = {}
    for record in records:
        values = link_values(linking, upsert, record, blocked)
        if values:
            found[values[0]] = values[1:]
    return found


def _existing_lookups(
    client: SalesforceClient, linking: LinkingSettings, upsert: UpsertSettings, keys: list[str]
) -> dict[str, Record]:
    lookups = [linking.contact_lookup, linking.lead_lookup] + (
        [linking.account_lookup] if linking.account_lookup else []
    )
    key, obj = upsert.external_id_field, upsert.object_name
    soql = f"SELECT {key}, {', '.join(lookups)} FROM {obj} WHERE {key} IN {{}}"
    return {str(r[upsert.external_id_field]): r for r in query_in(client, soql, keys)}


def _has_person(existing: Record | None, linking: LinkingSettings) -> bool:
    return bool(existing and (existing.get(linking.contact_lookup) or existing.get(linking.lead_lookup)))


def _match_contacts(
    client: SalesforceClient, linking: LinkingSettings, candidates: dict[str, tuple]
) -> dict[str, Record]:
    """External id -> the one Contact its email (else its phone) names."""
    return _match_people(client, candidates, "SELECT Id, Email, Phone, AccountId FROM Contact")


def _match_leads(
    client: SalesforceClient, linking: LinkingSettings, candidates: dict[str, tuple]
) -> dict[str, Record]:
    """External id -> the one open (unconverted) Lead its email (else its phone) names."""
    return _match_people(
        client,
        candidates,
        "SELECT Id, Email, Phone, IsConverted FROM Lead",
        keep=lambda lead: not lead.get("IsConverted"),
    )


def _match_people(
    client: SalesforceClient,
    candidates: dict[str, tuple],
    select: str,
    keep: Callable[[Record], bool] = lambda record: True,
) -> dict[str, Record]:
    """External id -> the one record its email (else its phone) names: one query per column."""
    found: dict[str, Record] = {}
    for position, column in ((0, "Email"), (1, "Phone")):
        pending = {k: v[position] for k, v in candidates.items() if k not in found and v[position]}
        if not pending:
            continue
        records = (
            r for r in query_in(client, f"{select} WHERE {column} IN {{}}", pending.values()) if keep(r)
        )
        matches = _unique_matches(records, column)
        for key, value in pending.items():
            match = matches.get(_match_key(value, column))
            if match:
                found[key] = match
    return found


def _contact_links(contact: Record, existing: Record | None, linking: LinkingSettings) -> dict[str, str]:
    links = {linking.contact_lookup: contact["Id"]}
    account_set = existing and linking.account_lookup and existing.get(linking.account_lookup)
    if linking.account_lookup and contact.get("AccountId") and not account_set:
        links[linking.account_lookup] = contact["AccountId"]
    return links


def _match_key(value: str, column: str) -> str:
    return value.strip().lower() if column == "Email" else value.strip()


def _unique_matches(records: Iterable[Record], column: str) -> dict[str, Record]:
    """Value -> the one record holding it; values held by several records are dropped."""
    by_value: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record.get(column):
            by_value[_match_key(str(record[column]), column)].append(record)
    ambiguous = [value for value, found in by_value.items() if len(found) > 1]
    if ambiguous:
        log.info(
            "Salesforce linking: %d %s value(s) match several records; not linked", len(ambiguous), column
        )
    return {value: found[0] for value, found in by_value.items() if len(found) == 1}
