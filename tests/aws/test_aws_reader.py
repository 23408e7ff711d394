"""Reading the AWS evidence files: shapes, bad input, link statuses, cluster matching, nodes."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from aws_evidence import (
    ACCOUNT,
    HOST,
    ISSUER,
    NODE_TRUST,
    REGION,
    allow,
    cluster,
    doc,
    iam,
    instances,
    irsa_trust,
    node,
    oidc_providers,
    pod_identity_trust,
    policy,
    policy_arn,
    rbac,
    role,
    role_arn,
    service_account,
    write,
)
from kubeiam_aws.declarations import AWS

from kubeiam.pipeline.audit import read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.model import LinkStatus


def _read(root: Path):
    return read_inventory(Evidence(root), load_providers())


def _status(inv, name: str) -> tuple[LinkStatus, str]:
    link = next(link for link in inv.links if link.service_account == name and link.cloud == AWS)
    return link.status, link.reason


def test_url_encoded_documents_are_read(tmp_path):
    trust = quote(json.dumps(irsa_trust("apps", "app")))
    inline = quote(json.dumps(doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))))
    iam(tmp_path, [role("r", trust, inline={"p": inline})])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    inv = _read(tmp_path)
    assert _status(inv, "app")[0] is LinkStatus.RESOLVED
    grant = inv.views["aws"].roles[role_arn("r")].grants[0]
    assert grant.statements[0].actions == ("s3:GetObject",)


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_every_partition_resolves(tmp_path, partition):
    arn = f"arn:{partition}:iam::{ACCOUNT}:role/r"
    trust = json.loads(json.dumps(irsa_trust("apps", "app")).replace("arn:aws:", f"arn:{partition}:"))
    entry = role("r", trust) | {"Arn": arn}
    iam(tmp_path, [entry])
    cluster(tmp_path, [service_account("apps", "app", arn)])
    assert _status(_read(tmp_path), "app")[0] is LinkStatus.RESOLVED


def test_cross_account_role_is_unchecked_without_its_account_and_resolved_with_it(tmp_path):
    other = "444455556666"
    arn = role_arn("shared", other)
    iam(tmp_path, [role("local", irsa_trust("apps", "x"))])
    cluster(tmp_path, [service_account("apps", "app", arn)])
    status, reason = _status(_read(tmp_path), "app")
    assert status is LinkStatus.UNCHECKED and f"aws/{other}/iam.json" in reason

    iam(tmp_path, [role("shared", irsa_trust("apps", "app", account=other), account=other)], account=other)
    assert _status(_read(tmp_path), "app")[0] is LinkStatus.RESOLVED


def test_unchecked_when_no_aws_evidence_at_all(tmp_path):
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    rbac(tmp_path)  # the Kubernetes side whole: what remains would be AWS's
    inv = _read(tmp_path)
    assert _status(inv, "app")[0] is LinkStatus.UNCHECKED
    assert inv.errors == ()  # no aws/ folder: no node coverage noise for a Kubernetes-only audit


def test_missing_and_untrusted(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "someone-else"))])
    cluster(
        tmp_path, [service_account("apps", "app", role_arn("r")), service_account("apps", "ghost", role_arn("nope"))]
    )
    inv = _read(tmp_path)
    status, reason = _status(inv, "app")
    assert status is LinkStatus.UNTRUSTED and "system:serviceaccount:apps:someone-else" in reason
    assert _status(inv, "ghost")[0] is LinkStatus.MISSING


def test_role_under_another_path_is_not_the_annotated_role(tmp_path):
    entry = role("r", irsa_trust("apps", "app")) | {"Path": "/team/", "Arn": f"arn:aws:iam::{ACCOUNT}:role/team/r"}
    iam(tmp_path, [entry])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r")), service_account("apps", "b", entry["Arn"])])
    inv = _read(tmp_path)
    assert _status(inv, "app")[0] is LinkStatus.MISSING
    assert _status(inv, "b")[0] is LinkStatus.UNTRUSTED  # trust names apps/app, not apps/b


def test_oidc_provider_missing_from_account_makes_trust_unusable(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "app"))])
    oidc_providers(tmp_path, hosts=["oidc.eks.us-east-1.amazonaws.com/id/OTHER"])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    status, reason = _status(_read(tmp_path), "app")
    assert status is LinkStatus.UNTRUSTED and "no IAM OIDC provider" in reason


def _eks(root: Path, name: str, issuer: str | None, **files) -> None:
    base = root / "aws" / ACCOUNT / REGION / "eks" / name
    cl = {"name": name, "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{name}", "status": "ACTIVE"}
    if issuer:
        cl["identity"] = {"oidc": {"issuer": issuer}}
    write(base / "cluster.json", {"cluster": cl})
    for fname, content in files.items():
        write(base / f"{fname.replace('_', '-')}.json", content)


def test_clusters_match_by_issuer_before_name(tmp_path):
    iam(tmp_path, [])
    cluster(tmp_path, [service_account("apps", "app")], name="prod-context")
    _eks(tmp_path, "eks-prod", ISSUER)
    _eks(tmp_path, "prod-context", "https://oidc.eks.us-east-1.amazonaws.com/id/OTHER")
    inv = _read(tmp_path)
    assert inv.cluster("prod-context").stable_id == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-prod"


def test_cluster_without_openid_configuration_gets_issuer_from_eks_by_name(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "app"))])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))], issuer=None)
    _eks(tmp_path, "eks-test", ISSUER)
    inv = _read(tmp_path)
    assert inv.cluster("eks-test").issuer == ISSUER
    assert _status(inv, "app")[0] is LinkStatus.RESOLVED


def test_unknown_issuer_resolves_but_says_trust_unverified(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "app"))])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))], issuer=None)
    status, reason = _status(_read(tmp_path), "app")
    assert status is LinkStatus.RESOLVED and "not verified" in reason


def test_pod_identity_associations(tmp_path):
    iam(tmp_path, [role("pi", pod_identity_trust()), role("irsa-only", irsa_trust("apps", "b"))])
    cluster(tmp_path, [service_account("apps", n) for n in ("a", "b", "c")])
    assoc = [
        {"clusterName": "eks-test", "namespace": "apps", "serviceAccount": "a", "roleArn": role_arn("pi")},
        {"clusterName": "eks-test", "namespace": "apps", "serviceAccount": "b", "roleArn": role_arn("irsa-only")},
        {"clusterName": "eks-test", "namespace": "apps", "serviceAccount": "c", "roleArn": role_arn("gone")},
        {"clusterName": "eks-test", "namespace": "apps", "serviceAccount": "not-in-cluster", "roleArn": role_arn("pi")},
    ]
    _eks(tmp_path, "eks-test", ISSUER, pod_identity_associations={"associations": assoc})
    inv = _read(tmp_path)
    links = {(link.service_account, link.mechanism, link.status) for link in inv.links}
    assert links == {
        ("a", "eks-pod-identity", LinkStatus.RESOLVED),
        ("b", "eks-pod-identity", LinkStatus.UNTRUSTED),
        ("c", "eks-pod-identity", LinkStatus.MISSING),
    }


CLUSTER_ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-test"


@pytest.mark.parametrize(
    ("trust", "association", "status", "why"),
    [
        (pod_identity_trust(), {}, LinkStatus.RESOLVED, ""),
        (
            pod_identity_trust(
                StringEquals={"aws:SourceAccount": ACCOUNT, "aws:RequestTag/kubernetes-namespace": "apps"},
                ArnEquals={"aws:SourceArn": CLUSTER_ARN},
            ),
            {},
            LinkStatus.RESOLVED,
            "",
        ),
        (
            pod_identity_trust(ArnLike={"aws:SourceArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-*"}),
            {},
            LinkStatus.RESOLVED,
            "",
        ),
        # Scoped to someone else: STS refuses, the pod falls back to other credentials.
        (pod_identity_trust(StringEquals={"aws:SourceAccount": "999999999999"}), {}, LinkStatus.UNTRUSTED, "exclude"),
        (pod_identity_trust(ArnEquals={"aws:SourceArn": CLUSTER_ARN + "-other"}), {}, LinkStatus.UNTRUSTED, "exclude"),
        (
            pod_identity_trust(StringEquals={"aws:RequestTag/kubernetes-service-account": "other"}),
            {},
            LinkStatus.UNTRUSTED,
            "exclude",
        ),
        # Tags are case-sensitive values.
        (
            pod_identity_trust(StringEquals={"aws:RequestTag/kubernetes-namespace": "Apps"}),
            {},
            LinkStatus.UNTRUSTED,
            "exclude",
        ),
        # No sts:TagSession: refused while the association passes session tags, fine once it disables them.
        (
            {"Statement": [{**pod_identity_trust()["Statement"][0], "Action": "sts:AssumeRole"}]},
            {},
            LinkStatus.UNTRUSTED,
            "sts:TagSession",
        ),
        (
            {"Statement": [{**pod_identity_trust()["Statement"][0], "Action": "sts:AssumeRole"}]},
            {"disableSessionTags": True},
            LinkStatus.RESOLVED,
            "",
        ),
        # Tag conditions cannot hold without tags.
        (
            pod_identity_trust(StringEquals={"aws:RequestTag/kubernetes-namespace": "apps"}),
            {"disableSessionTags": True},
            LinkStatus.UNTRUSTED,
            "exclude",
        ),
        # A condition on something else may hold: never fail a trust on a guess.
        (pod_identity_trust(StringEquals={"aws:PrincipalTag/team": "x"}), {}, LinkStatus.RESOLVED, ""),
    ],
)
def test_pod_identity_trust_is_judged_for_the_association(tmp_path, trust, association, status, why):
    iam(tmp_path, [role("pi", trust)])
    cluster(tmp_path, [service_account("apps", "a")])
    assoc = {"clusterName": "eks-test", "namespace": "apps", "serviceAccount": "a", "roleArn": role_arn("pi")}
    _eks(tmp_path, "eks-test", ISSUER, pod_identity_associations={"associations": [{**assoc, **association}]})
    (link,) = _read(tmp_path).links
    assert link.status is status
    assert why in (link.reason or "")


def test_nodes_resolve_instance_imds_and_node_role(tmp_path):
    iam(tmp_path, [role("node", NODE_TRUST, profiles=["node-profile"])])
    cluster(tmp_path, [node("n1", "i-0000000000000000a"), node("n2", "i-0000000000000000b")])
    instances(tmp_path, [("i-0000000000000000a", "node-profile", "optional", 2)])
    inv = _read(tmp_path)
    n1 = inv.views["aws"].node("eks-test", "n1")
    assert (n1.imds.http_tokens, n1.imds.hop_limit, n1.role_arn) == ("optional", 2, role_arn("node"))
    assert inv.views["aws"].node("eks-test", "n2") is None
    assert [e.subject for e in inv.errors] == ["eks-test/node/n2"]  # never silently clean


def test_attached_policy_without_document_is_a_coverage_error(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "app"), attached=[policy_arn("elsewhere")])])
    oidc_providers(tmp_path)
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    rbac(tmp_path)
    inv = _read(tmp_path)
    assert [(e.source, e.subject) for e in inv.errors] == [("aws", role_arn("r"))]
    assert inv.views["aws"].roles[role_arn("r")].missing_policies == (policy_arn("elsewhere"),)


def test_known_aws_managed_policy_is_judged_without_its_document(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "app"), attached=["arn:aws:iam::aws:policy/AdministratorAccess"])])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    from kubeiam.pipeline.audit import audit

    rules = {f.rule_id for f in audit(Evidence(tmp_path), providers=load_providers()).findings}
    assert "AWS-010" in rules


def test_default_policy_version_is_the_one_judged(tmp_path):
    arn = policy_arn("p")
    entry = policy(arn, doc(allow("s3:ListBucket", "arn:aws:s3:::b")), version="v2")
    entry["PolicyVersionList"].append({"Document": doc(allow("*")), "VersionId": "v1", "IsDefaultVersion": False})
    iam(tmp_path, [role("r", irsa_trust("apps", "app"), attached=[arn])], [entry])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    grants = _read(tmp_path).views["aws"].roles[role_arn("r")].grants
    assert [s.actions for g in grants for s in g.statements] == [("s3:ListBucket",)]


def test_trust_host_comparison_ignores_case(tmp_path):
    trust = json.loads(json.dumps(irsa_trust("apps", "app")).replace(HOST, HOST.lower()))
    iam(tmp_path, [role("r", trust)])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    assert _status(_read(tmp_path), "app")[0] is LinkStatus.RESOLVED


def test_role_the_collection_could_not_read_is_unchecked_not_missing(tmp_path):
    iam(tmp_path, [role("r", irsa_trust("apps", "app"))])
    cluster(
        tmp_path,
        [service_account("apps", "denied", role_arn("locked")), service_account("apps", "gone", role_arn("nope"))],
    )
    (tmp_path / "collection-errors.json").write_text(
        json.dumps(
            {"errors": [{"source": "aws", "location": f"iam:GetRole {role_arn('locked')}", "reason": "AccessDenied"}]}
        )
    )
    inv = _read(tmp_path)
    status, reason = _status(inv, "denied")
    assert status is LinkStatus.UNCHECKED and "AccessDenied" in reason
    assert _status(inv, "gone")[0] is LinkStatus.MISSING


def _reasons(inv) -> list[tuple[str, str | None]]:
    # Without usage files every role in scope gets its AWS-024 note (tests/aws/test_aws_unused_evidence.py).
    return [(e.location, e.subject) for e in inv.errors if e.rules != ("AWS-024",)]


def test_partial_evidence_is_never_silently_clean(tmp_path):
    """Each missing piece that decides a verdict gives a coverage entry (none when the piece is there)."""
    iam(tmp_path, [role("r", irsa_trust("apps", "app"))])
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    rbac(tmp_path)
    # No oidc-providers.json: the provider's existence is not checked.
    assert _reasons(_read(tmp_path)) == [(f"aws/{ACCOUNT}/oidc-providers.json", "eks-test")]
    oidc_providers(tmp_path)
    assert _reasons(_read(tmp_path)) == []
    # No issuer: the trust is not verified.
    (tmp_path / "kubernetes" / "eks-test" / "openid-configuration.json").unlink()
    inv = _read(tmp_path)
    assert [link.status for link in inv.links] == [LinkStatus.RESOLVED]
    assert _reasons(inv) == [("kubernetes/eks-test/openid-configuration.json", "eks-test")]


def test_nodes_without_any_aws_evidence_are_listed_per_cluster(tmp_path):
    cluster(tmp_path, [node("n1", "i-0000000000000000a"), node("n2", "i-0000000000000000b")])
    (error,) = _read(tmp_path).errors
    assert error.subject == "eks-test" and error.reason.startswith("2 node(s) run on EC2")


def test_node_whose_instance_profile_has_no_role_in_evidence(tmp_path):
    iam(tmp_path, [])
    cluster(tmp_path, [node("n1", "i-0000000000000000a")])
    instances(tmp_path, [("i-0000000000000000a", "node-profile", "optional", 2)])
    inv = _read(tmp_path)
    assert inv.views["aws"].node("eks-test", "n1").role_arn is None
    assert _reasons(inv) == [(f"aws/{ACCOUNT}/iam.json", "eks-test/node/n1")]


def test_launch_template_version_absent_is_a_coverage_error(tmp_path):
    iam(tmp_path, [])
    cluster(tmp_path, [service_account("apps", "app")])
    ng = {"nodegroupName": "general", "launchTemplate": {"id": "lt-0abc", "version": "3"}}
    _eks(tmp_path, "eks-test", ISSUER, nodegroups={"nodegroups": [ng]}, pod_identity_associations={"associations": []})
    lt = {"LaunchTemplateId": "lt-0abc", "VersionNumber": 2, "LaunchTemplateData": {}}
    write(tmp_path / "aws" / ACCOUNT / REGION / "launch-template-versions.json", {"LaunchTemplateVersions": [lt]})
    inv = _read(tmp_path)
    assert inv.views["aws"].templates == ()
    expected = (f"aws/{ACCOUNT}/{REGION}/launch-template-versions.json", "eks-test/node/nodegroup/general")
    assert _reasons(inv) == [expected]
    lt["VersionNumber"] = 3
    write(tmp_path / "aws" / ACCOUNT / REGION / "launch-template-versions.json", {"LaunchTemplateVersions": [lt]})
    inv = _read(tmp_path)
    assert [t.subject for t in inv.views["aws"].templates] == ["nodegroup/general"] and _reasons(inv) == []


def test_pod_identity_of_an_unmatched_eks_cluster_is_a_coverage_error(tmp_path):
    iam(tmp_path, [role("pi", pod_identity_trust())])
    cluster(tmp_path, [service_account("apps", "a")], name="other")
    assoc = {"clusterName": "eks-x", "namespace": "apps", "serviceAccount": "a", "roleArn": role_arn("pi")}
    _eks(
        tmp_path,
        "eks-x",
        "https://oidc.eks.us-east-1.amazonaws.com/id/X",
        pod_identity_associations={"associations": [assoc]},
    )
    inv = _read(tmp_path)
    assert inv.links == ()
    assert _reasons(inv) == [(f"aws/{ACCOUNT}/{REGION}/eks/eks-x/cluster.json", "eks-x")]


@pytest.mark.parametrize(
    ("principal", "status"),
    [
        (role_arn("pi"), LinkStatus.RESOLVED),
        (f"arn:aws:iam::{ACCOUNT}:root", LinkStatus.RESOLVED),
        (role_arn("someone-else"), LinkStatus.UNTRUSTED),
    ],
)
def test_pod_identity_target_role_is_what_the_pod_gets(tmp_path, principal, status):
    """A cross-account association hands the pod `targetRoleArn`'s credentials: that role is linked and judged."""
    other = "444455556666"
    target_trust = doc(
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
    )
    iam(tmp_path, [role("pi", pod_identity_trust())])
    iam(tmp_path, [role("target", target_trust, account=other)], account=other)
    cluster(tmp_path, [service_account("apps", "a")])
    assoc = {
        "namespace": "apps",
        "serviceAccount": "a",
        "roleArn": role_arn("pi"),
        "targetRoleArn": role_arn("target", other),
    }
    _eks(tmp_path, "eks-test", ISSUER, pod_identity_associations={"associations": [assoc]})
    links = {link.principal: link.status for link in _read(tmp_path).links}
    assert links == {role_arn("pi"): LinkStatus.RESOLVED, role_arn("target", other): status}


def test_pod_identity_target_role_in_an_account_without_evidence_is_unchecked(tmp_path):
    iam(tmp_path, [role("pi", pod_identity_trust())])
    cluster(tmp_path, [service_account("apps", "a")])
    assoc = {
        "namespace": "apps",
        "serviceAccount": "a",
        "roleArn": role_arn("pi"),
        "targetRoleArn": role_arn("t", "444455556666"),
    }
    _eks(tmp_path, "eks-test", ISSUER, pod_identity_associations={"associations": [assoc]})
    statuses = sorted(str(link.status) for link in _read(tmp_path).links)
    assert statuses == ["resolved", "unchecked"]
