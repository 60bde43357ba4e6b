#!/usr/bin/env bash
# Installs Debian's chromium for the browser test (tests/ui/test_browser.py) when it is missing.
# Playwright (pinned in requirements.txt) drives this system browser; it never downloads its own.
# Without root or apt-get the install is skipped with a note, and the browser test skips saying why.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: chromium is missing and this shell cannot apt-get it (needs root); the browser test will skip" >&2
  exit 0
fi
echo "browser: installing Debian's chromium for the browser test (first time: about a minute)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
  echo "browser: apt-get could not install chromium; the browser test will skip" >&2
fi
exit 0
