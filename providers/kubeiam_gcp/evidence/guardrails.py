"""The guardrails read, as the view's `Guardrails`: deny rules (attachment points by project id), the
groups whose members are known, and each project's ancestry (for where a deny rule applies)."""

from __future__ import annotations

from kubeiam_gcp.view import DenyRuleView, Guardrails

from .index import EvidenceIndex


def guardrails_of(index: EvidenceIndex) -> Guardrails:
    rules = tuple(
        DenyRuleView(
            r.attachment,
            r.policy,
            frozenset(r.denied_principals),
            frozenset(r.exception_principals),
            r.denied_permissions,
            r.exception_permissions,
            r.condition,
            r.source,
        )
        for r in index.deny_rules
    )
    return Guardrails(
        deny=rules,
        deny_read=index.deny_read,
        groups=dict(index.groups),
        ancestry={p: index.ancestry(p) for p in index.projects},
        numbers=dict(index.numbers),
    )
