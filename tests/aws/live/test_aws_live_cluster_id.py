"""The cluster's stable id (its EKS ARN) does not depend on eks:DescribeCluster: the kubeconfig names it.
What EKS could not tell is said per ServiceAccount (Pod Identity) and per cluster (node groups), for the
rules whose findings it may hide, so a baseline marks them not re-checked, never resolved."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from aws_live_harness import LiveAws, Run
from kubeiam_aws.live.coverage import IRSA_TRUST_RULES, NODE_TEMPLATE_RULES, POD_IDENTITY_RULES
from test_aws_live_collect import BASE, force

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report
from kubeiam.quarterly.baseline import Rechecked

EKS = f"{BASE}/eu-west-1/eks/demo-eks"
SERVICE_ACCOUNTS = 10  # in the estate's cluster


def _report(run: Run) -> Report:
    from kubeiam_aws import PROVIDER as AWS
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    return audit(Evidence(run.output), providers=(KUBERNETES, AWS))


def _collect(live_aws: LiveAws, arn: bool, deny: set[str] = frozenset()) -> Run:  # type: ignore[assignment]
    n = len(list(live_aws.tmp.iterdir()))
    root = live_aws.evidence(f"ev{n}", kubeconfig_name=live_aws.estate.cluster_arn if arn else None)
    with live_aws.front.faults(deny=deny):
        return live_aws.collect(root=root)


def test_denied_describe_cluster_changes_no_fingerprint(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    allowed = _collect(live_aws, arn=True)
    denied = _collect(live_aws, arn=True, deny={"eks:DescribeCluster"})
    # The kubeconfig's ARN names the cluster, its region and account (the credentials' too, STS says):
    # EKS is still asked for the rest.
    assert denied.calls["sts:GetCallerIdentity"] == 1
    assert {"eks:ListNodegroups", "eks:ListPodIdentityAssociations"} <= set(denied.calls)
    assert not (denied.output / EKS / "cluster.json").exists()
    assert (denied.output / EKS / "nodegroups.json").exists()
    assert (denied.output / EKS / "pod-identity-associations.json").exists()
    said = [(e.location, e.subject, e.rules) for e in denied.errors if e.location.startswith("eks:")]
    assert said == [("eks:DescribeCluster demo-eks", "demo-eks", IRSA_TRUST_RULES)]
    before, after = _report(allowed), _report(denied)
    assert {f.fingerprint for f in before.findings} == {f.fingerprint for f in after.findings} != set()
    assert {"AWS-007", "AWS-022"} <= {f.rule_id for f in after.findings}


def test_the_arn_names_the_cluster_when_the_kubernetes_name_differs(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renamed evidence folder: the ARN's name is asked for at once (no ListClusters)."""
    force(monkeypatch, "per-role")
    root = live_aws.evidence("renamed", kubeconfig_name=live_aws.estate.cluster_arn)
    (root / "kubernetes" / "demo-eks").rename(root / "kubernetes" / "prod-eu")
    run = live_aws.collect(root=root, service_account=("billing", "worker"))
    assert "eks:ListClusters" not in run.calls and run.errors == []
    assert run.load(f"{BASE}/eu-west-1/eks/prod-eu/cluster.json")["cluster"]["name"] == "demo-eks"


def test_an_arn_of_another_account_is_not_asked_for(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """EKS answers for the caller's own account only: with the credentials of another account, the ARN's
    name would read a same-named cluster of the wrong account. Nothing more is asked of EKS."""
    force(monkeypatch, "per-role")
    other = live_aws.estate.cluster_arn.replace(f":{live_aws.estate.account}:", ":210987654321:")
    root = live_aws.evidence("other-account", kubeconfig_name=other)
    with live_aws.front.faults(deny={"eks:DescribeCluster"}):
        run = live_aws.collect(root=root, namespace="payments")
    assert not [op for op in run.calls if op.startswith("eks:") and op != "eks:DescribeCluster"]
    assert [(e.subject, e.rules) for e in run.errors if e.location.startswith("eks:") and not e.rules] == [
        ("demo-eks", ())
    ]
    assert {e.subject for e in run.errors if "Pod Identity not read" in e.reason} == {"demo-eks/payments/api"}
    # Allowed, DescribeCluster finds the caller's same-named cluster: not the one the ARN names.
    run = live_aws.collect(root=live_aws.evidence("other-account-2", kubeconfig_name=other), namespace="payments")
    assert not (run.output / EKS / "cluster.json").exists()
    assert [e.subject for e in run.errors if e.location.startswith("eks:DescribeCluster")] == ["demo-eks"]


@pytest.mark.parametrize("deny", [{"eks:DescribeCluster"}, {"eks:ListNodegroups"}, {"eks:ListPodIdentityAssociations"}])
def test_what_eks_did_not_tell_is_not_re_checked_never_resolved(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, deny: set[str]
) -> None:
    """No ARN in the kubeconfig: a denied DescribeCluster leaves node groups and every ServiceAccount's
    Pod Identity unread; a denied list leaves its own part unread. A previous run's findings of those
    rules are then not re-checked (never resolved); the others are re-checked."""
    force(monkeypatch, "per-role")
    previous = _report(_collect(live_aws, arn=False))
    run = _collect(live_aws, arn=False, deny=deny)
    pod_identity = [e for e in run.errors if "Pod Identity not read" in e.reason]
    nodegroups = [e for e in run.errors if e.rules == NODE_TEMPLATE_RULES]
    if deny != {"eks:ListNodegroups"}:
        assert len(pod_identity) == SERVICE_ACCOUNTS
        assert all(e.rules == POD_IDENTITY_RULES and e.subject.count("/") == 2 for e in pod_identity)
    if deny != {"eks:ListPodIdentityAssociations"}:
        assert [(e.subject, e.rules) for e in nodegroups] == [("demo-eks", ("AWS-022",))]

    def rechecked_by(report: Report) -> Rechecked:
        return Rechecked(report.coverage, {r: "aws" for r in report.catalogue if r.startswith("AWS-")})

    already, now = rechecked_by(previous), rechecked_by(_report(run))
    hidden = HIDDEN[next(iter(deny))]
    compared = [f for f in previous.findings if already(f.to_dict())]  # (not those the first run left out)
    assert {f.rule_id for f in compared} >= {"AWS-007", "AWS-020", "AWS-022"}
    for f in compared:
        unread = hidden is None or (f.rule_id in hidden[0] and (f.service_account is None) == hidden[1])
        assert now(f.to_dict()) is not unread, (f.rule_id, f.service_account, f.node)


HIDDEN = {
    "eks:DescribeCluster": None,  # the account is a guess: every AWS finding of the cluster
    "eks:ListNodegroups": (set(NODE_TEMPLATE_RULES), True),  # (rules, about nodes rather than ServiceAccounts)
    "eks:ListPodIdentityAssociations": (set(POD_IDENTITY_RULES), False),
}


def test_cli_denied_describe_cluster_changes_no_fingerprint(
    live_aws: LiveAws,
    live_cli: Callable[..., list[str]],
    run_cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kubeconfig names the cluster by its ARN (`aws eks update-kubeconfig`): the live collection
    records it, and the fingerprints are those of a run allowed to describe the cluster."""
    force(monkeypatch, "per-role")
    options = live_cli()
    _, out, _ = run_cli("audit", *options, "--format", "json")
    with live_aws.front.faults(deny={"eks:DescribeCluster"}):
        _, denied_out, _ = run_cli("audit", *options, "--format", "json")
    allowed, denied = json.loads(out), json.loads(denied_out)
    assert {f["fingerprint"] for f in allowed["findings"]} == {f["fingerprint"] for f in denied["findings"]}
    assert [c["id"] for c in denied["coverage"]["clusters"]] == [live_aws.estate.cluster_arn]
    assert any(e["location"].startswith("eks:DescribeCluster") for e in denied["coverage"]["errors"])
