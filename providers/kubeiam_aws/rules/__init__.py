"""The AWS rules, in catalogue order: trust (AWS-00x), permissions (AWS-01x), nodes (AWS-020..023), unused
access (AWS-024)."""

from __future__ import annotations

from kubeiam.vocabulary.rules import Rule
from kubeiam_aws.rules import nodes, permissions, trust, unused

RULES: tuple[Rule, ...] = trust.RULES + permissions.RULES + nodes.RULES + unused.RULES
