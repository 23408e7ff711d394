"""Resource policies where they decide a read (pure): KMS key policies, S3 bucket policies, Secrets Manager
resource policies of the role's own account.

Within one account, an identity policy is enough to read a bucket or a secret unless the resource's policy
denies it; a KMS key is different: the key policy must let the account's IAM policies work (a statement for
the account root) or name the role, or no identity policy can use the key. So when the evidence lists the
account's keys, buckets or secrets with their policies, a read "of every key / object / secret" that no
listed resource allows is no read at all. Only a Deny that holds for every session of the role (no condition
left once the session's known keys are judged) counts; a file that is absent decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from kubeiam.vocabulary.policy import Statement, matches
from kubeiam_aws.judge.conditions import SessionContext, prepare

KMS, SECRETS, S3 = "kms", "secretsmanager", "s3"
READS = {"kms:Decrypt": KMS, "secretsmanager:GetSecretValue": SECRETS, "s3:GetObject": S3}


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    arn: str
    """The key, secret or bucket ARN."""
    statements: tuple[Statement, ...] | None
    """None: the resource has no policy (a bucket or a secret then follows the identity policies alone)."""


@dataclass(frozen=True, slots=True)
class ResourceFile:
    """One evidence file of resource policies: every resource of its kind in the account (and region)."""

    service: str
    source: str
    resources: tuple[ResourcePolicy, ...]


class _Read(Protocol):
    @property
    def action(self) -> str: ...

    @property
    def resources(self) -> tuple[str, ...]: ...


_R = TypeVar("_R", bound=_Read)


def read_cuts(view: object, role: object, reads: Sequence[_R]) -> tuple[tuple[str, ...], tuple[_R, ...]]:
    """(why each cut read is cut, the reads kept). `view`: the AwsView (its `resource_files` by account);
    `role`: the Role whose sessions read."""
    files: Mapping[str, tuple[ResourceFile, ...]] = getattr(view, "resource_files", {})
    account = getattr(role, "account", "")
    mine = files.get(account)
    if not mine or not reads:
        return (), tuple(reads)
    ctx = SessionContext(getattr(role, "arn", ""), account, getattr(role, "created", None))
    cut, kept = [], []
    for read in reads:
        service = READS.get(read.action)
        listed = [
            (f, r)
            for f in mine
            if f.service == service
            for r in f.resources
            if any(_names(pattern, r.arn, service) for pattern in read.resources or ("*",))
        ]
        if listed and not any(_readable(read.action, r, ctx) for _, r in listed):
            sources = ", ".join(sorted({f.source for f, _ in listed}))
            cut.append(f"{read.action}: no resource policy in {sources} lets this role read ({len(listed)} listed)")
        else:
            kept.append(read)
    return tuple(cut), tuple(kept)


def _names(pattern: str, arn: str, service: str | None) -> bool:
    """Whether a grant's resource pattern names the resource (for S3, objects of the bucket)."""
    return matches(pattern, f"{arn}/object" if service == S3 else arn)


def _readable(action: str, resource: ResourcePolicy, ctx: SessionContext) -> bool:
    if resource.statements is None:
        return action != "kms:Decrypt"  # a key always has a policy: one not in the file is not known to admit
    statements = prepare(resource.statements, ctx)
    target = f"{resource.arn}/object" if action == "s3:GetObject" else resource.arn
    if any(
        not s.is_allow and not s.conditions and _applies(s, ctx) and s.allows(action) and _on(s, target)
        for s in statements
    ):
        return False
    if action != "kms:Decrypt":
        return True
    # The key policy must admit the role: by name, through the account root (IAM policies then apply), or "*".
    return any(s.is_allow and s.allows(action) and _applies(s, ctx) for s in statements)


def _applies(s: Statement, ctx: SessionContext) -> bool:
    """Whether the statement's Principal (or NotPrincipal) takes in the role's sessions."""
    mine = {ctx.principal_arn, ctx.account, f"arn:{_partition(ctx.principal_arn)}:iam::{ctx.account}:root", "*"}
    if s.not_principals:
        return not any(p.value in mine for p in s.not_principals if p.type == "AWS")
    return any(p.type == "*" or (p.type == "AWS" and p.value in mine) for p in s.principals)


def _on(s: Statement, target: str) -> bool:
    if s.not_resources:
        return not any(matches(r, target) for r in s.not_resources)
    return any(matches(r, target) for r in s.resources)


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"
