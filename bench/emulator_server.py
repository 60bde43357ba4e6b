"""The benchmark's emulators, in their own process: one LivePerson account and several fresh orgs.

    python bench/emulator_server.py --data-dir /tmp/x --conversations 20000 --days 3 \
        --orgs ours,naive,bulk1

Like ``python -m lesync.emulators`` (same public start functions), except that it starts one
Salesforce emulator per name in ``--orgs``, each with its own SQLite org (so every contender
loads into an empty org), and mounts the Bulk API 1.0 add-on (bench/bulk1_emulator_addon.py) on
each. Prints one JSON line once all accept connections; stops on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO))

from bench.bulk1_emulator_addon import mount_bulk1  # noqa: E402

from lesync.emulators.latency import LatencyProfile, latency_control, load_profile  # noqa: E402
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson  # noqa: E402
from lesync.emulators.salesforce import SalesforceEmulatorConfig, SalesforceState, create_app  # noqa: E402
from lesync.emulators.server import serve_in_thread  # noqa: E402
from lesync.emulators.tls import ensure_certificates  # noqa: E402


class Org:
    """A Salesforce emulator with the Bulk 1.0 add-on (start_salesforce plus one router)."""

    def __init__(self, data_dir: Path, daily_api_limit: int, latency: LatencyProfile | str = "none"):
        config = SalesforceEmulatorConfig(daily_api_limit=daily_api_limit)
        self.state = SalesforceState(config, data_dir)
        latency_control(self.state).use(latency)
        certs = ensure_certificates(data_dir / "tls")
        app = create_app(self.state)
        mount_bulk1(app, self.state)
        self.server = serve_in_thread(app, ssl_certfile=str(certs.cert_file), ssl_keyfile=str(certs.key_file))
        self.ca_file = certs.ca_file

    def connection_info(self) -> dict:
        config = self.state.config
        return {
            "token_url": self.server.url + "/services/oauth2/token",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "instance_url": self.server.url,
            "api_version": config.api_version,
            "ca_file": str(self.ca_file),
            "db_path": str(self.state.db_path),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now-ms", type=int, default=None)
    parser.add_argument("--orgs", default="ours,naive,bulk1")
    parser.add_argument(
        "--daily-api-limit",
        type=int,
        default=10_000_000,
        help="the orgs' 24-hour API limit (high: the naive baseline must not hit it mid-run)",
    )
    parser.add_argument(
        "--latency",
        default="none",
        help="latency profile of every emulator: none, realistic or a YAML file (bench/README.md)",
    )
    args = parser.parse_args(argv)
    profile = load_profile(args.latency)  # a bad profile fails before anything starts
    args.data_dir.mkdir(parents=True, exist_ok=True)
    lp_config = LivePersonEmulatorConfig(
        seed=args.seed, conversations=args.conversations, days=args.days, now_ms=args.now_ms
    )
    liveperson = start_liveperson(lp_config, data_dir=args.data_dir / "liveperson")
    latency_control(liveperson.state).use(profile)
    orgs = {
        name: Org(args.data_dir / f"org-{name}", args.daily_api_limit, profile)
        for name in args.orgs.split(",")
    }
    lp_info = liveperson.connection_info()
    lp_info["summary"] = liveperson.state.summary()
    print(
        json.dumps(
            {
                "liveperson": lp_info,
                "salesforce": {n: o.connection_info() for n, o in orgs.items()},
                "latency": profile.model_dump(),
            },
            default=str,
        ),
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    liveperson.stop()
    for org in orgs.values():
        org.server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
