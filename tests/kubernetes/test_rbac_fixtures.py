"""The vendored RBAC corpus (fixtures/kubernetes/rbac) and the loaders the other test_rbac_* use.

The loaders read YAML with PyYAML (a dependency of the project) and hand the decoded documents to
the stdlib-only parser, as the evidence reader will hand it `kubectl ... -o json`.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from kubeiam_kubernetes.judge.rbac_model import RbacObjects
from kubeiam_kubernetes.judge.rbac_parse import parse_rbac
from kubeiam_kubernetes.judge.takeover_model import PodRef

RBAC = Path(__file__).resolve().parents[2] / "fixtures" / "kubernetes" / "rbac"
DEFAULT_FILES = (
    "cluster-roles.yaml",
    "cluster-role-bindings.yaml",
    "namespace-roles.yaml",
    "namespace-role-bindings.yaml",
    "controller-roles.yaml",
    "controller-role-bindings.yaml",
)


def documents(*relative: str) -> list[tuple[str, Any]]:
    """(source label, document) for every YAML document of the files, relative to RBAC."""
    out = []
    for rel in relative:
        docs = list(yaml.safe_load_all((RBAC / rel).read_text()))
        for i, doc in enumerate(docs):
            out.append((rel if len(docs) == 1 else f"{rel}#{i}", doc))
    return out


@cache
def defaults() -> RbacObjects:
    return parse_rbac(documents(*(f"k8s-defaults/{f}" for f in DEFAULT_FILES)))


def with_defaults(*relative: str, default_namespace: str | None = None) -> RbacObjects:
    """The bootstrap policy plus some files (applied with `kubectl -n default_namespace`)."""
    return defaults() + parse_rbac(documents(*relative), default_namespace=default_namespace)


def kubehound_files() -> list[str]:
    return sorted(f"kubehound/{p.name}" for p in (RBAC / "kubehound").glob("*.yaml"))


@cache
def kubehound_cluster() -> RbacObjects:
    """KubeHound's test cluster: every attack fixture applied in namespace default, on the defaults."""
    return with_defaults(*kubehound_files(), default_namespace="default")


@cache
def kubehound_pods() -> dict[tuple[str, str], tuple[PodRef, ...]]:
    """The pods of the KubeHound fixtures by (namespace, ServiceAccount); no serviceAccountName = default."""
    pods: dict[tuple[str, str], list[PodRef]] = {}
    for _source, doc in documents(*kubehound_files()):
        if isinstance(doc, dict) and doc.get("kind") == "Pod":
            ns = doc["metadata"].get("namespace", "default")
            sa = doc.get("spec", {}).get("serviceAccountName", "default")
            pods.setdefault((ns, sa), []).append(PodRef(doc["metadata"]["name"]))
    return {k: tuple(v) for k, v in pods.items()}


def cases() -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in json.loads((RBAC / "cases.json").read_text())["cases"]}


# -- builders for synthetic objects, in the shape `kubectl get -o json` prints -------------------------


def rule(verbs: str, resources: str, groups: str = "", names: str | None = None) -> dict[str, Any]:
    """`rule("create,get", "pods,pods/exec")`: comma-separated, apiGroups "" unless given."""
    out: dict[str, Any] = {"apiGroups": groups.split(","), "resources": resources.split(","), "verbs": verbs.split(",")}
    if names is not None:
        out["resourceNames"] = names.split(",")
    return out


def role(
    name: str,
    *rules: dict[str, Any],
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    aggregation: list[dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if namespace:
        meta["namespace"] = namespace
    doc: dict[str, Any] = {"kind": "Role" if namespace else "ClusterRole", "metadata": meta, "rules": list(rules)}
    if aggregation is not None:
        doc["aggregationRule"] = {"clusterRoleSelectors": aggregation}
    return doc


def binding(
    name: str, role_name: str, *subjects: str, namespace: str | None = None, role_kind: str = "ClusterRole"
) -> dict[str, Any]:
    """Subjects as "User:alice", "Group:devs", "ServiceAccount:ns/name" (or "ServiceAccount:name")."""
    subs = []
    for s in subjects:
        kind, _, rest = s.partition(":")
        if kind == "ServiceAccount":
            ns, _, sa_name = rest.rpartition("/")
            subs.append({"kind": kind, "name": sa_name, **({"namespace": ns} if ns else {})})
        else:
            subs.append({"kind": kind, "name": rest, "apiGroup": "rbac.authorization.k8s.io"})
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": subs,
    }


def cluster(*items: dict[str, Any], with_bootstrap: bool = False) -> RbacObjects:
    objs = parse_rbac([("synthetic.json", {"apiVersion": "v1", "kind": "List", "items": list(items)})])
    return defaults() + objs if with_bootstrap else objs


# -- the fixtures are what the corpus says they are -------------------------------------------------


def test_defaults_hold_the_whole_bootstrap_policy() -> None:
    objs = defaults()
    assert objs.problems == ()
    kinds = Counter(r.kind for r in objs.roles) + Counter(b.kind for b in objs.bindings)
    # 31 + 38 ClusterRoles, 7 Roles; 10 + 38 ClusterRoleBindings, 7 RoleBindings (corpus README)
    assert kinds == {"ClusterRole": 69, "Role": 7, "ClusterRoleBinding": 48, "RoleBinding": 7}
    names = {r.name for r in objs.roles}
    assert {"cluster-admin", "admin", "edit", "view", "system:aggregate-to-edit"} <= names


def test_every_vendored_file_is_named_in_the_attribution() -> None:
    attribution = (RBAC / "ATTRIBUTION.md").read_text()
    vendored = [p for p in RBAC.rglob("*") if p.is_file() and p.name != "ATTRIBUTION.md"]
    assert vendored
    missing = [str(p.relative_to(RBAC)) for p in vendored if p.name not in attribution]
    assert missing == []


def test_the_kubehound_cluster_parses_and_only_skips_non_rbac_kinds() -> None:
    objs = kubehound_cluster()
    skipped = [p for p in objs.problems if p.kind == "skipped-kind"]
    assert [p for p in objs.problems if p.kind != "skipped-kind"] == []
    assert skipped and all("'Pod'" in p.message or "'ServiceAccount'" in p.message for p in skipped)
    assert kubehound_pods()[("default", "impersonate-sa")] == (PodRef("impersonate-pod"),)


def test_every_case_has_an_id_and_a_label() -> None:
    found = cases()
    assert len(found) == 26
    assert all("can_become" in c for c in found.values())
