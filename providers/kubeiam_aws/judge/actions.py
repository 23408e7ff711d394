"""Which actions a statement covers, worked out once per distinct statement and kept: the questions a role
analysis asks (does any grant cover `iam:PassRole`? which writes on `*`? what do the Denies stop?) are
answered by set look-ups, not by matching every pattern of every policy again for every role. An estate
of real AWS managed policies (ReadOnlyAccess: thousands of patterns) attached at random to 5,000 roles
is judged in about a second because of it (benchmarks/managed_estate.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from kubeiam.vocabulary.policy import Statement, expand, matches
from kubeiam_aws.judge.catalogue import WRITE, aws_catalog, broad_write_candidates, iam_permissions_management
from kubeiam_aws.judge.escalation import escalation_actions

ADMIN_SENTINELS = ("iam:PutRolePolicy", "ec2:RunInstances", "s3:GetObject", "sts:AssumeRole")
SENSITIVE_READS = (
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "s3:GetObject",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
)


@lru_cache(maxsize=1)
def interesting() -> frozenset[str]:
    """The actions rules ask about by name: every escalation path's, the sensitive reads, IAM's writes."""
    return frozenset(
        (*escalation_actions(), *SENSITIVE_READS, *ADMIN_SENTINELS, "iam:PassRole", *iam_permissions_management())
    )


@lru_cache(maxsize=1)
def catalog_names() -> frozenset[str]:
    return frozenset(aws_catalog().names)


@lru_cache(maxsize=4096)
def denied_actions(denies: tuple[Statement, ...]) -> frozenset[str]:
    """The catalogue actions unconditional Denies on every resource stop (as `denied_everywhere` judges)."""
    names = aws_catalog().names
    out: set[str] = set()
    for s in denies:
        if s.actions:
            out.update(expand(s.actions, names))
        elif s.not_actions:
            out.update(catalog_names().difference(expand(s.not_actions, names)))
    return frozenset(out)


@lru_cache(maxsize=1)
def interesting_catalog() -> tuple[str, ...]:
    return tuple(sorted(interesting()))


@lru_cache(maxsize=65536)
def covered(actions: tuple[str, ...], not_actions: tuple[str, ...]) -> frozenset[str]:
    """Which of the interesting actions an action list covers: computed once per distinct statement
    shape, so a managed policy attached to thousands of roles is matched once. Each pattern is matched
    against the interesting actions of its own service only (the shared, memoised `expand`)."""
    if not actions and not not_actions:
        return frozenset()
    catalog = interesting_catalog()
    wanted = interesting()
    got = {a for a in expand(actions, catalog) if a in wanted} if actions else set(wanted)
    if not_actions:
        got.difference_update(expand(not_actions, catalog))
    return frozenset(got)


@lru_cache(maxsize=65536)
def broad_writes_of(actions: tuple[str, ...], not_actions: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(action, access level) of the broad-write candidates an action list covers, once per distinct list
    (a managed policy attached to thousands of roles is expanded once)."""
    catalog = aws_catalog()
    if actions:
        names: Iterable[str] = dict.fromkeys(a for p in actions for a in broad_write_candidates(p))
    else:  # NotAction: everything else
        names = (a for a in broad_write_candidates("*") if not any(matches(p, a) for p in not_actions))
    return tuple((a, catalog.access_level(a) or WRITE) for a in names)


@lru_cache(maxsize=65536)
def broad_levels(stmt: Statement) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`_broad_writes_of` grouped by access level, once per statement (a statement's hash is kept: looking it
    up is cheap where its action list, thousands of entries long, would be hashed again)."""
    grouped: dict[str, set[str]] = {}
    for action, level in broad_writes_of(stmt.actions, stmt.not_actions):
        grouped.setdefault(level, set()).add(action)
    return tuple((level, tuple(sorted(acts))) for level, acts in grouped.items())


@lru_cache(maxsize=65536)
def covered_by(stmt: Statement) -> frozenset[str]:
    return covered(stmt.actions, stmt.not_actions)


def by_service(patterns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Patterns grouped by their service prefix; "" holds those whose service part is itself a glob."""
    out: dict[str, list[str]] = {}
    for p in patterns:
        service = p.split(":", 1)[0].lower() if ":" in p else ""
        out.setdefault("" if "*" in service or "?" in service else service, []).append(p)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=65536)
def wildcard_patterns(stmt: Statement) -> tuple[str, ...]:
    """The statement's `*` and `service:*` action patterns (a statement may list thousands of actions)."""
    return tuple(p for p in stmt.actions if p == "*" or p.endswith(":*"))
