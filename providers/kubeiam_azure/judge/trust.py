"""Whether a managed identity's federated credentials admit a ServiceAccount's token.

Entra ID exchanges a token only when one credential has exactly the token's issuer (`iss`,
trailing slash included), its subject (`sub`) and one of its audiences (`aud`). The webhook asks
for audience `api://AzureADTokenExchange`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubeiam.vocabulary.policy import matches
from kubeiam_azure.view import FederatedCredential

AUDIENCE = "api://AzureADTokenExchange"
"""The audience the workload identity webhook asks for, and a credential must list."""

_SUB_CLAUSE = re.compile(r"claims\[\s*'sub'\s*\]\s+(matches|eq)\s+'([^']*)'", re.IGNORECASE)


def subject_of(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def subject_patterns(cred: FederatedCredential) -> tuple[str, ...]:
    """The subjects a credential admits: its subject, or the `sub` clauses of a flexible expression."""
    if cred.subject is not None:
        return (cred.subject,)
    if not cred.claims_expression:
        return ()
    # Flexible credentials (preview): `claims['sub'] matches 'system:serviceaccount:ns:*'`.
    # Clauses joined by `or` each admit; we read every clause as admitting (never under-report).
    return tuple(value for _op, value in _SUB_CLAUSE.findall(cred.claims_expression))


def admits(cred: FederatedCredential, issuer: str, subject: str) -> bool:
    if cred.issuer != issuer or AUDIENCE not in cred.audiences:
        return False
    return any(matches(p, subject) if "*" in p else p == subject for p in subject_patterns(cred))


class TrustIndex:
    """The credentials of one identity, indexed by (issuer, subject): one look-up per ServiceAccount.

    Why: an identity shared by many ServiceAccounts has as many credentials; scanning them for
    every ServiceAccount would make reading quadratic.
    """

    def __init__(self, creds: Iterable[FederatedCredential]) -> None:
        self.exact: dict[tuple[str, str], FederatedCredential] = {}
        self.patterns: list[FederatedCredential] = []
        for c in sorted(creds, key=lambda c: c.name):
            if wildcard(c):
                self.patterns.append(c)
            elif AUDIENCE in c.audiences:
                for p in subject_patterns(c):
                    self.exact.setdefault((c.issuer, p), c)

    def find(self, issuer: str, subject: str) -> FederatedCredential | None:
        hit = self.exact.get((issuer, subject))
        if hit is not None:
            return hit
        return next((c for c in self.patterns if admits(c, issuer, subject)), None)


def wildcard(cred: FederatedCredential) -> bool:
    return any("*" in p or "?" in p for p in subject_patterns(cred))


def why_not(creds: Iterable[FederatedCredential], issuer: str, subject: str) -> str:
    """The nearest miss, for the finding: a person fixes the one field that differs."""
    creds = tuple(creds)
    if not creds:
        return "the identity has no federated credentials"
    same_subject = [c for c in creds if subject in subject_patterns(c)]
    for c in same_subject:
        if c.issuer != issuer:
            if c.issuer.rstrip("/") == issuer.rstrip("/"):
                return f"credential '{c.name}' issuer {c.issuer!r} differs from {issuer!r} by the trailing slash"
            return f"credential '{c.name}' has issuer {c.issuer!r}, the cluster's is {issuer!r}"
        if AUDIENCE not in c.audiences:
            return f"credential '{c.name}' audiences {list(c.audiences)} lack {AUDIENCE!r}"
    same_issuer = sorted({p for c in creds if c.issuer == issuer for p in subject_patterns(c)})
    if same_issuer:
        return f"no credential has subject {subject!r} (subjects for this issuer: {', '.join(same_issuer)})"
    return f"no credential has the cluster's issuer {issuer!r}"
