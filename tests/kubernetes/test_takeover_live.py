"""Live collection of RBAC (rbac.json) and the aws-auth ConfigMap with the real `kubernetes` client against the
local API server: paged, the least calls, read-only, and what could not be read said in coverage."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import takeover_evidence as te
from kubeiam_kubernetes import PROVIDER
from kubeiam_kubernetes.evidence.rbac import load_rbac
from kubeiam_kubernetes.live.plan import plan_for

from kubeiam.pipeline.collection import collect
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest

RBAC_LISTS = {
    "/apis/rbac.authorization.k8s.io/v1/roles",
    "/apis/rbac.authorization.k8s.io/v1/rolebindings",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
}
AWS_AUTH = "/api/v1/namespaces/kube-system/configmaps/aws-auth"


def _options(kubeconfig: Path) -> argparse.Namespace:
    return argparse.Namespace(kubeconfig=str(kubeconfig), contexts=None, cluster_name=None)


def _estate(root: Path, extra: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]
    rbac = [
        te.binding("alice-edit", "edit", "User:alice", namespace="team-a"),
        te.role("pod-reader", te.rule("get,list", "pods"), namespace="team-b"),
        te.binding("bob-reads", "pod-reader", "User:bob", namespace="team-b", role_kind="Role"),
    ]
    te.irsa_estate(root, [("team-a", "app"), ("team-b", "app")], rbac=rbac, extra=extra)
    return root / "kubernetes" / "prod"


def _refs(doc_items: list[dict[str, Any]]) -> set[tuple[str, str | None, str]]:
    return {(i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"]) for i in doc_items}


def test_rbac_is_collected_into_rbac_json_paged_with_one_list_per_kind(kube_api, clean_env, tmp_path):
    cluster = _estate(tmp_path / "served")
    api = kube_api(cluster, max_page=40)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="prod")
    _, _, errors = collect(CollectRequest(_options(kubeconfig), tmp_path / "ev"), [PROVIDER])

    served = json.loads((cluster / "rbac.json").read_text())["items"]
    written = json.loads((tmp_path / "ev/kubernetes/prod/rbac.json").read_text())
    assert written["kind"] == "List" and _refs(written["items"]) == _refs(served)
    assert all(i["apiVersion"] == "rbac.authorization.k8s.io/v1" for i in written["items"])
    # Lower bound: one list per kind (and one request per further page of 40), one get of aws-auth.
    pages = {p: api.count(p) for p in RBAC_LISTS}
    per_kind = {p: sum(1 for i in served if i["kind"].lower() + "s" == p.rsplit("/", 1)[1]) for p in RBAC_LISTS}
    assert pages == {p: max(1, -(-n // 40)) for p, n in per_kind.items()}
    assert api.count(AWS_AUTH) == 1 and {r.method for r in api.requests} == {"GET"}
    assert not any("secrets" in p for p in api.paths())
    objects, problems = load_rbac(Evidence(tmp_path / "ev"), "kubernetes/prod/rbac.json", "prod")
    assert problems == [] and objects is not None
    assert "RoleBinding/team-a/alice-edit" in {b.ref for b in objects.bindings}
    # kubeiam never asks for Secrets, and writes no token-secrets.json: K8S-006 takes a token Secret as possibly
    # present (test_takeover_secrets_unknown.py), so a cluster read whole leaves nothing for coverage to say.
    assert not (tmp_path / "ev/kubernetes/prod/token-secrets.json").exists()
    assert errors == []


def test_a_namespace_scope_lists_that_namespaces_roles_and_every_cluster_role(kube_api, clean_env, tmp_path):
    cluster = _estate(tmp_path / "served")
    api = kube_api(cluster)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="prod")
    collect(CollectRequest(_options(kubeconfig), tmp_path / "ev", namespace="team-a"), [PROVIDER])
    paths = set(api.paths())
    assert {
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    } <= paths
    assert not {"/apis/rbac.authorization.k8s.io/v1/roles", "/apis/rbac.authorization.k8s.io/v1/rolebindings"} & paths
    written = _refs(json.loads((tmp_path / "ev/kubernetes/prod/rbac.json").read_text())["items"])
    assert ("RoleBinding", "team-a", "alice-edit") in written and ("RoleBinding", "team-b", "bob-reads") not in written


def test_check_plans_the_same_rbac_lists_as_its_namespace():
    plan = plan_for(None, ("team-a", "app"))
    assert [(s.kind.kind, s.namespace) for s in plan.rbac] == [
        ("Role", "team-a"),
        ("RoleBinding", "team-a"),
        ("ClusterRole", None),
        ("ClusterRoleBinding", None),
    ]


def test_a_refused_rbac_list_leaves_no_rbac_json_and_says_why(kube_api, clean_env, tmp_path):
    cluster = _estate(tmp_path / "served")
    api = kube_api(cluster, forbidden={"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"})
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="prod")
    _, _, errors = collect(CollectRequest(_options(kubeconfig), tmp_path / "ev"), [PROVIDER])
    assert not (tmp_path / "ev/kubernetes/prod/rbac.json").exists()
    assert (tmp_path / "ev/kubernetes/prod/resources.json").exists()
    locations = [e.location for e in errors]
    assert "list /apis/rbac.authorization.k8s.io/v1/clusterrolebindings (context test)" in locations
    (note,) = [e for e in errors if e.location.startswith("rbac.json")]
    assert note.rules == ("K8S-006",) and "unchecked" in note.reason


def test_the_aws_auth_config_map_is_collected_into_resources_json(kube_api, clean_env, tmp_path):
    auth = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/ci\n  username: ci\n  groups: [devs]\n"},
    }
    other = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": "team-a"},
        "data": {},
    }
    cluster = _estate(tmp_path / "served", extra=[auth, other])
    api = kube_api(cluster)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="prod")
    collect(CollectRequest(_options(kubeconfig), tmp_path / "ev"), [PROVIDER])
    items = json.loads((tmp_path / "ev/kubernetes/prod/resources.json").read_text())["items"]
    config_maps = [i for i in items if i["kind"] == "ConfigMap"]
    assert [(c["metadata"]["name"], c["data"]) for c in config_maps] == [("aws-auth", auth["data"])]
    assert not any(p.endswith("/configmaps") for p in api.paths())  # one get, never a list
