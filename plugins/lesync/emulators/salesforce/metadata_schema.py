"""An emulated org built from Salesforce metadata source (what ``lesync org metadata`` writes).

Reads ``force-app/main/default/objects/<Object>/`` (the object file and ``fields/*.field-meta.xml``)
back into the emulator's schema shape (``schema.yaml``), so a test can start the emulator on the
org an admin would get by deploying that metadata. With ``permission_set``, fields the set does
not make editable are read-only for the integration user (describe's ``createable`` /
``updateable``), as field-level security makes them in an org.

The standard objects (Account, Contact, Lead, ContentVersion, ...) come from the shipped schema;
objects defined in the metadata replace the shipped ones of the same name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from .schema import DEFAULT_SCHEMA_PATH, OrgSchema

NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
SOURCE_ROOT = Path("force-app/main/default")

# Metadata API field type -> describe type (what the emulator serves).
_TYPES = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Html": "textarea",
    "Email": "email",
    "Phone": "phone",
    "Url": "url",
    "Picklist": "picklist",
    "Checkbox": "boolean",
    "DateTime": "datetime",
    "Date": "date",
    "Number": "double",
    "Currency": "double",
    "Percent": "double",
    "Lookup": "reference",
    "MasterDetail": "reference",
}
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DEFAULT_LENGTHS = {"TextArea": 255, "Email": 80, "Phone": 40, "Url": 255, "Picklist": 255}


def schema_from_metadata(
    source_dir: str | Path, permission_set: str | None = None, base: str | Path | None = None
) -> dict[str, Any]:
    """The emulator schema (``schema.yaml`` shape) for the metadata under ``source_dir``."""
    raw = yaml.safe_load(Path(base or DEFAULT_SCHEMA_PATH).read_text(encoding="utf-8"))
    root = Path(source_dir) / SOURCE_ROOT
    editable = _editable_fields(root, permission_set) if permission_set else None
    used_prefixes = {obj["key_prefix"] for obj in raw["objects"].values()}
    for folder in sorted((root / "objects").iterdir()):
        name = folder.name
        current = raw["objects"].get(name)
        obj = _object(folder, current, used_prefixes)
        if editable is not None:
            _apply_field_security(name, obj["fields"], editable)
        raw["objects"][name] = obj
    OrgSchema.model_validate(raw)  # fail here, not when the emulator starts
    return raw


def write_schema(schema: dict[str, Any], path: str | Path) -> Path:
    """Write a schema for ``SalesforceEmulatorConfig(schema_path=...)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(schema, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _object(folder: Path, current: dict[str, Any] | None, used_prefixes: set[str]) -> dict[str, Any]:
    name = folder.name
    fields: dict[str, Any] = {}
    obj: dict[str, Any] = {}
    if current:  # a standard object keeps its fields; metadata adds custom ones
        obj = {key: value for key, value in current.items() if key != "fields"}
        fields = dict(current.get("fields") or {})
    object_file = folder / f"{name}.object-meta.xml"
    if object_file.is_file():
        definition = ET.parse(object_file).getroot()
        obj["label"] = _text(definition, "label") or name
        # An object defined here holds only the fields defined here (it replaces a shipped one).
        fields = {"Name": _name_field(definition.find("md:nameField", NS), obj["label"])}
    obj.setdefault("key_prefix", _free_prefix(used_prefixes))
    for field_file in sorted((folder / "fields").glob("*.field-meta.xml")):
        field_name, field = _field(ET.parse(field_file).getroot())
        fields[field_name] = field
    obj["fields"] = fields
    return obj


def _name_field(element: ET.Element | None, object_label: str) -> dict[str, Any]:
    label = _text(element, "label") or f"{object_label} Name"
    if element is not None and _text(element, "type") == "AutoNumber":
        return {
            "type": "string",
            "length": 80,
            "auto_number": _text(element, "displayFormat") or "A-{000000}",
            "createable": False,
            "updateable": False,
            "label": label,
        }
    return {"type": "string", "length": 80, "label": label}


def _field(element: ET.Element) -> tuple[str, dict[str, Any]]:
    name = _text(element, "fullName")
    kind = _text(element, "type") or ""
    if kind not in _TYPES:
        raise ValueError(f"field {name}: type {kind!r} is not emulated; use one of {', '.join(_TYPES)}")
    field: dict[str, Any] = {"type": _TYPES[kind], "label": _text(element, "label") or name}
    length = _text(element, "length")
    if field["type"] in ("string", "textarea", "email", "phone", "url", "picklist"):
        field["length"] = int(length) if length else _DEFAULT_LENGTHS.get(kind, 255)
    if _flag(element, "externalId"):
        field["external_id"] = True
    if _flag(element, "unique"):
        field["unique"] = True
    if _flag(element, "required"):
        field["required"] = True
    if kind in ("Lookup", "MasterDetail"):
        field["reference_to"] = [e.text for e in element.findall("md:referenceTo", NS)]
    if kind == "Picklist":
        values = element.findall("md:valueSet/md:valueSetDefinition/md:value", NS)
        field["picklist"] = [_text(value, "fullName") for value in values]
    return name, field


def _editable_fields(root: Path, permission_set: str) -> set[str]:
    path = root / "permissionsets" / f"{permission_set}.permissionset-meta.xml"
    element = ET.parse(path).getroot()
    return {
        _text(permission, "field")
        for permission in element.findall("md:fieldPermissions", NS)
        if _flag(permission, "editable")
    }


def _apply_field_security(obj: str, fields: dict[str, Any], editable: set[str]) -> None:
    for name, field in fields.items():
        if name.endswith("__c") and f"{obj}.{name}" not in editable:
            field["createable"] = False
            field["updateable"] = False


def _free_prefix(used: set[str]) -> str:
    for number in range(36 * 36):
        prefix = "a" + _BASE36[number // 36] + _BASE36[number % 36]
        if prefix not in used:
            used.add(prefix)
            return prefix
    raise ValueError("no free key prefix")


def _text(element: ET.Element | None, tag: str) -> str | None:
    if element is None:
        return None
    child = element.find(f"md:{tag}", NS)
    return child.text if child is not None else None


def _flag(element: ET.Element, tag: str) -> bool:
    return (_text(element, tag) or "").strip().lower() == "true"
