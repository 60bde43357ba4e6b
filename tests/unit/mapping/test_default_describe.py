"""The packaged default describe is the emulated org's schema, and the product path never needs
the emulators for it (issue 12, item 4).

After changing plugins/lesync/emulators/salesforce/schema.yaml, rewrite the copy with
``LESYNC_WRITE_DEFAULT_DESCRIBE=1 pytest tests/unit/mapping/test_default_describe.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lesync.emulators.salesforce.schema import describe_sobject, load_schema
from lesync.mapping.limits import DEFAULT_DESCRIBE_PATH, fields_meta_from_describe, fields_meta_from_schema

REPO = Path(__file__).resolve().parents[3]


def _from_emulator() -> dict:
    schema = load_schema()
    return {name: describe_sobject(schema, name) for name in schema.objects}


def test_packaged_describe_equals_the_emulators_schema():
    expected = _from_emulator()
    if os.environ.get("LESYNC_WRITE_DEFAULT_DESCRIBE") == "1":
        DEFAULT_DESCRIBE_PATH.write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", "utf-8")
    packaged = json.loads(DEFAULT_DESCRIBE_PATH.read_text(encoding="utf-8"))
    assert packaged == expected, (
        "plugins/lesync/mapping/default_describe.json is out of date with the emulator's schema.yaml; "
        "rewrite it: LESYNC_WRITE_DEFAULT_DESCRIBE=1 pytest tests/unit/mapping/test_default_describe.py"
    )


def test_default_fields_meta_matches_the_emulator_describe():
    emulator = fields_meta_from_describe(describe_sobject(load_schema(), "Chat_Transcript__c"))
    assert fields_meta_from_schema("Chat_Transcript__c") == emulator
    assert fields_meta_from_schema("chat_transcript__c") == emulator  # as Salesforce resolves names


def test_unknown_object_names_the_fix():
    try:
        fields_meta_from_schema("No_Such__c")
    except ValueError as error:
        assert "No_Such__c" in str(error)
    else:
        raise AssertionError("an unknown object must be refused")


def test_default_describe_does_not_import_the_emulators():
    code = (
        "import sys; from lesync.mapping import fields_meta_from_schema; "
        "fields_meta_from_schema(); "
        "bad = [m for m in sys.modules if m.startswith('lesync.emulators')]; "
        "assert not bad, bad"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    )
