"""Turn an API object into what `kubectl get -o json` prints, minus anything secret.

Why redact: an evidence directory is an audit trail handed to auditors; a pod that sets
`AWS_SECRET_ACCESS_KEY` as a literal must be reported (the variable and where it comes from) without
its value ever being written anywhere. The reader only needs to know that a literal is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeiam.safety.redaction import REDACTED, is_secret_variable

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Kinds collected only for their ownerReferences: their pod templates (with env) are dropped.
METADATA_ONLY = {"ReplicaSet", "Job"}


def as_kubectl_item(raw: Mapping[str, Any], kind: str, api_version: str) -> dict[str, Any]:
    """`kind`/`apiVersion` first (typed lists omit them on items), no managedFields, secrets redacted."""
    item: dict[str, Any] = {"apiVersion": raw.get("apiVersion") or api_version, "kind": raw.get("kind") or kind}
    for key, value in raw.items():
        if key not in item:
            item[key] = value
    meta = dict(item.get("metadata") or {})
    meta.pop("managedFields", None)  # kubectl hides them by default (--show-managed-fields=false)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        # The last applied manifest repeats every env literal of a bare pod: drop it.
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    item["metadata"] = meta
    if item["kind"] in METADATA_ONLY:
        return {"apiVersion": item["apiVersion"], "kind": item["kind"], "metadata": meta}
    if item["kind"] == "Pod" and isinstance(item.get("spec"), dict):
        item["spec"] = redact_pod_spec(item["spec"])
    return item


def redact_pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    for field in ("initContainers", "containers", "ephemeralContainers"):
        containers = out.get(field)
        if isinstance(containers, list):
            out[field] = [_redact_container(c) if isinstance(c, dict) else c for c in containers]
    return out


def _redact_container(container: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(container)
    env = out.get("env")
    if isinstance(env, list):
        out["env"] = [
            {**e, "value": REDACTED}
            if isinstance(e, dict)
            and e.get("value")
            and is_secret_variable(str(e.get("name", "")), str(e.get("value")))
            else e
            for e in env
        ]
    return out
