"""Absent is not empty: an EKS cluster's file that is absent while its other files are there is a coverage
entry naming the rules it decides and the cluster, so a baseline marks their findings not re-checked, never
resolved; and no fingerprint depends on an optional file (the EKS ARN comes from wherever it is known)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import ACCOUNT, REGION, cluster, iam, irsa_trust, rbac, role, role_arn, service_account
from kubeiam_aws.evidence.clusters import match_clusters

from kubeiam.cli import main
from kubeiam.pipeline.audit import read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.model import Cluster, Inventory

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
EKS = f"aws/{ACCOUNT}/{REGION}/eks/eks-prod"
ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-prod"


def _run(root: Path, out: Path, *extra: str) -> dict[str, Any]:
    rc = main(["audit", "--evidence", str(root), "--format", "json", "--output", str(out), "--quiet", *extra])
    assert rc in (0, 1, 3)
    return json.loads(out.read_text())


def _without(tmp_path: Path, *relative: str) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    for r in relative:
        target = root / r
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return root


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("previous")
    out = tmp / "previous.json"
    return out, _run(DEMO, out)


@pytest.mark.parametrize(
    ("file", "rule", "rules"),
    [
        ("pod-identity-associations.json", "AWS-007", {"AWS-004", "AWS-007", "AWS-010", "AWS-014"}),
        ("nodegroups.json", "AWS-022", {"AWS-022"}),
    ],
)
def test_an_absent_eks_file_is_a_coverage_entry_and_its_findings_are_not_resolved(
    tmp_path, previous, file, rule, rules
):
    baseline, before = previous
    root = _without(tmp_path, f"{EKS}/{file}")
    report = _run(root, tmp_path / "now.json", "--baseline", str(baseline))
    (error,) = [e for e in report["coverage"]["errors"] if e["location"] == f"{EKS}/{file}"]
    assert error["subject"] == "eks-prod" and error["reason"].startswith("file absent")
    assert rules <= set(error["rules"])
    assert [f for f in report["resolved"] if f["rule_id"] == rule] == []
    hidden = [f for f in before["findings"] if f["rule_id"] == rule and f["fingerprint"] not in
              {g["fingerprint"] for g in report["findings"]}]  # fmt: skip
    assert hidden and {f["fingerprint"] for f in hidden} <= {f["fingerprint"] for f in report["not_rechecked"]}


def test_fingerprints_do_not_depend_on_cluster_json(tmp_path, previous):
    _, before = previous
    report = _run(_without(tmp_path, f"{EKS}/cluster.json"), tmp_path / "now.json")
    assert {f["fingerprint"] for f in report["findings"]} == {f["fingerprint"] for f in before["findings"]}
    assert next(c for c in report["coverage"]["clusters"] if c["name"] == "eks-prod")["id"] == ARN


def test_fingerprints_do_not_depend_on_the_eks_folder(tmp_path, previous):
    """With no EKS file at all, the ARN is built from the issuer (region) and the account whose OIDC provider
    names it: every finding that does not need the EKS files keeps its fingerprint."""
    _, before = previous
    report = _run(_without(tmp_path, EKS), tmp_path / "now.json")
    kept = {f["fingerprint"] for f in report["findings"]}
    gone = [f for f in before["findings"] if f["fingerprint"] not in kept]
    assert kept <= {f["fingerprint"] for f in before["findings"]}
    # The Pod Identity role, the node group's template, and who the cluster's access entries let act as a
    # ServiceAccount (K8S-006): each needs a file of the EKS folder.
    assert sorted(f["rule_id"] for f in gone) == ["AWS-007", "AWS-022", "K8S-006"]
    entries = json.loads((DEMO / EKS / "access-entries.json").read_text())["accessEntries"]
    mapped = {f"user:{e['username']}" for e in entries if e.get("associatedAccessPolicies")}
    assert {f["evidence"]["subject"] for f in gone if f["rule_id"] == "K8S-006"} <= mapped
    assert next(c for c in report["coverage"]["clusters"] if c["name"] == "eks-prod")["id"] == ARN


def test_the_kubeconfig_name_gives_the_arn_when_no_eks_file_does(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "app"))])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))], name="prod", issuer=None)
    inv = read_inventory(Evidence(tmp_path), load_providers())
    assert inv.cluster("prod").stable_id is None
    named = Cluster("prod", kubeconfig_name="arn:aws:eks:us-east-2:444455556666:cluster/prod-blue")
    clusters, _ = match_clusters(Inventory(clusters=(named,)), [], {}, [], {})
    assert clusters[0].stable_id == "arn:aws:eks:us-east-2:444455556666:cluster/prod-blue"
    other = Cluster("kind", kubeconfig_name="kind-kind")
    assert match_clusters(Inventory(clusters=(other,)), [], {}, [], {})[0][0].stable_id is None


def test_an_issuer_claimed_by_several_accounts_gives_no_guessed_arn():
    host = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789abcdef0123456789abcdef"
    c = Cluster("prod", issuer=f"https://{host}")
    one, _ = match_clusters(Inventory(clusters=(c,)), [], {ACCOUNT: [host]}, [], {})
    assert one[0].stable_id == f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/prod"
    two, _ = match_clusters(Inventory(clusters=(c,)), [], {ACCOUNT: [host], "444455556666": [host]}, [], {})
    assert two[0].stable_id is None
    # The account whose instances run the cluster's nodes decides.
    nodes, _ = match_clusters(
        Inventory(clusters=(c,)), [], {ACCOUNT: [host], "444455556666": [host]}, [], {"prod": {ACCOUNT}}
    )
    assert nodes[0].stable_id == f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/prod"


def test_an_absent_oidc_providers_file_names_the_cluster_and_rule(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "app"))])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    rbac(tmp_path)
    errors = read_inventory(Evidence(tmp_path), load_providers()).errors
    (error,) = [e for e in errors if e.rules != ("AWS-024",)]  # not the note that no usage data was given
    expected = (f"aws/{ACCOUNT}/oidc-providers.json", "eks-test", ("AWS-004",))
    assert (error.location, error.subject, error.rules) == expected
