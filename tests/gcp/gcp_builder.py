"""Builds small GKE + GCP evidence directories in the gcloud JSON shapes (docs/evidence.md).

Used by the reader tests (into tmp_path) and to write fixtures/rules/GCP-*/ (run this module:
`python tests/gcp/gcp_builder.py` rewrites them; the fixture files are what the runner reads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = "fx-proj"
NUMBER = "100000000001"
POOL = f"{PROJECT}.svc.id.goog"
CLUSTER = "gke-fx"
LOCATION = "us-central1"
ISSUER = f"https://container.googleapis.com/v1/projects/{PROJECT}/locations/{LOCATION}/clusters/{CLUSTER}"
DEFAULT_COMPUTE = f"{NUMBER}-compute@developer.gserviceaccount.com"


def gsa(name: str, project: str = PROJECT) -> str:
    """`NAME-gsa@PROJECT.iam.gserviceaccount.com` (account ids are 6 to 30 characters)."""
    return f"{name}-gsa@{project}.iam.gserviceaccount.com"


def ksa_member(ns: str, name: str) -> str:
    return f"serviceAccount:{POOL}[{ns}/{name}]"


def principal(ns: str, name: str) -> str:
    return (
        f"principal://iam.googleapis.com/projects/{NUMBER}/locations/global/workloadIdentityPools/{POOL}"
        f"/subject/ns/{ns}/sa/{name}"
    )


def principal_set(rest: str) -> str:
    return f"principalSet://iam.googleapis.com/projects/{NUMBER}/locations/global/workloadIdentityPools/{POOL}/{rest}"


def binding(role: str, *members: str, condition: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"members": list(members), "role": role}
    if condition:
        out["condition"] = condition
    return out


def policy(*bindings: dict[str, Any]) -> dict[str, Any]:
    return {"bindings": list(bindings), "etag": "BwYdV9Qx3rA=", "version": 3}


def wiu(ns: str, name: str) -> dict[str, Any]:
    return policy(binding("roles/iam.workloadIdentityUser", ksa_member(ns, name)))


def pool(name: str, account: str = "default", mode: str | None = "GKE_METADATA") -> dict[str, Any]:
    config: dict[str, Any] = {
        "machineType": "e2-standard-4",
        "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
        "serviceAccount": account,
    }
    if mode:
        config["workloadMetadataConfig"] = {"mode": mode}
    return {
        "config": config,
        "name": name,
        "selfLink": f"https://container.googleapis.com/v1/projects/{PROJECT}/locations/{LOCATION}/clusters/{CLUSTER}"
        f"/nodePools/{name}",
        "status": "RUNNING",
        "version": "1.30.5-gke.1443001",
    }


@dataclass
class Case:
    """One evidence directory: a GKE cluster with ServiceAccounts, and one GCP project."""

    ksas: list[tuple[str, str, str | None]] = field(default_factory=lambda: [("app", "api", gsa("api"))])
    """(namespace, name, iam.gke.io/gcp-service-account or None)."""
    gsas: list[str] = field(default_factory=lambda: [gsa("api")])
    project_policy: list[dict[str, Any]] = field(default_factory=list)
    ancestors: dict[str, list[dict[str, Any]]] | None = None
    assets: list[dict[str, Any]] | None = None
    sa_policies: dict[str, dict[str, Any]] | None = None
    """Default: each annotated GSA trusts its KSA (roles/iam.workloadIdentityUser)."""
    keys: dict[str, list[dict[str, Any]]] | None = None
    custom_roles: list[dict[str, Any]] | None = None
    workload_pool: str | None = POOL
    autopilot: bool = False
    pools: list[dict[str, Any]] = field(default_factory=lambda: [pool("default-pool", gsa("nodes"))])
    disabled: tuple[str, ...] = ()
    expect: dict[str, Any] | None = None
    usage: bool = True
    """Write usage files (issue 14): each account authenticated recently, no recommender insight; so
    that a case is about what it sets up, not about missing usage data (GCP-011 coverage notes)."""

    def write(self, root: Path) -> Path:
        k8s = root / "kubernetes" / CLUSTER
        items: list[dict[str, Any]] = [_ns(ns) for ns in sorted({n for n, _, _ in self.ksas})]
        for ns, name, annotation in self.ksas:
            meta: dict[str, Any] = {"name": name, "namespace": ns}
            if annotation is not None:
                meta["annotations"] = {"iam.gke.io/gcp-service-account": annotation}
            items.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
            items.append(_pod(ns, name, self.pools[0]["name"] if self.pools else "default-pool"))
        items += [_node(p["name"]) for p in self.pools]
        _write(k8s / "resources.json", {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {}})
        _write(k8s / "openid-configuration.json", {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/openid/v1/jwks"})
        gcp = root / "gcp" / PROJECT
        _write(gcp / "project.json", _project())
        _write(gcp / "project-iam-policy.json", policy(*self.project_policy))
        if self.ancestors is not None:
            _write(gcp / "ancestors-iam-policies.json", {k: policy(*v) for k, v in self.ancestors.items()})
        if self.assets is not None:
            _write(gcp / "asset-iam-policies.json", self.assets)
        accounts = list(dict.fromkeys([*self.gsas, *(a for _, _, a in self.ksas if a and a in self.gsas)]))
        _write(gcp / "service-accounts.json", [_account(e, e in self.disabled) for e in accounts])
        sa_policies = self.sa_policies
        if sa_policies is None:
            sa_policies = {a: wiu(ns, n) for ns, n, a in self.ksas if a in accounts}
        _write(gcp / "service-account-iam-policies.json", {e: sa_policies.get(e, {"etag": "ACAB"}) for e in accounts})
        keys = self.keys if self.keys is not None else {}
        _write(gcp / "service-account-keys.json", {e: keys.get(e, [_key(e, "SYSTEM_MANAGED", 1)]) for e in accounts})
        if self.custom_roles is not None:
            _write(gcp / "custom-roles.json", self.custom_roles)
        if self.usage:
            _write(gcp / "iam-insights.json", [])
            _write(gcp / "service-account-last-authentication.json", [_authenticated(e) for e in accounts])
        cluster: dict[str, Any] = {
            "location": LOCATION,
            "name": CLUSTER,
            "nodePools": self.pools,
            "selfLink": f"https://container.googleapis.com/v1/projects/{PROJECT}/locations/{LOCATION}/clusters/{CLUSTER}",
            "status": "RUNNING",
        }
        if self.workload_pool:
            cluster["workloadIdentityConfig"] = {"workloadPool": self.workload_pool}
        if self.autopilot:
            cluster["autopilot"] = {"enabled": True}
        gke = gcp / "gke" / LOCATION / CLUSTER
        _write(gke / "cluster.json", cluster)
        _write(gke / "node-pools.json", self.pools)
        if self.expect is not None:
            _write(root / "expect.json", self.expect)
        return root


def user_key(email: str, n: int = 2, disabled: bool = False, valid_before: str | None = None) -> dict[str, Any]:
    key = _key(email, "USER_MANAGED", n, disabled)
    if valid_before is not None:
        key["validBeforeTime"] = valid_before
    return key


def _key(email: str, kind: str, n: int, disabled: bool = False) -> dict[str, Any]:
    out = {
        "keyAlgorithm": "KEY_ALG_RSA_2048",
        "keyOrigin": "GOOGLE_PROVIDED",
        "keyType": kind,
        "name": f"projects/{PROJECT}/serviceAccounts/{email}/keys/{n:040x}",
        "validAfterTime": "2026-01-05T10:00:00Z",
        "validBeforeTime": "9999-12-31T23:59:59Z" if kind == "USER_MANAGED" else "2026-01-21T10:00:00Z",
    }
    if disabled:
        out["disabled"] = True
    return out


def _authenticated(email: str, when: str = "2026-01-10T07:00:00Z") -> dict[str, Any]:
    """One `gcloud policy-intelligence query-activity --activity-type=serviceAccountLastAuthentication` entry."""
    name = f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{email}"
    return {
        "activity": {
            "lastAuthenticatedTime": when,
            "serviceAccount": {"fullResourceName": name, "projectNumber": NUMBER, "serviceAccountId": "1"},
        },
        "activityType": "serviceAccountLastAuthentication",
        "fullResourceName": name,
        "observationPeriod": {"endTime": when, "startTime": when},
    }


def _project() -> dict[str, Any]:
    return {
        "createTime": "2025-01-01T00:00:00.000Z",
        "lifecycleState": "ACTIVE",
        "name": PROJECT,
        "parent": {"id": "200000000002", "type": "folder"},
        "projectId": PROJECT,
        "projectNumber": NUMBER,
    }


def _account(email: str, disabled: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "email": email,
        "name": f"projects/{PROJECT}/serviceAccounts/{email}",
        "projectId": PROJECT,
        "uniqueId": str(100000000000000000000 + sum(map(ord, email))),
    }
    if disabled:
        out["disabled"] = True
    return out


def _ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _node(pool_name: str) -> dict[str, Any]:
    name = f"gke-{CLUSTER}-{pool_name}-0a1b2c3d-x1y2"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"cloud.google.com/gke-nodepool": pool_name}},
        "spec": {"providerID": f"gce://{PROJECT}/{LOCATION}-a/{name}"},
    }


def _pod(ns: str, sa: str, pool_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{sa}-0", "namespace": ns},
        "spec": {
            "serviceAccountName": sa,
            "nodeName": f"gke-{CLUSTER}-{pool_name}-0a1b2c3d-x1y2",
            "containers": [{"name": sa, "image": "registry.example.com/app:1.0"}],
        },
    }


def _write(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")


if __name__ == "__main__":
    from gcp_rule_cases import CASES  # sibling module: run as a script

    root = Path(__file__).resolve().parents[2] / "fixtures" / "rules"
    for (rule_id, name), case in CASES.items():
        target = root / rule_id / name
        if target.exists():
            for f in sorted(target.rglob("*"), reverse=True):
                f.unlink() if f.is_file() else f.rmdir()
        case.write(target)
        print(target.relative_to(root))
