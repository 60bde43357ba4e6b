"""Salesforce metadata (source format) for what a mapping needs, ready for ``sf project deploy start``.

    force-app/main/default/objects/<Object>/<Object>.object-meta.xml   (a custom object only)
    force-app/main/default/objects/<Object>/fields/<Field>.field-meta.xml
    force-app/main/default/objects/<Object>/listViews/<View>.listView-meta.xml
    force-app/main/default/permissionsets/<Name>.permissionset-meta.xml
    sfdx-project.json

The fields come from the same ``FieldNeed`` list the org check compares with, so a deployed
org passes the check. Elements are written as Salesforce's own retrieve writes them:
``fullName`` first, the rest in alphabetical order (the Metadata API's WSDL order).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lesync.mapping import CompiledMapping
from lesync.org.needs import TRANSCRIPT_LENGTH, FieldNeed, OrgNeeds, org_needs

NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
SOURCE_ROOT = Path("force-app/main/default")
DEFAULT_PERMISSION_SET = "LeSync_Integration"
API_VERSION = "62.0"
EXTERNAL_ID_LENGTH = 80
TEXT_LENGTH = 255
LONG_TEXT_LENGTH = 32_768

Element = Mapping[str, Any]  # tag -> text | bool | int | nested Element | list of either


def metadata_files(
    mapping: CompiledMapping,
    integration: Any = None,
    permission_set: str = DEFAULT_PERMISSION_SET,
    api_version: str = API_VERSION,
) -> dict[str, str]:
    """Relative path -> file text, for the mapping's object, fields, list views and permissions."""
    needs = org_needs(mapping, integration)
    obj = needs.object
    folder = SOURCE_ROOT / "objects" / obj
    files: dict[str, str] = {}
    if obj.endswith("__c"):
        files[str(folder / f"{obj}.object-meta.xml")] = render("CustomObject", custom_object(obj))
    for need in needs.fields:
        files[str(folder / "fields" / f"{need.name}.field-meta.xml")] = render(
            "CustomField", custom_field(need, obj)
        )
    for view in list_views(needs):
        files[str(folder / "listViews" / f"{view['fullName']}.listView-meta.xml")] = render("ListView", view)
    files[str(SOURCE_ROOT / "permissionsets" / f"{permission_set}.permissionset-meta.xml")] = render(
        "PermissionSet", permission_set_element(needs, permission_set)
    )
    files["sfdx-project.json"] = sfdx_project(api_version)
    return files


def write_metadata(out_dir: str | Path, files: Mapping[str, str]) -> list[Path]:
    """Write the files under ``out_dir`` (created); existing files are replaced."""
    written = []
    for relative, text in files.items():
        path = Path(out_dir) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# The object and its fields


def label_of(api_name: str) -> str:
    return api_name.removesuffix("__c").replace("_", " ").strip()


def custom_object(obj: str) -> dict[str, Any]:
    label = label_of(obj)
    return {
        "deploymentStatus": "Deployed",
        "enableActivities": False,
        "enableHistory": False,
        "enableReports": True,
        "enableSearch": True,
        "label": label,
        "nameField": {"displayFormat": "CT-{000000}", "label": f"{label} Name", "type": "AutoNumber"},
        "pluralLabel": f"{label}s",
        "sharingModel": "ReadWrite",
    }


def custom_field(need: FieldNeed, obj: str) -> dict[str, Any]:
    """A CustomField element for one need (types as the org check accepts them)."""
    element: dict[str, Any] = {"fullName": need.name, "label": need.label[:40]}
    if need.description:
        element["description"] = f"LivePerson: {need.description}"[:1000]
    element.update(_FIELD_TYPES[need.kind](need, obj))
    return element


def _text(length: int) -> Any:
    return lambda need, obj: {"type": "Text", "length": length}


def _long_text(length: int, lines: int) -> Any:
    return lambda need, obj: {"type": "LongTextArea", "length": length, "visibleLines": lines}


def _external_id(need: FieldNeed, obj: str) -> dict[str, Any]:
    return {
        "caseSensitive": False,
        "externalId": True,
        "length": EXTERNAL_ID_LENGTH,
        "required": False,
        "type": "Text",
        "unique": True,
    }


def _picklist(need: FieldNeed, obj: str) -> dict[str, Any]:
    values = [{"fullName": v, "default": False, "label": v} for v in need.values]
    return {
        "type": "Picklist",
        "valueSet": {"restricted": True, "valueSetDefinition": {"sorted": False, "value": values}},
    }


def _number(scale: int) -> Any:
    return lambda need, obj: {"precision": 18, "scale": scale, "type": "Number"}


def _lookup(need: FieldNeed, obj: str) -> dict[str, Any]:
    relationship = f"{label_of(obj).replace(' ', '_')}s"
    return {
        "deleteConstraint": "SetNull",
        "referenceTo": need.reference_to,
        "relationshipLabel": label_of(relationship).replace("_", " "),
        "relationshipName": relationship,
        "required": False,
        "type": "Lookup",
    }


_FIELD_TYPES: dict[str, Any] = {
    "external_id": _external_id,
    "transcript": _long_text(TRANSCRIPT_LENGTH, 20),
    "text": _text(TEXT_LENGTH),
    "any": _text(TEXT_LENGTH),
    "long_text": _long_text(LONG_TEXT_LENGTH, 5),
    "email": lambda need, obj: {"type": "Email", "unique": False},
    "phone": lambda need, obj: {"type": "Phone"},
    "picklist": _picklist,
    "datetime": lambda need, obj: {"type": "DateTime"},
    "date": lambda need, obj: {"type": "Date"},
    "number": _number(3),
    "integer": _number(0),
    "boolean": lambda need, obj: {"defaultValue": False, "type": "Checkbox"},
    "lookup": _lookup,
}


# --------------------------------------------------------------------------------------------
# List views and the permission set


def list_views(needs: OrgNeeds) -> list[dict[str, Any]]:
    """All transcripts, and the ones an admin should look at: cut transcripts, unlinked ones."""
    names = {need.name for need in needs.fields}
    columns = [
        "NAME",
        *(n for n in (_ext(needs), "Start_Time__c", "Status__c", "Agent_Name__c") if n in names),
    ]
    views = [{"fullName": "All", "columns": columns, "filterScope": "Everything", "label": "All"}]
    flag = next((n.name for n in needs.fields if n.role == "transcript.truncated_flag_field"), None)
    if flag:
        views.append(_view("Truncated_Transcripts", "Truncated transcripts", columns, [(flag, "1")]))
    lookups = [n.name for n in needs.fields if n.kind == "lookup" and n.reference_to in ("Contact", "Lead")]
    if lookups:
        views.append(_view("Not_Linked", "Not linked to a person", columns, [(n, None) for n in lookups]))
    return views


def _ext(needs: OrgNeeds) -> str:
    return needs.fields[0].name


def _view(name: str, label: str, columns: list[str], filters: list[tuple[str, str | None]]) -> dict:
    return {
        "fullName": name,
        "columns": columns,
        "filterScope": "Everything",
        "filters": [
            {"field": field, "operation": "equals", **({"value": value} if value is not None else {})}
            for field, value in filters
        ],
        "label": label,
    }


def permission_set_element(needs: OrgNeeds, name: str) -> dict[str, Any]:
    """Create/Read/Edit on the object, Edit on every field lesync writes, Read on what linking reads."""
    objects = [
        _object_permission(needs.object, create=True, edit=True),
        *(_object_permission(obj, create=False, edit=False) for obj in needs.linked_objects),
    ]
    fields = [
        {"editable": True, "field": f"{needs.object}.{need.name}", "readable": True} for need in needs.fields
    ]
    for obj, columns in needs.linked_objects.items():
        fields += [
            {"editable": False, "field": f"{obj}.{column}", "readable": True}
            for column in columns
            if column in ("Email", "Phone")
        ]
    return {
        "description": f"lesync integration user: writes {needs.object}"
        + (" and reads what linking matches" if needs.linked_objects else ""),
        "fieldPermissions": sorted(fields, key=lambda f: f["field"]),
        "hasActivationRequired": False,
        "label": name.replace("_", " "),
        "objectPermissions": sorted(objects, key=lambda o: o["object"]),
    }


def _object_permission(obj: str, create: bool, edit: bool) -> dict[str, Any]:
    return {
        "allowCreate": create,
        "allowDelete": False,
        "allowEdit": edit,
        "allowRead": True,
        "modifyAllRecords": False,
        "object": obj,
        "viewAllRecords": False,
    }


def sfdx_project(api_version: str) -> str:
    project = {
        "packageDirectories": [{"path": "force-app", "default": True}],
        "name": "lesync-org",
        "namespace": "",
        "sourceApiVersion": api_version,
    }
    return json.dumps(project, indent=2) + "\n"


# --------------------------------------------------------------------------------------------
# XML


def render(root_tag: str, element: Element) -> str:
    """``<?xml ...?>`` plus the element, namespaced, children ``fullName`` first then A-Z."""
    root = ET.Element(root_tag, {"xmlns": NAMESPACE})
    _fill(root, element)
    ET.indent(root, space="    ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _fill(parent: ET.Element, element: Element) -> None:
    for tag in sorted(element, key=lambda t: (t != "fullName", t)):
        value = element[tag]
        for item in value if isinstance(value, list) else [value]:
            child = ET.SubElement(parent, tag)
            if isinstance(item, Mapping):
                _fill(child, item)
            elif isinstance(item, bool):
                child.text = "true" if item else "false"
            else:
                child.text = str(item)
