"""Roles a linked role may assume or pass whose accounts' iam.json is not in the evidence: what they reach is
not judged (judge/reach.py follows only roles it can read), so the coverage names each one, on the role that
names it, for AWS-014 (its findings may be missing a path, never gain one)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kubeiam.vocabulary.model import CoverageError, IdentityLink, LinkStatus
from kubeiam_aws.judge.escalation import named_roles
from kubeiam_aws.view import Role

_RULES = ("AWS-014",)
_ACTIONS = ("sts:AssumeRole", "iam:PassRole")


def unread_targets(
    links: Iterable[IdentityLink], roles: Mapping[str, Role], accounts: set[str], incomplete: Mapping[str, str]
) -> list[CoverageError]:
    judged = {link.principal for link in links if link.status is LinkStatus.RESOLVED}
    out = []
    for arn in sorted(judged):
        role = roles.get(arn)
        if role is None:
            continue
        unread: dict[str, list[str]] = {}
        for grant in role.grants:
            for s in grant.statements:
                if not s.is_allow or not any(":role/" in r for r in s.resources):
                    continue
                for target in named_roles(s):
                    account = target.split(":")[4]
                    known = account in accounts and (account not in incomplete or target in roles)
                    if not known and target not in roles and any(s.allows(a) for a in _ACTIONS):
                        unread.setdefault(account, []).append(target)
        for account, targets in sorted(unread.items()):
            shown = ", ".join(sorted(set(targets))[:3])
            why = incomplete.get(account, "file absent")
            out.append(
                CoverageError(
                    "aws",
                    f"aws/{account}/iam.json",
                    f"{why}: {role.name} may assume or pass {shown}: what that reaches is not judged",
                    subject=role.arn,
                    rules=_RULES,
                )
            )
    return out
