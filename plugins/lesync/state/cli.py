"""``python -m lesync state migrate|status|purge``: create, inspect and trim the state store.

The store is the one ``StateStore.from_conn`` finds ($LESYNC_STATE_URL, else the Airflow
connection, else ``.lesync/state.db``); the URL is printed with its password masked.
Imports stay inside the handlers so ``python -m lesync --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
DEFAULT_LEDGER_DAYS = 90


def register(subparsers: Any) -> None:
    """Add ``state`` and its actions to ``python -m lesync``."""
    parser = subparsers.add_parser(
        "state",
        help="create, inspect or trim lesync's state store (runs, ledger, replays)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--conn-id", default="lesync_state", help="Airflow connection of the store")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("migrate", help="create or upgrade the tables (idempotent)").set_defaults(
        handler=run_migrate
    )
    status = actions.add_parser("status", help="revision and row counts")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=run_status)
    purge = actions.add_parser("purge", help="delete runs and healed ledger rows older than the retention")
    purge.add_argument(
        "--ledger-days", type=int, default=DEFAULT_LEDGER_DAYS, help="retention in days (default 90)"
    )
    purge.set_defaults(handler=run_purge)


def _store(args: argparse.Namespace) -> Any:
    from lesync.state import StateStore

    return StateStore.from_conn(args.conn_id)


def _failing(action: Any) -> Any:
    """Run a handler; a store error is one line on stderr and exit 1 (no traceback, no secret)."""

    def run(args: argparse.Namespace) -> int:
        from lesync.state import StateStoreError

        try:
            return action(args)
        except StateStoreError as error:
            print(f"lesync state {args.action}: {error}", file=sys.stderr)
            return EXIT_FAILED

    return run


@_failing
def run_migrate(args: argparse.Namespace) -> int:
    store = _store(args)
    revision = store.migrate()
    print(f"state store {store.url}: at revision {revision} (head)")
    return EXIT_OK


@_failing
def run_status(args: argparse.Namespace) -> int:
    store = _store(args)
    current, head = store.revisions()
    counts = store.table_counts() if current == head else {}
    up_to_date = current == head
    report = {"url": store.url, "revision": current, "head": head, "up_to_date": up_to_date, "rows": counts}
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"state store {store.url}")
    print(f"revision {current or 'none'} (head {head}){'' if current == head else ' - run: state migrate'}")
    for table, number in counts.items():
        print(f"  {table:<20} {number}")
    return EXIT_OK


@_failing
def run_purge(args: argparse.Namespace) -> int:
    if args.ledger_days < 1:
        print("lesync state purge: --ledger-days must be at least 1", file=sys.stderr)
        return 2
    store = _store(args)
    deleted = store.purge(datetime.now(UTC), ledger_days=args.ledger_days)
    print(f"state store {store.url}: deleted {json.dumps(deleted)} (older than {args.ledger_days} days)")
    return EXIT_OK
