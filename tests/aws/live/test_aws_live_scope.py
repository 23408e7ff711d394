"""What a live collection asks AWS for, decided from the Kubernetes inventory alone (no AWS here)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from kubeiam_aws.declarations import AWS
from kubeiam_aws.live.clients import AwsCallFailed, CallCounter
from kubeiam_aws.live.collector import _account_profiles
from kubeiam_aws.live.plan import build_scope, parse_role_arn, region_of_zone
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


def test_failure_reasons_name_what_happened() -> None:
    assert AwsCallFailed("iam:GetRole x", "AccessDenied", "no").reason.startswith("access denied (AccessDenied)")
    assert AwsCallFailed("ec2:X", "RequestLimitExceeded", "slow").reason.startswith("throttled")
    assert AwsCallFailed("iam:GetRole x", "NoSuchEntity", "gone").not_found


def test_counter_reads_operation_from_event_names() -> None:
    counter = CallCounter()
    counter._on_call(event_name="before-call.iam.GetRole")
    counter._on_call(event_name="before-call.iam.GetRole")
    counter._on_send(event_name="before-send.iam.GetRole")
    assert counter.as_dict() == {"iam:GetRole": 2} and counter.total == 2 and counter.attempts["iam:GetRole"] == 1
