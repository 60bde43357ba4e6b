"""Shared helpers of the benchmark scripts: paths, settings from emulator info, machine facts.

No Airflow or lesync import at module level, so the orchestrator stays light; the stage runner
(bench/stages.py) imports lesync itself.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "plugins"
RESULTS = REPO / "bench" / "results"
INTEGRATIONS_FILE = REPO / "include" / "integrations.yaml"
INTEGRATION = "demo"
MB = 1024 * 1024


def add_paths() -> None:
    """Make ``lesync`` (plugins/) and ``bench`` importable, as Airflow and the tests do."""
    for path in (str(PLUGINS), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)


def control_session(ca_file: str):
    """A requests session for an emulator: its CA, and no REQUESTS_CA_BUNDLE from the environment."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    return session


def liveperson_settings(info: dict[str, Any]):
    from lesync.liveperson import LivePersonSettings

    keys = ("account_id", "consumer_key", "consumer_secret", "access_token", "access_token_secret")
    return LivePersonSettings(
        **{key: info[key] for key in keys}, domain_api_url=info["domain_api_url"], ca_file=info["ca_file"]
    )


def salesforce_settings(info: dict[str, Any]):
    from lesync.salesforce import SalesforceConnectionSettings

    return SalesforceConnectionSettings(
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        token_url=info["token_url"],
        api_version=info["api_version"],
        ca_file=info["ca_file"],
    )


def integration(mode: str, linking: bool = False, staging_root: str | None = None):
    """The ``demo`` integration of include/integrations.yaml, transcript mode and linking as asked.

    Everything else (bulk threshold, slice hours, mapping, files) is what the DAGs use. The
    transcript mode is the mapping file's (a copy with ``transcript.mode`` set is written next to
    the staging root). Linking (Contact/Lead matching) is off unless asked: the baselines do not
    link, so it would not be the same work; ``--linking on`` measures it.
    """
    import tempfile

    import yaml

    from lesync.config import load_integrations

    found = {i.name: i for i in load_integrations(INTEGRATIONS_FILE)}[INTEGRATION]
    spec = yaml.safe_load(Path(found.mapping).read_text(encoding="utf-8"))
    spec["transcript"] = {**(spec.get("transcript") or {}), "mode": mode}
    folder = Path(staging_root or tempfile.mkdtemp(prefix="lesync-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    mapping = folder / f"mapping-{mode}.yaml"
    mapping.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    linked = found.linking.model_copy(update={"enabled": linking})
    staging = found.staging.model_copy(update={"root": staging_root}) if staging_root else found.staging
    return found.model_copy(update={"mapping": str(mapping), "linking": linked, "staging": staging})


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        import psutil

        memory = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:  # noqa: BLE001 - informational only
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def per_10k(calls: float, conversations: int) -> float:
    return round(calls * 10_000 / max(conversations, 1), 1)
