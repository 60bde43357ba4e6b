#!/usr/bin/env bash
# Creates .venv with the pinned requirements and lesync installed in it. Idempotent: installs again
# only when requirements.txt or pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "lesync needs Python 3.11: '$PY' was not found (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.lesync-installed
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the pinned requirements into .venv (first time: a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  # The editable build leaves plugins/lesync.egg-info, which sits on sys.path (plugins/) next to
  # the installed dist-info: Airflow would then see lesync's entry points twice.
  rm -rf plugins/lesync.egg-info
  echo "$want" > "$stamp"
fi
