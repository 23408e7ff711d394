"""The Google Cloud rules, by family; `RULES` is the provider's whole tuple in catalogue order (GCP-001..012)."""

from __future__ import annotations

from kubeiam.vocabulary.rules import Rule

from . import accounts, grants, nodes, trust, unused

RULES: tuple[Rule, ...] = (
    *grants.RULES,
    *trust.RULES,
    *accounts.RULES,
    *nodes.RULES,
    *unused.RULES,
    *nodes.HOST_NETWORK_RULES,
)
