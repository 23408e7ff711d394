"""EKS access entries and aws-auth as Kubernetes RBAC for K8S-006, and what one IAM role can do (`aws_power`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import aws_evidence as aws
import pytest
import yaml
from kubeiam_aws.evidence.access_entries import parse_aws_auth
from kubeiam_aws.judge.power import aws_power

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Finding
from kubeiam.vocabulary.model import CloudIdentity, Inventory

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kubernetes"))
import takeover_evidence as te

from kubeiam.pipeline.providers import load_providers

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "kubernetes" / "aws-auth"
EKS = Path("aws") / aws.ACCOUNT / aws.REGION / "eks" / "prod"
CI = "arn:aws:iam::111122223333:role/ci"
TARGETS = [("team-a", "app"), ("team-b", "app"), ("dev-1", "app")]


def _estate(root: Path, entries: list[dict[str, Any]] | None, *, mode: str = "API_AND_CONFIG_MAP", **kw: Any) -> Path:
    te.irsa_estate(root, TARGETS, **{"rbac": [], **kw})
    cluster: dict[str, Any] = {"name": "prod", "arn": f"arn:aws:eks:{aws.REGION}:{aws.ACCOUNT}:cluster/prod"}
    cluster["identity"] = {"oidc": {"issuer": aws.ISSUER}}
    cluster["accessConfig"] = {"authenticationMode": mode}
    aws.write(root / EKS / "cluster.json", {"cluster": cluster})
    if entries is not None:
        aws.write(root / EKS / "access-entries.json", {"accessEntries": entries})
    return root


def entry(arn: str, *policies: tuple[str, str, list[str]], groups: list[str] = (), **fields: Any) -> dict[str, Any]:  # type: ignore[assignment]
    """describe-access-entry's accessEntry + list-associated-access-policies' list."""
    out: dict[str, Any] = {
        "clusterName": "prod",
        "principalArn": arn,
        "kubernetesGroups": list(groups),
        "username": arn,
        "type": "STANDARD",
        **fields,
    }
    if out["type"] == "STANDARD":
        out["associatedAccessPolicies"] = [
            {
                "policyArn": f"arn:aws:eks::aws:cluster-access-policy/{name}",
                "accessScope": {"type": scope, "namespaces": namespaces},
                "associatedAt": "2025-05-24T17:26:22.935000-05:00",
            }
            for name, scope, namespaces in policies
        ]
    return out


def aws_auth(map_roles: str = "", map_users: str = "") -> dict[str, Any]:
    data = {k: v for k, v in (("mapRoles", map_roles), ("mapUsers", map_users)) if v}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": data,
    }


def _inventory(root: Path) -> Inventory:
    return read_inventory(Evidence(root), load_providers())


def _k006(root: Path) -> list[Finding]:
    return [f for f in audit(Evidence(root), providers=load_providers()).findings if f.rule_id == "K8S-006"]


def _subjects(findings: list[Finding]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for f in findings:
        out.setdefault((f.namespace or "", f.service_account or ""), set()).add(f.evidence["subject"])
    return out


# -- access entries -----------------------------------------------------------------------------------


def test_a_namespace_scoped_edit_policy_reaches_that_namespace_only(tmp_path: Path) -> None:
    _estate(tmp_path, [entry(CI, ("AmazonEKSEditPolicy", "namespace", ["team-b"]))])
    found = _k006(tmp_path)
    assert _subjects(found) == {("team-b", "app"): {f"user:{CI}"}}
    (f,) = found
    assert f.evidence["cloud_principals"][0]["principal"] == CI
    assert f.evidence["path"][0].startswith(f"{CI} -> create-pods (create pods) -> team-b/app -> ")
    assert "modelled on the upstream ClusterRoles" in f.evidence["approximated"][0]
    assert {g["item"] for g in f.evidence["grants"]} == {"accessEntries[0].associatedAccessPolicies[0]"}
    assert {g["file"] for g in f.evidence["grants"]} == {str(EKS / "access-entries.json")}
    assert f.remediation.startswith(f"Disassociate AmazonEKSEditPolicy from the EKS access entry of {CI}")
    assert f.severity.value == "critical"  # the target's role is admin


def test_namespace_patterns_match_the_namespaces_in_the_evidence(tmp_path: Path) -> None:
    _estate(tmp_path, [entry(CI, ("AmazonEKSAdminPolicy", "namespace", ["dev-*", "team-a"]))])
    assert set(_subjects(_k006(tmp_path))) == {("dev-1", "app"), ("team-a", "app")}


def test_cluster_admin_reaches_every_service_account(tmp_path: Path) -> None:
    _estate(tmp_path, [entry(CI, ("AmazonEKSClusterAdminPolicy", "cluster", []))])
    found = _k006(tmp_path)
    assert set(_subjects(found)) == set(TARGETS)
    assert {tuple(f.evidence["techniques"]) for f in found} == {("wildcard",)}


def test_view_policy_is_no_takeover_and_admin_view_reads_token_secrets(tmp_path: Path) -> None:
    secret = te.token_secret("team-a", "app-token-x", "app")
    entries = [
        entry(CI, ("AmazonEKSViewPolicy", "cluster", [])),
        entry(CI + "2", ("AmazonEKSAdminViewPolicy", "cluster", [])),
    ]
    _estate(tmp_path, entries, secrets=[secret])
    found = _k006(tmp_path)
    assert _subjects(found) == {("team-a", "app"): {f"user:{CI}2"}}
    assert found[0].evidence["techniques"] == ["read-token-secret"]


def test_kubernetes_groups_of_an_entry_lead_to_the_clusters_own_bindings(tmp_path: Path) -> None:
    rbac = [te.binding("deployers", "edit", "Group:deployers", namespace="team-a")]
    _estate(tmp_path, [entry(CI, groups=["deployers"])], rbac=rbac)
    (f,) = _k006(tmp_path)
    assert (f.namespace, f.evidence["subject"]) == ("team-a", "group:deployers")
    assert [c["principal"] for c in f.evidence["cloud_principals"]] == [CI]
    assert f.evidence["binding"] == "RoleBinding/team-a/deployers"


def test_node_entries_are_the_nodes_group_and_other_policies_are_named_unchecked(tmp_path: Path) -> None:
    entries = [
        entry("arn:aws:iam::111122223333:role/nodes", type="EC2_LINUX", username="system:node:{{EC2PrivateDNSName}}"),
        entry(CI, ("AmazonEKSBlockStoragePolicy", "cluster", [])),
    ]
    _estate(tmp_path, entries)
    inv = _inventory(tmp_path)
    nodes = [e for e in inv.external_rbac if "group:system:nodes" in e.principals]
    assert nodes and not nodes[0].objects
    (err,) = [e for e in inv.errors if "AmazonEKSBlockStoragePolicy" in e.reason]
    assert err.location.endswith("access-entries.json: accessEntries[1].associatedAccessPolicies[0]")
    assert err.rules == ("K8S-006",) and err.subject == "prod"


def test_list_access_entries_output_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    _estate(tmp_path, None)
    aws.write(tmp_path / EKS / "access-entries.json", {"accessEntries": [CI]})
    with pytest.raises(InputError, match=r"access-entries\.json: is `aws eks list-access-entries` output"):
        _inventory(tmp_path)


def test_one_page_and_an_unreadable_entry_are_coverage(tmp_path: Path) -> None:
    _estate(tmp_path, None)
    doc = {"accessEntries": [entry(CI, ("AmazonEKSEditPolicy", "cluster", [])), {"principalArn": 3}], "nextToken": "x"}
    aws.write(tmp_path / EKS / "access-entries.json", doc)
    errors = [e for e in _inventory(tmp_path).errors if "access-entries.json" in e.location]
    assert {e.location.split(": ")[-1] for e in errors} >= {"accessEntries[1]"}
    assert any("one page" in e.reason for e in errors)
    assert all(e.rules == ("K8S-006",) for e in errors)


@pytest.mark.parametrize(("mode", "absent_error"), [("API", True), ("API_AND_CONFIG_MAP", True), ("CONFIG_MAP", False)])
def test_absent_access_entries_are_coverage_when_the_mode_uses_them(
    tmp_path: Path, mode: str, absent_error: bool
) -> None:
    _estate(tmp_path, None, mode=mode, extra=[aws_auth()])
    errors = [e for e in _inventory(tmp_path).errors if e.location.endswith("access-entries.json")]
    assert bool(errors) is absent_error


def test_config_map_mode_ignores_access_entries_and_api_mode_ignores_aws_auth(tmp_path: Path) -> None:
    auth = aws_auth(map_roles=f"- rolearn: {CI}\n  username: ci\n  groups: [deployers]\n")
    rbac = [te.binding("deployers", "edit", "Group:deployers", namespace="team-a")]
    entries = [entry(CI, ("AmazonEKSEditPolicy", "namespace", ["team-b"]))]
    _estate(tmp_path / "cm", entries, mode="CONFIG_MAP", extra=[auth], rbac=rbac)
    (group,) = _k006(tmp_path / "cm")
    assert (group.namespace, group.evidence["cloud_principals"][0]["principal"]) == ("team-a", CI)
    _estate(tmp_path / "api", entries, mode="API", extra=[auth], rbac=rbac)
    found = {f.evidence["subject"]: f for f in _k006(tmp_path / "api")}
    assert set(found) == {"group:deployers", f"user:{CI}"}
    assert "cloud_principals" not in found["group:deployers"].evidence  # aws-auth does not apply in API mode
    assert found[f"user:{CI}"].namespace == "team-b"


# -- aws-auth -------------------------------------------------------------------------------------------


def test_an_iam_user_mapped_to_system_masters_is_a_finding_though_the_group_is_expected(tmp_path: Path) -> None:
    auth = aws_auth(
        map_users=(
            "- userarn: arn:aws:iam::111122223333:user/admin\n  username: admin\n  groups:\n    - system:masters\n"
        )
    )
    _estate(tmp_path, [], extra=[auth])
    found = _k006(tmp_path)
    assert set(_subjects(found)) == set(TARGETS)
    f = found[0]
    assert f.evidence["subject"] == "group:system:masters"
    assert f.evidence["cloud_principals"][0]["principal"] == "arn:aws:iam::111122223333:user/admin"
    assert "bootstrap superuser group" in f.evidence["expected_by_default"]
    assert f.evidence["techniques"] == ["wildcard"]


def test_an_access_entry_wins_over_aws_auth_for_the_same_principal(tmp_path: Path) -> None:
    auth = aws_auth(map_roles=f"- rolearn: {CI}\n  username: ci\n  groups: [system:masters]\n")
    _estate(tmp_path, [entry(CI, ("AmazonEKSViewPolicy", "cluster", []))], extra=[auth])
    assert _k006(tmp_path) == []


def _corpus(name: str) -> dict[str, Any]:
    return yaml.safe_load((CORPUS / name).read_text())


def _parsed(name: str) -> tuple[list[tuple[str, str | None, tuple[str, ...]]], list[Any]]:
    found, errors = parse_aws_auth(_corpus(name).get("data"), "where", "prod")
    return [(m.arn, m.username, m.groups) for m in found], errors


VALID = [
    (
        "arn:aws:iam::555555555555:role/devel-worker-nodes-NodeInstanceRole-74RF4UBDUKL6",
        "system:node:{{EC2PrivateDNSName}}",
        ("system:bootstrappers", "system:nodes"),
    ),
    ("arn:aws:iam::555555555555:user/admin", "admin", ("system:masters",)),
]


def test_the_corpus_aws_auth_maps_parse_as_the_authenticator_parses_them() -> None:
    expected = json.loads((CORPUS / "EXPECTED.json").read_text())
    assert {c["file"] for c in expected["cases"]} == {p.name for p in CORPUS.glob("aws-auth*.yaml")}
    for case in ("aws-auth.yaml", "aws-auth-crazy-case-keys.yaml", "aws-auth-open-source-case-keys.yaml"):
        found, errors = _parsed(case)
        assert (found, errors) == (VALID, []), case
    for case in ("aws-auth-lower-case-top-keys.yaml", "aws-auth-crazy-case-top-keys.yaml"):
        assert _parsed(case) == ([], []), case  # top-level keys are case-sensitive: nothing mapped
    found, errors = _parsed("aws-auth-space-out-of-place.yaml")
    assert found[0][2] == ("system:bootstrappers - system:nodes",) and found[1] == VALID[1] and errors == []
    found, errors = _parsed("aws-auth-missing-bar.yaml")
    assert found == [VALID[1]] and [e.location for e in errors] == ["where: data.mapRoles"]


def test_an_unreadable_mapping_is_named_not_guessed() -> None:
    found, errors = parse_aws_auth({"mapRoles": "- rolearn: [a]\n- {groups: x}\n", "mapUsers": ": : :"}, "w", "prod")
    assert found == []
    assert [e.location for e in errors] == ["w: data.mapRoles[0]", "w: data.mapRoles[1]", "w: data.mapUsers"]


# -- power ------------------------------------------------------------------------------------------------


def test_aws_power_of_a_role_not_in_the_evidence_is_unknown(tmp_path: Path) -> None:
    _estate(tmp_path, None, role_policy=aws.doc(aws.allow("s3:ListBucket", "arn:aws:s3:::b")))
    inv = _inventory(tmp_path)
    missing = CloudIdentity("aws", "arn:aws:iam::111122223333:role/nope", "iam-role")
    assert aws_power(inv, missing).level == "unknown"
    link = next(lk for lk in inv.links if lk.identity is not None)
    assert aws_power(inv, link.identity).level == "read"
