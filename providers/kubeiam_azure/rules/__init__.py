"""The Azure rules, in catalogue order: grants (AZ-001..006), binding (AZ-007..010), nodes (AZ-011),
unused access (AZ-012), Entra ID (AZ-013)."""

from __future__ import annotations

from kubeiam.vocabulary.rules import Rule
from kubeiam_azure.rules import binding, entra, grants, nodes, unused

RULES: tuple[Rule, ...] = grants.RULES + binding.RULES + nodes.RULES + unused.RULES + entra.RULES
