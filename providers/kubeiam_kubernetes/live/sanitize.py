"""Turn an API object into what `kubectl get -o json` prints, minus anything secret.

Why redact: an evidence directory is an audit trail handed to auditors; a pod that sets
`AWS_SECRET_ACCESS_KEY` as a literal must be reported (the variable and where it comes from) without
its value ever being written anywhere. The reader only needs to know that a literal is there. The
one redaction (kubeiam.safety.redaction) covers the rest of the object too: container `args` and
`command` (`--db-password=...`), annotations and labels (`password=...`, a key named `api-token`),
URLs with a password, key ids and keys in variables with innocent names, JSON held in a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeiam.safety.redaction import Redactor

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Kinds collected only for their ownerReferences: their pod templates (with env) are dropped.
METADATA_ONLY = {"ReplicaSet", "Job"}

# One redactor for the objects of a collection (their images, labels and names repeat by the thousand),
# renewed now and then so a long-lived process does not keep every string it ever saw.
_redactor = Redactor()
_RENEW_AFTER = 200_000


def as_kubectl_item(raw: Mapping[str, Any], kind: str, api_version: str) -> dict[str, Any]:
    """`kind`/`apiVersion` first (typed lists omit them on items), no managedFields, secrets redacted.

    `raw` is never changed: the redacted parts are copies."""
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
        item = {"apiVersion": item["apiVersion"], "kind": item["kind"], "metadata": meta}
    global _redactor
    if _redactor.size > _RENEW_AFTER:
        _redactor = Redactor()
    cleaned: dict[str, Any] = _redactor.value(item)
    return cleaned
