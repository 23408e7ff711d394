"""Issue 15, item 8 (EKS): a NetworkPolicy that blocks IMDS blocks it only when something enforces network
policies (EKS: the vpc-cni add-on's `enableNetworkPolicy`, or Cilium or Calico running), and on an IPv6
cluster only when it also stops fd00:ec2::254."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import (
    ACCOUNT,
    NODE_TRUST,
    REGION,
    allow,
    cluster,
    doc,
    iam,
    instances,
    node,
    pod,
    role,
    write,
)

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers

NODE = "ip-10-0-1-10.eu-west-1.compute.internal"
V4_BLOCK = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}]
V6_OPEN = [
    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}, {"ipBlock": {"cidr": "::/0"}}]}
]


def network_policy(egress: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "no-imds", "namespace": "apps"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress},
    }


def addon(config: str | None) -> dict[str, Any]:
    """`aws eks describe-addon --cluster-name eks-test --addon-name vpc-cni`."""
    out: dict[str, Any] = {
        "addonName": "vpc-cni",
        "clusterName": "eks-test",
        "status": "ACTIVE",
        "addonVersion": "v1.19.2-eksbuild.1",
    }
    if config is not None:
        out["configurationValues"] = config
    return {"addon": out}


def _node_finding(root: Path, *, egress=V4_BLOCK, config: str | None = "absent", extra=(), ipv6: bool = False) -> Any:
    """One IMDSv1 node running a pod of `apps`, whose namespace has a policy blocking IMDS egress."""
    iam(root, [role("node-role", NODE_TRUST, inline={"p": doc(allow("*"))}, profiles=["node"])])
    instances(root, [("i-0123456789abcdef0", "node", "optional", 1)])
    n = node(NODE, "i-0123456789abcdef0")
    if ipv6:
        n["status"] = {"addresses": [{"type": "InternalIP", "address": "2600:1f14:abc:de00::1"}]}
    cluster(root, [n, pod("apps", "web-1", "default", NODE), network_policy(egress), *extra])
    eks = root / "aws" / ACCOUNT / REGION / "eks" / "eks-test"
    write(
        eks / "cluster.json",
        {"cluster": {"name": "eks-test", "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-test"}},
    )
    if config != "absent":
        write(eks / "addon-vpc-cni.json", addon(config))
    (finding,) = [f for f in audit(Evidence(root), providers=load_providers()).findings if f.rule_id == "AWS-020"]
    return finding


def test_an_unenforced_policy_is_no_block(tmp_path):
    """False negative before: the policy counted as a mitigation though EKS enforces none by default."""
    f = _node_finding(tmp_path)
    assert f.evidence["pods_reaching_imds"] == ["apps/default"]
    assert "mitigations" not in f.evidence
    (why,) = f.evidence["mitigations_not_enforced"]
    assert why.startswith("NetworkPolicy apps/no-imds: enforcement unknown") and "addon-vpc-cni.json" in why


@pytest.mark.parametrize(
    "config",
    [
        json.dumps({"enableNetworkPolicy": "true"}),
        "enableNetworkPolicy: true\nnodeAgent:\n  enablePolicyEventLogs: 'false'\n",
    ],
)
def test_the_vpc_cni_network_policy_agent_enforces_it(tmp_path, config):
    f = _node_finding(tmp_path, config=config)
    assert f.evidence["mitigations"] == ["NetworkPolicy apps/no-imds"]
    assert f.evidence["pods_reaching_imds"] == []


def test_the_add_on_without_the_setting_does_not(tmp_path):
    f = _node_finding(tmp_path, config=None)
    (why,) = f.evidence["mitigations_not_enforced"]
    assert "enableNetworkPolicy not set" in why


def test_a_cilium_agent_enforces_it(tmp_path):
    agent = pod("kube-system", "cilium-x7k2p", "cilium", NODE)
    agent["metadata"]["ownerReferences"] = [
        {"kind": "DaemonSet", "name": "cilium", "controller": True, "apiVersion": "apps/v1", "uid": "u"}
    ]
    f = _node_finding(tmp_path, extra=[agent])
    assert f.evidence["mitigations"] == ["NetworkPolicy apps/no-imds"]


def test_on_an_ipv6_cluster_blocking_169_254_169_254_alone_is_not_enough(tmp_path):
    enforced = json.dumps({"enableNetworkPolicy": "true"})
    assert _node_finding(tmp_path / "v4", egress=V6_OPEN, config=enforced).evidence.get("mitigations")
    f = _node_finding(tmp_path / "v6", egress=V6_OPEN, config=enforced, ipv6=True)
    assert "mitigations" not in f.evidence and f.evidence["pods_reaching_imds"] == ["apps/default"]
    # An allow-list that lets no IPv6 destination out stops fd00:ec2::254 as well.
    assert _node_finding(tmp_path / "v6-closed", config=enforced, ipv6=True).evidence["mitigations"]
