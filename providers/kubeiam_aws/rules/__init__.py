"""The AWS rules, in catalogue order: trust (AWS-00x), permissions (AWS-01x), nodes (AWS-02x)."""

from __future__ import annotations

from kubeiam.vocabulary.rules import Rule
from kubeiam_aws.rules import nodes, permissions, trust

RULES: tuple[Rule, ...] = trust.RULES + permissions.RULES + nodes.RULES
