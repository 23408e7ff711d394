"""The privilege-escalation path catalogue and the AWS-specific judgements a path needs.

Paths come from pathfinding.cloud plus the classic Rhino list (package data, attributed in
data/README.md). A path holds when every permission it needs is allowed, on a resource that can
be abused, by the union of the role's policies, and neither an explicit Deny, the permissions
boundary nor the `iam:PassedToService` limit of a PassRole grant stops it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from kubeiam.vocabulary.policy import Statement, matches
from kubeiam_aws.judge.conditions import passed_to_services

# Worst first (how a role's escalations are ordered): a role that can grant itself more outranks one that
# must pass a role to a service.
CATEGORY_RANK = {"self-escalation": 0, "principal-access": 1, "new-passrole": 2, "existing-passrole": 3}


@dataclass(frozen=True, slots=True)
class EscalationPath:
    id: str
    name: str
    category: str
    """`self-escalation`, `principal-access`, `new-passrole`, `existing-passrole`."""
    requires: tuple[str, ...]
    passed_to: tuple[str, ...] = ()
    """The service principals the PassRole of this path may pass a role to (any of them)."""
    needs_boundary: bool = False
    """Only an escalation when the role has a permissions boundary (removing or replacing it)."""
    source: str = ""


@lru_cache(maxsize=1)
def escalation_paths() -> tuple[EscalationPath, ...]:
    raw = json.loads(files("kubeiam_aws").joinpath("data/privesc_paths.json").read_text(encoding="utf-8"))
    return tuple(
        EscalationPath(
            id=p["id"],
            name=p["name"],
            category=p["category"],
            requires=tuple(p["requires"]),
            passed_to=tuple(p.get("passed_to") or ()),
            needs_boundary=bool(p.get("needs_boundary")),
            source=p.get("source", ""),
        )
        for p in raw["paths"]
    )


def escalation_actions() -> tuple[str, ...]:
    return tuple(dict.fromkeys(a for p in escalation_paths() for a in p.requires))


@lru_cache(maxsize=1)
def path_requirements() -> tuple[tuple[EscalationPath, frozenset[str]], ...]:
    """Each escalation path with its actions as a set: most roles reach few of them, and a subset test
    rules a path out faster than a walk over its actions (a hundred paths, for each of thousands of roles)."""
    return tuple((path, frozenset(path.requires)) for path in escalation_paths())


_ARN = re.compile(r"^arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<rest>.*)$")
ROLE_TARGETS = frozenset({"iam:passrole", "sts:assumerole"})


def _is_glob(value: str) -> bool:
    return "*" in value or "?" in value


def resource_abusable(
    action: str, resource: str, target_is_admin: Callable[[str], bool], *, variable: bool = False
) -> bool:
    """Whether a grant of `action` on `resource` can be turned into more privilege.

    Why these judgements: resources owned by AWS (`arn:aws:iam::aws:policy/...`) cannot be
    changed by anyone, so CreatePolicyVersion on them is harmless; a PassRole or AssumeRole on a
    wildcard reaches every role, but on one named role it only matters when that role is
    admin-equivalent (Karpenter passing its own node role to EC2 gains nothing). A `variable` resource
    (`role/${aws:PrincipalTag/team}`) is judged as a wildcard: what IAM fills in is not known here.
    """
    if resource == "*":
        return True
    glob = variable or _is_glob(resource)
    m = _ARN.match(resource)
    if m is None:
        return glob
    if m["account"] == "aws":
        return False
    if action.lower() in ROLE_TARGETS:
        if not _could_name_a_role(m["service"], m["rest"]):
            return False  # PassRole on `arn:aws:s3:::bucket/*` names no role: it passes nothing
        if glob:
            return True
        return target_is_admin(resource)
    return True


def _could_name_a_role(service: str, rest: str) -> bool:
    """Whether an ARN pattern's service and resource parts can match `iam` and `role/NAME`."""
    return matches(service, "iam") and (rest.startswith(("role/", "*")) or matches(rest.split("/", 1)[0], "role"))


def statement_abusable(action: str, stmt: Statement, target_is_admin: Callable[[str], bool]) -> bool:
    if stmt.not_resources:
        return True
    return any(resource_abusable(action, r, target_is_admin, variable=stmt.variable(r)) for r in stmt.resources)


def passes_to(stmt: Statement, services: tuple[str, ...] | str) -> bool:
    """Whether a PassRole grant lets a role be passed to one of `services` (its PassedToService limit)."""
    allowed = passed_to_services(stmt)
    if allowed is None or not services:
        return True
    services = (services,) if isinstance(services, str) else services
    return any(matches(v, s) or matches(v, f"{s}.cn") for v in allowed for s in services)


def named_roles(stmt: Statement) -> tuple[str, ...]:
    """The roles a statement names one by one (`arn:aws:iam::ACCOUNT:role/PATH/NAME`, no glob, no variable):
    a PassRole or AssumeRole on them reaches those roles only, so what they can do decides (judge/reach.py)."""
    if stmt.not_resources:
        return ()
    out = []
    for r in stmt.resources:
        m = _ARN.match(r)
        named = m and m["service"] == "iam" and m["rest"].startswith("role/") and m["account"] not in ("aws", "")
        if named and not _is_glob(r) and not stmt.variable(r):
            out.append(r)
    return tuple(out)
