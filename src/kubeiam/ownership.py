"""Who owns a finding: the namespace's ownership labels (configurable keys, first match wins)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kubeiam.findings import Finding
from kubeiam.model import Inventory

DEFAULT_OWNER_LABELS: tuple[str, ...] = ("team", "owner")


def owner_of(inventory: Inventory, cluster: str, namespace: str | None, keys: Sequence[str]) -> str | None:
    if namespace is None:
        return None
    ns = inventory.namespace(cluster, namespace)
    if ns is None:
        return None
    for key in keys:
        value = ns.labels.get(key)
        if value:
            return value
    return None


def with_owners(
    findings: Sequence[Finding], inventory: Inventory, keys: Sequence[str] = DEFAULT_OWNER_LABELS
) -> tuple[Finding, ...]:
    """Every finding gets an `owner` field (null when no label says who owns it: a ticket needs a triage queue)."""
    return tuple(
        replace(f, extra={**f.extra, "owner": owner_of(inventory, f.cluster, f.namespace, keys)}) for f in findings
    )
