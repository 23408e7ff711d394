"""The Kubernetes provider's view of what the model does not hold (`inventory.views["kubernetes"]`).

The model keeps ServiceAccounts, pods, nodes and egress blocks; this view keeps the rest of the
collected objects (for cloud providers' readers: Karpenter EC2NodeClasses, the `aws-auth` ConfigMap, ...)
and what the reader found but the model has no place for (annotation maps under a misspelled metadata
field, the cluster's RBAC, which legacy token Secrets exist and whether that list is whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeiam.vocabulary.model import Inventory
from kubeiam_kubernetes.judge.rbac_model import RbacObjects

NAME = "kubernetes"
"""The key of this view in `Inventory.views`."""

ServiceAccountKey = tuple[str, str, str]
"""(cluster, namespace, name), as `ServiceAccount.key`."""


@dataclass(frozen=True)
class KubernetesView:
    objects: tuple[Mapping[str, Any], ...] = ()
    """Objects of kinds the model does not hold, each with a `cluster` field added."""
    misplaced_annotations: Mapping[ServiceAccountKey, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    """ServiceAccount key -> {metadata field as written (e.g. `annotation`) -> its map}."""
    rbac: Mapping[str, RbacObjects] = field(default_factory=dict)
    """Cluster name -> its RBAC objects (`rbac.json`); a cluster absent here: its RBAC was not read."""
    token_secrets: Mapping[ServiceAccountKey, tuple[str, ...]] = field(default_factory=dict)
    """ServiceAccount key -> names of its legacy token Secrets known to exist (metadata only)."""
    token_secrets_listed: frozenset[str] = frozenset()
    """Clusters whose token Secrets were listed whole (`token-secrets.json`): there, a ServiceAccount absent
    from `token_secrets` has none. Elsewhere absent is not none: whether one exists is unknown."""

    def of_kind(self, cluster: str, kind: str) -> tuple[Mapping[str, Any], ...]:
        return tuple(o for o in self.objects if o.get("cluster") == cluster and o.get("kind") == kind)


def kubernetes_view(inventory: Inventory) -> KubernetesView:
    """The view the Kubernetes reader published; an empty one when it did not run."""
    view = inventory.views.get(NAME)
    return view if isinstance(view, KubernetesView) else KubernetesView()
