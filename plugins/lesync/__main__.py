"""``python -m lesync``: command-line tools for admins and developers.

    python -m lesync preview --mapping include/mappings/chat_transcript.yaml --channel chat INPUT

Each subcommand is one ``register_<name>(subparsers)`` function below that adds its parser and
sets ``handler``; add a new command by writing one and listing it in ``COMMANDS``.
Exit codes: 0 done, 2 bad usage, mapping or input (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lesync.contracts import CHANNELS
from lesync.org.cli import register as register_org

EXIT_OK = 0
EXIT_USAGE = 2
PREVIEW_TRANSCRIPT_CHARS = 400

RECORD_LISTS = {"interactionHistoryRecords": "chat", "conversationHistoryRecords": "messaging"}


class UsageError(Exception):
    """A problem the user can fix (bad mapping, unreadable input): message only, exit 2."""


# --------------------------------------------------------------------------------------------
# preview


def register_preview(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="print the Salesforce row each LivePerson record maps to",
        description="Map LivePerson records with a mapping file and print one row (JSON) per line.",
    )
    parser.add_argument(
        "input", type=Path, help="search response JSON, one record JSON, or JSON lines (.gz ok)"
    )
    parser.add_argument("--mapping", required=True, type=Path, help="mapping file (YAML)")
    parser.add_argument(
        "--channel",
        choices=CHANNELS,
        help="channel of the records (default: from the input's shape)",
    )
    parser.add_argument(
        "--describe", type=Path, help="Salesforce describe JSON (default: the emulator's schema)"
    )
    parser.add_argument("--full-transcript", action="store_true", help="print transcripts whole")
    parser.set_defaults(handler=run_preview)


def run_preview(args: argparse.Namespace) -> int:
    from lesync.mapping import MappingError, load_mapping, transform_record
    from lesync.mapping.transform import detect_channel

    try:
        mapping = load_mapping(args.mapping)
    except MappingError as error:
        raise UsageError(str(error)) from None
    fields_meta = _fields_meta(args.describe, mapping.object)
    for record, hinted in iter_input_records(args.input):
        channel = args.channel or hinted or detect_channel(record)
        if channel is None:
            raise UsageError(
                f"{args.input}: cannot tell whether a record is chat or messaging; pass --channel"
            )
        row = transform_record(record, channel, mapping, fields_meta).to_dict()
        if not args.full_transcript:
            _shorten_transcripts(row, mapping)
        print(json.dumps(row, ensure_ascii=False, sort_keys=False))
    return EXIT_OK


def _fields_meta(describe_path: Path | None, object_name: str) -> dict:
    from lesync.mapping import fields_meta_from_describe, fields_meta_from_schema

    if describe_path is None:
        try:
            return fields_meta_from_schema(object_name)
        except ValueError as error:
            raise UsageError(f"{error}; pass --describe with the org's describe JSON") from None
    try:
        describe = json.loads(describe_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{describe_path}: cannot read the describe JSON ({error})") from None
    if not isinstance(describe, dict) or not isinstance(describe.get("fields"), list):
        raise UsageError(f"{describe_path}: not a describe answer (expected an object with 'fields': [...])")
    return fields_meta_from_describe(describe)


def _shorten(text: str) -> str:
    if len(text) <= PREVIEW_TRANSCRIPT_CHARS:
        return text
    hidden = len(text) - PREVIEW_TRANSCRIPT_CHARS
    return (
        f"{text[:PREVIEW_TRANSCRIPT_CHARS]}…[preview: {hidden} more characters; --full-transcript shows all]"
    )


def _shorten_transcripts(row: dict, mapping: Any) -> None:
    settings = mapping.transcript
    if settings is not None:
        for name in [settings.field, *settings.part_fields]:
            if name and isinstance(row["fields"].get(name), str):
                row["fields"][name] = _shorten(row["fields"][name])
    if row.get("transcript_file"):
        row["transcript_file"]["content"] = _shorten(row["transcript_file"]["content"])


def iter_input_records(path: Path) -> Iterator[tuple[dict, str | None]]:
    """``(record, channel hint)`` from a search response, a single record, a JSON list, or JSON
    lines of any of these; gzip is detected by content."""
    text = _read_text(path)
    try:
        document = json.loads(text)
    except ValueError:
        document = None
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        for number, line in lines:
            try:
                item = json.loads(line)
            except ValueError as error:
                raise UsageError(f"{path}: line {number} is not JSON ({error})") from None
            yield from _records_in(item, path)
    if document is not None:
        yield from _records_in(document, path)


def _records_in(document: Any, path: Path) -> Iterator[tuple[dict, str | None]]:
    if isinstance(document, list):
        for item in document:
            yield from _records_in(item, path)
        return
    if not isinstance(document, dict):
        raise UsageError(
            f"{path}: expected LivePerson records (JSON objects), found {type(document).__name__}"
        )
    for key, channel in RECORD_LISTS.items():
        if isinstance(document.get(key), list):
            for record in document[key]:
                yield record, channel
            return
    yield document, None


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data.decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read ({error})") from None


# --------------------------------------------------------------------------------------------
# Entry point


def register_demo(subparsers: Any) -> None:
    from lesync import demo

    parser = subparsers.add_parser(
        "demo",
        help="run a real sync: emulators + Airflow (SQLite) + the manual DAG, then show what landed",
        description=demo.__doc__,
    )
    demo.add_arguments(parser)
    parser.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from lesync import demo

    argv = ["--workdir", str(args.workdir), "--conversations", str(args.conversations)]
    return demo.main([*argv, "--days", str(args.days), "--seed", str(args.seed)])


def register_pools(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pools",
        help="create the Airflow pools each enabled integration's DAGs use (run once per deployment)",
        description="Writes the pools to a JSON file and imports it with `airflow pools import` (which "
        "creates or updates them; safe to re-run): lesync_<name>_liveperson (slots = "
        "limits.liveperson_concurrency) bounds concurrent LivePerson extracts of the integration, "
        "lesync_<name>_salesforce (slots = limits.salesforce_concurrency) its concurrent loads. "
        "docker-compose's airflow-init runs this command.",
    )
    parser.add_argument("--print", action="store_true", help="only print the pools as JSON")
    parser.set_defaults(handler=_run_pools)


def pool_definitions() -> dict[str, dict[str, Any]]:
    from lesync.config import load_integrations
    from lesync.factory import liveperson_pool, salesforce_pool

    pools: dict[str, dict[str, Any]] = {}
    for integration in load_integrations():
        if not integration.enabled:
            continue
        pools[liveperson_pool(integration.name)] = {
            "slots": integration.limits.liveperson_concurrency,
            "description": f"lesync {integration.name}: concurrent LivePerson extract tasks",
            "include_deferred": False,
        }
        pools[salesforce_pool(integration.name)] = {
            "slots": integration.limits.salesforce_concurrency,
            "description": f"lesync {integration.name}: concurrent Salesforce loads",
            "include_deferred": False,
        }
    return pools


def _run_pools(args: argparse.Namespace) -> int:
    import subprocess
    import tempfile

    pools = json.dumps(pool_definitions(), indent=2)
    if args.print:
        print(pools)
        return EXIT_OK
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(pools)
    done = subprocess.run([sys.executable, "-m", "airflow", "pools", "import", handle.name], check=False)
    Path(handle.name).unlink(missing_ok=True)
    return done.returncode


def register_state(subparsers: Any) -> None:
    from lesync.state.cli import register

    register(subparsers)


COMMANDS: tuple[Callable[[Any], None], ...] = (
    register_preview,
    register_demo,
    register_pools,
    register_state,
    register_org,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lesync", description="lesync command-line tools")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"lesync {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `... | head` closed the pipe: not an error
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
