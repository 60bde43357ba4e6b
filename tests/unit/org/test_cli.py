"""The `org` command line: the documented commands parse, bad usage exits 2 with one line."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from lesync.__main__ import build_parser, main

DOC = Path(__file__).resolve().parents[3] / "docs" / "org-setup.md"


def documented_commands() -> list[list[str]]:
    lines = [line.strip() for line in DOC.read_text(encoding="utf-8").splitlines()]
    commands = [line for line in lines if line.startswith("python -m lesync org ")]
    return [shlex.split(line, comments=True)[3:] for line in commands]


def test_the_doc_shows_every_subcommand():
    assert {argv[1] for argv in documented_commands()} == {"check", "metadata", "adopt"}


@pytest.mark.parametrize("argv", documented_commands(), ids=" ".join)
def test_every_documented_command_parses(argv):
    args = build_parser().parse_args(argv)
    assert args.command == "org" and args.org_command == argv[1]


def test_an_unknown_integration_is_bad_usage(capsys):
    assert main(["org", "check", "--integration", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lesync org check: no integration named 'nope'") and "demo" in err


def test_adopt_needs_the_source_field(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["org", "adopt"])
    assert exit_info.value.code == 2
    assert "--source-field" in capsys.readouterr().err


def test_adopt_refuses_the_external_id_as_its_own_source(capsys):
    assert main(["org", "adopt", "--source-field", "LP_Conversation_Id__c"]) == 2
    assert "is the external id itself" in capsys.readouterr().err


def test_metadata_writes_an_sfdx_project(tmp_path, capsys):
    assert main(["org", "metadata", "--out", str(tmp_path), "--permission-set", "Sync_User"]) == 0
    assert (tmp_path / "sfdx-project.json").is_file()
    assert (tmp_path / "force-app/main/default/permissionsets/Sync_User.permissionset-meta.xml").is_file()
    assert "sf project deploy start" in capsys.readouterr().out
