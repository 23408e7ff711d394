"""Smoke tests: the synthetic estates are read by kubeiam as the generator claims (tiny scale)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from estate import Scale, build
from generate import generate, iam_document
from other_clouds import generate as generate_other

from kubeiam.pipeline.audit import read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.model import LinkStatus

TINY = Scale(service_accounts=50, roles=10, policies=5, nodes=3)


def _read(root: Path):
    return read_inventory(Evidence(root), load_providers())


@pytest.mark.parametrize("usage", [True, False], ids=["with-usage", "without-usage"])
def test_aws_estate_is_read_with_every_service_account_linked(tmp_path: Path, usage: bool) -> None:
    estate = generate(tmp_path, TINY.service_accounts, TINY.roles, TINY.policies, TINY.nodes, usage=usage)
    inv = _read(tmp_path)
    assert len(inv.service_accounts) == 50
    assert len(inv.nodes) == 3
    aws = [link for link in inv.links if link.cloud == "aws"]
    assert len(aws) == 50
    assert Counter(link.status for link in aws) == {LinkStatus.RESOLVED: 50}
    # ServiceAccount i uses role i mod R: each of the 10 roles is reached by 5 ServiceAccounts.
    assert Counter(Counter(link.principal for link in aws).values()) == {5: 10}
    assert {link.principal for link in aws} == {estate.role_arn(r.name) for r in estate.roles}
    # What the estate leaves out is a note naming the one rule it decides: its RBAC (K8S-006; benchmarks/takeover.py
    # adds it) and, without usage data, each role's unused access (AWS-024).
    notes = sorted((e.source, e.subject, e.rules) for e in inv.errors)
    expected = [("kubernetes", estate.cluster, ("K8S-006",))]
    if not usage:
        expected += [("aws", estate.role_arn(r.name), ("AWS-024",)) for r in estate.roles]
    assert notes == sorted(expected)
    assert not any(e.whole for e in inv.errors)


def test_iam_document_holds_what_the_estate_says() -> None:
    estate = build(TINY)
    doc = iam_document(estate)
    roles = {r["RoleName"]: r for r in doc["RoleDetailList"]}
    assert len(roles) == TINY.roles + 1  # + the node role
    role = roles["bench-role-00003"]
    assert len(role["RolePolicyList"]) == 1
    attached = [p["PolicyArn"] for p in role["AttachedManagedPolicies"]]
    assert attached == [estate.policy_arn(m) for m in estate.roles[3].managed]
    sub = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    subjects = next(iter(sub.values()))
    if not estate.roles[3].wildcard_trust:
        assert sorted(next(v for k, v in subjects.items() if k.endswith(":sub"))) == sorted(estate.roles[3].subjects)
    arns = {p["Arn"] for p in doc["Policies"]}
    assert {estate.policy_arn(name) for name, _ in estate.policies} <= arns
    assert all(
        arn in arns for r in doc["RoleDetailList"] for arn in (p["PolicyArn"] for p in r["AttachedManagedPolicies"])
    )


def test_generation_is_deterministic(tmp_path: Path) -> None:
    generate(tmp_path / "a", 20, 5, 3, 2, seed=3)
    generate(tmp_path / "b", 20, 5, 3, 2, seed=3)
    generate(tmp_path / "c", 20, 5, 3, 2, seed=4)
    iam = "aws/111122223333/iam.json"
    assert (tmp_path / "a" / iam).read_text() == (tmp_path / "b" / iam).read_text()
    assert (tmp_path / "a" / iam).read_text() != (tmp_path / "c" / iam).read_text()


@pytest.mark.parametrize("usage", [True, False], ids=["with-usage", "without-usage"])
@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_other_cloud_estates_are_read_with_every_service_account_linked(
    tmp_path: Path, cloud: str, usage: bool
) -> None:
    generate_other(cloud, tmp_path, TINY, usage=usage)
    inv = _read(tmp_path)
    assert len(inv.service_accounts) == 50
    links = [link for link in inv.links if link.cloud == cloud]
    assert Counter(link.status for link in links) == {LinkStatus.RESOLVED: 50}
    principals = {link.principal for link in links}
    assert len(principals) == TINY.roles
    # What the estate leaves out is a note naming the one rule it decides, never a gap: Azure's Microsoft
    # Graph files (AZ-013); without usage data, unused access (GCP-011 per account, AZ-012 once for all).
    errors = [e for e in inv.errors if e.source == cloud]
    assert not any(e.whole for e in errors)
    if cloud == "gcp":
        assert sorted(e.subject or "" for e in errors) == ([] if usage else sorted(principals))
        assert {e.rules for e in errors} == (set() if usage else {("GCP-011",)})
    else:
        assert sorted(e.rules for e in errors) == ([] if usage else [("AZ-012",)]) + [("AZ-013",)]
        assert {e.subject for e in errors} == {None}


def test_scaled_keeps_every_count_positive() -> None:
    small = Scale().scaled(0.0001)
    assert (small.service_accounts, small.roles, small.policies, small.nodes) == (2, 1, 1, 1)
    assert Scale(5000, 1000, 300, 500).scaled(0.1) == Scale(500, 100, 30, 50)


def test_kubernetes_half_names_the_instances(tmp_path: Path) -> None:
    estate = build(TINY)
    generate(tmp_path, TINY.service_accounts, TINY.roles, TINY.policies, TINY.nodes)
    items = json.loads((tmp_path / "kubernetes/bench/resources.json").read_text())["items"]
    kinds = Counter(i["kind"] for i in items)
    assert kinds["ServiceAccount"] == 50 and kinds["Node"] == 3 and kinds["Pod"] == 50 // 4
    assert kinds["Namespace"] == len(estate.namespaces)
