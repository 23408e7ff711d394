"""Bad input ends with one clear line naming the problem, exit 2, and no traceback (real subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EKS = REPO / "fixtures" / "demo" / "kubernetes" / "eks-prod"


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "AWS_", "GOOGLE_", "AZURE_"))}
    clean.update({"HOME": str(home), "NO_COLOR": "1"}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "kubeiam.cli", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *names: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert result.stdout == ""
    return lines[0]


def _evidence(tmp_path: Path, text: str | None = None) -> Path:
    root = tmp_path / "ev"
    shutil.copytree(EKS, root / "kubernetes" / "eks-prod")
    if text is not None:
        (root / "kubernetes" / "eks-prod" / "resources.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    return root


@pytest.mark.parametrize(
    ("case", "content", "expected"),
    [
        ("truncated", (EKS / "resources.json").read_text()[:5000], "not valid JSON"),
        ("not-json", "apiVersion: v1\nkind: List\nitems: []\n", "not valid JSON"),
        ("empty", "", "empty"),
        ("not-utf8", '{"a": "\udcff\udcfe"}', "not UTF-8"),
        ("wrong-shape-array", "[1, 2, 3]", "expected a Kubernetes List"),
        ("wrong-shape-items", '{"apiVersion": "v1", "kind": "List", "items": {"a": 1}}', "'items' must be a list"),
    ],
)
def test_bad_evidence_file(tmp_path, case, content, expected):
    root = _evidence(tmp_path, content)
    line = assert_one_clear_line(
        run(tmp_path, "audit", "--evidence", str(root)), "kubernetes/eks-prod/resources.json", expected
    )
    assert line.startswith("kubeiam: error: ")


def test_one_object_without_kind_is_a_coverage_entry_not_bad_input(tmp_path):
    # Below the top level one object never sinks the audit: it is named in the coverage, and --strict fails.
    doc = json.loads((EKS / "resources.json").read_text())
    doc["items"].insert(0, {"metadata": {"name": "x"}})
    root = _evidence(tmp_path, json.dumps(doc))
    result = run(tmp_path, "audit", "--evidence", str(root), "--format", "json", "--strict", "--fail-on", "critical")
    assert result.returncode == 3, result.stderr
    [error] = [e for e in json.loads(result.stdout)["coverage"]["errors"] if e["source"] == "kubernetes"]
    assert error["location"] == "kubernetes/eks-prod/resources.json: items[0].kind"
    assert "kind is missing" in result.stderr and "Traceback" not in result.stderr


def test_bad_openid_configuration(tmp_path):
    root = _evidence(tmp_path)
    (root / "kubernetes/eks-prod/openid-configuration.json").write_text('{"jwks_uri": "https://x"}')
    assert_one_clear_line(
        run(tmp_path, "audit", "--evidence", str(root)), "kubernetes/eks-prod/openid-configuration.json", "issuer"
    )


def _kubeconfig(tmp_path: Path) -> Path:
    from servers.kube_api import write_kubeconfig

    # Nothing listens there: every failure below must happen before any connection.
    return write_kubeconfig(
        tmp_path / "kubeconfig", {"prod": ("arn:aws:eks:eu-west-1:1:cluster/prod", "http://127.0.0.1:9")}
    )


def test_unknown_context(tmp_path):
    kubeconfig = _kubeconfig(tmp_path)
    line = assert_one_clear_line(
        run(tmp_path, "audit", "--kubeconfig", str(kubeconfig), "--context", "staging"), "--context staging"
    )
    assert "available: prod" in line


def test_unknown_context_from_environment_kubeconfig(tmp_path):
    kubeconfig = _kubeconfig(tmp_path)
    assert_one_clear_line(
        run(tmp_path, "collect", "-o", "out", "--context", "nope", env={"KUBECONFIG": str(kubeconfig)}), "nope"
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("yaml", "not valid YAML"),
        ("shape", "not a kubeconfig"),
    ],
)
def test_unreadable_kubeconfig(tmp_path, case, expected):
    path = tmp_path / "kubeconfig"
    if case == "directory":
        path.mkdir()
    elif case == "yaml":
        path.write_text("apiVersion: v1\nclusters: [\n  - name: x\n    cluster: {server: 'http://x'\n")
    elif case == "shape":
        path.write_text("just a string\n")
    assert_one_clear_line(run(tmp_path, "audit", "--kubeconfig", str(path)), str(path), expected)


def test_no_kubeconfig_and_not_in_a_cluster(tmp_path):
    assert_one_clear_line(run(tmp_path, "audit"), "no kubeconfig found", "not running inside a cluster")


@pytest.mark.parametrize("target", ["payments", "eks-prod/payments/api/extra", "Payments/API", "/api", "payments/"])
def test_malformed_check_argument(tmp_path, target):
    assert_one_clear_line(run(tmp_path, "check", target, "--demo"), f"'{target}'", "NAMESPACE/NAME")


def test_check_of_an_unknown_cluster_names_the_known_ones(tmp_path):
    # CLUSTER/NAMESPACE/NAME: three parts are well-formed; a cluster the evidence lacks is bad input.
    line = assert_one_clear_line(run(tmp_path, "check", "payments/api/extra", "--demo"), "no cluster payments")
    assert "eks-prod" in line


def test_failed_live_run_leaves_no_empty_evidence_directory(tmp_path):
    kubeconfig = _kubeconfig(tmp_path)
    assert_one_clear_line(run(tmp_path, "audit", "--kubeconfig", str(kubeconfig), "--context", "nope"), "nope")
    assert not (tmp_path / "kubeiam-evidence").exists()
