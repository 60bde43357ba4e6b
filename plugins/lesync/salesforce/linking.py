"""Link transcripts to the records they belong to, by the integration's linking rules.

A rule (``lesync.config.LinkingRule``) says: find the ``object`` whose ``fields`` hold the row's
``value`` (an email, a phone, or an exact value such as an order id) and write its id into the
transcript's ``lookup`` (and copy ``also_set`` fields, e.g. the Contact's AccountId into
Account__c). Rules of one group are tried in order and the first unique match wins (a value held
by several records links nothing: a wrong link is worse than none); rules of different groups
all apply, so a transcript can get its Contact and its Case. docs/linking.md has the details.

Per load, not per batch (``Linker``): every distinct value is asked once. Given the load's values
up front (``LinkEstimate``, filled by the load's first pass), the first batch asks for all of
them in the fewest calls the limits allow, and later batches only match:

* email and exact rules: one SOQL statement per rule and up to 99,000 characters of values
  (``WHERE Email IN (...) OR Other__c IN (...)``), five statements to a ``/composite`` call, which
  counts as one API call (``lesync.salesforce.soql.query_statements``);
* phone rules: phones are held in any format, so one SOSL search ``IN PHONE FIELDS`` for all phone
  rules' objects finds candidates (10,000 characters of terms a search) and the normalised digits
  confirm them (``lesync.salesforce.phones``). The same first call counts each phone object's
  records with a phone: an object with none is not searched, and objects small enough to read
  whole in fewer calls than the searches would take are read instead;
* the current lookups of the transcripts that matched, one statement per batch, so a lookup set
  by hand (an agent in the widget) is never overwritten: a group with any lookup already set is
  left alone, and an ``also_set`` field already set stays. Not read at all when the transcript
  object held no record when the load began (nobody can have set one by hand).

Converted Leads and records whose ``skip_flag`` checkbox is checked are never linked; free-mail
domains and blocked addresses are never matched.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce.format import quote_soql_value

from lesync.config import LinkingRule, MatchKind
from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.phones import normalise_phone, search_forms
from lesync.salesforce.settings import LinkingSettings, UpsertSettings
from lesync.salesforce.soql import (
    SOQL_STATEMENT_CHARS,
    composite_calls,
    query_statements,
    statements_in,
)
from lesync.salesforce.sosl import Returning, search_values, term_chunks

log = logging.getLogger(__name__)

Record = dict[str, Any]
#: Lower-cased blocked email domains and addresses.
Blocked = tuple[frozenset[str], frozenset[str]]
#: Room kept in a search query or a statement for the words around the values when estimating.
SEARCH_FRAME_CHARS = 200
STATEMENT_FRAME_CHARS = 1_000
#: Records one query page returns (the REST default and maximum batch size).
QUERY_PAGE = 2_000
#: Comparable value -> the kept records (by id) holding it.
Hits = dict[str, dict[str, Record]]


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
# One load


def plan_links(
    client: SalesforceClient, linking: LinkingSettings, upsert: UpsertSettings, records: Iterable[Record]
) -> dict[str, dict[str, str]]:
    """External id -> transcript fields to set, for one batch of records on its own."""
    return Linker(client, linking, upsert).plan(records)


@dataclass
class LinkValues:
    """The distinct values a load's rows will ask about: per rule, and each phone's search terms."""

    per_rule: list[set[str]]
    phone_terms: dict[str, list[str]] = field(default_factory=dict)

    def add_phone(self, full: str, raw: Any, country_code: str) -> None:
        self._add_terms(full, search_forms(raw, full, country_code))

    def merge(self, other: LinkValues) -> None:
        """Add ``other``'s values and phone terms to these (these first)."""
        for mine, theirs in zip(self.per_rule, other.per_rule, strict=True):
            mine |= theirs
        for full, terms in other.phone_terms.items():
            self._add_terms(full, terms)

    def _add_terms(self, full: str, terms: Iterable[str]) -> None:
        self.phone_terms[full] = list(dict.fromkeys([*self.phone_terms.get(full, []), *terms]))


@dataclass(frozen=True)
class _Statement:
    """One SOQL statement of a composite call, and what its answer is for."""

    text: str
    kind: str  # probe, count or rule
    target: str | int | None = None


class Linker:
    """Links the batches of one load; what Salesforce answered once serves every later batch."""

    def __init__(
        self,
        client: SalesforceClient,
        linking: LinkingSettings,
        upsert: UpsertSettings,
        upfront: LinkValues | None = None,
    ):
        self.client = client
        self.linking = linking
        self.upsert = upsert
        self.rules = list(linking.rules)
        self.blocked = blocked_sets(linking)
        self.groups = group_lookups(linking)
        self.upfront = upfront
        #: Per rule: the values asked so far, and the kept records found holding them.
        self.asked: list[set[str]] = [set() for _ in self.rules]
        self.hits: list[Hits] = [defaultdict(dict) for _ in self.rules]
        #: Phone objects (lower case) with no record holding a phone when counted: never searched.
        self.settled: set[str] = set()
        #: Whether the transcript object held any record when the load began (``None``: not asked yet).
        self.transcripts_existed: bool | None = None

    def plan(self, records: Iterable[Record]) -> dict[str, dict[str, str]]:
        """External id -> transcript fields to set, for one batch of records about to be upserted."""
        key = self.upsert.external_id_field
        rows = {str(record[key]): record for record in records}
        wanted = self._wanted(rows.values())
        if self.upfront is not None:  # the whole load's values, asked with the first batch
            wanted.merge(self.upfront)
            self.upfront = None
        self._ask(wanted)
        matched = self._match(rows)
        if not matched:
            return {}
        existing = self._existing_lookups(list(matched))
        plans = {}
        for row_key, groups in matched.items():
            links = self._links(rows[row_key], existing.get(row_key) or {}, groups)
            if links:
                plans[row_key] = links
        return plans

    # -- what to ask ------------------------------------------------------------------------

    def _wanted(self, rows: Iterable[Record]) -> LinkValues:
        """The rows' comparable values per rule (rows naming a rule's group left out)."""
        wanted = LinkValues([set() for _ in self.rules])
        code = self.linking.default_country_code
        for row in rows:
            for index, rule, raw, value in rule_values(row, self.linking, self.blocked, self.groups):
                wanted.per_rule[index].add(value)
                if rule.match is MatchKind.PHONE:
                    wanted.add_phone(value, raw, code)  # every spelling's terms
        return wanted

    def _row_names_group(self, row: Record, rule: LinkingRule) -> bool:
        return any(row.get(lookup) for lookup in self.groups[rule.group_name])

    def _ask(self, wanted: LinkValues) -> None:
        """Ask Salesforce about the values not asked yet: the rules' statements first (with the
        first batch, the transcript probe and the phone objects' counts ride along), then the
        phone search."""
        new = [values - asked for values, asked in zip(wanted.per_rule, self.asked, strict=True)]
        phones = {
            value
            for index, rule in enumerate(self.rules)
            if rule.match is MatchKind.PHONE and rule.object.lower() not in self.settled
            for value in new[index]
        }
        if not any(new):
            return  # nothing new to ask: not even the probe
        statements: list[_Statement] = []
        if self.transcripts_existed is None:
            statements.append(_Statement(f"SELECT Id FROM {self.upsert.object_name} LIMIT 1", "probe"))
            statements += self._phone_counts() if phones else []
        for index, rule in enumerate(self.rules):
            if rule.match is not MatchKind.PHONE and new[index]:
                statements += [
                    _Statement(text, "rule", index)
                    for text in statements_in(self._statement(rule), new[index])
                ]
        for index, values in enumerate(new):
            self.asked[index] |= values
        answers = query_statements(self.client, [s.text for s in statements]) if statements else []
        counts: dict[str, int] = {}
        for statement, answer in zip(statements, answers, strict=True):
            if statement.kind == "probe":
                self.transcripts_existed = bool(answer.records)
            elif statement.kind == "count":
                counts[str(statement.target)] = answer.total
            else:
                self._keep_hits(int(statement.target), answer.records)
        if phones:
            self._ask_phones({full: wanted.phone_terms[full] for full in phones}, counts)

    def _phone_counts(self) -> list[_Statement]:
        """Per phone object, a count of its records that hold a phone and may be linked."""
        return [
            _Statement(
                f"SELECT COUNT() FROM {item.object} WHERE {self._phone_where(item)}",
                "count",
                item.object.lower(),
            )
            for item in _returning(self._phone_rules())
        ]

    def _phone_where(self, item: Returning) -> str:
        fields = " OR ".join(f"{name} != null" for name in self._phone_fields(item.object))
        return f"({fields})" + (f" AND {item.where}" if item.where else "")

    def _phone_rules(self) -> list[LinkingRule]:
        return [rule for rule in self.rules if rule.match is MatchKind.PHONE]

    def _phone_fields(self, obj: str) -> list[str]:
        rules = [rule for rule in self._phone_rules() if rule.object.lower() == obj.lower()]
        return list(dict.fromkeys(name for rule in rules for name in rule.fields))

    def _statement(self, rule: LinkingRule) -> str:
        where = " OR ".join(f"{name} IN {{}}" for name in rule.fields)
        where = f"({where})" + "".join(f" AND {condition}" for condition in _filters(rule))
        return f"SELECT {', '.join(_select(rule))} FROM {rule.object} WHERE {where}"

    def _ask_phones(self, terms: dict[str, list[str]], counts: dict[str, int]) -> None:
        """One search for every phone rule's objects; an object without a phone is skipped, and all
        are read whole instead when that takes fewer calls than the searches."""
        for obj, count in counts.items():
            if count == 0:
                self.settled.add(obj)
        returning = [r for r in _returning(self._phone_rules()) if r.object.lower() not in self.settled]
        if not returning:
            return
        if all(r.object.lower() in counts for r in returning):
            reads = read_calls([counts[r.object.lower()] for r in returning])
            if reads <= search_calls(list(terms.values()), returning):  # a tie: reading is exact
                self._read_whole(returning)
                return
        found: dict[str, dict[str, Record]] = defaultdict(dict)
        for record in search_values(self.client, list(terms.values()), "PHONE", returning):
            found[_type_of(record)][record["Id"]] = record
        self._keep_phone_hits({obj: list(records.values()) for obj, records in found.items()})

    def _read_whole(self, returning: list[Returning]) -> None:
        """Every record of the phone objects that holds a phone (fewer calls than searching)."""
        statements = [
            f"SELECT {', '.join(item.fields)} FROM {item.object} WHERE {self._phone_where(item)}"
            for item in returning
        ]
        answers = query_statements(self.client, statements)
        self._keep_phone_hits(
            {item.object.lower(): answer.records for item, answer in zip(returning, answers, strict=True)}
        )

    def _keep_phone_hits(self, found: dict[str, list[Record]]) -> None:
        for index, rule in enumerate(self.rules):
            if rule.match is MatchKind.PHONE:
                self._keep_hits(index, found.get(rule.object.lower(), []))

    def _keep_hits(self, index: int, records: list[Record]) -> None:
        """Keep the records holding a value asked for (an object read whole holds many others)."""
        rule, asked = self.rules[index], self.asked[index]
        kept = [record for record in records if _keep(rule, record)]
        for value, by_id in _index(rule, kept, self.linking.default_country_code).items():
            if value in asked:
                self.hits[index][value].update(by_id)

    # -- matching ---------------------------------------------------------------------------

    def _match(self, rows: dict[str, Record]) -> dict[str, dict[str, tuple[LinkingRule, Record]]]:
        """External id -> group -> (the rule, the one record it matched), rules in order."""
        matched: dict[str, dict[str, tuple[LinkingRule, Record]]] = defaultdict(dict)
        ambiguous = [0] * len(self.rules)
        for row_key, row in rows.items():
            for index, rule in enumerate(self.rules):
                if rule.group_name in matched.get(row_key, {}) or self._row_names_group(row, rule):
                    continue
                value = match_value(rule, row.get(rule.value), self.linking, self.blocked)
                hits = self.hits[index].get(value, {}) if value else {}
                if len(hits) == 1:
                    matched[row_key][rule.group_name] = (rule, next(iter(hits.values())))
                elif hits:
                    ambiguous[index] += 1
        self._log(ambiguous)
        return matched

    def _existing_lookups(self, keys: list[str]) -> dict[str, Record]:
        if not self.transcripts_existed:
            return {}
        key, obj = self.upsert.external_id_field, self.upsert.object_name
        soql = f"SELECT {key}, {', '.join(lookup_fields(self.linking))} FROM {obj} WHERE {key} IN {{}}"
        answers = query_statements(self.client, list(statements_in(soql, keys)))
        return {str(r[key]): r for answer in answers for r in answer.records}

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

    def _log(self, ambiguous: list[int]) -> None:
        for rule, count in zip(self.rules, ambiguous, strict=True):
            if count:
                log.info(
                    "Salesforce linking: %d value(s) of %s match several %s records; not linked by that rule",
                    count,
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


def rule_values(
    record: Record, linking: LinkingSettings, blocked: Blocked, groups: dict[str, set[str]]
) -> Iterator[tuple[int, LinkingRule, Any, str]]:
    """``(rule index, rule, raw value, comparable value)`` for each rule that may link ``record``:
    a value it can match on, in a group none of whose lookups the record already names."""
    for index, rule in enumerate(linking.rules):
        if any(record.get(lookup) for lookup in groups[rule.group_name]):
            continue
        raw = record.get(rule.value)
        value = match_value(rule, raw, linking, blocked)
        if value:
            yield index, rule, raw, value


def _type_of(record: Record) -> str:
    return str((record.get("attributes") or {}).get("type", "")).lower()


def read_calls(counts: list[int]) -> int:
    """Composite calls that read objects of ``counts`` records whole: each object's pages one
    after the other, the objects side by side, five queries to a call."""
    pages = [math.ceil(count / QUERY_PAGE) for count in counts]
    return max(max(pages, default=0), composite_calls(sum(pages)))


def search_calls(terms_per_value: list[list[str]], returning: list[Returning]) -> int:
    """Searches the values take (before any is searched again for a full answer)."""
    return sum(1 for _ in term_chunks(terms_per_value, "PHONE", returning))


# --------------------------------------------------------------------------------------------
# Estimate before the load


class LinkEstimate:
    """What linking will cost a load, learnt from its records before any call; it also keeps the
    load's distinct values, so the ``Linker`` asks for all of them with the first batch."""

    def __init__(self, linking: LinkingSettings, upsert: UpsertSettings):
        self.linking = linking
        self.upsert = upsert
        self.blocked = blocked_sets(linking)
        self.groups = group_lookups(linking)
        self.values = LinkValues([set() for _ in linking.rules])

    def add(self, record: Record) -> None:
        """Keep one record's values (every rule's, as if no earlier rule matched: an upper bound)."""
        code = self.linking.default_country_code
        for index, rule, raw, value in rule_values(record, self.linking, self.blocked, self.groups):
            self.values.per_rule[index].add(value)
            if rule.match is MatchKind.PHONE and value not in self.values.phone_terms:
                self.values.add_phone(value, raw, code)

    def calls(self, batches: int) -> int:
        """Composite calls for the probe, the phone counts and the rules' statements (and their
        further pages), the phone searches as if every object needed them, and one call per batch
        for the current lookups."""
        rules = self.linking.rules
        if not any(self.values.per_rule):
            return 0
        statements = 1 + (
            len({r.object.lower() for r in rules if r.match is MatchKind.PHONE})
            if self.values.phone_terms
            else 0
        )
        pages = 0
        for rule, values in zip(rules, self.values.per_rule, strict=True):
            if rule.match is MatchKind.PHONE or not values:
                continue
            chars = sum(len(quote_soql_value(value)) + 1 for value in values) * len(rule.fields)
            statements += math.ceil(chars / (SOQL_STATEMENT_CHARS - STATEMENT_FRAME_CHARS))
            pages += math.ceil(len(values) / QUERY_PAGE) - 1
        calls = composite_calls(statements) + composite_calls(max(pages, 0))
        if self.values.phone_terms:
            phone_rules = [rule for rule in rules if rule.match is MatchKind.PHONE]
            calls += search_calls(list(self.values.phone_terms.values()), _returning(phone_rules))
        return calls + batches
