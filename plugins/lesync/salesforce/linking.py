"""Link transcripts to the visitor's Contact (and its Account) or Lead, by email, then phone.

Per batch of transcripts a handful of queries, never one per record: the transcripts' current
lookups (by external id), then Contacts by email, Contacts by phone, Leads by email, Leads by
phone, each for the whole batch. A lookup someone already set (an agent in the widget) is never
overwritten: a transcript that already has a Contact or Lead is left alone, and an Account set
by hand stays. Free-mail domains and blocked addresses are never matched; an email or phone
that matches more than one record is not linked (a wrong link is worse than none).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.settings import LinkingSettings, UpsertSettings
from lesync.salesforce.soql import query_in

log = logging.getLogger(__name__)

Record = dict[str, Any]


def normalized_email(value: Any, settings: LinkingSettings) -> str | None:
    """The address in lower case, or ``None`` when empty, malformed or blocked."""
    email = str(value or "").strip().lower()
    if "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1]
    blocked_domains = {d.lower() for d in settings.blocked_domains}
    if domain in blocked_domains or email in {a.lower() for a in settings.blocked_addresses}:
        return None
    return email


def plan_links(
    client: SalesforceClient, linking: LinkingSettings, upsert: UpsertSettings, records: Iterable[Record]
) -> dict[str, dict[str, str]]:
    """External id -> lookup fields to add, for one batch of records about to be upserted."""
    candidates = _candidates(linking, upsert, records)
    if not candidates:
        return {}
    existing = _existing_lookups(client, linking, upsert, list(candidates))
    candidates = {
        key: value for key, value in candidates.items() if not _has_person(existing.get(key), linking)
    }
    plans: dict[str, dict[str, str]] = {}
    _match_contacts(client, linking, candidates, existing, plans)
    if linking.match_leads:
        _match_leads(client, linking, {k: v for k, v in candidates.items() if k not in plans}, plans)
    return plans


def _candidates(
    linking: LinkingSettings, upsert: UpsertSettings, records: Iterable[Record]
) -> dict[str, tuple]:
    """External id -> (email, phone) for records that carry a usable one and no person lookup."""
    found = {}
    for record in records:
        if record.get(linking.contact_lookup) or record.get(linking.lead_lookup):
            continue  # the row itself names the person
        email = normalized_email(record.get(linking.email_field), linking)
        phone = str(record.get(linking.phone_field) or "").strip() if linking.phone_field else ""
        if email or phone:
            found[str(record[upsert.external_id_field])] = (email, phone or None)
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
    client: SalesforceClient,
    linking: LinkingSettings,
    candidates: dict[str, tuple],
    existing: dict[str, Record],
    plans: dict[str, dict[str, str]],
) -> None:
    for position, column in ((0, "Email"), (1, "Phone")):
        pending = {k: v[position] for k, v in candidates.items() if k not in plans and v[position]}
        if not pending:
            continue
        soql = f"SELECT Id, Email, Phone, AccountId FROM Contact WHERE {column} IN {{}}"
        matches = _unique_matches(query_in(client, soql, pending.values()), column)
        for key, value in pending.items():
            contact = matches.get(_match_key(value, column))
            if contact:
                plans[key] = _contact_links(contact, existing.get(key), linking)


def _contact_links(contact: Record, existing: Record | None, linking: LinkingSettings) -> dict[str, str]:
    links = {linking.contact_lookup: contact["Id"]}
    account_set = existing and linking.account_lookup and existing.get(linking.account_lookup)
    if linking.account_lookup and contact.get("AccountId") and not account_set:
        links[linking.account_lookup] = contact["AccountId"]
    return links


def _match_leads(
    client: SalesforceClient,
    linking: LinkingSettings,
    candidates: dict[str, tuple],
    plans: dict[str, dict[str, str]],
) -> None:
    for position, column in ((0, "Email"), (1, "Phone")):
        pending = {k: v[position] for k, v in candidates.items() if k not in plans and v[position]}
        if not pending:
            continue
        soql = f"SELECT Id, Email, Phone, IsConverted FROM Lead WHERE {column} IN {{}}"
        open_leads = (
            lead for lead in query_in(client, soql, pending.values()) if not lead.get("IsConverted")
        )
        matches = _unique_matches(open_leads, column)
        for key, value in pending.items():
            lead = matches.get(_match_key(value, column))
            if lead:
                plans[key] = {linking.lead_lookup: lead["Id"]}


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
