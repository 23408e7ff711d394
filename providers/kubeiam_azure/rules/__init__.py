"""The Azure rules, in catalogue order: grants (AZ-001..006), binding (AZ-007..010), nodes (AZ-011)."""

from __future__ import annotations

from kubeiam.vocabulary.rules import Rule
from kubeiam_azure.rules import binding, grants, nodes

RULES: tuple[Rule, ...] = grants.RULES + binding.RULES + nodes.RULES
