#!/usr/bin/env bash
# Sets up .venv if needed, then runs a real sync on the embedded default: both emulators with
# seeded conversations, Airflow on SQLite (in .lesync/airflow), the manual DAG over the seeded
# range, and a printout of what landed in the Salesforce emulator. Run it twice: the second run
# creates nothing new. Extra arguments go to `python -m lesync demo` (e.g. --conversations 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m lesync demo "$@"
