"""Helpers of the fake Kubernetes API server: selectors, Status bodies, and a kubeconfig writer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TOKEN = "kubeiam-test-token"


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip


def forbidden(path: str, rules: set[str]) -> bool:
    return any(path == r or (r.endswith("*") and path.startswith(r[:-1])) for r in rules)


def _field(obj: Mapping[str, Any], dotted: str) -> str:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if dotted == "metadata.namespace" and value is None:
        value = "default" if "namespace" in obj.get("metadata", {}) else ""
    return "" if value is None else str(value)


def select_fields(obj: Mapping[str, Any], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if _field(obj, key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            if _field(obj, key.strip()) != value.strip():
                return False
        else:
            raise ValueError(f"invalid field selector term {term!r}")
    return True


def select_labels(obj: Mapping[str, Any], selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term.strip() not in labels:
            return False
    return True


def write_kubeconfig(
    path: Path,
    contexts: Mapping[str, tuple[str, str]],
    *,
    current: str | None = None,
    token: str | None = DEFAULT_TOKEN,
    namespace: str | None = None,
) -> Path:
    """Write a kubeconfig: `contexts` maps a context name to (kubeconfig cluster name, server URL).

    The kubeconfig cluster name is what kubeiam derives the evidence folder from, so tests can use
    realistic ones (`arn:aws:eks:eu-west-1:111122223333:cluster/prod`, `gke_proj_europe-west1_data`).
    """
    clusters, users, ctxs = {}, [], []
    for ctx, (cluster, url) in contexts.items():
        clusters[cluster] = {"name": cluster, "cluster": {"server": url}}
        ctx_body: dict[str, Any] = {"cluster": cluster, "user": "kubeiam-test"}
        if namespace:
            ctx_body["namespace"] = namespace
        ctxs.append({"name": ctx, "context": ctx_body})
    users.append({"name": "kubeiam-test", "user": {"token": token} if token else {}})
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": list(clusters.values()),
        "users": users,
        "contexts": ctxs,
        "current-context": current or next(iter(contexts)),
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
