"""Who owns a finding: the namespace's ownership labels (configurable keys, first match wins)."""

from __future__ import annotations

from collections.abc import Sequence

from kubeiam.vocabulary.model import Inventory

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
