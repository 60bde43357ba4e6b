"""``python -m lesync demo``: a real sync on the embedded default, start to finish.

Starts both emulators with seeded conversations, points Airflow (SQLite, this process) at them
through ordinary ``AIRFLOW_CONN_*`` connections, runs the manual DAG of the ``demo`` integration
over the seeded range with ``dag.test``, and prints what landed in the Salesforce emulator.
The end-to-end tests drive DAGs through the same helpers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from lesync.contracts import CHANNELS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = PROJECT_ROOT / "dags"


def liveperson_connection(info: dict[str, Any]) -> dict[str, Any]:
    """The Airflow connection (JSON form) for the LivePerson emulator's keys."""
    return {
        "conn_type": "liveperson",
        "login": info["consumer_key"],
        "password": info["consumer_secret"],
        "extra": {
            "account_id": info["account_id"],
            "access_token": info["access_token"],
            "access_token_secret": info["access_token_secret"],
            "domain_api_url": info["domain_api_url"],
            "ca_file": info["ca_file"],
        },
    }


def salesforce_connection(info: dict[str, Any]) -> dict[str, Any]:
    """The Airflow connection (JSON form) for the Salesforce emulator's connected app.

    ``version`` only when it differs from lesync's default: Airflow masks every extra value in
    logs and warns about any shorter than 5 characters (``62.0``), which reads like a fault.
    """
    from lesync.salesforce.settings import DEFAULT_API_VERSION

    extra = {
        "auth_flow": "client_credentials",
        "client_id": info["client_id"],
        "consumer_secret": info["client_secret"],
        "token_url": info["token_url"],
        "ca_file": info["ca_file"],
    }
    if info["api_version"] != DEFAULT_API_VERSION:
        extra["version"] = info["api_version"]
    return {"conn_type": "salesforce", "extra": extra}


def airflow_environment(home: Path, staging: Path) -> dict[str, str]:
    """Airflow on SQLite in ``home``, reading this project's DAGs; no examples."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "LESYNC_STAGING_ROOT": str(staging),
    }


def use_emulators(
    liveperson: Any, salesforce: Any, conn_ids: tuple[str, str] = ("liveperson_default", "salesforce_default")
) -> None:
    """Point the named Airflow connections at the running emulators (environment variables)."""
    lp_conn, sf_conn = conn_ids
    os.environ[f"AIRFLOW_CONN_{lp_conn.upper()}"] = json.dumps(
        liveperson_connection(liveperson.connection_info())
    )
    os.environ[f"AIRFLOW_CONN_{sf_conn.upper()}"] = json.dumps(
        salesforce_connection(salesforce.connection_info())
    )


def migrate_database(env: dict[str, str]) -> None:
    """``airflow db migrate`` (idempotent) in a subprocess with the demo's environment."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def load_dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise RuntimeError(
            "DAG import errors:\n" + "\n".join(f"{k}: {v}" for k, v in bag.import_errors.items())
        )
    return bag.dags[dag_id]


def run_dag(dag_id: str, conf: dict[str, Any]) -> Any:
    """Run one DAG in this process (``dag.test``); returns the finished DagRun."""
    return load_dag(dag_id).test(run_conf=conf)


def pinned_now_ms(data_dir: Path) -> int:
    """The emulator clock of this work folder's first demo, so a rerun sees identical data.

    A rerun then shows what idempotence means: nothing created, no file version added.
    """
    clock = data_dir / "demo-clock.json"
    if clock.exists():
        return int(json.loads(clock.read_text())["now_ms"])
    now_ms = int(dt.datetime.now(dt.UTC).timestamp()) // 60 * 60000
    data_dir.mkdir(parents=True, exist_ok=True)
    clock.write_text(json.dumps({"now_ms": now_ms}))
    return now_ms


def seed_crm(liveperson: Any, salesforce: Any, every: int = 5) -> dict[str, int]:
    """Give the org Contacts (with Accounts) and Leads for some visitors, so linking has work.

    Every ``every``-th chat visitor with a company address becomes a Contact, the next one a
    Lead. Free-mail visitors (on the linking block list) are matched by phone instead: some
    become Contacts or Leads holding their number the way orgs hold phones (``org_phone``: as
    the UI formats it, as typed, with an extension, in MobilePhone), so exact comparison would
    miss them.
    """
    from lesync.config import FREE_MAIL_DOMAINS
    from lesync.emulators.liveperson.chat import chat_record
    from lesync.mapping.catalog import catalog_getter

    store, account_id = liveperson.state.store, liveperson.state.config.account_id
    email_of, phone_of = catalog_getter("visitorEmail", "chat"), catalog_getter("visitorPhone", "chat")
    org = salesforce.state.store
    if org.count("Contact") or org.count("Lead"):
        return {"contacts": org.count("Contact"), "leads": org.count("Lead")}
    emails, phones = [], []
    for ordinal in range(min(len(store.indexes["chat"]), 2000)):
        record = chat_record(store.entry("chat", ordinal), account_id)
        email, phone = email_of(record), phone_of(record)
        if email and email.split("@")[-1].lower() not in FREE_MAIL_DOMAINS:
            if email not in emails:
                emails.append(email)
        elif phone and phone not in phones:
            phones.append(phone)
    contacts = leads = 0
    for index, email in enumerate(emails[:: every // 2 or 1]):
        local, domain = email.split("@", 1)
        if index % 2 == 0:
            account = org.create("Account", {"Name": domain.split(".")[0].title() + " Inc."})
            org.create("Contact", {"LastName": local.title(), "Email": email, "AccountId": account})
            contacts += 1
        else:
            org.create("Lead", {"LastName": local.title(), "Company": domain, "Email": email})
            leads += 1
    for index, phone in enumerate(phones[:: every // 2 or 1]):
        field = "MobilePhone" if index % 4 == 3 else "Phone"
        if index % 2 == 0:
            org.create("Contact", {"LastName": f"Caller {index}", field: org_phone(phone, index)})
            contacts += 1
        else:
            org.create(
                "Lead", {"LastName": f"Caller {index}", "Company": "Walk-in", field: org_phone(phone, index)}
            )
            leads += 1
    return {"contacts": contacts, "leads": leads}


def org_phone(visitor_phone: str, style: int) -> str:
    """A visitor's ``+1 212-788-8877`` as an org may hold it: UI-formatted ``(212) 788-8877``, as
    typed ``212-788-8877``, with an extension, or ``+1 212.788.8877``."""
    digits = "".join(c for c in visitor_phone if c.isdigit())[-10:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return (
        f"({area}) {exchange}-{line}",
        f"{area}-{exchange}-{line}",
        f"({area}) {exchange}-{line} x{style % 90 + 10}",
        f"+1 {area}.{exchange}.{line}",
    )[style % 4]


def seeded_window(liveperson: Any) -> tuple[str, str]:
    """From the first seeded conversation's start to the emulator's now (both whole minutes)."""
    summary = liveperson.state.summary()
    first = min(summary[c]["min_start"] for c in CHANNELS if summary[c]["total"])
    start = dt.datetime.fromtimestamp(first // 60000 * 60, dt.UTC)
    end = dt.datetime.fromtimestamp(summary["now"] // 60000 * 60, dt.UTC)
    return start.isoformat(), end.isoformat()


def landed(salesforce: Any) -> dict[str, Any]:
    """What the Salesforce emulator holds now: counts, files, one record."""
    transcripts = salesforce.state.store.records("Chat_Transcript__c")
    by_channel = Counter(r.get("SDK_API_Type__c") for r in transcripts)
    ids = Counter(r.get("LP_Conversation_Id__c") for r in transcripts)
    return {
        "chat_transcripts": len(transcripts),
        "by_channel": dict(by_channel),
        "duplicates": sum(n - 1 for n in ids.values() if n > 1),
        "linked_to_contact": sum(1 for r in transcripts if r.get("Contact__c")),
        "linked_to_lead": sum(1 for r in transcripts if r.get("Lead__c")),
        "files": salesforce.state.store.count("ContentDocument"),
        "file_versions": salesforce.state.store.count("ContentVersion"),
        "sample": _sample(transcripts),
    }


def _sample(transcripts: list[dict[str, Any]]) -> dict[str, Any]:
    if not transcripts:
        return {}
    record = max(transcripts, key=lambda r: sum(1 for v in r.values() if v not in (None, "")))
    shown = {k: v for k, v in record.items() if v not in (None, "") and k != "Transcript__c"}
    text = record.get("Transcript__c") or ""
    shown["Transcript__c"] = text[:600] + (
        f"\n... ({len(text)} characters in all)" if len(text) > 600 else ""
    )
    return shown


def print_report(result: dict[str, Any], state: str, calls: dict[str, int], staging: Path) -> None:
    sample = result.pop("sample")
    print("\n=== lesync demo: what landed in the Salesforce emulator ===")
    print(f"DAG run state:        {state}")
    for key, value in result.items():
        print(f"{key.replace('_', ' '):<22}{value}")
    print(f"LivePerson API calls: {calls['liveperson']}")
    print(f"Salesforce API calls: {calls['salesforce']}")
    print("\nOne Chat Transcript record:")
    for key, value in sample.items():
        if key == "Transcript__c":
            print(f"  {key}:\n{textwrap.indent(str(value), '    | ')}")
        else:
            print(f"  {key}: {value}")
    failed = sorted(staging.glob("**/load/failed-*.jsonl.gz"))
    print(f"\nFailed-record files: {[str(p) for p in failed] or 'none'}")


def ledger_summary(integration: str) -> str:
    """One line from the state store: runs, records in the ledger, open failures."""
    from lesync.state import StateStore

    store = StateStore.from_conn()
    store.migrate()
    runs = len(store.latest_runs(integration, limit=100_000))
    records = _ledger_records(store, integration)
    failures = store.count_failed_records(integration)
    return (
        f"Ledger ({store.url}): {runs} run(s) of {integration}, {records} record(s), "
        f"{failures} open failure(s)"
    )


def _ledger_records(store: Any, integration: str) -> int:
    """Records (not their transcript files) the ledger knows for ``integration``."""
    from sqlalchemy import func, select

    from lesync.state import schema

    status = schema.record_status
    query = select(func.count()).where(status.c.integration == integration, status.c.target == "record")
    with store.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def print_operations(integration: str) -> None:
    """The ledger in one line, and how to open the lesync page in Airflow's UI."""
    print(f"\n{ledger_summary(integration)}")
    print(
        "The lesync page (latest runs, failed records, replay): start Airflow as in the README's "
        '"Running it on Airflow (standalone, UI)", then open http://localhost:8080/lesync/ '
        "(or Browse > lesync in Airflow's menu) and sign in."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.workdir.resolve()
    env = airflow_environment(work / "airflow", work / "staging")
    os.environ.update(env)  # before Airflow is imported anywhere in this process
    migrate_database(env)

    from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
    from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce

    lp_config = LivePersonEmulatorConfig(
        seed=args.seed,
        conversations=args.conversations,
        days=args.days,
        now_ms=pinned_now_ms(work / "emulators"),
    )
    liveperson = start_liveperson(lp_config, data_dir=work / "emulators")
    salesforce = start_salesforce(SalesforceEmulatorConfig(), data_dir=work / "emulators")
    try:
        crm = seed_crm(liveperson, salesforce)
        print(
            f"lesync demo: the org has {crm['contacts']} Contacts and {crm['leads']} Leads to link to",
            flush=True,
        )
        use_emulators(liveperson, salesforce)
        start, end = seeded_window(liveperson)
        print(
            f"lesync demo: {args.conversations} seeded conversations; manual sync {start} .. {end}",
            flush=True,
        )
        run = run_dag("lesync__demo__manual", {"start": start, "end": end})
        calls = {"liveperson": liveperson.state.calls.total(), "salesforce": salesforce.state.calls.total()}
        chat, messaging = (liveperson.state.summary()[c] for c in CHANNELS)
        print(
            f"\nLivePerson holds {chat['total']} chats ({chat['open']} still in progress: only ended chats "
            f"are returned) and {messaging['total']} messaging conversations ({messaging['open']} open: "
            "synced as Open, again once closed)."
        )
        print_report(landed(salesforce), str(run.state), calls, work / "staging")
        query = "select LP_Conversation_Id__c, SDK_API_Type__c, Agent_Name__c from Chat_Transcript__c limit 5"
        print(f"\nLook at the org yourself: sqlite3 {salesforce.db_path} '{query}'")
        print_operations("demo")
        return 0 if str(run.state).endswith("success") else 1
    finally:
        liveperson.stop()
        salesforce.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lesync demo", description=__doc__)
    add_arguments(parser)
    return parser.parse_args(argv)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir", type=Path, default=Path(".lesync"), help="Airflow home, staging, emulator data"
    )
    parser.add_argument(
        "--conversations", type=int, default=1000, help="seeded conversations (chat + messaging)"
    )
    parser.add_argument("--days", type=float, default=3, help="the seeded conversations span these days")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")


if __name__ == "__main__":
    sys.exit(main())
