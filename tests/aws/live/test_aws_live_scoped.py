"""`check` and `--namespace` fetch what their findings need, and only that: a fully checked ServiceAccount
passes `--strict`, and a scoped run says about its subjects what the whole run says."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_live_harness import LiveAws, Run
from test_aws_live_collect import BASE
from test_aws_live_paging import _first_page, _roles_of

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report

LIST_PIA, DESCRIBE_PIA = "eks:ListPodIdentityAssociations", "eks:DescribePodIdentityAssociation"


def _audit(run: Run, namespace: str | None = None, name: str | None = None) -> Report:
    from kubeiam_aws import PROVIDER as AWS
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    return audit(Evidence(run.output), providers=(KUBERNETES, AWS), namespace=namespace, service_account=name)


def test_a_bulk_read_stopped_after_its_first_page_writes_only_what_is_needed(live_aws: LiveAws) -> None:
    """Pages of 4 items: the first holds orders-api, and other roles whose policies are on pages never
    read. Those roles are not needed, so they are not written (a role without its policies would be
    reported as partly read), and `check` of orders/api is fully checked (its usage data read too, AWS-024)."""
    with live_aws.front.aws_paging(4):
        first = _roles_of([_first_page(live_aws)])
        run = live_aws.collect(service_account=("orders", "api"), aws_usage=True)
    assert "orders-api" in first and len(first) > 1
    assert run.calls["iam:GetAccountAuthorizationDetails"] == 1 and run.errors == []
    iam = run.load(f"{BASE}/iam.json")
    assert [r["RoleName"] for r in iam["RoleDetailList"]] == ["orders-api"]
    attached = {p["PolicyArn"] for p in iam["RoleDetailList"][0]["AttachedManagedPolicies"]}
    assert {p["Arn"] for p in iam["Policies"]} == attached
    report = _audit(run, "orders", "api")
    assert (report.coverage["errors"], report.coverage["unchecked"]) == ([], [])


def _associations(run: Run) -> list[tuple[str, str, str]]:
    found = run.load(f"{BASE}/eu-west-1/eks/demo-eks/pod-identity-associations.json")["associations"]
    return [(a["namespace"], a["serviceAccount"], a["roleArn"].rsplit("/", 1)[-1]) for a in found]


@pytest.mark.parametrize("scope", [{"service_account": ("payments", "api")}, {"namespace": "payments"}])
def test_a_scoped_run_reads_who_else_takes_its_pod_identity_role(live_aws: LiveAws, scope: dict[str, Any]) -> None:
    """payments/api takes billing-worker through Pod Identity, as billing/worker does: AWS-006. The list
    gives no role, so every other association of the cluster is described, and no other role is read."""
    run = live_aws.collect(**scope)
    assert _associations(run) == [
        ("billing", "worker", "billing-worker"),
        ("kube-system", "ebs-csi-controller-sa", "ebs-csi-driver"),
        ("payments", "api", "billing-worker"),
    ]
    roles = {r["RoleName"] for r in run.load(f"{BASE}/iam.json")["RoleDetailList"]}
    assert "ebs-csi-driver" not in roles and "billing-worker" in roles
    # The scope's list (1 page), the cluster's (3 associations, 2 a page here), each association described
    # once: the bound is the cluster's list and every association (5), plus the scope's list.
    assert (run.calls[LIST_PIA], run.calls[DESCRIBE_PIA]) == (3, 3)
    report = _audit(run, "payments", "api" if "service_account" in scope else None)
    shared = [f for f in report.findings if f.rule_id == "AWS-006" and f.service_account == "api"]
    assert [f.evidence["also_trusted"] for f in shared] == [["demo-eks/billing/worker"]]


def test_a_check_without_an_association_reads_no_other(live_aws: LiveAws) -> None:
    run = live_aws.collect(service_account=("orders", "api"))
    assert run.calls[LIST_PIA] == 1 and DESCRIBE_PIA not in run.calls and _associations(run) == []


def test_scoped_runs_read_only_the_node_groups_behind_their_nodes(live_aws: LiveAws) -> None:
    """By EKS's node label: no ListNodegroups, and none at all when the scope runs no pod."""
    with_pods = live_aws.collect(namespace="payments")
    assert "eks:ListNodegroups" not in with_pods.calls and with_pods.calls["eks:DescribeNodegroup"] == 1
    nodegroups = with_pods.load(f"{BASE}/eu-west-1/eks/demo-eks/nodegroups.json")["nodegroups"]
    assert [n["nodegroupName"] for n in nodegroups] == ["default"]
    assert with_pods.calls["ec2:DescribeLaunchTemplateVersions"] == 1
    no_pods = live_aws.collect(service_account=("orders", "api"))
    assert not {"eks:ListNodegroups", "eks:DescribeNodegroup"} & set(no_pods.calls)
    assert no_pods.load(f"{BASE}/eu-west-1/eks/demo-eks/nodegroups.json") == {"nodegroups": []}


# -- through the CLI, with the Kubernetes side collected for the scope only --------------------------


@pytest.mark.parametrize("target", ["orders/api", "web/backend", "kube-system/ebs-csi-controller-sa"])
def test_cli_check_of_a_fully_checked_service_account_passes_strict(
    live_cli: Callable[..., list[str]], run_cli: Callable[..., tuple[int, str, str]], target: str
) -> None:
    code, out, err = run_cli("check", target, *live_cli(), "--format", "json", "--strict", "--fail-on", "critical")
    coverage = json.loads(out)["coverage"]
    assert (coverage["errors"], coverage["unchecked"]) == ([], [])
    assert code == 0, err


def test_cli_scoped_runs_report_what_the_whole_run_reports(
    live_cli: Callable[..., list[str]], run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    options = live_cli()
    _, out, _ = run_cli("audit", *options, "--format", "json")
    whole = {f["fingerprint"]: f for f in json.loads(out)["findings"]}
    runs = [("check", f"{ns}/{name}") for ns, name in (("payments", "api"), ("billing", "worker"), ("orders", "api"))]
    runs.append(("audit", "--namespace=payments"))
    for command, target in runs:
        _, out, _ = run_cli(command, target, *options, "--format", "json")
        scoped = {f["fingerprint"]: f for f in json.loads(out)["findings"]}
        namespace = target.removeprefix("--namespace=").split("/")[0]
        name = target.split("/")[1] if command == "check" else None
        own = {
            fp
            for fp, f in whole.items()
            if f["namespace"] == namespace and f["service_account"] is not None and name in (None, f["service_account"])
        }
        assert own <= set(scoped), (target, sorted(whole[fp]["rule_id"] for fp in own - set(scoped)))
        for fp in own:
            assert scoped[fp]["evidence"] == whole[fp]["evidence"], (target, whole[fp]["rule_id"])
