"""What a mapping (and its integration) needs from the org: one ``FieldNeed`` per field.

The check compares these needs with the org's describe; the metadata writer turns the same needs
into the fields that create them. Written once here so the two can never disagree about what a
field must be.

A field's value type comes, in order, from the entry's ``convert:``, its ``map:`` (a picklist of
the mapped values), the catalog's conversion hint, and a few catalog names whose values are known
to be email addresses, phone numbers or long text. A custom path without ``convert:`` has no
known type: the Salesforce field's type decides its conversion, so any type is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lesync.config import DEFAULT_LINKING_RULES, LinkingRule
from lesync.mapping import CATALOG, CompiledMapping
from lesync.mapping.spec import FieldEntry
from lesync.salesforce.linking import rule_columns

Kind = Literal[
    "external_id",
    "transcript",
    "text",
    "long_text",
    "email",
    "phone",
    "picklist",
    "datetime",
    "date",
    "number",
    "integer",
    "boolean",
    "lookup",
    "any",
]

#: LivePerson ids: chat engagement ids are digits, messaging conversation ids are UUIDs (36).
LIVEPERSON_ID_LENGTH = 36
#: The longest Long Text Area Salesforce allows; transcripts often need all of it.
TRANSCRIPT_LENGTH = 131_072
#: Catalog values that run to many lines (summaries, every survey answer).
LONG_TEXT_VALUES = frozenset(
    {"summary", "preChatSurveyAnswers", "postChatSurveyAnswers", "agentSurveyAnswers"}
)
_CONVERT_KINDS: dict[str, Kind] = {
    "datetime": "datetime",
    "date": "date",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "string": "text",
    "picklist": "picklist",
}


def linked_objects(rules: tuple[LinkingRule, ...]) -> dict[str, tuple[str, ...]]:
    """Objects the rules read, with the fields their queries and searches select; objects an
    ``also_set`` id points to (the Contact's Account) are listed with no fields."""
    objects: dict[str, list[str]] = {}
    for rule in rules:
        columns = objects.setdefault(rule.object, [])
        columns += [name for name in rule_columns(rule) if name != "Id" and name not in columns]
    for rule in rules:
        for source in rule.also_set.values():
            target = referenced_object(source)
            if target:
                objects.setdefault(target, [])
    return {obj: tuple(columns) for obj, columns in objects.items()}


def referenced_object(field_name: str) -> str | None:
    """The object a standard id field points to (``AccountId`` -> ``Account``), else ``None``."""
    return field_name[:-2] if field_name.endswith("Id") and len(field_name) > 2 else None


#: Objects the default rules read, with the fields their queries select.
LINKED_OBJECTS: dict[str, tuple[str, ...]] = linked_objects(DEFAULT_LINKING_RULES)


@dataclass(frozen=True)
class FieldNeed:
    """One field the mapping writes, and what it must be able to hold."""

    name: str
    kind: Kind
    role: str
    values: tuple[str, ...] = ()
    reference_to: str | None = None
    min_length: int = 0
    description: str = ""

    @property
    def label(self) -> str:
        return self.name.removesuffix("__c").replace("_", " ").strip()


@dataclass(frozen=True)
class OrgNeeds:
    """Everything the org must have for one integration's mapping."""

    object: str
    fields: tuple[FieldNeed, ...]
    linked_objects: dict[str, tuple[str, ...]]
    linking_row_fields: tuple[str, ...] = ()


def linking_enabled(integration: Any) -> bool:
    linking = getattr(integration, "linking", None)
    return bool(linking and linking.enabled)


def org_needs(mapping: CompiledMapping, integration: Any = None) -> OrgNeeds:
    """The fields ``mapping`` writes (and, with linking on, its lookups and the objects it reads)."""
    fields: list[FieldNeed] = [
        FieldNeed(
            mapping.external_id_field,
            "external_id",
            "external id (holds the LivePerson conversation id)",
            min_length=LIVEPERSON_ID_LENGTH,
        )
    ]
    if mapping.channel_field:
        values = tuple(dict.fromkeys(str(v) for v in mapping.channel_field.values.values()))
        fields.append(FieldNeed(mapping.channel_field.field, "picklist", "channel_field", values))
    fields += [_entry_need(index, entry) for index, entry in enumerate(mapping.spec.fields)]
    fields += _transcript_needs(mapping)
    linked: dict[str, tuple[str, ...]] = {}
    row_fields: tuple[str, ...] = ()
    if linking_enabled(integration):
        rules = integration.linking.rules
        fields += _lookup_needs(fields, rules)
        linked = linked_objects(rules)
        row_fields = tuple(dict.fromkeys(rule.value for rule in rules))
    return OrgNeeds(mapping.object, tuple(fields), linked, row_fields)


def _transcript_needs(mapping: CompiledMapping) -> list[FieldNeed]:
    settings = mapping.transcript
    if not settings or settings.mode == "attachment" or not settings.field:
        return []
    names = [settings.field, *(settings.part_fields if settings.split_parts else ())]
    needs = [
        FieldNeed(name, "transcript", "transcript", min_length=TRANSCRIPT_LENGTH, description="Transcript")
        for name in names
    ]
    if settings.truncated_flag_field:
        needs.append(
            FieldNeed(
                settings.truncated_flag_field,
                "boolean",
                "transcript.truncated_flag_field",
                description="Checked when the transcript was cut to fit its field",
            )
        )
    return needs


def _lookup_needs(existing: list[FieldNeed], rules: tuple[LinkingRule, ...]) -> list[FieldNeed]:
    """One lookup per field the rules write: each rule's ``lookup`` to its object, each
    ``also_set`` target to the object its source id points to (when that can be told)."""
    lookups = [(rule.lookup, rule.object) for rule in rules]
    lookups += [
        (target, referenced_object(source))
        for rule in rules
        for target, source in rule.also_set.items()
        if referenced_object(source)
    ]
    taken = {need.name for need in existing}
    needs: dict[str, FieldNeed] = {}
    for name, target in lookups:
        if name not in taken and name not in needs:
            needs[name] = FieldNeed(name, "lookup", f"linking ({target} lookup)", reference_to=target)
    return list(needs.values())


def _entry_need(index: int, entry: FieldEntry) -> FieldNeed:
    role = f"fields[{index}]" + (f" (lp_field {entry.lp_field})" if entry.lp_field else "")
    kind = entry_kind(entry)
    values: tuple[str, ...] = ()
    if kind == "picklist" and entry.map:
        values = tuple(dict.fromkeys(str(v) for v in entry.map.values() if v not in (None, "")))
    description = CATALOG[entry.lp_field].description if entry.lp_field in CATALOG else ""
    return FieldNeed(entry.target, kind, role, values, description=description)


def entry_kind(entry: FieldEntry) -> Kind:
    """The value type one mapping entry produces (see the module docstring for the order)."""
    if entry.map and entry.convert in (None, "picklist", "string"):
        return "picklist"
    if entry.convert:
        return _CONVERT_KINDS[entry.convert]
    if entry.lp_field in CATALOG:
        return _catalog_kind(entry.lp_field)
    if entry.default is not None and not (entry.api_field or entry.msg_api_field):
        return _default_kind(entry.default)
    return "any"


def _catalog_kind(name: str) -> Kind:
    hint = CATALOG[name].convert
    if hint:
        return _CONVERT_KINDS[hint]
    if name in LONG_TEXT_VALUES:
        return "long_text"
    if name.endswith("Email"):
        return "email"
    if name.endswith("Phone"):
        return "phone"
    return "text"


def _default_kind(value: Any) -> Kind:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "text"
