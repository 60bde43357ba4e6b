#!/usr/bin/env bash
# Sets up .venv if needed, lints, and runs the whole test suite (unit + end-to-end against the
# emulators) on two processes. Extra arguments go to pytest, e.g. `bash scripts/test.sh -k salesforce`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/browser.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -n 2 "$@"  # --dist loadfile is in pyproject.toml
