"""org metadata: the source files, and the org they make (read back by the emulator) passing the check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from org_describes import TRANSCRIPT, describes_for, integration, small_mapping

from lesync.emulators.salesforce.metadata_schema import schema_from_metadata
from lesync.emulators.salesforce.schema import OrgSchema
from lesync.org.check import check_org
from lesync.org.metadata import DEFAULT_PERMISSION_SET, metadata_files, write_metadata

NS = "{http://soap.sforce.com/2006/04/metadata}"
OBJECTS = Path("force-app/main/default/objects")


def xml(files: dict[str, str], relative: str) -> ET.Element:
    return ET.fromstring(files[relative].split("\n", 1)[1])


def values(element: ET.Element, tag: str) -> list[str]:
    return [child.text for child in element.iter(NS + tag)]


def field_file(files, name: str, obj: str = TRANSCRIPT) -> ET.Element:
    return xml(files, str(OBJECTS / obj / "fields" / f"{name}.field-meta.xml"))


def one(element: ET.Element, tag: str) -> str:
    [value] = values(element, tag)
    return value


def test_every_mapped_field_gets_a_file_and_the_object_one(mapping):
    files = metadata_files(mapping, integration())
    fields = {Path(p).name.removesuffix(".field-meta.xml") for p in files if p.endswith(".field-meta.xml")}
    assert fields == {*mapping.targets(), "Contact__c", "Lead__c", "Account__c"}
    custom_object = xml(files, str(OBJECTS / TRANSCRIPT / f"{TRANSCRIPT}.object-meta.xml"))
    assert custom_object.tag == NS + "CustomObject"
    assert one(custom_object, "deploymentStatus") == "Deployed"
    assert one(custom_object, "type") == "AutoNumber"
    assert json.loads(files["sfdx-project.json"])["packageDirectories"] == [
        {"path": "force-app", "default": True}
    ]


def test_the_external_id_is_external_and_unique(mapping):
    ext = field_file(metadata_files(mapping), "LP_Conversation_Id__c")
    assert (one(ext, "type"), one(ext, "externalId"), one(ext, "unique")) == ("Text", "true", "true")
    assert int(one(ext, "length")) >= 36


def test_types_follow_the_mappings_value_types(mapping):
    files = metadata_files(mapping)
    kinds = {name: one(field_file(files, name), "type") for name in mapping.targets()}
    assert kinds["Transcript__c"] == "LongTextArea"
    assert kinds["Start_Time__c"] == "DateTime"
    assert kinds["Status__c"] == kinds["SDK_API_Type__c"] == "Picklist"
    assert kinds["Transcript_Truncated__c"] == "Checkbox"
    assert kinds["Visitor_Email__c"] == "Email" and kinds["Visitor_Phone__c"] == "Phone"
    assert kinds["Summary__c"] == "LongTextArea"
    assert (
        kinds["Message_Count__c"] == "Number" and one(field_file(files, "Message_Count__c"), "scale") == "0"
    )
    assert kinds["Agent_Name__c"] == "Text"
    transcript = field_file(files, "Transcript__c")
    assert one(transcript, "length") == "131072" and one(transcript, "visibleLines")
    assert values(field_file(files, "Status__c"), "fullName")[1:] == ["Open", "Closed"]


def test_lookups_when_linking_is_on(mapping):
    files = metadata_files(mapping, integration())
    contact = field_file(files, "Contact__c")
    assert one(contact, "type") == "Lookup" and one(contact, "referenceTo") == "Contact"
    assert one(contact, "deleteConstraint") == "SetNull" and one(contact, "relationshipName")
    assert not any("Contact__c" in p for p in metadata_files(mapping, integration(linking=False)))


def test_elements_are_in_retrieve_order(mapping):
    ext = field_file(metadata_files(mapping), "LP_Conversation_Id__c")
    tags = [child.tag.removeprefix(NS) for child in ext]
    assert tags[0] == "fullName" and tags[1:] == sorted(tags[1:])


def test_the_permission_set_grants_the_object_and_every_field(mapping):
    files = metadata_files(mapping, integration(), permission_set="Sync_User")
    perms = xml(files, "force-app/main/default/permissionsets/Sync_User.permissionset-meta.xml")
    editable = {one(p, "field") for p in perms.iter(NS + "fieldPermissions") if one(p, "editable") == "true"}
    assert editable == {
        f"{TRANSCRIPT}.{name}" for name in [*mapping.targets(), "Contact__c", "Lead__c", "Account__c"]
    }
    objects = {one(p, "object"): p for p in perms.iter(NS + "objectPermissions")}
    assert set(objects) == {TRANSCRIPT, "Contact", "Lead", "Account"}
    transcript = objects[TRANSCRIPT]
    assert [one(transcript, t) for t in ("allowCreate", "allowEdit", "allowRead", "allowDelete")] == [
        "true",
        "true",
        "true",
        "false",
    ]
    assert one(objects["Contact"], "allowEdit") == "false"


def test_list_views_for_all_truncated_and_unlinked(mapping):
    files = metadata_files(mapping, integration())
    views = sorted(Path(p).name for p in files if p.endswith(".listView-meta.xml"))
    assert views == [f"{v}.listView-meta.xml" for v in ("All", "Not_Linked", "Truncated_Transcripts")]
    truncated = xml(
        files, str(OBJECTS / TRANSCRIPT / "listViews" / "Truncated_Transcripts.listView-meta.xml")
    )
    assert values(truncated, "field") == ["Transcript_Truncated__c"] and values(truncated, "value") == ["1"]


def test_a_standard_object_target_gets_fields_but_no_object_file():
    mapping = small_mapping(object="Case")
    files = metadata_files(mapping)
    assert not any(p.endswith(".object-meta.xml") for p in files)
    assert str(OBJECTS / "Case" / "fields" / "Agent_Name__c.field-meta.xml") in files


def deployed_org(tmp_path, mapping, integ, edit=None) -> OrgSchema:
    files = metadata_files(mapping, integ)
    if edit:
        edit(files)
    write_metadata(tmp_path, files)
    return OrgSchema.model_validate(schema_from_metadata(tmp_path, permission_set=DEFAULT_PERMISSION_SET))


@pytest.mark.parametrize("linking", [True, False])
def test_the_org_made_from_the_metadata_passes_the_check(tmp_path, mapping, linking):
    integ = integration(linking=linking)
    org = deployed_org(tmp_path, mapping, integ)
    assert set(org.objects[TRANSCRIPT].fields) == {"Name", *mapping.targets()} | (
        {"Contact__c", "Lead__c", "Account__c"} if linking else set()
    )
    report = check_org(describes_for(mapping, integ, org), mapping, integ)
    assert report.findings == (), report.format()


def test_a_field_left_out_of_the_permission_set_is_read_only_and_named(tmp_path, mapping):
    integ = integration(linking=False)
    perm = f"force-app/main/default/permissionsets/{DEFAULT_PERMISSION_SET}.permissionset-meta.xml"

    def drop_permission(files):
        start = files[perm].index("<field>Chat_Transcript__c.Skill_Name__c</field>")
        begin = files[perm].rindex("<fieldPermissions>", 0, start)
        end = files[perm].index("</fieldPermissions>", start) + len("</fieldPermissions>")
        files[perm] = files[perm][:begin] + files[perm][end:]

    org = deployed_org(tmp_path, mapping, integ, drop_permission)
    report = check_org(describes_for(mapping, integ, org), mapping, integ)
    assert [f.where for f in report.blockers] == [f"{TRANSCRIPT}.Skill_Name__c"]
