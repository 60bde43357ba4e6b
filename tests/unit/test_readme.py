"""The README documents the integration settings exactly as the code declares them."""

from __future__ import annotations

import re
from pathlib import Path

from lesync.config import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_settings_table_is_current():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- settings-table:start.*?-->\n(.*?)\n<!-- settings-table:end -->", text, re.S)
    assert block, "README.md lost its settings-table markers"
    assert block.group(1) == settings_table(), (
        "regenerate: python -c 'from lesync.config import settings_table; print(settings_table())'"
    )


def test_readme_names_the_commands_ci_runs():
    text = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in ci and "bash scripts/test.sh" in text
    assert "bash scripts/demo.sh" in text
