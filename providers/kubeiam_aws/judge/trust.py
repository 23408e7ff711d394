"""Reading a role's trust policy: who it admits through IRSA and EKS Pod Identity, and how widely.

IRSA: the token's `sub` is `system:serviceaccount:NS:NAME` and its `aud` `sts.amazonaws.com`; the
trust names the cluster's OIDC provider (`arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER-HOST`)
and should pin `sub` with StringEquals. Pod Identity: the trust names `pods.eks.amazonaws.com`
and the association (not the trust) picks the ServiceAccount.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from kubeiam.vocabulary.model import LinkStatus, ServiceAccount
from kubeiam.vocabulary.policy import Condition, Statement
from kubeiam_aws.judge.conditions import case_glob

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
STS_AUDIENCE = "sts.amazonaws.com"
AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"
"""The EKS Pod Identity webhook's annotation for the projected token's audience (default sts.amazonaws.com)."""
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


_PINNING = {"StringEquals", "StringEqualsIgnoreCase", "StringLike"}


def _pins(c: Condition) -> bool:
    """The test admits named subjects only: an equality, or a StringLike without `*` or `?`. A value with a
    policy variable pins nothing: IAM fills it in per request, so it may name anyone."""
    if c.base_operator not in _PINNING or c.variables:
        return False
    return c.base_operator != "StringLike" or not any("*" in v or "?" in v for v in c.values)


@dataclass(frozen=True, slots=True)
class WebIdentityGrant:
    """One trust statement that lets tokens of one OIDC provider assume the role."""

    account: str
    host: str
    statement: Statement
    subs: tuple[Condition, ...]
    """The statement's conditions on `<host>:sub` (worked out once: every ServiceAccount is tested on them)."""
    auds: tuple[Condition, ...]

    @classmethod
    def of(cls, account: str, host: str, statement: Statement) -> WebIdentityGrant:
        def keys(suffix: str) -> tuple[Condition, ...]:
            k = f"{host}:{suffix}"
            return tuple(c for c in statement.conditions if c.key_lower == k)

        return cls(account, host, statement, keys("sub"), keys("aud"))

    def problem(self) -> str | None:
        """Why more than named ServiceAccounts can use this statement, or None.

        A statement's conditions must all hold, so one `sub` test naming ServiceAccounts (an equality,
        or a glob-free StringLike) pins the statement to them, whatever wildcard or negated test sits
        beside it. `Null sub false` or a `sub` test under an operator we do not model pins nothing,
        however it looks."""
        if any(_pins(c) for c in self.subs):
            return None
        if any(
            c.base_operator.endswith("Like") or c.base_operator.startswith("StringNot") or c.variables
            for c in self.subs
        ):
            return "wildcard-sub"
        return "aud-without-sub" if self.auds else "no-condition"

    def named_subjects(self) -> tuple[str, ...]:
        return tuple(
            v
            for c in self.subs
            if c.base_operator in ("StringEquals", "StringEqualsIgnoreCase") and not c.variables
            for v in c.values
        )

    def admits(self, namespace: str, name: str, audience: str = STS_AUDIENCE) -> bool:
        """Whether a token of this ServiceAccount, for `audience` (the `eks.amazonaws.com/audience` annotation's,
        else sts.amazonaws.com), meets the statement's `sub` and `aud` tests."""
        subject = f"system:serviceaccount:{namespace}:{name}"
        return all(_may_hold(c, subject) for c in self.subs) and all(_may_hold(c, audience) for c in self.auds)


def _may_hold(c: Condition, actual: str) -> bool:
    # A value with a policy variable is compared with what IAM fills in, not with its text: it may hold.
    return c.variables or _holds(c.base_operator, c.values, actual)


def _holds(op: str, values: tuple[str, ...], actual: str) -> bool:
    if op == "Null":  # `sub` and `aud` are in every projected token
        return any(v.lower() == "false" for v in values)
    if op == "StringEquals":
        return actual in values
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in {v.lower() for v in values}
    if op == "StringLike":
        return any(case_glob(v, actual) for v in values)
    if op == "StringNotEquals":
        return actual not in values
    if op == "StringNotLike":
        return not any(case_glob(v, actual) for v in values)
    return True  # an operator we do not model may hold: never fail a trust on a guess


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
                    out.append(WebIdentityGrant.of(found[0], found[1], s))
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


def pod_identity_scoped(stmt: Statement, account: str | None = None) -> bool:
    """Whether a condition ties the statement to less than "any association in `account`" (the role's own).

    Why not `aws:SourceAccount` = the role's account: an association's role is always in its cluster's account, so
    that test always holds and scopes nothing; nor `aws:SourceArn` on `cluster/*` of that account, or a tag test
    on `*`."""
    return any(c.key_lower in POD_IDENTITY_SCOPE_KEYS and not _any_cluster(c, account) for c in stmt.conditions)


def _any_cluster(c: Condition, account: str | None) -> bool:
    """The condition holds for every association of the account: it names no cluster, namespace or account less."""
    if account is None or c.variables:
        return False
    op = c.base_operator
    if op == "Null" or op.startswith(("StringNot", "ArnNot")):
        return True  # an existence test, or an exclusion: every other association of the account passes
    if c.key_lower == "aws:sourceaccount":
        return set(c.values) <= {account, "*"}
    if c.key_lower == "aws:sourcearn":
        return all(_every_cluster(v, account) for v in c.values)
    return op.endswith("Like") and all(v == "*" for v in c.values)


def _every_cluster(arn: str, account: str) -> bool:
    parts = arn.split(":")
    return arn == "*" or (len(parts) >= 6 and parts[4] in (account, "*") and parts[5] in ("cluster/*", "*"))


def trusts_role(trust: Iterable[Statement], role_arn: str) -> bool:
    """Whether the trust lets `role_arn` (named, through its account root, or `*`) call sts:AssumeRole.

    Conditions are not judged: one may hold, so a trust is never failed on a guess."""
    account = role_arn.split(":")[4]
    partition = role_arn.split(":")[1]
    allowed = {role_arn, account, f"arn:{partition}:iam::{account}:root", "*"}
    trust = tuple(trust)
    caller = frozenset(("AWS", a) for a in allowed - {"*"})
    return not trust_denies(trust, "sts:AssumeRole", caller) and any(
        s.is_allow
        and s.allows("sts:AssumeRole")
        and any(p.type == "*" or (p.type == "AWS" and p.value in allowed) for p in s.principals)
        for s in trust
    )


def trust_denies(trust: Iterable[Statement], action: str, caller: frozenset[tuple[str, str]] | None = None) -> bool:
    """An unconditional Deny of the assume action in the trust itself, for `caller` ((type, value) of the
    principal asking; None: any caller)."""
    return any(
        not s.is_allow and not s.conditions and s.allows(action) and (caller is None or _applies(s, caller))
        for s in trust
    )


def _applies(s: Statement, caller: frozenset[tuple[str, str]]) -> bool:
    """Whether a statement's Principal / NotPrincipal takes in the caller (none named: everyone)."""
    if s.not_principals:
        return not any((p.type, p.value) in caller for p in s.not_principals)
    if not s.principals:
        return True
    return any(p.value == "*" or (p.type, p.value) in caller for p in s.principals)


_ARN_OPS = {
    "ArnEquals": "StringLike",
    "ArnLike": "StringLike",
    "ArnNotEquals": "StringNotLike",
    "ArnNotLike": "StringNotLike",
}


@dataclass(frozen=True, slots=True)
class PodIdentitySession:
    """What EKS Pod Identity puts in its AssumeRole request for one association."""

    account: str
    cluster_arn: str
    cluster_name: str
    namespace: str
    service_account: str
    session_tags: bool = True
    """False when the association sets `disableSessionTags`."""

    def values(self) -> dict[str, str]:
        out = {"aws:sourceaccount": self.account, "aws:sourcearn": self.cluster_arn}
        if self.session_tags:
            out |= {
                "aws:requesttag/eks-cluster-arn": self.cluster_arn,
                "aws:requesttag/eks-cluster-name": self.cluster_name,
                "aws:requesttag/kubernetes-namespace": self.namespace,
                "aws:requesttag/kubernetes-service-account": self.service_account,
            }
        return out


def pod_identity_refusal(trust: Iterable[Statement], session: PodIdentitySession) -> str | None:
    """Why STS refuses EKS Pod Identity this role for this association, or None when the trust admits it.

    Only conditions on what the request is known to carry are judged (source account and cluster, the
    session tags EKS sets); any other condition may hold, so it never fails a trust on a guess."""
    trust = tuple(trust)
    statements = pod_identity_statements(trust)
    if not statements:
        return "trust policy does not allow pods.eks.amazonaws.com to assume the role"
    if trust_denies(trust, "sts:AssumeRole", frozenset({("Service", POD_IDENTITY_SERVICE)})):
        return "trust policy denies sts:AssumeRole"
    known = session.values()
    if not any(all(_known_holds(c, known, session.session_tags) for c in s.conditions) for s in statements):
        return (
            "the conditions of the pods.eks.amazonaws.com statement exclude this association "
            f"({session.cluster_name} {session.namespace}/{session.service_account})"
        )
    if session.session_tags and not any(s.allows("sts:TagSession") for s in statements):
        # EKS passes session tags unless the association disables them: without sts:TagSession STS refuses.
        return "trust policy does not allow sts:TagSession, which EKS Pod Identity needs for its session tags"
    return None


def _known_holds(cond: Condition, known: dict[str, str], session_tags: bool) -> bool:
    op = _ARN_OPS.get(cond.base_operator, cond.base_operator)
    if cond.variables:
        return True  # compared with what IAM fills in, not with its text
    if cond.key_lower in known:
        return _holds(op, cond.values, known[cond.key_lower])
    if not session_tags and cond.key_lower.startswith("aws:requesttag/") and not cond.operator.endswith("IfExists"):
        # No session tags, so the key is absent: only `Null true` and the negated operators hold.
        return (op == "Null" and any(v.lower() == "true" for v in cond.values)) or op.startswith("StringNot")
    return True


@dataclass(frozen=True, slots=True)
class IrsaTrust:
    """What a role's trust says about one cluster's ServiceAccounts: a verdict, or the grants to test `sub` on."""

    grants: tuple[WebIdentityGrant, ...] = ()
    fixed: tuple[LinkStatus, str] | None = None
    provider_missing: bool = False
    """The account has no OIDC provider for the issuer: untrusted whatever the trust policy says."""
    client_ids: frozenset[str] | None = None
    """The provider's ClientIDList, the audiences STS accepts from it (None: not in the evidence)."""

    @classmethod
    def of(
        cls,
        account: str,
        trust: tuple[Statement, ...],
        issuer: str | None,
        providers: frozenset[str] | None,
        client_ids: Mapping[str, frozenset[str]] | None = None,
    ) -> IrsaTrust:
        """`account`: the role's; `providers`: the account's OIDC provider hosts (None: not in evidence);
        `client_ids`: host -> the provider's ClientIDList, where the evidence lists it."""
        host = issuer_host(issuer)
        if host is None:
            return cls(
                fixed=(
                    LinkStatus.RESOLVED,
                    "cluster issuer unknown (no openid-configuration.json or cluster.json): trust not verified",
                )
            )
        if providers is not None and host not in providers:
            reason = f"account {account} has no IAM OIDC provider for {host}"
            return cls(fixed=(LinkStatus.UNTRUSTED, reason), provider_missing=True)
        grants = tuple(g for g in web_identity_grants(trust) if g.host == host and g.account == account)
        if not grants:
            return cls(
                fixed=(LinkStatus.UNTRUSTED, f"trust policy names no OIDC provider for this cluster's issuer ({host})")
            )
        callers = frozenset(("Federated", p.value) for g in grants for p in g.statement.principals)
        if trust_denies(trust, WEB_IDENTITY, callers):
            return cls(fixed=(LinkStatus.UNTRUSTED, "trust policy denies sts:AssumeRoleWithWebIdentity"))
        return cls(grants=grants, client_ids=(client_ids or {}).get(host))

    def verdict(self, sa: ServiceAccount) -> tuple[LinkStatus, str]:
        if self.fixed is not None:
            return self.fixed
        audience = (sa.annotations.get(AUDIENCE_ANNOTATION) or "").strip() or STS_AUDIENCE
        if self.client_ids is not None and audience not in self.client_ids:
            listed = ", ".join(sorted(self.client_ids)) or "none"
            return (
                LinkStatus.UNTRUSTED,
                f"the IAM OIDC provider's ClientIDList does not list the audience {audience} ({listed})",
            )
        if not any(g.admits(sa.namespace, sa.name, audience) for g in self.grants):
            subject = f"system:serviceaccount:{sa.namespace}:{sa.name}"
            if any(g.admits(sa.namespace, sa.name, a) for g in self.grants for c in g.auds for a in c.values):
                auds = ", ".join(sorted({v for g in self.grants for c in g.auds for v in c.values}))
                return LinkStatus.UNTRUSTED, f"trust does not admit the token audience {audience} (aud allows {auds})"
            subs = ", ".join(sorted({v for g in self.grants for c in g.subs for v in c.values})) or "none"
            custom = f" for audience {audience}" if audience != STS_AUDIENCE else ""
            return LinkStatus.UNTRUSTED, f"trust does not admit {subject}{custom} (sub allows {subs})"
        return LinkStatus.RESOLVED, "trust admits this ServiceAccount"
