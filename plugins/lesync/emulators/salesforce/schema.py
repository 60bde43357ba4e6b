"""The emulated org's schema: read from ``schema.yaml``, answered as Salesforce's describe.

One file holds every object and field so a test can extend the org (a new custom field, a
stricter length) without touching the emulator's code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_SCHEMA_PATH = Path(__file__).with_name("schema.yaml")

FieldType = Literal[
    "id",
    "string",
    "textarea",
    "picklist",
    "reference",
    "datetime",
    "date",
    "double",
    "int",
    "boolean",
    "email",
    "phone",
    "url",
    "base64",
]
TEXT_TYPES = {"string", "textarea", "picklist", "email", "phone", "url"}
SYSTEM_FIELDS = ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted")


class FieldDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FieldType
    length: int = 0
    label: str | None = None
    required: bool = False
    unique: bool = False
    external_id: bool = False
    reference_to: list[str] = Field(default_factory=list)
    picklist: list[str] = Field(default_factory=list)
    default: str | None = None
    createable: bool = True
    updateable: bool = True
    auto_number: str | None = None

    @model_validator(mode="after")
    def _text_length(self) -> FieldDef:
        if self.type in TEXT_TYPES and not self.length:
            self.length = 255
        return self


class ObjectDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_prefix: str = Field(min_length=3, max_length=3)
    label: str | None = None
    fields: dict[str, FieldDef]


class OrgSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    objects: dict[str, ObjectDef]

    def object(self, name: str) -> ObjectDef | None:
        """Case-insensitive lookup, as Salesforce resolves object names."""
        if name in self.objects:
            return self.objects[name]
        lowered = {k.lower(): v for k, v in self.objects.items()}
        return lowered.get(name.lower())

    def canonical_name(self, name: str) -> str | None:
        for key in self.objects:
            if key.lower() == name.lower():
                return key
        return None

    def object_for_prefix(self, record_id: str) -> str | None:
        for name, obj in self.objects.items():
            if record_id.startswith(obj.key_prefix):
                return name
        return None


def load_schema(path: Path | str | None = None, extra: dict[str, Any] | None = None) -> OrgSchema:
    """The schema from ``path`` (default: the shipped one), with ``extra`` merged in.

    ``extra`` has the file's shape: ``{"objects": {"Chat_Transcript__c": {"fields": {...}}}}``;
    fields of an existing object are added or replaced, new objects are added.
    """
    raw = yaml.safe_load(Path(path or DEFAULT_SCHEMA_PATH).read_text(encoding="utf-8"))
    for obj_name, obj in ((extra or {}).get("objects") or {}).items():
        target = raw["objects"].setdefault(
            obj_name, {"key_prefix": obj.get("key_prefix", "a0Z"), "fields": {}}
        )
        for key, value in obj.items():
            if key == "fields":
                target.setdefault("fields", {}).update(value)
            else:
                target[key] = value
    return OrgSchema.model_validate(raw)


def _system_field(name: str) -> dict[str, Any]:
    kind = {"Id": "id", "IsDeleted": "boolean"}.get(name, "datetime")
    return _field_describe(
        name,
        FieldDef(type=kind, length=18 if kind == "id" else 0, createable=False, updateable=False),
    )


def _field_describe(name: str, field: FieldDef) -> dict[str, Any]:
    custom = name.endswith("__c")
    return {
        "name": name,
        "label": field.label or name.removesuffix("__c").replace("_", " "),
        "type": field.type,
        "length": field.length if field.type in TEXT_TYPES or field.type == "id" else 0,
        "custom": custom,
        "externalId": field.external_id,
        "unique": field.unique,
        "idLookup": field.external_id or name == "Id",
        "nillable": not field.required and field.type != "boolean" and name != "Id",
        "createable": field.createable and not field.auto_number,
        "updateable": field.updateable and not field.auto_number,
        "autoNumber": bool(field.auto_number),
        "defaultedOnCreate": bool(field.default or field.auto_number or field.type == "boolean"),
        "defaultValue": field.default,
        "referenceTo": list(field.reference_to),
        "relationshipName": _relationship_name(name) if field.type == "reference" else None,
        "picklistValues": [
            {"value": v, "label": v, "active": True, "defaultValue": v == field.default}
            for v in field.picklist
        ],
        "soapType": _soap_type(field.type),
    }


def _relationship_name(field_name: str) -> str:
    if field_name.endswith("__c"):
        return field_name[:-3] + "__r"
    return field_name[:-2] if field_name.endswith("Id") else field_name


def _soap_type(kind: str) -> str:
    return {
        "id": "tns:ID",
        "reference": "tns:ID",
        "datetime": "xsd:dateTime",
        "date": "xsd:date",
        "double": "xsd:double",
        "int": "xsd:int",
        "boolean": "xsd:boolean",
        "base64": "xsd:base64Binary",
    }.get(kind, "xsd:string")


def describe_sobject(schema: OrgSchema, name: str) -> dict[str, Any] | None:
    """``GET /sobjects/{name}/describe`` as Salesforce answers it (the parts clients read)."""
    canonical = schema.canonical_name(name)
    if canonical is None:
        return None
    obj = schema.objects[canonical]
    fields = [_system_field(n) for n in SYSTEM_FIELDS]
    fields += [_field_describe(n, f) for n, f in obj.fields.items()]
    return {
        "name": canonical,
        "label": obj.label or canonical.removesuffix("__c").replace("_", " "),
        "keyPrefix": obj.key_prefix,
        "custom": canonical.endswith("__c"),
        "createable": True,
        "updateable": True,
        "queryable": True,
        "fields": fields,
        "urls": {"describe": f"/sobjects/{canonical}/describe"},
    }
