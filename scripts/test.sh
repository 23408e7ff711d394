#!/usr/bin/env bash
# The test command of the README (and of .ci/run): installs what the tests need, checks style and types
# (ruff, mypy), then runs the tests.
#  - a virtualenv with kubeiam and its test extras;
#  - Debian's chromium (HTML report test), buildah and debootstrap (image build test), when root (CI is);
# every server the tests talk to (moto, fake Kubernetes / Google / Azure APIs) is started by the
# tests themselves on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
# Azurite 3.35.0 (the Azure Blob emulator; the last release for node 20) for tests/stores, from npm,
# into the cache the tests use (they skip the Azure store tests, saying why, when npm is missing).
AZURITE_DIR="${KUBEIAM_AZURITE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeiam-tests/azurite-3.35.0}"
if command -v npm >/dev/null 2>&1 && [ ! -x "$AZURITE_DIR/node_modules/.bin/azurite-blob" ]; then
  npm install --prefix "$AZURITE_DIR" --no-audit --no-fund --loglevel=error azurite@3.35.0 >/dev/null \
    || echo "scripts/test.sh: could not install Azurite; the Azure Blob store tests will be skipped" >&2
fi
# Debian packages some tests need, in one apt run (root only, as CI is):
#  - chromium: the HTML report test; buildah + debootstrap: tests/deploy builds and runs the image.
missing=""
for pkg in chromium buildah debootstrap; do command -v "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # shellcheck disable=SC2086  # one word per package
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
    || echo "scripts/test.sh: could not install$missing; the tests needing them will be skipped" >&2
fi
# Style and types first: they fail in seconds, and a suite run on code that does not type-check is wasted.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -n 2 "$@"
