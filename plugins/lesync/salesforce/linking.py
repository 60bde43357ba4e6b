"""Link transcripts to the records they belong to, by the integration's linking rules.

A rule (``lesync.config.LinkingRule``) says: find the ``object`` whose ``fields`` hold the row's
``value`` (an email, a phone, or an exact value such as an order id) and write its id into the
transcript's ``lookup`` (and copy ``also_set`` fields, e.g. the Contact's AccountId into
Account__c). Rules of one group are tried in order and the first unique match wins (a value held
by several records links nothing: a wrong link is worse than none); rules of different groups
all apply, so a transcript can get its Contact and its Case. docs/linking.md has the details.

Per batch of transcripts, never per record: one SOQL query per email or exact rule (``WHERE
Email IN (...) OR Other__c IN (...)``, cut to the URL limit), one SOSL search for all phone rules
(phones are held in any format, so ``IN PHONE FIELDS`` finds candidates and the normalised
digits confirm them, ``lesync.salesforce.phones``), then the current lookups of only the
transcripts that matched. A lookup set by hand (an agent in the widget) is never overwritten: a
group with any lookup already set is left alone, and an ``also_set`` field already set stays.
Converted Leads and records whose ``skip_flag`` checkbox is checked are never linked; free-mail
domains and blocked addresses are never matched.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from simple_salesforce.format import quote_soql_value

from lesync.config import LinkingRule, MatchKind
from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.phones import normalise_phone, search_forms
from lesync.salesforce.settings import SOQL_IN_CHARS, SOQL_QUERY_BYTES, LinkingSettings, UpsertSettings
from lesync.salesforce.soql import (
    QUERY_TEMPLATE_BYTES,
    encoded_length,
    estimated_queries,
    in_chunks,
    query_in,
    value_cost,
)
from lesync.salesforce.sosl import SEARCH_QUERY_CHARS, Returning, search_values

log = logging.getLogger(__name__)

Record = dict[str, Any]
#: Lower-cased blocked email domains and addresses.
Blocked = tuple[frozenset[str], frozenset[str]]
#: Room kept in a search query for the words around the values when estimating calls.
SEARCH_FRAME_CHARS = 200


# --------------------------------------------------------------------------------------------
# Values


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


def match_value(rule: LinkingRule, value: Any, linking: LinkingSettings, blocked: Blocked) -> str | None:
    """The comparable form of a value for ``rule``'s kind, or ``None`` when it cannot match."""
    if rule.match is MatchKind.EMAIL:
        return normalized_email(value, linking, blocked)
    if rule.match is MatchKind.PHONE:
        return normalise_phone(value, linking.default_country_code)
    text = str(value if value is not None else "").strip()
    return text.casefold() or None


def lookup_fields(linking: LinkingSettings) -> list[str]:
    """Every transcript field linking may write: the rules' lookups and ``also_set`` targets."""
    names = [rule.lookup for rule in linking.rules]
    names += [target for rule in linking.rules for target in rule.also_set]
    return list(dict.fromkeys(names))


def group_lookups(linking: LinkingSettings) -> dict[str, set[str]]:
    """Group -> the lookups its rules write (one set by hand keeps the whole group)."""
    groups: dict[str, set[str]] = defaultdict(set)
    for rule in linking.rules:
        groups[rule.group_name].add(rule.lookup)
    return groups


# --------------------------------------------------------------------------------------------
# One batch


def plan_links(
    client: SalesforceClient, linking: LinkingSettings, upsert: UpsertSettings, records: Iterable[Record]
) -> dict[str, dict[str, str]]:
    """External id -> transcript fields to set, for one batch of records about to be upserted."""
    return _BatchLinks(client, linking, upsert, records).plan()


@dataclass
class _RuleTally:
    linked: int = 0
    ambiguous: int = 0


@dataclass
class _BatchLinks:
    client: SalesforceClient
    linking: LinkingSettings
    upsert: UpsertSettings
    records: Iterable[Record]
    rows: dict[str, Record] = field(default_factory=dict)
    #: External id -> group -> (rule, the record it matched).
    matched: dict[str, dict[str, tuple[LinkingRule, Record]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    #: Records the batch's one phone search found, by object (lower case).
    phone_found: dict[str, list[Record]] | None = None

    def __post_init__(self) -> None:
        key = self.upsert.external_id_field
        self.rows = {str(record[key]): record for record in self.records}
        self.blocked = blocked_sets(self.linking)
        self.groups = group_lookups(self.linking)

    def plan(self) -> dict[str, dict[str, str]]:
        tallies = [self._apply(index, rule) for index, rule in enumerate(self.linking.rules)]
        self._log(tallies)
        if not self.matched:
            return {}
        existing = self._existing_lookups(list(self.matched))
        plans = {}
        for key, groups in self.matched.items():
            links = self._links(self.rows[key], existing.get(key) or {}, groups)
            if links:
                plans[key] = links
        return plans

    # -- matching ---------------------------------------------------------------------------

    def _pending(self, rule: LinkingRule) -> dict[str, str]:
        """External id -> the comparable value, for rows whose group is still open."""
        pending = {}
        for key, row in self.rows.items():
            if rule.group_name in self.matched.get(key, {}) or self._row_names_group(row, rule):
                continue
            value = match_value(rule, row.get(rule.value), self.linking, self.blocked)
            if value:
                pending[key] = value
        return pending

    def _row_names_group(self, row: Record, rule: LinkingRule) -> bool:
        return any(row.get(lookup) for lookup in self.groups[rule.group_name])

    def _apply(self, index: int, rule: LinkingRule) -> _RuleTally:
        tally = _RuleTally()
        pending = self._pending(rule)
        if not pending:
            return tally
        if rule.match is MatchKind.PHONE:
            found = self._phone_candidates(index, rule)
        else:
            found = self._query_candidates(rule, set(pending.values()))
        by_value = _index(rule, [r for r in found if _keep(rule, r)], self.linking.default_country_code)
        for key, value in pending.items():
            hits = by_value.get(value, {})
            if len(hits) == 1:
                self.matched[key][rule.group_name] = (rule, next(iter(hits.values())))
                tally.linked += 1
            elif hits:
                tally.ambiguous += 1
        return tally

    def _query_candidates(self, rule: LinkingRule, values: set[str]) -> list[Record]:
        """One SOQL query (more if the URL needs) for the rule's object, any of its fields."""
        where = " OR ".join(f"{name} IN {{}}" for name in rule.fields)
        where = f"({where})" + "".join(f" AND {condition}" for condition in _filters(rule))
        soql = f"SELECT {', '.join(_select(rule))} FROM {rule.object} WHERE {where}"
        return list(query_in_each(self.client, soql, values))

    def _phone_candidates(self, index: int, rule: LinkingRule) -> list[Record]:
        """The batch's one SOSL search covers this and every later phone rule."""
        if self.phone_found is None:
            self.phone_found = self._search_phones(self.linking.rules[index:])
        return self.phone_found.get(rule.object.lower(), [])

    def _search_phones(self, rules: Iterable[LinkingRule]) -> dict[str, list[Record]]:
        phone_rules = [rule for rule in rules if rule.match is MatchKind.PHONE]
        code = self.linking.default_country_code
        terms: dict[str, list[str]] = {}
        for rule in phone_rules:
            for key, full in self._pending(rule).items():  # already normalised by match_value
                raw = self.rows[key].get(rule.value)
                terms[full] = list(dict.fromkeys([*terms.get(full, ()), *search_forms(raw, full, code)]))
        if not terms:
            return {}
        found: dict[str, dict[str, Record]] = defaultdict(dict)
        for record in search_values(self.client, list(terms.values()), "PHONE", _returning(phone_rules)):
            obj = str((record.get("attributes") or {}).get("type", "")).lower()
            found[obj][record["Id"]] = record
        return {obj: list(records.values()) for obj, records in found.items()}

    def _existing_lookups(self, keys: list[str]) -> dict[str, Record]:
        key, obj = self.upsert.external_id_field, self.upsert.object_name
        soql = f"SELECT {key}, {', '.join(lookup_fields(self.linking))} FROM {obj} WHERE {key} IN {{}}"
        return {str(r[key]): r for r in query_in(self.client, soql, keys)}

    # -- writing ----------------------------------------------------------------------------

    def _links(self, row: Record, current: Record, groups: dict[str, tuple[LinkingRule, Record]]) -> dict:
        """Each open group's lookup, then ``also_set`` fields nobody (hand, row, rule) has set."""
        links: dict[str, str] = {}
        kept = []
        for group, (rule, found) in groups.items():
            if any(current.get(lookup) for lookup in self.groups[group]):
                continue  # set by hand: the whole group stays as it is
            links[rule.lookup] = found["Id"]
            kept.append((rule, found))
        for rule, found in kept:
            for target, source in rule.also_set.items():
                if found.get(source) and not (current.get(target) or row.get(target) or target in links):
                    links[target] = found[source]
        return links

    def _log(self, tallies: list[_RuleTally]) -> None:
        for rule, tally in zip(self.linking.rules, tallies, strict=True):
            if tally.ambiguous:
                log.info(
                    "Salesforce linking: %d value(s) of %s match several %s records; not linked by that rule",
                    tally.ambiguous,
                    rule.value,
                    rule.object,
                )


def rule_columns(rule: LinkingRule) -> list[str]:
    """The fields a rule's query or search selects on its object."""
    return _select(rule)


def _select(rule: LinkingRule) -> list[str]:
    extra = (["IsConverted"] if rule.skips_converted else []) + ([rule.skip_flag] if rule.skip_flag else [])
    return list(dict.fromkeys(["Id", *rule.fields, *rule.also_set.values(), *extra]))


def _filters(rule: LinkingRule) -> list[str]:
    return (["IsConverted = false"] if rule.skips_converted else []) + (
        [f"{rule.skip_flag} = false"] if rule.skip_flag else []
    )


def _keep(rule: LinkingRule, record: Record) -> bool:
    """Never a converted Lead, never a record flagged 'do not sync' (also checked client side:
    one search serves several rules)."""
    if rule.skips_converted and record.get("IsConverted"):
        return False
    return not (rule.skip_flag and record.get(rule.skip_flag))


def _returning(rules: list[LinkingRule]) -> list[Returning]:
    """One RETURNING item per object; its filter only when all its rules share it."""
    by_object: dict[str, list[LinkingRule]] = {}
    for rule in rules:
        by_object.setdefault(rule.object, []).append(rule)
    items = []
    for obj, obj_rules in by_object.items():
        fields = list(dict.fromkeys(name for rule in obj_rules for name in _select(rule)))
        filters = {tuple(_filters(rule)) for rule in obj_rules}
        where = " AND ".join(next(iter(filters))) if len(filters) == 1 else None
        items.append(Returning(obj, tuple(fields), where or None))
    return items


def _index(rule: LinkingRule, records: list[Record], country_code: str) -> dict[str, dict[str, Record]]:
    """Comparable value -> the records (by id) holding it in any of the rule's fields."""
    by_value: dict[str, dict[str, Record]] = defaultdict(dict)
    for record in records:
        for name in rule.fields:
            raw = record.get(name)
            if raw in (None, ""):
                continue
            if rule.match is MatchKind.PHONE:
                value = normalise_phone(raw, country_code)
            elif rule.match is MatchKind.EMAIL:
                value = str(raw).strip().lower()
            else:
                value = str(raw).strip().casefold()
            if value:
                by_value[value][record["Id"]] = record
    return by_value


def query_in_each(
    client: SalesforceClient, soql: str, values: Iterable[str], max_bytes: int = SOQL_QUERY_BYTES
) -> Iterable[Record]:
    """Records of ``soql`` whose every ``{}`` becomes the same quoted IN list (one per field
    compared), in as many queries as the URL limit needs."""
    lists = soql.count("{}")
    budget = (max_bytes - encoded_length(soql.replace("{}", ""))) // max(lists, 1)
    for chunk in in_chunks(sorted(set(values)), budget, SOQL_IN_CHARS // max(lists, 1)):
        yield from client.query_all(soql.replace("{}", quote_soql_value(chunk)))


# --------------------------------------------------------------------------------------------
# Estimate before the load


@dataclass
class LinkEstimate:
    """What linking will cost a load, learnt from its records before any call."""

    linking: LinkingSettings
    upsert: UpsertSettings
    key_bytes: int = 0
    rule_bytes: list[int] = field(default_factory=list)
    phone_chars: int = 0
    phone_bytes: int = 0

    def __post_init__(self) -> None:
        self.rule_bytes = [0] * len(self.linking.rules)
        self.blocked = blocked_sets(self.linking)
        self.groups = group_lookups(self.linking)

    def add(self, record: Record) -> None:
        """Count one record's values (as if no earlier rule matched it: an upper bound)."""
        phones: set[str] = set()
        linked = False
        for index, rule in enumerate(self.linking.rules):
            if any(record.get(lookup) for lookup in self.groups[rule.group_name]):
                continue
            raw = record.get(rule.value)
            value = match_value(rule, raw, self.linking, self.blocked)
            if not value:
                continue
            linked = True
            if rule.match is MatchKind.PHONE:
                if value not in phones:
                    phones.add(value)
                    code = self.linking.default_country_code
                    terms = " OR ".join(search_forms(raw, value, code)) + " OR "
                    self.phone_chars += len(terms)
                    self.phone_bytes += len(quote_plus(terms))
            else:
                self.rule_bytes[index] += value_cost(value) * len(rule.fields)
        if linked:
            self.key_bytes += value_cost(str(record[self.upsert.external_id_field]))

    def calls(self, batches: int) -> int:
        """Queries and searches for ``batches`` batches: one per batch per rule plus the full ones."""
        calls = estimated_queries(self.key_bytes, batches)  # the transcripts' current lookups
        calls += sum(estimated_queries(size, batches) for size in self.rule_bytes)
        if self.phone_chars:
            by_chars = math.ceil(self.phone_chars / (SEARCH_QUERY_CHARS - SEARCH_FRAME_CHARS))
            by_bytes = math.ceil(self.phone_bytes / (SOQL_QUERY_BYTES - QUERY_TEMPLATE_BYTES))
            calls += batches + max(by_chars, by_bytes)
        return calls
