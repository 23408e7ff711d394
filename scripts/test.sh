#!/usr/bin/env bash
# The test command of the README (and of .ci/run): installs what the tests need, checks style and types
# (ruff, mypy), then runs the tests.
#  - a virtualenv with kubeiam and its test extras;
#  - Debian's chromium for the HTML report test, when missing and we are root (CI is);
# every server the tests talk to (moto, fake Kubernetes / Google / Azure APIs) is started by the
# tests themselves on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "scripts/test.sh: could not install chromium; the HTML rendering test will be skipped" >&2
fi
# Style and types first: they fail in seconds, and a suite run on code that does not type-check is wasted.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -n 2 "$@"
