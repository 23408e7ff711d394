"""The Kubernetes provider's rules: what the Kubernetes objects alone show (no cloud evidence needed)."""

from __future__ import annotations

from kubeiam.vocabulary.rules import Rule
from kubeiam_kubernetes.rules import host_network, identity_annotations, static_credentials, takeover

# Rule order is the catalogue's order (`kubeiam rules`): K8S-001..006.
RULES: tuple[Rule, ...] = tuple(
    sorted(
        static_credentials.RULES + identity_annotations.RULES + host_network.RULES + takeover.RULES, key=lambda r: r.id
    )
)
