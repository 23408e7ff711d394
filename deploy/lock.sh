#!/usr/bin/env bash
# Regenerates deploy/requirements.lock, the image's pinned dependencies: every package of
# kubeiam[all] and of its build backend, one exact version each with the hashes of all its files on
# PyPI, resolved by pip-compile (pip-tools) for CPython 3.11 (the image's Python). Needs PyPI.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "deploy/lock.sh: needs python3 3.11, the image's Python" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A private copy: resolving builds kubeiam's metadata, which must leave nothing in the checkout.
cp -r "$root/pyproject.toml" "$root/README.md" "$root/src" "$root/providers" "$work/"
# PyPI itself, never a local wheel folder or mirror: the hashes must be those of PyPI's files.
export PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="deploy/lock.sh"
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --index-url https://pypi.org/simple 'pip-tools==7.7.0'
cd "$work"
"$work/venv/bin/pip-compile" --quiet --strip-extras --extra all --build-deps-for wheel \
  --generate-hashes --allow-unsafe --index-url https://pypi.org/simple --no-emit-index-url \
  --no-emit-find-links -o requirements.lock pyproject.toml
# kubeiam itself comes from the build context (Dockerfile), not from the lock.
python3 - requirements.lock <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
text = re.sub(r"# WARNING: pip install will require.*?\n(?=[a-z])", "", text, flags=re.S)
text = re.sub(r"kubeiam @ file:\S+\n(    # via .*\n)*", "", text)
assert "file://" not in text, "a local path is left in the lock"
open(path, "w").write(text)
PY
cp requirements.lock "$root/deploy/requirements.lock"
echo "deploy/lock.sh: wrote deploy/requirements.lock ($(grep -c '==' requirements.lock) packages)"
