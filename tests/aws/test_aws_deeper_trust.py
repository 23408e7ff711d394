"""Issue 15, item 11: the `eks.amazonaws.com/audience` annotation, Pod Identity trust scoped only by the role's own
`aws:SourceAccount`, and grants conditioned on the session tags EKS Pod Identity sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_evidence import (
    ACCOUNT,
    HOST,
    ISSUER,
    REGION,
    allow,
    cluster,
    doc,
    iam,
    irsa_trust,
    pod_identity_trust,
    role,
    role_arn,
    service_account,
    write,
)

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers


def _providers(root: Path, client_ids: list[str]) -> None:
    provider = {"Arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}", "Url": HOST, "ClientIDList": client_ids}
    write(root / "aws" / ACCOUNT / "oidc-providers.json", {"OpenIDConnectProviderList": [provider]})


def _audience_audit(root: Path, *, annotated: str | None, trusted_aud: str, client_ids: list[str]) -> Any:
    trust = irsa_trust("apps", "app")
    trust["Statement"][0]["Condition"]["StringEquals"][f"{HOST}:aud"] = trusted_aud
    iam(root, [role("app-role", trust)])
    _providers(root, client_ids)
    sa = service_account("apps", "app", role_arn("app-role"))
    if annotated:
        sa["metadata"]["annotations"]["eks.amazonaws.com/audience"] = annotated
    cluster(root, [sa])
    return audit(Evidence(root), providers=load_providers())


def test_a_custom_token_audience_is_not_a_broken_binding(tmp_path):
    """False positive before: the `aud` test was always judged against sts.amazonaws.com."""
    report = _audience_audit(tmp_path, annotated="vault", trusted_aud="vault", client_ids=["vault"])
    assert report.coverage["identities"]["aws"]["resolved"] == 1
    assert not [f for f in report.findings if f.rule_id == "AWS-004"]


def test_the_default_audience_against_a_custom_aud_test_is_broken(tmp_path):
    report = _audience_audit(tmp_path, annotated=None, trusted_aud="vault", client_ids=["vault", "sts.amazonaws.com"])
    (broken,) = [f for f in report.findings if f.rule_id == "AWS-004"]
    assert broken.evidence["reason"] == "trust does not admit the token audience sts.amazonaws.com (aud allows vault)"


def test_an_audience_the_oidc_provider_does_not_list_is_refused_by_sts(tmp_path):
    report = _audience_audit(tmp_path, annotated="vault", trusted_aud="vault", client_ids=["sts.amazonaws.com"])
    (broken,) = [f for f in report.findings if f.rule_id == "AWS-004"]
    assert broken.evidence["reason"].startswith("the IAM OIDC provider's ClientIDList does not list the audience vault")


def _pod_identity(
    root: Path, trust: dict[str, Any], inline: dict[str, Any], sas: list[tuple[str, str]], **more: Any
) -> Any:
    iam(root, [role("shared", trust, inline={"p": inline})])
    cluster(root, [service_account(ns, name) for ns, name in sas])
    base = root / "aws" / ACCOUNT / REGION / "eks" / "eks-test"
    arn = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-test"
    write(
        base / "cluster.json", {"cluster": {"name": "eks-test", "arn": arn, "identity": {"oidc": {"issuer": ISSUER}}}}
    )
    associations = [
        {
            "clusterName": "eks-test",
            "namespace": ns,
            "serviceAccount": name,
            "roleArn": role_arn("shared"),
            "associationId": f"a-{i}",
            **more,
        }
        for i, (ns, name) in enumerate(sas)
    ]
    write(base / "pod-identity-associations.json", {"associations": associations})
    return audit(Evidence(root), providers=load_providers())


def test_source_account_equal_to_the_role_account_scopes_nothing(tmp_path):
    """False negative before: a trust whose only condition always holds passed as scoped."""
    own = pod_identity_trust(StringEquals={"aws:SourceAccount": ACCOUNT})
    report = _pod_identity(tmp_path / "own", own, doc(allow("s3:ListBucket")), [("apps", "app")])
    assert [f.rule_id for f in report.findings if f.rule_id == "AWS-007"] == ["AWS-007"]
    cluster_arn = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-test"
    scoped = pod_identity_trust(StringEquals={"aws:SourceAccount": ACCOUNT}, ArnEquals={"aws:SourceArn": cluster_arn})
    report = _pod_identity(tmp_path / "arn", scoped, doc(allow("s3:ListBucket")), [("apps", "app")])
    assert not [f for f in report.findings if f.rule_id == "AWS-007"]
    every = pod_identity_trust(ArnLike={"aws:SourceArn": f"arn:aws:eks:*:{ACCOUNT}:cluster/*"})
    report = _pod_identity(tmp_path / "any", every, doc(allow("s3:ListBucket")), [("apps", "app")])
    assert [f.rule_id for f in report.findings if f.rule_id == "AWS-007"] == ["AWS-007"]


def test_a_grant_on_the_namespace_session_tag_is_decided_per_association(tmp_path):
    """A role shared by two namespaces; its PassRole + RunInstances only for sessions tagged `ci`. Before, the
    condition was 'maybe' for both: both ServiceAccounts were reported as escalating."""
    ci_only = {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "ci"}}
    grant = doc(allow(["iam:PassRole", "ec2:RunInstances"], "*", **ci_only), allow("s3:ListBucket"))
    report = _pod_identity(tmp_path, pod_identity_trust(), grant, [("ci", "runner"), ("web", "frontend")])
    assert report.coverage["identities"]["aws"]["resolved"] == 2
    escalating = {f.namespace for f in report.findings if f.rule_id == "AWS-014"}
    assert escalating == {"ci"}
    (esc,) = [f for f in report.findings if f.rule_id == "AWS-014"]
    assert esc.evidence["pod_identity_association"] == "eks-test/ci/runner"


def test_session_tags_disabled_leave_the_condition_undecided(tmp_path):
    """Without session tags the key may come from the role's own tags (not read): the grant stays."""
    ci_only = {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "ci"}}
    grant = doc(allow(["iam:PassRole", "ec2:RunInstances"], "*", **ci_only))
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    report = _pod_identity(tmp_path, trust, grant, [("web", "frontend")], disableSessionTags=True)
    assert report.coverage["identities"]["aws"]["resolved"] == 1
    assert {f.namespace for f in report.findings if f.rule_id == "AWS-014"} == {"web"}
