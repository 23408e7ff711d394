"""IAM deny policies: which permissions of a grant a deny rule takes away from a principal (pure).

A deny rule attached to a project, folder or organisation takes its `deniedPermissions` from its
`deniedPrincipals` on that resource and everything below it, unless the principal is an exception or
the permission is, and when its `denialCondition` holds. Only what is certain cuts a grant: a rule whose
condition cannot be decided, that names a group whose members are not known, or that may except the
principal through such a group, cuts nothing (the wider reading: the grant is judged whole). Where no
deny-policies.json was read, nothing is cut, and the findings say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache

from kubeiam.vocabulary.model import Grant, Inventory
from kubeiam_gcp.view import DenyRuleView, GcpView, Guardrails, view_of

from .conditions import evaluate

PUBLIC = "principalSet://goog/public:all"
_SERVICE = {"resourcemanager": "cloudresourcemanager.googleapis.com"}
"""v1 permission service prefix -> the service's name in v2 (deny) permissions, where they differ."""


@dataclass(frozen=True, slots=True)
class Cut:
    """What deny rules take from one grant."""

    permissions: frozenset[str]
    policies: tuple[str, ...]
    """The deny policies that cut it (names), for evidence."""


NO_CUT = Cut(frozenset(), ())


def v2_permission(permission: str) -> str:
    """`iam.serviceAccounts.getAccessToken` -> `iam.googleapis.com/serviceAccounts.getAccessToken`."""
    service, _, rest = permission.partition(".")
    return f"{_SERVICE.get(service, service + '.googleapis.com')}/{rest}"


def cut_of(inv: Inventory, principal: str, grant: Grant) -> Cut:
    """The permissions of `grant` that deny rules take from `principal` (memoised per principal and grant)."""
    view = view_of(inv)
    if not view.guardrails.deny:
        return NO_CUT
    memo: dict[tuple[str, str], Cut] = inv.memo("gcp_deny_cuts", lambda _: {})
    key = (principal, grant.source)
    found = memo.get(key)
    if found is None:
        rules = _rules_for(inv, view, principal)
        under = _attachments_above(view.guardrails, grant)
        applicable = tuple(r for r in rules if r.attachment in under)
        perms = view.permissions_of(grant.role or "") or frozenset()
        denied: set[str] = set()
        policies: list[str] = []
        for r in applicable:
            taken = _denied(r.denied_permissions, r.exception_permissions, perms)
            if taken:
                denied |= taken
                policies.append(r.policy)
        found = memo[key] = Cut(frozenset(denied), tuple(dict.fromkeys(policies))) if denied else NO_CUT
    return found


def _rules_for(inv: Inventory, view: GcpView, principal: str) -> tuple[DenyRuleView, ...]:
    memo: dict[str, tuple[DenyRuleView, ...]] = inv.memo("gcp_deny_rules", lambda _: {})
    found = memo.get(principal)
    if found is None:
        g = view.guardrails
        names = candidates(g, principal)
        found = memo[principal] = tuple(r for r in g.deny if _applies(g, r, names, inv.as_of))
    return found


def candidates(g: Guardrails, principal: str) -> frozenset[str]:
    """The deny-policy identifiers that name `principal` (itself and the sets it is in)."""
    out = {PUBLIC}
    if principal.startswith(("principal://", "principalSet://")):
        out.add(principal)
        if "/workloadIdentityPools/" in principal:
            out.add(principal.split("/workloadIdentityPools/")[0] + "/workloadIdentityPools/" + _pool(principal) + "/*")
        return frozenset(out)
    email = principal.lower()
    out.add(f"principal://iam.googleapis.com/projects/-/serviceAccounts/{email}")
    out |= {f"principalSet://goog/group/{group}" for group, members in g.groups.items() if email in members}
    project = _project_of(g, email)
    for scope in g.ancestry.get(project or "", (f"projects/{project}",) if project else ()):
        kind, _, ident = scope.partition("/")
        for name in {ident, g.numbers.get(ident) if kind == "projects" else None} - {None}:
            out.add(f"principalSet://cloudresourcemanager.googleapis.com/{kind}/{name}/type/ServiceAccount")
    return frozenset(out)


def _pool(principal: str) -> str:
    return principal.split("/workloadIdentityPools/", 1)[1].split("/", 1)[0]


def _project_of(g: Guardrails, email: str) -> str | None:
    local, _, domain = email.partition("@")
    if domain.endswith(".iam.gserviceaccount.com"):
        return domain[: -len(".iam.gserviceaccount.com")]
    if domain == "developer.gserviceaccount.com" and local.endswith("-compute"):
        number = local[: -len("-compute")]
        return next((p for p, n in g.numbers.items() if n == number), None)
    return local if domain == "appspot.gserviceaccount.com" else None


def _applies(g: Guardrails, r: DenyRuleView, names: frozenset[str], now: datetime | None) -> bool:
    if not names & r.denied_principals:
        return False
    if names & r.exception_principals or any(_unknown_group(g, p) for p in r.exception_principals):
        return False  # excepted, or may be (a group whose members are not known)
    return r.condition is None or evaluate(r.condition, now) is True


def _unknown_group(g: Guardrails, principal: str) -> bool:
    prefix = "principalSet://goog/group/"
    return principal.startswith(prefix) and principal[len(prefix) :].lower() not in g.groups


def _attachments_above(g: Guardrails, grant: Grant) -> frozenset[str]:
    """The attachment points whose deny rules cover where `grant` applies."""
    scope = grant.scope or ""
    if grant.scope_level in ("folder", "organization"):
        above = {scope}
        for chain in g.ancestry.values():
            if scope in chain:
                above.update(chain[chain.index(scope) :])
        return frozenset(above)
    if scope.startswith("projects/") and grant.scope_level == "project":
        project = scope.split("/", 1)[1]
    else:  # a resource: the project folder its policy was read from
        project = _grant_project(grant) or ""
    chain = g.ancestry.get(project, (f"projects/{project}",))
    return frozenset(chain)


def _denied(patterns: tuple[str, ...], exceptions: tuple[str, ...], perms: frozenset[str]) -> frozenset[str]:
    return _denied_cached(patterns, exceptions, perms)


@lru_cache(maxsize=1024)
def _denied_cached(patterns: tuple[str, ...], exceptions: tuple[str, ...], perms: frozenset[str]) -> frozenset[str]:
    return frozenset(p for p in perms if _matches(patterns, p) and not _matches(exceptions, p))


def _matches(patterns: Iterable[str], permission: str) -> bool:
    name = v2_permission(permission)
    return any(fnmatchcase(name, p) for p in patterns)


def deny_note(view: GcpView, grant: Grant) -> str | None:
    """For evidence: the deny policies not read where the grant applies (None when they were)."""
    project = _grant_project(grant)
    if project is None or project in view.guardrails.deny_read:
        return None
    return f"not in the evidence (gcp/{project}/deny-policies.json): no deny rule applied"


def _grant_project(grant: Grant) -> str | None:
    file = str((grant.document or {}).get("file", ""))
    parts = file.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "gcp" else None
