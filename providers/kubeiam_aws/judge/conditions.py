"""AWS condition evaluation for one principal: which conditions can never hold, which always do.

Judged only from what the evidence proves about the role session a workload gets (its ARN, its
account, that it is an assumed-role session, that it was created after the role): anything else
stays "maybe", so a condition we cannot decide never turns a finding into a pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache

from kubeiam.vocabulary.policy import Condition, Statement
from kubeiam_aws.judge.guardrails import POD_IDENTITY_TAGS


class ConditionOutcome(Enum):
    """Whether one condition holds for every session of the role: never, always, or it depends."""

    NEVER = "never"
    ALWAYS = "always"
    MAYBE = "maybe"


@dataclass(frozen=True, slots=True)
class SessionContext:
    """What is known about every session of a role assumed by a workload."""

    principal_arn: str
    account: str
    not_before: datetime | None = None
    """No session of the role is older than this (the role's CreateDate)."""
    org_id: str | None = None
    """The AWS Organizations id of the role's account (`aws:PrincipalOrgID`), when the evidence names it."""
    tags: Mapping[str, str] | None = None
    """Session tags every session of the role carries (EKS Pod Identity's, lower-cased keys); None: unknown."""


_DATE_KEYS = {"aws:tokenissuetime", "aws:currenttime"}
_STRING_POS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike", "StringEqualsIgnoreCase"}
_STRING_NEG = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike", "StringNotEqualsIgnoreCase"}


def case_glob(glob: str, actual: str) -> bool:
    """IAM condition glob (`*`, `?`), case-sensitive as StringLike and ArnLike are."""
    if "*" not in glob and "?" not in glob:
        return glob == actual
    return _case_pattern(glob).fullmatch(actual) is not None


@lru_cache(maxsize=4096)
def _case_pattern(glob: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob), re.DOTALL)


def parse_date(value: str) -> datetime | None:
    text = value.strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.fromtimestamp(float(value), tz=UTC)
        except (ValueError, OverflowError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(cond: Condition, ctx: SessionContext) -> ConditionOutcome:
    if ctx.not_before is None or len(cond.values) != 1:
        return ConditionOutcome.MAYBE
    when = parse_date(cond.values[0])
    if when is None:
        return ConditionOutcome.MAYBE
    op = cond.base_operator
    # Every session (and its token) is younger than the role: a bound older than the role decides.
    if when < ctx.not_before:
        if op in ("DateLessThan", "DateLessThanEquals"):
            return ConditionOutcome.NEVER
        if op in ("DateGreaterThan", "DateGreaterThanEquals", "DateNotEquals"):
            return ConditionOutcome.ALWAYS
        if op == "DateEquals":
            return ConditionOutcome.NEVER
    return ConditionOutcome.MAYBE


def _string(cond: Condition, actual: str, *, glob: bool) -> ConditionOutcome:
    op = cond.base_operator
    if op not in _STRING_POS and op not in _STRING_NEG:
        return ConditionOutcome.MAYBE
    like = glob or op.endswith("Like")
    # Condition values compare case-sensitively (only the IgnoreCase operators fold case), unlike
    # action names: folding would make a Deny naming `Role` apply to `role`, removing a real grant.
    if op.endswith("IgnoreCase"):
        hit = any(v.lower() == actual.lower() for v in cond.values)
    else:
        hit = any(case_glob(v, actual) if like else v == actual for v in cond.values)
    if op in _STRING_POS:
        return ConditionOutcome.ALWAYS if hit else ConditionOutcome.NEVER
    return ConditionOutcome.NEVER if hit else ConditionOutcome.ALWAYS


def condition_outcome(cond: Condition, ctx: SessionContext) -> ConditionOutcome:
    # A policy variable is compared with what IAM fills in per request, never with its own text: comparing
    # `${aws:PrincipalAccount}` literally would call a Deny "always" and hide every grant it does not touch.
    if cond.variables or cond.operator.startswith(("ForAnyValue:", "ForAllValues:")):
        return ConditionOutcome.MAYBE
    key = cond.key_lower
    op = cond.base_operator
    if key in _DATE_KEYS and op.startswith("Date"):
        return _date(cond, ctx)
    if key == "aws:principalarn":
        return _string(cond, ctx.principal_arn, glob=op.startswith("Arn"))
    if key == "aws:principalaccount":
        return _string(cond, ctx.account, glob=False)
    if key == "aws:principaltype":
        return _string(cond, "AssumedRole", glob=False)
    if key == "aws:principalorgid" and ctx.org_id is not None:
        return _string(cond, ctx.org_id, glob=False)
    if key.startswith("aws:principaltag/") and ctx.tags is not None and key[17:] in ctx.tags:
        return _string(cond, ctx.tags[key[17:]], glob=False)
    if key == "aws:multifactorauthpresent" and op == "Bool" and not cond.operator.endswith("IfExists"):
        # Web-identity and Pod Identity sessions carry no MFA key: a Bool test on it is false.
        return ConditionOutcome.NEVER if {v.lower() for v in cond.values} == {"true"} else ConditionOutcome.MAYBE
    if key in _DATE_KEYS and op == "Null":
        # These keys exist in every role session: Null=true never holds, Null=false always does.
        values = {v.lower() for v in cond.values}
        return (
            ConditionOutcome.NEVER
            if values == {"true"}
            else ConditionOutcome.ALWAYS
            if values == {"false"}
            else ConditionOutcome.MAYBE
        )
    return ConditionOutcome.MAYBE


_DECIDABLE = _DATE_KEYS | {
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:multifactorauthpresent",
    "aws:principalorgid",
    *(f"aws:principaltag/{t}" for t in POD_IDENTITY_TAGS),
}


@lru_cache(maxsize=65536)
def session_decidable(stmt: Statement) -> bool:
    """Whether `condition_outcome` may decide one of the statement's conditions (else every one is "maybe",
    for every role: `prepare` leaves the statement as it is)."""
    return any(c.key_lower in _DECIDABLE for c in stmt.conditions)


def prepare(statements: Iterable[Statement], ctx: SessionContext) -> tuple[Statement, ...]:
    """Drop statements whose conditions never hold; drop conditions that always hold.

    What is left carries only the conditions that may or may not hold, so the shared policy
    semantics (an unconditional Deny wins, a conditional grant is scoped) apply as they should.
    """
    out = []
    for stmt in statements:
        if not stmt.conditions or not session_decidable(stmt):
            out.append(stmt)  # nothing in what a session is known to carry can decide these conditions
            continue
        kept = []
        never = False
        for cond in stmt.conditions:
            outcome = condition_outcome(cond, ctx)
            if outcome is ConditionOutcome.NEVER:
                never = True
                break
            if outcome is ConditionOutcome.MAYBE:
                kept.append(cond)
        if never:
            continue
        out.append(stmt if len(kept) == len(stmt.conditions) else replace(stmt, conditions=tuple(kept)))
    return tuple(out)


def passed_to_services(stmt: Statement) -> tuple[str, ...] | None:
    """The services an `iam:PassRole` grant is limited to (None: no `iam:PassedToService` limit)."""
    conds = [c for c in stmt.condition("iam:PassedToService") if c.base_operator in ("StringEquals", "StringLike")]
    if not conds:
        return None
    return tuple(v for c in conds for v in c.values)
