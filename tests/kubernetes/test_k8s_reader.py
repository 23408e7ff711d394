"""The Kubernetes reader: pods to their top owner, network policies that block IMDS, odd shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubeiam_kubernetes.evidence import reader
from kubeiam_kubernetes.evidence.network_policies import egress_blocks

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import declarations_of, load_providers
from kubeiam.vocabulary.model import EgressBlock, Inventory


def read_kubernetes(evidence: Evidence) -> Inventory:
    """The reader as a full run calls it: every provider's declarations merged into the inventory."""
    return reader.read(evidence, Inventory(declarations=declarations_of(load_providers())))


def read(tmp_path: Path, items: list[dict[str, Any]], cluster: str = "prod") -> Inventory:
    folder = tmp_path / "kubernetes" / cluster
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "resources.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return read_kubernetes(Evidence(tmp_path))


def ref(kind: str, name: str, api: str = "apps/v1", controller: bool = True) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "name": name, "uid": f"uid-{name}", "controller": controller}


def pod(name: str, *owners: dict[str, Any], labels: dict[str, str] | None = None, sa: str = "app") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "apps", "labels": labels or {}}
    if owners:
        meta["ownerReferences"] = list(owners)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"serviceAccountName": sa, "nodeName": "n1"}}


def owner(kind: str, name: str, *owners: dict[str, Any], api: str = "apps/v1") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "apps"}
    if owners:
        meta["ownerReferences"] = list(owners)
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def created(obj: dict[str, Any], timestamp: str) -> dict[str, Any]:
    obj["metadata"]["creationTimestamp"] = timestamp
    return obj


def top_owner(tmp_path: Path, items: list[dict[str, Any]]) -> tuple[str, str]:
    [w] = read(tmp_path, items).workloads
    return w.owner_kind, w.owner_name


HASH = {"app": "web", "pod-template-hash": "5d8f7c9b6"}


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param(
            [pod("web-5d8f7c9b6-abcde", ref("ReplicaSet", "web-5d8f7c9b6"), labels=HASH),
             owner("ReplicaSet", "web-5d8f7c9b6", ref("Deployment", "web"))],
            ("Deployment", "web"), id="deployment-via-replicaset-object",
        ),
        pytest.param(
            [pod("web-5d8f7c9b6-abcde", ref("ReplicaSet", "web-5d8f7c9b6"), labels=HASH)],
            ("Deployment", "web"), id="deployment-via-pod-template-hash-without-rs",
        ),
        pytest.param(
            [pod("legacy-x1", ref("ReplicaSet", "legacy"))],
            ("ReplicaSet", "legacy"), id="bare-replicaset-without-hash",
        ),
        pytest.param(
            [pod("report-29391120-7xk2p", ref("Job", "report-29391120", "batch/v1")),
             owner("Job", "report-29391120", ref("CronJob", "report", "batch/v1"), api="batch/v1")],
            ("CronJob", "report"), id="cronjob-via-job",
        ),
        pytest.param(
            [pod("migrate-abcde", ref("Job", "migrate", "batch/v1")), owner("Job", "migrate", api="batch/v1")],
            ("Job", "migrate"), id="plain-job",
        ),
        pytest.param(
            [created(pod("report-29391120-7xk2p", ref("Job", "report-29391120", "batch/v1")), "2025-11-18T12:00:04Z")],
            ("CronJob", "report"), id="cronjob-by-its-scheduled-job-name-without-job-object",
        ),
        pytest.param(
            [created(pod("migrate-20240101-x", ref("Job", "migrate-20240101", "batch/v1")), "2026-01-01T10:00:00Z")],
            ("Job", "migrate-20240101"), id="a-job-ending-in-digits-is-not-a-cronjob",
        ),
        pytest.param([pod("db-0", ref("StatefulSet", "db"))], ("StatefulSet", "db"), id="statefulset"),
        pytest.param([pod("agent-x2k4q", ref("DaemonSet", "agent"))], ("DaemonSet", "agent"), id="daemonset"),
        pytest.param([pod("debug")], ("Pod", "debug"), id="bare-pod"),
        pytest.param(
            [pod("web-1", ref("Rollout", "canary", "argoproj.io/v1alpha1", False), ref("StatefulSet", "web"))],
            ("StatefulSet", "web"), id="the-controller-reference-wins",
        ),
        pytest.param(
            [pod("loop-1", ref("ReplicaSet", "a")), owner("ReplicaSet", "a", ref("ReplicaSet", "b")),
             owner("ReplicaSet", "b", ref("ReplicaSet", "a"))],
            ("ReplicaSet", "a"), id="an-ownership-cycle-ends",
        ),
    ],
)  # fmt: skip
def test_top_owner(tmp_path, items, expected):
    assert top_owner(tmp_path, items) == expected


def test_service_accounts_only_named_by_pods_are_kept_as_implicit(tmp_path):
    inv = read(
        tmp_path, [pod("p", sa="ghost"), {"kind": "ServiceAccount", "metadata": {"name": "real", "namespace": "apps"}}]
    )
    assert {(s.name, s.implicit) for s in inv.service_accounts} == {("ghost", True), ("real", False)}


def test_platform_from_provider_id(tmp_path):
    def node(provider_id: str) -> dict[str, Any]:
        return {"kind": "Node", "metadata": {"name": "n"}, "spec": {"providerID": provider_id}}

    assert read(tmp_path / "a", [node("aws:///eu-west-1a/i-0abc")]).clusters[0].cloud == "aws"
    assert read(tmp_path / "g", [node("gce://proj/europe-west1-b/gke-n")]).clusters[0].cloud == "gcp"
    assert read(tmp_path / "z", [node("azure:///subscriptions/s/resourceGroups/r/x")]).clusters[0].cloud == "azure"
    assert read(tmp_path / "k", [node("kind://docker/kind/kind-control-plane")]).clusters[0].cloud is None


def test_a_single_object_file_is_a_list_of_one(tmp_path):
    folder = tmp_path / "kubernetes" / "one"
    folder.mkdir(parents=True)
    (folder / "resources.json").write_text(json.dumps({"kind": "ServiceAccount", "metadata": {"name": "a"}}))
    inv = read_kubernetes(Evidence(tmp_path))
    assert [(s.namespace, s.name) for s in inv.service_accounts] == [("default", "a")]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"items": 3}, "'items' must be a list"),
        ({"apiVersion": "v1"}, "expected a Kubernetes List"),
    ],
)
def test_wrong_shapes_name_the_file(tmp_path, doc, message):
    # Only the top level: one object that is not one is a coverage entry (test_k8s_item_level.py).
    folder = tmp_path / "kubernetes" / "prod"
    folder.mkdir(parents=True)
    (folder / "resources.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=rf"^kubernetes/prod/resources.json: .*{message}"):
        read_kubernetes(Evidence(tmp_path))


# -- network policies and IMDS ---------------------------------------------------------------


def netpol(name: str, spec: dict[str, Any], namespace: str = "apps") -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}  # fmt: skip


def cilium(name: str, spec: dict[str, Any], namespace: str | None = "apps") -> dict[str, Any]:
    kind = "CiliumNetworkPolicy" if namespace else "CiliumClusterwideNetworkPolicy"
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "cilium.io/v2", "kind": kind, "metadata": meta, "spec": spec}


def blocks(*policies: dict[str, Any]) -> set[tuple[str, str | None, str, bool]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for p in policies:
        by_kind.setdefault(p["kind"], []).append(p)
    return {(b.kind, b.namespace, b.name, b.selects_all_pods) for b in egress_blocks("prod", by_kind)}


EXCEPT_IMDS = {"podSelector": {}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}]}  # fmt: skip
DENY_ALL_EGRESS = {"podSelector": {}, "policyTypes": ["Egress"]}
ALLOW_ALL_EGRESS = {"podSelector": {"matchLabels": {"app": "proxy"}}, "policyTypes": ["Egress"], "egress": [{}]}


def test_ipblock_except_blocks_imds():
    assert blocks(netpol("no-imds", EXCEPT_IMDS)) == {("NetworkPolicy", "apps", "no-imds", True)}


def test_deny_all_egress_blocks_imds():
    assert blocks(netpol("deny-all", DENY_ALL_EGRESS)) == {("NetworkPolicy", "apps", "deny-all", True)}


def test_label_selected_policy_blocks_only_some_pods():
    spec = {**EXCEPT_IMDS, "podSelector": {"matchLabels": {"app": "web"}}}
    assert blocks(netpol("web", spec)) == {("NetworkPolicy", "apps", "web", False)}


@pytest.mark.parametrize(
    "spec",
    [
        {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]},
        {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 443, "protocol": "TCP"}]}]},
        {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []},
        {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}]}]},
        {"podSelector": {}, "policyTypes": ["Egress"],
         "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}]},
    ],
    ids=["allows-0.0.0.0/0", "ports-only-rule-allows-every-destination", "ingress-only", "allows-link-local",
         "except-misses-imds"],
)  # fmt: skip
def test_policies_that_do_not_block(spec):
    assert blocks(netpol("p", spec)) == set()


def test_another_policy_opening_imds_voids_the_block():
    # Policies add up: the proxy pods are let out to everything, so the namespace is not protected.
    assert blocks(netpol("deny-all", DENY_ALL_EGRESS), netpol("proxy", ALLOW_ALL_EGRESS)) == set()
    # ...but only in that namespace.
    other = netpol("deny-all", DENY_ALL_EGRESS, namespace="batch")
    assert blocks(other, netpol("proxy", ALLOW_ALL_EGRESS)) == {("NetworkPolicy", "batch", "deny-all", True)}


def test_cilium_egress_deny_blocks_and_wins_over_allows():
    deny = cilium("deny-imds", {"endpointSelector": {}, "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}]})
    assert blocks(deny, netpol("proxy", ALLOW_ALL_EGRESS)) == {("CiliumNetworkPolicy", "apps", "deny-imds", True)}


def test_cilium_clusterwide_deny_by_cidr_set():
    spec = {"endpointSelector": {}, "egressDeny": [{"toCIDRSet": [{"cidr": "169.254.0.0/16"}]}]}
    ccnp = cilium("no-link-local", spec, namespace=None)
    assert blocks(ccnp) == {("CiliumClusterwideNetworkPolicy", None, "no-link-local", True)}


def test_cilium_policies_that_do_not_block():
    cidr_set = {"cidr": "169.254.0.0/16", "except": ["169.254.169.254/32"]}
    carve_out = {"endpointSelector": {}, "egressDeny": [{"toCIDRSet": [cidr_set]}]}
    world = {"endpointSelector": {}, "egress": [{"toEntities": ["world"]}]}
    other_cidr = {"endpointSelector": {}, "egressDeny": [{"toCIDR": ["10.0.0.0/8"]}]}
    assert blocks(cilium("a", carve_out), cilium("b", world), cilium("c", other_cidr)) == set()


def test_cilium_allow_list_without_imds_blocks():
    dns_only = {"endpointSelector": {}, "egress": [{"toEndpoints": [{"matchLabels": {"k8s-app": "kube-dns"}}]}]}
    assert blocks(cilium("dns-only", dns_only)) == {("CiliumNetworkPolicy", "apps", "dns-only", True)}


def test_imds_block_lookup_in_the_inventory(tmp_path):
    inv = read(tmp_path, [netpol("no-imds", EXCEPT_IMDS), cilium("all", {"endpointSelector": {},
               "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}]}, namespace=None)])  # fmt: skip
    assert inv.imds_block("prod", "apps") == EgressBlock("prod", "apps", "NetworkPolicy", "no-imds", True)
    assert inv.imds_block("prod", "elsewhere") == EgressBlock(
        "prod", None, "CiliumClusterwideNetworkPolicy", "all", True
    )


def test_credentials_in_every_kind_of_container(tmp_path):
    p = pod("debug")
    p["spec"]["initContainers"] = [{"name": "init", "env": [{"name": "AWS_ACCESS_KEY_ID", "value": "x"}]}]
    p["spec"]["containers"] = [{"name": "app", "env": [{"name": "LOG_LEVEL", "value": "debug"}]}]
    p["spec"]["ephemeralContainers"] = [{"name": "dbg", "env": [{"name": "AZURE_CLIENT_SECRET", "value": "y"}]}]
    [w] = read(tmp_path, [p]).workloads
    assert {(c.container, c.variable, c.source, c.reference) for c in w.credentials} == {
        ("init", "AWS_ACCESS_KEY_ID", "literal", None),
        ("dbg", "AZURE_CLIENT_SECRET", "literal", None),
    }
