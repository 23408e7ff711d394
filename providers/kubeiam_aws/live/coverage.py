"""What a failed AWS call leaves unchecked: whose findings (the subject) and which rules' findings.

Why name rules: a baseline marks exactly those findings `not_rechecked`; a gap that names no rule hides
every AWS finding of its subject, which is right only when everything about it is unknown.
"""

from __future__ import annotations

from typing import NamedTuple

POD_IDENTITY_RULES = (
    "AWS-004",
    "AWS-006",
    "AWS-007",
    "AWS-010",
    "AWS-011",
    "AWS-012",
    "AWS-013",
    "AWS-014",
    "AWS-015",
    "AWS-016",
    "AWS-024",
)
"""A ServiceAccount's Pod Identity unknown: its binding, sharing, trust, permission and unused-access findings."""
NODE_TEMPLATE_RULES = ("AWS-022",)
"""A cluster's node groups (or a node class's instance profile) unknown: the templates that start nodes."""
IRSA_TRUST_RULES = ("AWS-001", "AWS-002", "AWS-003", "AWS-004", "AWS-005")
"""The cluster object or its OIDC provider unread: they confirm the issuer IRSA trusts are judged against."""
NOT_ABOUT_POD_IDENTITY = ("AWS-001", "AWS-002", "AWS-003", "AWS-005", "AWS-020", "AWS-021", "AWS-022", "AWS-023")
"""The other AWS rules: IRSA trusts and nodes (kept here so that a new rule must be placed on one side)."""


class Dependent(NamedTuple):
    """Who depends on something the collection reads, as a coverage entry names it."""

    subject: str
    """`cluster/ns/sa`, `cluster/node/NAME`, a cluster name or a role ARN."""
    rules: tuple[str, ...] = ()
    """The rules whose findings about `subject` it decides; empty: all of them."""


def node_subject(cluster: str, node: str) -> str:
    return f"{cluster}/node/{node}"
