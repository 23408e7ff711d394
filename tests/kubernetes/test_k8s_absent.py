"""Absent is not empty: a cluster whose objects were not read never passes as clean, nor its findings as resolved.

The issue's case: remove `kubernetes/eks-prod/resources.json` from a copy of the demo and audit it with the
previous run as baseline. Before, the cluster was read as one with nothing in it: no stderr, no coverage
error, its 25 findings `resolved`, and a CI gate passed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from kubeiam_kubernetes.evidence import reader

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import declarations_of, load_providers
from kubeiam.vocabulary.model import Inventory

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo"


def _copy(tmp_path: Path, *, clouds: bool = False) -> Path:
    root = tmp_path / "ev"
    shutil.copytree(DEMO / "kubernetes", root / "kubernetes")
    if clouds:
        for cloud in ("aws", "gcp", "azure"):
            shutil.copytree(DEMO / cloud, root / cloud)
    return root


def _take_away(folder: Path, how: str) -> None:
    """Leave the cluster known (its folder, an issuer or kubeconfig entry) and its objects unread."""
    (folder / "resources.json").unlink()
    (folder / "rbac.json").unlink(missing_ok=True)
    if how == "empty-folder":
        (folder / "openid-configuration.json").unlink()
    elif how == "kubeconfig-only":
        (folder / "openid-configuration.json").unlink()
        (folder / "kubeconfig.json").write_text(
            json.dumps({"clusters": [{"name": "arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod"}]})
        )


@pytest.mark.parametrize("how", ["openid-only", "empty-folder", "kubeconfig-only"])
def test_a_cluster_without_its_objects_is_not_rechecked_never_resolved(kubeiam_cli, tmp_path, how):
    root = _copy(tmp_path)
    before = kubeiam_cli("audit", "--evidence", str(root), "--format", "json")
    previous = tmp_path / "previous.json"
    previous.write_text(before.out)
    in_eks = {f["fingerprint"] for f in before.json()["findings"] if f["cluster"] == "eks-prod"}
    assert before.code == 1 and len(in_eks) >= 4  # K8S-001..004 on eks-prod

    _take_away(root / "kubernetes" / "eks-prod", how)
    after = kubeiam_cli("audit", "--evidence", str(root), "--format", "json", "--baseline", str(previous),
                        "--fail-on", "critical")  # fmt: skip

    report = after.json()
    [error] = [e for e in report["coverage"]["errors"] if e["subject"] == "eks-prod"]
    assert error == {
        "source": "kubernetes",
        "location": "kubernetes/eks-prod/resources.json",
        "reason": error["reason"],
        "subject": "eks-prod",
        "whole": True,
    }
    assert error["reason"].startswith("absent")
    assert {"source": "kubernetes", "subject": "eks-prod", "reason": error["reason"]} in report["coverage"][
        "unreadable"
    ]
    assert report["resolved"] == []
    assert {f["fingerprint"] for f in report["not_rechecked"]} == in_eks
    # Only K8S rules run here (none critical): the findings elsewhere do not fail the gate, the unread cluster does.
    assert after.code == 3
    assert "kubernetes (eks-prod) could not be read at all" in after.err


def test_the_issues_case_with_every_provider(run_cli, tmp_path):
    """The whole demo, every provider: AWS-010 (critical) and the rest of eks-prod are not re-checked."""
    root = _copy(tmp_path, clouds=True)
    code, out, _ = run_cli("audit", "--evidence", root, "--format", "json")
    previous = tmp_path / "previous.json"
    previous.write_text(out)
    in_eks = {f["fingerprint"]: f["rule_id"] for f in json.loads(out)["findings"] if f["cluster"] == "eks-prod"}
    assert "AWS-010" in in_eks.values()

    (root / "kubernetes" / "eks-prod" / "resources.json").unlink()
    code, out, err = run_cli("audit", "--evidence", root, "--format", "json", "--baseline", previous)

    report = json.loads(out)
    assert report["baseline"]["resolved"] == 0
    unseen = {f["fingerprint"] for f in report["not_rechecked"]}
    still = {f["fingerprint"] for f in report["findings"] if f["cluster"] == "eks-prod"}  # from AWS files alone
    assert unseen | still == set(in_eks) and len(unseen) >= 20
    assert "AWS-010" in {in_eks[fp] for fp in unseen}
    assert "kubernetes (eks-prod) could not be read at all" in err
    assert code != 0


def test_strict_gate_on_the_unread_cluster_alone(run_cli, tmp_path):
    """eks-prod and its AWS account only: once its objects are gone no finding is left, and the run still fails."""
    root = tmp_path / "ev"
    shutil.copytree(DEMO / "kubernetes" / "eks-prod", root / "kubernetes" / "eks-prod")
    shutil.copytree(DEMO / "aws", root / "aws")
    (root / "kubernetes" / "eks-prod" / "resources.json").unlink()

    for flags in ((), ("--strict",)):
        code, out, err = run_cli("audit", "--evidence", root, "--format", "json", "--fail-on", "critical", *flags)
        assert code == 3, err
        assert json.loads(out)["coverage"]["unreadable"][0]["subject"] == "eks-prod"


@pytest.mark.parametrize("what", ["directory", "null"])
def test_a_directory_or_null_in_place_of_the_objects_is_named(kubeiam_cli, tmp_path, what):
    root = _copy(tmp_path)
    previous = tmp_path / "previous.json"
    previous.write_text(kubeiam_cli("audit", "--evidence", str(root), "--format", "json").out)
    target = root / "kubernetes" / "eks-prod" / "resources.json"
    target.unlink()
    if what == "directory":
        target.mkdir()
    else:
        target.write_text("null\n")

    result = kubeiam_cli("audit", "--evidence", str(root), "--baseline", str(previous), "--format", "json")

    assert result.code == 2
    assert result.out == ""
    [line] = result.err.strip().splitlines()
    assert "kubernetes/eks-prod/resources.json" in line
    assert ("directory" if what == "directory" else "null") in line


def read_kubernetes(root: Path) -> Inventory:
    return reader.read(Evidence(root), Inventory(declarations=declarations_of(load_providers())))


def test_every_cluster_folder_is_a_cluster_and_says_what_it_lacks(tmp_path):
    root = _copy(tmp_path)
    _take_away(root / "kubernetes" / "eks-prod", "openid-only")
    _take_away(root / "kubernetes" / "gke-data", "empty-folder")

    inv = read_kubernetes(root)

    assert sorted(c.name for c in inv.clusters) == ["aks-apps", "eks-prod", "gke-data"]
    eks = inv.cluster("eks-prod")
    assert eks is not None and eks.issuer is not None  # what was there is still read
    reasons = {e.subject: e.reason for e in inv.errors if e.whole}
    assert set(reasons) == {"eks-prod", "gke-data"}
    assert "openid-configuration.json" in reasons["eks-prod"]
    assert "empty" in reasons["gke-data"]
    assert not any(sa.cluster in {"eks-prod", "gke-data"} for sa in inv.service_accounts)
    assert [e for e in inv.errors if e.subject == "aks-apps"] == []
