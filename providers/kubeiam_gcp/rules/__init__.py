"""The Google Cloud rules, by family; `RULES` is the provider's whole tuple in catalogue order (GCP-001..010)."""

from __future__ import annotations

from kubeiam.vocabulary.rules import Rule

from . import accounts, grants, nodes, trust

RULES: tuple[Rule, ...] = (*grants.RULES, *trust.RULES, *accounts.RULES, *nodes.RULES)
