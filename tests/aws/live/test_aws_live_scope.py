"""What a live collection asks AWS for, decided from the Kubernetes inventory alone (no AWS here)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pytest
from kubeiam_aws.declarations import AWS
from kubeiam_aws.live.clients import AwsCallFailed, CallCounter
from kubeiam_aws.live.collector import _account_profiles
from kubeiam_aws.live.plan import EksArn, build_scope, parse_eks_arn, parse_role_arn, region_of_zone
from kubeiam_gcp.declarations import GCP

from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.model import Cluster, Inventory, Node, ServiceAccount, Workload

ROLE = "eks.amazonaws.com/role-arn"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:iam::123456789012:role/app", ("aws", "123456789012", "app")),
        ("arn:aws-cn:iam::123456789012:role/app", ("aws-cn", "123456789012", "app")),
        ("arn:aws-us-gov:iam::123456789012:role/team/app", ("aws-us-gov", "123456789012", "app")),
        ("arn:aws:iam::123456789012:user/app", None),
        ("arn:aws:iam::12345:role/app", None),
        ("not-an-arn", None),
    ],
)
def test_role_arns_of_every_partition(arn: str, expected: tuple[str, str, str] | None) -> None:
    ref = parse_role_arn(arn)
    assert (None if ref is None else (ref.partition, ref.account, ref.name)) == expected


@pytest.mark.parametrize(
    ("zone", "region"),
    [
        ("eu-west-1a", "eu-west-1"),
        ("us-west-2-lax-1a", "us-west-2"),
        ("us-gov-west-1b", "us-gov-west-1"),
        ("cn-north-1a", "cn-north-1"),
        ("nowhere", None),
    ],
)
def test_region_of_a_zone(zone: str, region: str | None) -> None:
    assert region_of_zone(zone) == region


def _inventory() -> Inventory:
    sas = (
        ServiceAccount("c", "a", "one", {ROLE: "arn:aws:iam::111111111111:role/one"}),
        ServiceAccount("c", "a", "two", {ROLE: "arn:aws:iam::111111111111:role/two"}),
        ServiceAccount("c", "b", "three", {ROLE: "arn:aws:iam::222222222222:role/three"}),
        ServiceAccount("c", "b", "plain"),
    )
    nodes = (
        Node("c", "n1", "aws:///ap-south-1a/i-0123456789abcdef0"),
        Node("c", "n2", "aws:///ap-south-1b/i-0123456789abcdef1", {"topology.kubernetes.io/region": "ap-south-1"}),
    )
    workloads = (
        Workload("c", "a", "p1", "one", "n1", "Pod", "p1"),
        Workload("c", "b", "p2", "plain", "n2", "Pod", "p2"),
    )
    return Inventory(
        clusters=(Cluster("c", AWS), Cluster("gke", GCP), Cluster("kind", None)),
        service_accounts=sas,
        nodes=nodes,
        workloads=workloads,
    )


def _request(**kw) -> CollectRequest:
    options = argparse.Namespace(**kw.pop("options", {}))
    return CollectRequest(options=options, output=Path("/nonexistent"), **kw)


def test_whole_audit_scope() -> None:
    scope = build_scope(_request(), _inventory(), "us-east-1")
    assert [c.name for c in scope.clusters] == ["c"]  # GKE and an unannotated kind cluster are not AWS's
    (c,) = scope.clusters
    assert c.region == "ap-south-1"  # from the nodes, before the profile's region
    assert sorted(c.irsa) == [
        "arn:aws:iam::111111111111:role/one",
        "arn:aws:iam::111111111111:role/two",
        "arn:aws:iam::222222222222:role/three",
    ]
    assert c.instances() == {"ap-south-1": ["i-0123456789abcdef0", "i-0123456789abcdef1"]}


def test_namespace_and_check_narrow_roles_and_nodes() -> None:
    ns = build_scope(_request(namespace="b"), _inventory(), None).clusters[0]
    assert list(ns.irsa) == ["arn:aws:iam::222222222222:role/three"]
    assert [n.name for n in ns.nodes] == ["n2"]  # only where the namespace's pods run
    one = build_scope(_request(service_account=("a", "one")), _inventory(), None)
    (c,) = one.clusters
    assert list(c.irsa) == ["arn:aws:iam::111111111111:role/one"] and c.irsa[next(iter(c.irsa))] == ["c/a/one"]
    assert [n.name for n in c.nodes] == ["n1"] and not one.full


def test_region_option_wins() -> None:
    scope = build_scope(_request(options={"aws_region": "eu-central-1"}), _inventory(), "us-east-1")
    assert scope.clusters[0].region == "eu-central-1"


def test_account_profiles_option() -> None:
    assert _account_profiles(["111111111111=audit", "bad", "x=y"]) == {"111111111111": "audit"}
    assert _account_profiles("111111111111=a,222222222222=b") == {"111111111111": "a", "222222222222": "b"}
    assert _account_profiles(None) == {}


@pytest.mark.parametrize(
    ("code", "message", "status", "reason"),
    [
        ("AccessDenied", "User: arn:aws:iam::1:user/a is not authorized to perform: iam:GetRole on ...", 403,
         "AccessDenied (iam:GetRole)"),
        ("Throttling", "Rate exceeded", 400, "throttled until retries ran out (Throttling, iam:GetRole)"),
        ("ExpiredToken", "The security token included in the request is expired", 403,
         "credentials expired (ExpiredToken)"),
        ("InvalidClientTokenId", "The security token included in the request is invalid.", 403,
         "credentials refused (InvalidClientTokenId)"),
        ("404", "<!DOCTYPE html>\n<html><body><h1>Not Found</h1></body></html>", 404,
         "HTTP 404 (not an AWS API answer)"),
        ("", "", 502, "HTTP 502 (not an AWS API answer)"),
        ("EndpointConnectionError", 'Could not connect to the endpoint URL: "http://127.0.0.1:9/?Action=GetRole"', None,
         "cannot reach AWS (EndpointConnectionError: http://127.0.0.1:9)"),
        ("ValidationError", "x" * 500, 400, "ValidationError (iam:GetRole)"),  # a long message is left out
        ("ValidationError", "Role name\nis invalid", 400, "ValidationError (iam:GetRole): Role name is invalid"),
    ],
)  # fmt: skip
def test_failure_reasons_are_one_line_causes(code: str, message: str, status: int | None, reason: str) -> None:
    assert AwsCallFailed("iam:GetRole arn:aws:iam::1:role/x", code, message, status).reason == reason


def test_what_a_failure_stops() -> None:
    assert AwsCallFailed("iam:GetRole x", "NoSuchEntity", "gone", 404).not_found
    assert AwsCallFailed("iam:GetRole x", "NoSuchEntity", "gone", 404).answered  # AWS answered: it is readable
    assert AwsCallFailed("iam:GetRole x", "ExpiredToken", "", 403).fatal == "credentials"
    assert AwsCallFailed("eks:X y", "EndpointConnectionError", "").fatal == "endpoint"
    # A foreign page may come from a proxy refusing one route only: not a reason to stop every call.
    assert AwsCallFailed("eks:X y", "404", "<html>", 404).fatal is None
    assert not AwsCallFailed("iam:GetRole x", "AccessDenied", "", 403).answered


def test_counter_reads_operation_from_event_names() -> None:
    counter = CallCounter()
    counter._on_call(event_name="before-call.iam.GetRole")
    counter._on_call(event_name="before-call.iam.GetRole")
    counter._on_send(event_name="before-send.iam.GetRole")
    assert counter.as_dict() == {"iam:GetRole": 2} and counter.total == 2 and counter.attempts["iam:GetRole"] == 1


def test_every_aws_rule_is_placed_for_pod_identity_gaps() -> None:
    """A ServiceAccount whose Pod Identity could not be read hides exactly the rules that judge a role it may
    take that way; a new rule must be placed on one side or the other."""
    from kubeiam_aws.live.coverage import NOT_ABOUT_POD_IDENTITY, POD_IDENTITY_RULES
    from kubeiam_aws.rules import RULES

    assert not set(POD_IDENTITY_RULES) & set(NOT_ABOUT_POD_IDENTITY)
    assert set(POD_IDENTITY_RULES) | set(NOT_ABOUT_POD_IDENTITY) == {r.id for r in RULES}


def test_the_kubeconfigs_eks_arn_names_the_cluster_and_its_region() -> None:
    arn = "arn:aws:eks:eu-central-1:111111111111:cluster/prod-eu"
    assert parse_eks_arn(arn) == EksArn(arn, "aws", "eu-central-1", "111111111111", "prod-eu")
    assert parse_eks_arn("gke_proj_europe-west1_prod") is None and parse_eks_arn(None) is None
    inv = _inventory()
    named = inv.with_(clusters=(replace(inv.clusters[0], kubeconfig_name=arn), *inv.clusters[1:]))
    (c,) = build_scope(_request(options={"aws_region": "us-east-1"}), named, None).clusters
    assert (c.region, c.eks_name, c.name) == ("eu-central-1", "prod-eu", "c")  # the ARN is exact: it wins
    # A cluster nothing else says is on AWS (no EC2 node, no IRSA annotation) is still looked up by its ARN.
    kind = Inventory(clusters=(Cluster("kind", None, kubeconfig_name=arn),))
    assert [s.eks_name for s in build_scope(_request(), kind, None).clusters] == ["prod-eu"]


def test_scoped_runs_name_the_node_groups_of_their_nodes() -> None:
    label = "eks.amazonaws.com/nodegroup"
    inv = _inventory()
    inv = inv.with_(nodes=tuple(replace(n, labels={**n.labels, label: "ng-" + n.name}) for n in inv.nodes))
    assert build_scope(_request(namespace="b"), inv, None).clusters[0].nodegroups() == ["ng-n2"]
    assert build_scope(_request(namespace="b"), inv, None).full is False
    assert build_scope(_request(), inv, None).full is True
