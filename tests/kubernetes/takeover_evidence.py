"""Evidence for the takeover tests (K8S-006): `rbac.json` as `kubectl get roles,rolebindings,clusterroles,
clusterrolebindings -A -o json` prints it, with the real bootstrap policy (fixtures/kubernetes/rbac/k8s-defaults),
and an EKS cluster whose ServiceAccounts take IRSA roles, so a whole `kubeiam audit --evidence` runs.

`python tests/kubernetes/takeover_evidence.py` rewrites the demo's rbac.json files (fixtures/demo).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from kubeiam.pipeline.engine import AnalysisConfig
from kubeiam.pipeline.providers import all_rules, declarations_of, load_providers
from kubeiam.quarterly.config import load_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RBAC = REPO / "fixtures" / "kubernetes" / "rbac"
DEFAULT_FILES = (
    "cluster-roles.yaml",
    "cluster-role-bindings.yaml",
    "namespace-roles.yaml",
    "namespace-role-bindings.yaml",
    "controller-roles.yaml",
    "controller-role-bindings.yaml",
)
RBAC_GROUP = "rbac.authorization.k8s.io"
KINDS = ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")


@cache
def _default_items() -> tuple[str, ...]:
    out = []
    for name in DEFAULT_FILES:
        doc = yaml.safe_load((RBAC / "k8s-defaults" / name).read_text())
        out += [json.dumps(i, sort_keys=True) for i in doc["items"]]
    return tuple(out)


def default_items() -> list[dict[str, Any]]:
    """The bootstrap policy's objects (fresh copies), as a cluster holds them."""
    return [json.loads(i) for i in _default_items()]


def yaml_items(*relative: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """The RBAC objects of fixtures/kubernetes/rbac files (`kubectl apply -n namespace`), other kinds left out."""
    out = []
    for rel in relative:
        for doc in yaml.safe_load_all((RBAC / rel).read_text()):
            if isinstance(doc, dict) and doc.get("kind") in KINDS:
                doc = json.loads(json.dumps(doc))
                meta = doc.setdefault("metadata", {})
                if doc["kind"] in ("Role", "RoleBinding") and namespace and not meta.get("namespace"):
                    meta["namespace"] = namespace
                doc.setdefault("apiVersion", f"{RBAC_GROUP}/v1")
                out.append(doc)
    return out


def yaml_objects(*relative: str, kind: str, namespace: str = "default") -> list[dict[str, Any]]:
    """Objects of one other kind (Pod, ServiceAccount) from the same files."""
    out = []
    for rel in relative:
        for doc in yaml.safe_load_all((RBAC / rel).read_text()):
            if isinstance(doc, dict) and doc.get("kind") == kind:
                doc = json.loads(json.dumps(doc))
                doc.setdefault("metadata", {}).setdefault("namespace", namespace)
                out.append(doc)
    return out


def rule(verbs: str, resources: str, groups: str = "", names: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"apiGroups": groups.split(","), "resources": resources.split(","), "verbs": verbs.split(",")}
    if names is not None:
        out["resourceNames"] = names.split(",")
    return out


def role(name: str, *rules: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    kind = "Role" if namespace else "ClusterRole"
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": kind, "metadata": meta, "rules": list(rules)}


def binding(
    name: str, role_name: str, *subjects: str, namespace: str | None = None, role_kind: str = "ClusterRole"
) -> dict[str, Any]:
    """Subjects as "User:alice", "Group:devs", "ServiceAccount:ns/name"."""
    subs = []
    for s in subjects:
        kind, _, rest = s.partition(":")
        if kind == "ServiceAccount":
            ns, _, sa_name = rest.rpartition("/")
            subs.append({"kind": kind, "name": sa_name, "namespace": ns})
        else:
            subs.append({"kind": kind, "name": rest, "apiGroup": RBAC_GROUP})
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role_name},
        "subjects": subs,
    }


def rbac_document(items: Iterable[Mapping[str, Any]], *, defaults: bool = True) -> dict[str, Any]:
    everything = [*(default_items() if defaults else []), *items]
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": everything}


def write_rbac(cluster_dir: Path, items: Iterable[Mapping[str, Any]], *, defaults: bool = True) -> Path:
    path = cluster_dir / "rbac.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rbac_document(items, defaults=defaults), indent=1) + "\n")
    return path


# -- a whole evidence directory: an EKS cluster, IRSA roles, resources.json -----------------------------


def irsa_estate(
    root: Path,
    service_accounts: Sequence[tuple[str, str]],
    *,
    cluster: str = "prod",
    pods: Sequence[Mapping[str, Any]] = (),
    secrets: Sequence[Mapping[str, Any]] = (),
    rbac: Iterable[Mapping[str, Any]] | None = (),
    role_policy: Mapping[str, Any] | None = None,
    extra: Sequence[Mapping[str, Any]] = (),
    secrets_listed: bool = True,
) -> Path:
    """`service_accounts` (namespace, name) each annotated with its own IRSA role (AdministratorAccess-like
    unless `role_policy`), their pods, legacy token Secrets, and rbac.json (None: no rbac.json).

    `secrets_listed`: the cluster's token Secrets are listed whole in token-secrets.json (the `secrets`, so a
    ServiceAccount without one has none); False: no such file, whether one exists is unknown (as live)."""
    sys.path.insert(0, str(HERE.parent / "aws"))
    import aws_evidence as aws

    policy = role_policy or aws.doc(aws.allow("*"))
    names = {(ns, n): f"{ns}-{n}"[:60] for ns, n in service_accounts}
    roles = [aws.role(names[k], aws.irsa_trust(*k), inline={"p": policy}) for k in service_accounts]
    aws.iam(root, roles)
    aws.oidc_providers(root)
    namespaces = sorted({ns for ns, _ in service_accounts} | {"default", "kube-system"})
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces
    ]
    for (ns, n), role_name in names.items():
        items.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": n,
                    "namespace": ns,
                    "annotations": {"eks.amazonaws.com/role-arn": aws.role_arn(role_name)},
                },
            }
        )
    items += [dict(p) for p in pods] + [dict(s) for s in secrets] + [dict(x) for x in extra]
    items.append(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1"},
            "spec": {"providerID": "aws:///eu-west-1a/i-0123456789abcdef0"},
        }
    )
    base = root / "kubernetes" / cluster
    aws.write(base / "resources.json", {"apiVersion": "v1", "kind": "List", "items": items})
    aws.write(base / "openid-configuration.json", {"issuer": aws.ISSUER})
    if rbac is not None:
        write_rbac(base, rbac)
    if secrets_listed:
        write_token_secrets(base, secrets)
    return root


def write_token_secrets(cluster_dir: Path, secrets: Iterable[Mapping[str, Any]]) -> Path:
    """token-secrets.json as `kubectl get secrets -A --field-selector type=kubernetes.io/service-account-token
    -o json` prints it, data stripped: the cluster's whole list (empty: no ServiceAccount has one)."""
    tokens = [dict(s) for s in secrets if s.get("type") == "kubernetes.io/service-account-token"]
    for secret in tokens:
        secret.pop("data", None)
    path = cluster_dir / "token-secrets.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": tokens}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def pod(namespace: str, name: str, service_account: str, node: str | None = "node-1") -> dict[str, Any]:
    spec: dict[str, Any] = {"serviceAccountName": service_account, "containers": [{"name": "app", "image": "app"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def token_secret(namespace: str, name: str, service_account: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"kubernetes.io/service-account.name": service_account},
        },
        "data": {"token": "", "ca.crt": "", "namespace": ""},
    }


# -- kubeiam.toml ------------------------------------------------------------------------------------


def toml_config(folder: Path, takeover: str) -> AnalysisConfig:
    """The analysis settings of a `kubeiam.toml` in `folder` whose `[takeover]` table is `takeover` (TOML
    lines), loaded, checked against what the providers declare and parsed as `kubeiam audit` does."""
    path = folder / "kubeiam.toml"
    path.write_text(f"[takeover]\n{takeover}\n")
    providers = load_providers()
    declared = declarations_of(providers)
    config = load_config(path).checked(clouds=declared.clouds, settings=declared.settings)
    return config.analysis(all_rules(providers))


# -- the demo ----------------------------------------------------------------------------------------

DEMO = REPO / "fixtures" / "demo" / "kubernetes"


def demo_rbac() -> dict[str, list[dict[str, Any]]]:
    """Each demo cluster's own RBAC beside the bootstrap policy: one takeover case per cloud."""
    return {
        # EKS: the data engineers' group may edit in `data`, whose ServiceAccounts take data-etl (admin).
        "eks-prod": [binding("data-engineers-edit", "edit", "Group:data-engineers", namespace="data")],
        # GKE: every ServiceAccount of `web` may exec into the pods of `analytics` (broad).
        "gke-data": [
            role("pod-exec", rule("create", "pods/exec"), rule("get,list", "pods"), namespace="analytics"),
            binding(
                "web-can-debug-analytics",
                "pod-exec",
                "Group:system:serviceaccounts:web",
                namespace="analytics",
                role_kind="Role",
            ),
        ],
        # AKS: a legacy app may mint tokens for every ServiceAccount (a copied external-secrets rule).
        "aks-apps": [
            role("token-minter", rule("create", "serviceaccounts/token")),
            binding("legacy-app-token-minter", "token-minter", "ServiceAccount:legacy/app"),
        ],
    }


def write_demo() -> None:
    for cluster, items in demo_rbac().items():
        write_rbac(DEMO / cluster, items)


if __name__ == "__main__":
    write_demo()
