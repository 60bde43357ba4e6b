"""``python -m lesync org check | metadata | adopt``: the customer's org, for an admin.

    python -m lesync org check [--integration NAME] [--json]
    python -m lesync org metadata --out DIR [--integration NAME] [--permission-set NAME]
    python -m lesync org adopt --source-field FIELD [--integration NAME] [--batch-size N] [--dry-run]

``check`` exits 1 when it finds a blocker, ``adopt`` when a record failed or conflicted; 2 is
bad usage (unknown integration, bad mapping), as for every ``lesync`` command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
SHOWN_CONFLICTS = 50


class OrgUsageError(Exception):
    """Bad usage: message only, exit 2."""


def register(subparsers: Any) -> None:
    """Add ``org`` and its three subcommands to ``python -m lesync``."""
    parser = subparsers.add_parser(
        "org",
        help="check, set up or adopt the Salesforce org an integration writes to",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="org_command", required=True, metavar="ORG_COMMAND")
    check = commands.add_parser(
        "check", help="compare the org's describe with the mapping (exit 1 on blockers)"
    )
    _integration_option(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=_guarded(run_check))

    metadata = commands.add_parser("metadata", help="write Salesforce metadata source for the mapping")
    _integration_option(metadata)
    metadata.add_argument("--out", required=True, type=Path, help="folder to write (an sfdx project)")
    metadata.add_argument("--permission-set", default=None, help="permission set API name")
    metadata.set_defaults(handler=_guarded(run_metadata))

    adopt = commands.add_parser("adopt", help="fill the external id of existing transcripts")
    _integration_option(adopt)
    adopt.add_argument(
        "--source-field", required=True, help="field that holds the LivePerson id today (API name)"
    )
    adopt.add_argument("--batch-size", type=int, default=2000, help="records read per query page")
    adopt.add_argument("--dry-run", action="store_true", help="count what would change, write nothing")
    adopt.set_defaults(handler=_guarded(run_adopt))


def _integration_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--integration", help="integration name in include/integrations.yaml (default: the only enabled one)"
    )


# --------------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    from lesync.org.check import describe_and_check

    integration, mapping = _integration_and_mapping(args.integration)
    report, _ = describe_and_check(_client(integration), mapping, integration)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.format())
    return EXIT_OK if report.ok else EXIT_FOUND


def run_metadata(args: argparse.Namespace) -> int:
    from lesync.org.metadata import DEFAULT_PERMISSION_SET, metadata_files, write_metadata

    integration, mapping = _integration_and_mapping(args.integration)
    files = metadata_files(mapping, integration, args.permission_set or DEFAULT_PERMISSION_SET)
    written = write_metadata(args.out, files)
    print(f"wrote {len(written)} files under {args.out} for {mapping.object} ({integration.name})")
    print(f"deploy: cd {args.out} && sf project deploy start --source-dir force-app --target-org <alias>")
    permission_set = args.permission_set or DEFAULT_PERMISSION_SET
    print(f"then:   sf org assign permset --name {permission_set} --on-behalf-of <integration user>")
    return EXIT_OK


def run_adopt(args: argparse.Namespace) -> int:
    from lesync.org.adopt import AdoptError, AdoptSettings, adopt

    integration, mapping = _integration_and_mapping(args.integration)
    try:
        settings = AdoptSettings(
            mapping.object, mapping.external_id_field, args.source_field, args.batch_size, args.dry_run
        )
        result = adopt(_client(integration), settings)
    except AdoptError as error:
        raise OrgUsageError(str(error)) from None
    print(("dry run: " if args.dry_run else "") + result.summary(args.dry_run))
    for conflict in result.conflicts[:SHOWN_CONFLICTS]:
        print(f"  conflict {conflict.line()}")
    if len(result.conflicts) > SHOWN_CONFLICTS:
        print(f"  ... and {len(result.conflicts) - SHOWN_CONFLICTS} more conflicts")
    for failure in result.failures[:SHOWN_CONFLICTS]:
        print(f"  failed {failure['id']} ({failure['value']}): {failure['code']} {failure['message']}")
    return EXIT_FOUND if result.conflicts or result.failures else EXIT_OK


# --------------------------------------------------------------------------------------------


def _integration_and_mapping(name: str | None) -> tuple[Any, Any]:
    from lesync.config import IntegrationsError, load_integrations
    from lesync.mapping import MappingError
    from lesync.pipeline.tasks import compiled_mapping

    try:
        integrations = load_integrations()
        integration = _pick(integrations, name)
        return integration, compiled_mapping(integration)
    except (IntegrationsError, MappingError) as error:
        raise OrgUsageError(str(error)) from None


def _pick(integrations: list[Any], name: str | None) -> Any:
    known = ", ".join(i.name for i in integrations)
    if name:
        for integration in integrations:
            if integration.name == name:
                return integration
        raise OrgUsageError(f"no integration named {name!r}; known: {known}")
    enabled = [i for i in integrations if i.enabled]
    if len(enabled) != 1:
        raise OrgUsageError(f"{len(enabled)} integrations are enabled; pass --integration (one of: {known})")
    return enabled[0]


def _client(integration: Any) -> Any:
    from lesync.pipeline.tasks import salesforce_client

    return salesforce_client(integration)


def _guarded(handler: Any) -> Any:
    """The handler, with bad usage printed as one line and exit 2 (no traceback)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except OrgUsageError as error:
            print(f"lesync org {args.org_command}: {error}", file=sys.stderr)
            return EXIT_USAGE

    return run
