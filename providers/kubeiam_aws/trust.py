"""Reading a role's trust policy: who it admits through IRSA and EKS Pod Identity, and how widely.

IRSA: the token's `sub` is `system:serviceaccount:NS:NAME` and its `aud` `sts.amazonaws.com`; the
trust names the cluster's OIDC provider (`arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER-HOST`)
and should pin `sub` with StringEquals. Pod Identity: the trust names `pods.eks.amazonaws.com`
and the association (not the trust) picks the ServiceAccount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from kubeiam.policy import Statement, matches

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
STS_AUDIENCE = "sts.amazonaws.com"
# Keys that tie a Pod Identity trust to a cluster or ServiceAccount (the session tags EKS sets).
POD_IDENTITY_SCOPE_KEYS = {
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:requesttag/eks-cluster-arn",
    "aws:requesttag/eks-cluster-name",
    "aws:requesttag/kubernetes-namespace",
    "aws:requesttag/kubernetes-service-account",
}


def issuer_host(issuer: str | None) -> str | None:
    """`https://oidc.eks.REGION.amazonaws.com/id/X` -> `oidc.eks.region.amazonaws.com/id/x` (IAM compares keys
    case-insensitively, so hosts are lower-cased for comparison)."""
    if not issuer:
        return None
    host = issuer.split("://", 1)[-1].rstrip("/")
    return host.lower()


def provider_host(principal: str) -> tuple[str, str] | None:
    """(account, host) of an `arn:...:oidc-provider/HOST` principal."""
    if ":oidc-provider/" not in principal:
        return None
    head, _, host = principal.partition(":oidc-provider/")
    account = head.rsplit(":", 1)[-1]
    return account, host.lower().rstrip("/")


@dataclass(frozen=True, slots=True)
class WebIdentityGrant:
    """One trust statement that lets tokens of one OIDC provider assume the role."""

    account: str
    host: str
    statement: Statement

    def keys(self, suffix: str) -> list:
        k = f"{self.host}:{suffix}"
        return [c for c in self.statement.conditions if c.key_lower == k]

    @property
    def subs(self) -> list:
        return self.keys("sub")

    @property
    def auds(self) -> list:
        return self.keys("aud")

    def problem(self) -> str | None:
        """Why more than named ServiceAccounts can use this statement, or None."""
        if not self.subs and not self.auds:
            return "no-condition"
        if not self.subs:
            return "aud-without-sub"
        for c in self.subs:
            if c.base_operator.endswith("Like") and any("*" in v or "?" in v for v in c.values):
                return "wildcard-sub"
            if c.base_operator.startswith("StringNot"):
                return "wildcard-sub"
        return None

    def named_subjects(self) -> tuple[str, ...]:
        return tuple(
            v for c in self.subs if c.base_operator in ("StringEquals", "StringEqualsIgnoreCase") for v in c.values
        )

    def admits(self, namespace: str, name: str) -> bool:
        subject = f"system:serviceaccount:{namespace}:{name}"
        for c in self.subs:
            if not _holds(c.base_operator, c.values, subject):
                return False
        return all(_holds(c.base_operator, c.values, STS_AUDIENCE) for c in self.auds)


def _holds(op: str, values: tuple[str, ...], actual: str) -> bool:
    if op == "StringEquals":
        return actual in values
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in {v.lower() for v in values}
    if op == "StringLike":
        return any(matches(v, actual) and _case_glob(v, actual) for v in values)
    if op == "StringNotEquals":
        return actual not in values
    if op == "StringNotLike":
        return not any(matches(v, actual) for v in values)
    return True  # an operator we do not model may hold: never fail a trust on a guess


def _case_glob(glob: str, actual: str) -> bool:
    # StringLike is case-sensitive, unlike action matching.
    import re

    rx = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)
    return re.fullmatch(rx, actual, re.DOTALL) is not None


def web_identity_grants(trust: Iterable[Statement]) -> list[WebIdentityGrant]:
    return list(_web_identity_grants(tuple(trust)))


@lru_cache(maxsize=16384)
def _web_identity_grants(trust: tuple[Statement, ...]) -> tuple[WebIdentityGrant, ...]:
    out = []
    for s in trust:
        if not s.is_allow or not s.allows(WEB_IDENTITY):
            continue
        for p in s.principals:
            if p.type == "Federated":
                found = provider_host(p.value)
                if found:
                    out.append(WebIdentityGrant(found[0], found[1], s))
    return tuple(out)


def open_statements(trust: Iterable[Statement]) -> list[Statement]:
    """Allow statements any AWS principal anywhere can use (`Principal: "*"` without a condition)."""
    return [
        s
        for s in trust
        if s.is_allow
        and not s.conditions
        and any(p.type == "*" or (p.type == "AWS" and p.value == "*") for p in s.principals)
    ]


def pod_identity_statements(trust: Iterable[Statement]) -> list[Statement]:
    return [
        s
        for s in trust
        if s.is_allow
        and s.allows("sts:AssumeRole")
        and any(p.type == "Service" and p.value.lower() == POD_IDENTITY_SERVICE for p in s.principals)
    ]


def pod_identity_scoped(stmt: Statement) -> bool:
    return any(c.key_lower in POD_IDENTITY_SCOPE_KEYS for c in stmt.conditions)


def trust_denies(trust: Iterable[Statement], action: str) -> bool:
    """An unconditional Deny of the assume action in the trust itself."""
    return any(not s.is_allow and not s.conditions and s.allows(action) for s in trust)
