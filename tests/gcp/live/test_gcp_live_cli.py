"""End to end: the `kubeiam` CLI against the fake Kubernetes API server and the local GCP servers.

A live audit must equal `collect` followed by `audit --evidence` (one reading path), and a live
`check` must find exactly what the full evidence finds for that ServiceAccount.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gcp_live_servers import FIXTURES, FakeGcp

CLUSTER = FIXTURES / "evidence" / "kubernetes" / "gke-data"


@pytest.fixture
def cli(gcp: FakeGcp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """Run `kubeiam` in-process with the Kubernetes and GCP providers only (the others would look
    for their own clouds), against the servers the `gcp` fixture points the environment at."""
    from kubeiam_gcp import PROVIDER as GCP
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    import kubeiam.cli as cli_module

    monkeypatch.setattr(cli_module, "load_providers", lambda: (KUBERNETES, GCP))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, dict[str, Any] | None]:
        capsys.readouterr()
        code = cli_module.main(list(args))
        out = capsys.readouterr().out
        return code, (json.loads(out) if out.strip().startswith("{") else None)

    return run


def _fingerprints(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["fingerprint"], f["rule_id"]) for f in report["findings"]}


def test_live_audit_equals_collect_then_audit(cli: Callable, kube_api: Callable, tmp_path: Path, gcp: FakeGcp):
    kubeconfig = kube_api(CLUSTER).write_kubeconfig(
        tmp_path / "kubeconfig", cluster="gke_acme-data_europe-west1_gke-data"
    )
    live = ["--kubeconfig", str(kubeconfig), "--cluster-name", "gke-data"]

    code, _ = cli("collect", "--output", str(tmp_path / "ev"), "--quiet", *live)
    assert code == 0
    calls_for_collect = sum(gcp.rest.requests.values()) + sum(gcp.iam.requests.values())
    _, offline = cli("audit", "--evidence", str(tmp_path / "ev"), "--format", "json", "--fail-on", "critical")
    _, online = cli(
        "audit", "--format", "json", "--fail-on", "critical", "--quiet", "--keep-evidence", str(tmp_path / "ev2"), *live
    )
    assert offline is not None and online is not None
    assert _fingerprints(offline) == _fingerprints(online)
    rules = {rule for _, rule in _fingerprints(online)}
    assert {"GCP-001", "GCP-006", "GCP-008"} <= rules  # owner/editor, unscoped trust, user-managed key
    assert offline["coverage"]["errors"] == online["coverage"]["errors"]
    assert _not_collected_live(online["coverage"]["errors"]) == []
    # The second live run fetched the same objects again, once each.
    assert sum(gcp.rest.requests.values()) + sum(gcp.iam.requests.values()) == 2 * calls_for_collect


def test_live_check_finds_what_the_full_evidence_finds(cli: Callable, kube_api: Callable, tmp_path: Path):
    kubeconfig = kube_api(CLUSTER).write_kubeconfig(tmp_path / "kubeconfig")
    live = ["--kubeconfig", str(kubeconfig), "--cluster-name", "gke-data"]
    cli("collect", "--output", str(tmp_path / "full"), "--quiet", *live)
    for target in ("analytics/bq-loader", "analytics/notebook", "web/ghost", "batch/exporter"):
        _, offline = cli("check", target, "--evidence", str(tmp_path / "full"), "--format", "json")
        _, online = cli("check", target, "--format", "json", "--quiet", *live)
        assert offline is not None and online is not None
        assert _fingerprints(online) == _fingerprints(offline), target
        assert _not_collected_live(online["coverage"]["errors"]) == []
    assert _fingerprints(offline)  # batch/exporter: a direct principal:// grant on a bucket


def _not_collected_live(errors: list[dict]) -> list[dict]:
    """The errors, but for the notes of what live collection does not read: group memberships (no Cloud
    Identity collection), the usage data (GCP-011) and RBAC of the fake cluster (K8S-006)."""
    return [
        e
        for e in errors
        if "group-memberships.json" not in e["reason"] and e.get("rules") not in (["GCP-011"], ["K8S-006"])
    ]
