"""Does the org fit the mapping? One describe per object, compared with what the mapping needs.

``check_org`` is pure (describes in, report out), so the ``plan`` task can run it once per run
on describes it then hands to transform and load; ``describe_and_check`` fetches the describes
with a client first. Each finding names ``Object.Field``, what is wrong, and the fix; blockers
are what would make every load (or every record) fail, warnings what loses data quietly.

Field-level security shows in describe as ``createable``/``updateable`` of the integration
user, and a field the user may not read is missing from describe altogether.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lesync.mapping import CompiledMapping
from lesync.org.needs import TRANSCRIPT_LENGTH, FieldNeed, OrgNeeds, org_needs

log = logging.getLogger(__name__)

Severity = Literal["blocker", "warning"]
Describes = Mapping[str, Mapping[str, Any] | None]

TEXTUAL = frozenset({"string", "textarea", "combobox", "encryptedstring", "url", "phone"})
PICKLISTS = frozenset({"picklist", "multipicklist"})
NUMBERS = frozenset({"double", "currency", "percent"})
INTEGERS = frozenset({"int", "long"})
METADATA_FIX = "run `python -m lesync org metadata --out DIR` and deploy it, or add the field by hand"
FLS_FIX = (
    "give the integration user Edit access to the field (field-level security; the permission set "
    "from `python -m lesync org metadata` does this)"
)


class OrgCheckError(RuntimeError):
    """The org cannot take this integration's rows; the message is the report's blockers."""

    def __init__(self, report: OrgReport):
        self.report = report
        super().__init__(report.format(only_blockers=True))


@dataclass(frozen=True)
class Finding:
    severity: Severity
    object: str
    field: str | None
    problem: str
    fix: str

    @property
    def where(self) -> str:
        return f"{self.object}.{self.field}" if self.field else self.object

    def line(self) -> str:
        return f"{self.severity.upper():8} {self.where}: {self.problem}. Fix: {self.fix}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "object": self.object,
            "field": self.field,
            "problem": self.problem,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class OrgReport:
    """Findings of one check; ``ok`` when nothing blocks a load."""

    integration: str
    objects: tuple[str, ...]
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "blocker"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.blockers

    def format(self, only_blockers: bool = False) -> str:
        shown = self.blockers if only_blockers else [*self.blockers, *self.warnings]
        head = (
            f"org check for {self.integration!r} ({', '.join(self.objects)}): "
            f"{len(self.blockers)} blocker(s), {len(self.warnings)} warning(s)"
        )
        return "\n".join([head, *(f"  {finding.line()}" for finding in shown)])

    def as_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "objects": list(self.objects),
            "ok": self.ok,
            "findings": [finding.as_dict() for finding in self.findings],
        }

    def raise_on_blockers(self) -> None:
        if not self.ok:
            raise OrgCheckError(self)


# --------------------------------------------------------------------------------------------
# Entry points


def objects_involved(mapping: CompiledMapping, integration: Any = None) -> list[str]:
    """The objects to describe: the mapping's target, plus what linking reads."""
    return [mapping.object, *org_needs(mapping, integration).linked_objects]


def check_org(describes: Describes, mapping: CompiledMapping, integration: Any = None) -> OrgReport:
    """Compare the describes (object name -> describe, ``None`` when the object is missing)
    with what the mapping and the integration's linking need. Pure: no calls."""
    needs = org_needs(mapping, integration)
    name = getattr(integration, "name", None) or mapping.source
    findings: list[Finding] = []
    target = _lookup(describes, needs.object)
    if target is None:
        findings.append(_missing_object(needs.object))
    else:
        findings += _check_target(needs, target)
    for obj, columns in needs.linked_objects.items():
        findings += _check_linked(obj, columns, _lookup(describes, obj))
    findings += _check_linking_row_fields(needs)
    return OrgReport(name, (needs.object, *needs.linked_objects), tuple(findings))


def fetch_describes(client: Any, objects: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """One describe per object; ``None`` for an object the org (or the user) does not have."""
    from simple_salesforce.exceptions import SalesforceResourceNotFound

    describes: dict[str, dict[str, Any] | None] = {}
    for obj in dict.fromkeys(objects):
        try:
            describes[obj] = client.describe(obj)
        except SalesforceResourceNotFound:
            describes[obj] = None
    return describes


def describe_and_check(
    client: Any, mapping: CompiledMapping, integration: Any = None
) -> tuple[OrgReport, dict[str, dict[str, Any] | None]]:
    """Describe every object involved (once each) and check; the describes are returned for
    reuse by transform and load in the same run."""
    describes = fetch_describes(client, objects_involved(mapping, integration))
    report = check_org(describes, mapping, integration)
    log.info("%s", report.format())
    return report, describes


# --------------------------------------------------------------------------------------------
# The target object


def _lookup(describes: Describes, name: str) -> Mapping[str, Any] | None:
    if name in describes:
        return describes[name]
    lowered = {key.lower(): value for key, value in describes.items()}
    return lowered.get(name.lower())


def _fields(describe: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Field name (lower case: Salesforce names are case-insensitive) -> describe entry."""
    return {str(f["name"]).lower(): f for f in describe.get("fields") or ()}


def _missing_object(name: str) -> Finding:
    return Finding(
        "blocker",
        name,
        None,
        "the object does not exist, or the integration user cannot see it",
        f"{METADATA_FIX.replace('the field', 'the object')}; give the integration user access to it",
    )


def _check_target(needs: OrgNeeds, describe: Mapping[str, Any]) -> list[Finding]:
    findings = _object_access(needs.object, describe)
    fields = _fields(describe)
    for need in needs.fields:
        found = fields.get(need.name.lower())
        if found is None:
            findings.append(
                Finding(
                    "blocker",
                    needs.object,
                    need.name,
                    f"missing (written by {need.role}; {_kind_label(need)})",
                    METADATA_FIX if need.role != "external id" else f"{METADATA_FIX} (External ID, Unique)",
                )
            )
            continue
        findings += _check_field(needs.object, need, found)
    findings += _unwritten_required(needs, fields)
    return findings


def _object_access(obj: str, describe: Mapping[str, Any]) -> list[Finding]:
    denied = [verb for verb in ("createable", "updateable") if describe.get(verb) is False]
    if not denied:
        return []
    return [
        Finding(
            "blocker",
            obj,
            None,
            f"the integration user may not {' or '.join(v.removesuffix('able') for v in denied)} records",
            "grant Create, Read and Edit on the object (the permission set from `lesync org metadata`)",
        )
    ]


def _check_field(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> list[Finding]:
    checks = {
        "external_id": _check_external_id,
        "transcript": _check_transcript,
        "lookup": _check_lookup,
        "picklist": _check_picklist,
    }
    findings = checks.get(need.kind, _check_type)(obj, need, found)
    return findings + _check_access(obj, need, found)


def _check_access(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> list[Finding]:
    if found.get("calculated") or found.get("autoNumber"):
        return [
            Finding(
                "blocker",
                obj,
                need.name,
                "is a formula or auto-number field and cannot be written",
                f"map {need.role} to a writable field instead",
            )
        ]
    denied = [verb for verb in ("createable", "updateable") if found.get(verb) is False]
    if not denied:
        return []
    return [
        Finding(
            "blocker",
            obj,
            need.name,
            f"the integration user may not {' or '.join(v.removesuffix('able') for v in denied)} it",
            FLS_FIX,
        )
    ]


def _check_external_id(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> list[Finding]:
    findings = []
    if found.get("type") not in ("string", "email"):
        findings.append(
            Finding(
                "blocker",
                obj,
                need.name,
                f"is {found.get('type')}; the external id holds LivePerson ids, which are text",
                "make it a Text field (External ID, Unique)",
            )
        )
    if not found.get("externalId"):
        findings.append(
            Finding(
                "blocker",
                obj,
                need.name,
                "is not an External ID, so rows cannot be upserted by it",
                "tick 'External ID' on the field",
            )
        )
    if not found.get("unique"):
        findings.append(
            Finding(
                "blocker",
                obj,
                need.name,
                "is not Unique: two records could hold the same conversation and upserts would fail",
                "tick 'Unique' on the field (run `lesync org adopt` first if it holds duplicates)",
            )
        )
    length = int(found.get("length") or 0)
    if found.get("type") == "string" and length < need.min_length:
        findings.append(
            Finding(
                "blocker",
                obj,
                need.name,
                f"holds {length} characters; messaging conversation ids have {need.min_length}",
                f"make it at least Text({need.min_length}) (80 is usual)",
            )
        )
    return findings


def _check_transcript(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> list[Finding]:
    kind, length = found.get("type"), int(found.get("length") or 0)
    if kind != "textarea" or length <= 255:
        return [
            Finding(
                "blocker",
                obj,
                need.name,
                f"is {kind}({length}); the transcript needs a Long Text Area",
                f"make it a Long Text Area of {TRANSCRIPT_LENGTH:,} characters",
            )
        ]
    if length < TRANSCRIPT_LENGTH:
        return [
            Finding(
                "warning",
                obj,
                need.name,
                f"holds {length:,} characters; longer transcripts are cut (the file stays whole)",
                f"raise its length to {TRANSCRIPT_LENGTH:,}, or turn on split_parts",
            )
        ]
    return []


def _check_lookup(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> list[Finding]:
    targets = list(found.get("referenceTo") or ())
    if found.get("type") == "reference" and need.reference_to in targets:
        return []
    what = f"a lookup to {', '.join(targets)}" if targets else f"{found.get('type')}"
    return [
        Finding(
            "blocker",
            obj,
            need.name,
            f"is {what}; linking writes {need.reference_to} ids into it",
            f"make it a Lookup({need.reference_to}), or turn linking off for this integration",
        )
    ]


def _check_picklist(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> list[Finding]:
    kind = found.get("type")
    if kind in TEXTUAL:
        return _check_length(obj, need, found)
    if kind not in PICKLISTS:
        return [_type_blocker(obj, need, found)]
    allowed = {str(p.get("value")) for p in found.get("picklistValues") or () if p.get("active", True)}
    missing = [value for value in need.values if value not in allowed]
    if not missing:
        return []
    restricted = found.get("restrictedPicklist", True)
    return [
        Finding(
            "blocker" if restricted else "warning",
            obj,
            need.name,
            f"the mapping ({need.role}) writes {', '.join(map(repr, missing))}, which the picklist "
            + ("does not allow" if restricted else "does not list"),
            f"add {', '.join(map(repr, missing))} to the picklist values, or change the mapping's values",
        )
    ]


def _check_length(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> list[Finding]:
    longest = max((len(value) for value in need.values), default=0)
    length = int(found.get("length") or 0)
    if length and longest > length:
        return [
            Finding(
                "warning",
                obj,
                need.name,
                f"holds {length} characters; the mapping writes values up to {longest}",
                f"make it at least {longest} characters long",
            )
        ]
    return []


# kind -> (types that hold the values, {type: why it only partly works})
_PARTLY_TEXT = {t: "values are stored as text" for t in TEXTUAL}
_ACCEPTS: dict[str, tuple[frozenset[str], dict[str, str]]] = {
    "text": (
        TEXTUAL,
        {
            "email": "values that are not email addresses are rejected",
            **{t: "values outside the picklist may be rejected; add a 'map:'" for t in PICKLISTS},
            **{t: "values that are not numbers are rejected" for t in NUMBERS | INTEGERS},
            "date": "values that are not dates are rejected",
            "datetime": "values that are not date-times are rejected",
            "boolean": "values that are not true/false are rejected",
        },
    ),
    "email": (TEXTUAL | {"email"}, {}),
    "phone": (TEXTUAL, {}),
    "datetime": (frozenset({"datetime"}), {"date": "the time of day is dropped", **_PARTLY_TEXT}),
    "date": (frozenset({"date", "datetime"}), _PARTLY_TEXT),
    "number": (NUMBERS, {**{t: "values with fractions are rejected" for t in INTEGERS}, **_PARTLY_TEXT}),
    "integer": (NUMBERS | INTEGERS, _PARTLY_TEXT),
    "boolean": (frozenset({"boolean"}), _PARTLY_TEXT),
}
_ACCEPTS["long_text"] = _ACCEPTS["text"]


def _check_type(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> list[Finding]:
    kind = str(found.get("type"))
    if need.kind == "any":
        if kind in ("reference", "id"):
            return [
                Finding(
                    "warning",
                    obj,
                    need.name,
                    "is a lookup: only Salesforce record ids load into it",
                    "map a value that holds record ids, or use a text field",
                )
            ]
        return []
    ok, partly = _ACCEPTS[need.kind]
    if kind in ok:
        if (
            need.kind == "long_text"
            and kind in ("string", "textarea")
            and int(found.get("length") or 0) <= 255
        ):
            return [
                Finding(
                    "warning",
                    obj,
                    need.name,
                    f"holds {found.get('length')} characters; {need.role} is often longer and is cut",
                    "make it a Long Text Area (32,768 characters)",
                )
            ]
        return []
    if kind in partly:
        return [
            Finding(
                "warning",
                obj,
                need.name,
                f"is {kind} and {need.role} gives {_kind_label(need)}: {partly[kind]}",
                f"make it {_SUGGESTED[need.kind]}",
            )
        ]
    return [_type_blocker(obj, need, found)]


_SUGGESTED = {
    "text": "a Text(255) field",
    "long_text": "a Long Text Area",
    "email": "an Email field",
    "phone": "a Phone field",
    "picklist": "a Picklist with the mapped values",
    "datetime": "a Date/Time field",
    "date": "a Date field",
    "number": "a Number field with decimals",
    "integer": "a Number field",
    "boolean": "a Checkbox",
}


def _type_blocker(obj: str, need: FieldNeed, found: Mapping[str, Any]) -> Finding:
    return Finding(
        "blocker",
        obj,
        need.name,
        f"is {found.get('type')}, which cannot hold {_kind_label(need)} ({need.role})",
        f"make it {_SUGGESTED.get(need.kind, 'a matching field')}, or map another field",
    )


def _kind_label(need: FieldNeed) -> str:
    if need.kind == "picklist" and need.values:
        return f"picklist values {', '.join(need.values)}"
    return {
        "external_id": "LivePerson ids",
        "transcript": "the transcript text",
        "lookup": f"{need.reference_to} ids",
        "long_text": "long text",
        "any": "values of any type",
    }.get(need.kind, f"{need.kind} values")


def _unwritten_required(needs: OrgNeeds, fields: dict[str, Mapping[str, Any]]) -> list[Finding]:
    """Required fields the mapping never fills: every create would fail REQUIRED_FIELD_MISSING."""
    written = {need.name.lower() for need in needs.fields}
    return [
        Finding(
            "blocker",
            needs.object,
            str(f["name"]),
            "is required, has no default, and the mapping does not write it",
            "map a value to it, give it a default, or make it optional",
        )
        for name, f in fields.items()
        if f.get("nillable") is False
        and f.get("createable")
        and not f.get("defaultedOnCreate")
        and name not in written
    ]


# --------------------------------------------------------------------------------------------
# Linking


def _check_linked(obj: str, columns: tuple[str, ...], describe: Mapping[str, Any] | None) -> list[Finding]:
    fix = f"give the integration user Read access to {obj}, or turn linking off for this integration"
    if describe is None:
        return [Finding("blocker", obj, None, "linking reads this object, but it is not visible", fix)]
    fields = _fields(describe)
    return [
        Finding(
            "blocker",
            obj,
            column,
            "linking queries this field, but the integration user cannot read it",
            f"give the integration user Read access to {obj}.{column}, or turn linking off",
        )
        for column in columns
        if column.lower() not in fields
    ]


def _check_linking_row_fields(needs: OrgNeeds) -> list[Finding]:
    written = {need.name for need in needs.fields}
    return [
        Finding(
            "warning",
            needs.object,
            name,
            "linking matches people on this field, but the mapping does not write it",
            "map a value to it (e.g. the visitor's email or phone), or change the linking rule's value",
        )
        for name in needs.linking_row_fields
        if name not in written
    ]
