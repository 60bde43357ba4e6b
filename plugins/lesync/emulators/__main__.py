"""``python -m lesync.emulators``: start the LivePerson and Salesforce emulators on loopback.

Prints one JSON object on stdout once both accept connections: everything a client needs to
reach them (also written to ``<data-dir>/connection.json``). Ctrl-C or SIGTERM stops both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from lesync.emulators.latency import LatencyProfile, latency_control, load_profile
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lesync.emulators", description=__doc__)
    parser.add_argument("--lp-port", type=int, default=8081, help="LivePerson emulator port (0: any free)")
    parser.add_argument("--sf-port", type=int, default=8443, help="Salesforce emulator port (0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    parser.add_argument(
        "--public-host",
        default=None,
        help="name other machines use to reach the emulators (e.g. a compose service name): "
        "put into the TLS certificate and every URL the emulators hand out",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(".lesync/emulators"), help="certificates and the SQLite org"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic conversations")
    parser.add_argument("--conversations", type=int, default=2000, help="how many conversations to seed")
    parser.add_argument(
        "--days", type=float, default=3, help="seeded conversations span these days before now"
    )
    parser.add_argument(
        "--now",
        type=_parse_now,
        default=None,
        help="the emulator clock's start, ISO-8601 with offset (default: the current minute)",
    )
    parser.add_argument(
        "--latency",
        type=_parse_latency,
        default="none",
        help="latency profile of both emulators: none (loopback speed), realistic (a real network "
        "and service, see bench/README.md) or the path of a YAML profile",
    )
    return parser.parse_args(argv)


def _parse_latency(text: str) -> LatencyProfile:
    try:
        return load_profile(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parse_now(text: str) -> int:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("--now needs a UTC offset, e.g. 2026-11-24T10:00:00+00:00")
    return int(moment.timestamp() * 1000)


def start_both(args: argparse.Namespace) -> tuple[Any, Any]:
    """Start both emulators; if the second fails, the first is stopped again."""
    args.data_dir.mkdir(parents=True, exist_ok=True)
    lp_config = LivePersonEmulatorConfig(
        seed=args.seed, conversations=args.conversations, days=args.days, now_ms=args.now
    )
    liveperson = start_liveperson(
        lp_config, data_dir=args.data_dir, host=args.host, port=args.lp_port, public_host=args.public_host
    )
    try:
        salesforce = start_salesforce(
            SalesforceEmulatorConfig(),
            data_dir=args.data_dir,
            host=args.host,
            port=args.sf_port,
            public_host=args.public_host,
        )
    except BaseException:
        liveperson.stop()
        raise
    for emulator in (liveperson, salesforce):
        latency_control(emulator.state).use(load_profile(getattr(args, "latency", None)))
    return liveperson, salesforce


def describe(liveperson: Any, salesforce: Any) -> dict[str, Any]:
    lp_info = liveperson.connection_info()
    lp_info["summary"] = liveperson.state.summary() if hasattr(liveperson.state, "summary") else None
    return {"liveperson": lp_info, "salesforce": salesforce.connection_info()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        liveperson, salesforce = start_both(args)
    except OSError as exc:
        hint = "is the port taken? try --lp-port 0 --sf-port 0"
        print(f"lesync.emulators: cannot start: {exc} ({hint})", file=sys.stderr)
        return 1
    try:
        info = describe(liveperson, salesforce)
        (args.data_dir / "connection.json").write_text(json.dumps(info, indent=2, default=str))
        print(json.dumps(info, default=str), flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        liveperson.stop()
        salesforce.stop()
        print("lesync.emulators: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
