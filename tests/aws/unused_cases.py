"""Usage evidence for AWS-024 in the CLI's shapes, and the rule's fixture cases (fixtures/rules/AWS-024).

`get-service-last-accessed-details` outputs are built like the corpus samples (usage-data/aws), keyed by role ARN
as `aws/<account>/service-last-accessed.json` keeps them; `tests/aws/make_rule_fixtures.py` writes the cases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aws_evidence import (
    ACCOUNT,
    REGION,
    allow,
    cluster,
    deny,
    doc,
    iam,
    irsa_trust,
    oidc_providers,
    policy,
    policy_arn,
    role,
    role_arn,
    service_account,
    write,
)

TAKEN = "2026-01-10T12:00:05Z"
"""When the jobs completed: the end of every window here."""
RECENT = "2026-01-09T08:15:00Z"
LONG_AGO = "2025-03-02T00:00:00Z"


def service(namespace: str, last: str | None = None, actions: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """One `ServicesLastAccessed` entry: `actions` (name -> last accessed or None) only for tracked services."""
    out: dict[str, Any] = {"ServiceName": namespace, "ServiceNamespace": namespace, "TotalAuthenticatedEntities": 0}
    if last:
        out.update(LastAuthenticated=last, LastAuthenticatedEntity="x", TotalAuthenticatedEntities=1)
    if actions is not None:
        out["TrackedActionsLastAccessed"] = [
            {"ActionName": a, **({"LastAccessedTime": t, "LastAccessedRegion": REGION} if t else {})}
            for a, t in actions.items()
        ]
    return out


def job(*services: dict[str, Any], status: str = "COMPLETED", level: str | None = "ACTION_LEVEL") -> dict[str, Any]:
    """`aws iam get-service-last-accessed-details --job-id JOB` output."""
    out: dict[str, Any] = {"JobStatus": status}
    if level:
        out["JobType"] = level
    out.update(JobCreationDate="2026-01-10T12:00:00Z")
    if status == "COMPLETED":
        out.update(JobCompletionDate=TAKEN, IsTruncated=False, ServicesLastAccessed=list(services))
    return out


def last_accessed(root: Path, jobs: Mapping[str, dict[str, Any]], account: str = ACCOUNT) -> None:
    write(root / "aws" / account / "service-last-accessed.json", {role_arn(k, account): v for k, v in jobs.items()})


def analyzer_file(root: Path, findings: list[dict[str, Any]], age: int | None = 90, region: str = REGION) -> None:
    out: dict[str, Any] = {"findings": findings}
    if age is not None:
        out["analyzer"] = {
            "arn": f"arn:aws:access-analyzer:{region}:{ACCOUNT}:analyzer/UnusedAccess",
            "name": "UnusedAccess",
            "type": "ACCOUNT_UNUSED_ACCESS",
            "status": "ACTIVE",
            "configuration": {"unusedAccess": {"unusedAccessAge": age}},
        }
    write(root / "aws" / ACCOUNT / region / "access-analyzer-unused.json", out)


def finding(name: str, kind: str, *details: dict[str, Any]) -> dict[str, Any]:
    """`aws accessanalyzer get-finding-v2` output (the schema-built sample's shape)."""
    return {
        "analyzedAt": "2026-01-10T00:00:00+00:00",
        "createdAt": "2026-01-10T00:00:00+00:00",
        "updatedAt": "2026-01-10T00:00:00+00:00",
        "status": "ACTIVE",
        "resourceOwnerAccount": ACCOUNT,
        "error": None,
        "id": f"{name}-{kind}",
        "resource": role_arn(name),
        "resourceType": "AWS::IAM::Role",
        "findingType": kind,
        "findingDetails": list(details),
    }


def app(
    root: Path,
    inline: dict[str, Any],
    *,
    attached: Mapping[str, dict[str, Any]] | None = None,
    last_used: dict[str, Any] | None = None,
    created: str | None = None,
    name: str = "app-role",
) -> dict[str, Any]:
    """One IRSA role `name` of `apps/app`, its inline policy and attached customer policies; the role returned."""
    kwargs = {"created": created} if created else {}
    r = role(
        name,
        irsa_trust("apps", "app"),
        inline={"app": inline},
        attached=[policy_arn(n) for n in attached or {}],
        **kwargs,
    )
    if last_used is None:
        r.pop("RoleLastUsed")
    else:
        r["RoleLastUsed"] = last_used
    iam(root, [r], [policy(policy_arn(n), d) for n, d in (attached or {}).items()])
    oidc_providers(root)
    cluster(root, [service_account("apps", "app", role_arn(name))])
    return r


ADMIN_USE = job(
    service("s3", RECENT, {"GetObject": RECENT, "PutObject": RECENT, "DeleteBucket": None}),
    service("glue", RECENT),
    service("athena", LONG_AGO),
    service("iam", None, {"PassRole": None, "CreateRole": None}),
    service("dynamodb"),
)
ESCALATION_POLICY = doc(
    allow(["ecs:RegisterTaskDefinition", "ecs:RunTask", "ecs:DescribeTasks"]),
    allow("iam:PassRole"),
)
ESCALATION_USE = job(
    service("ecs", RECENT, {"RegisterTaskDefinition": RECENT, "RunTask": RECENT, "DescribeTasks": RECENT}),
    service("iam", None, {"PassRole": None}),
)

CASES: dict[str, tuple[Callable[[Path], None], dict[str, Any] | None]] = {}


def _case(
    name: str, expect: dict[str, Any] | None = None
) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def wrap(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        CASES[name] = (fn, expect)
        return fn

    return wrap


@_case("fail-admin-mostly-unused", {"count": 1, "severity": "high"})
def _admin(root: Path) -> None:
    app(root, doc(allow("*")), last_used={"LastUsedDate": RECENT, "Region": REGION})
    last_accessed(root, {"app-role": ADMIN_USE})


@_case("fail-escalation-path-unused", {"count": 1, "severity": "high"})
def _escalation(root: Path) -> None:
    app(root, ESCALATION_POLICY, last_used={"LastUsedDate": RECENT, "Region": REGION})
    last_accessed(root, {"app-role": ESCALATION_USE})


@_case("fail-never-used", {"count": 1, "severity": "low"})
def _never(root: Path) -> None:
    app(root, doc(allow(["sqs:SendMessage"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders")), last_used={})


@_case("fail-unused-service", {"count": 1, "severity": "low"})
def _service(root: Path) -> None:
    app(
        root,
        doc(
            allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::app-data/*"),
            allow(["dynamodb:GetItem", "dynamodb:Query"], f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/app"),
            deny("s3:DeleteObject"),
        ),
        last_used={"LastUsedDate": RECENT, "Region": REGION},
    )
    last_accessed(
        root, {"app-role": job(service("s3", RECENT, {"GetObject": RECENT, "PutObject": RECENT}), service("dynamodb"))}
    )


@_case("fail-access-analyzer-unused-permission", {"count": 1, "severity": "medium"})
def _analyzer(root: Path) -> None:
    app(
        root,
        doc(allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::app-data/*"), allow("dynamodb:*")),
        last_used={"LastUsedDate": RECENT, "Region": REGION},
    )
    unused = {"unusedPermissionDetails": {"serviceNamespace": "dynamodb"}}
    partly = {
        "unusedPermissionDetails": {
            "serviceNamespace": "s3",
            "lastAccessed": RECENT,
            "actions": [{"action": "PutObject"}, {"action": "DeleteObject", "lastAccessed": LONG_AGO}],
        }
    }
    analyzer_file(root, [finding("app-role", "UnusedPermission", unused, partly)])


@_case("pass-everything-used")
def _used(root: Path) -> None:
    app(
        root,
        doc(allow(["s3:GetObject"], "arn:aws:s3:::app-data/*")),
        last_used={"LastUsedDate": RECENT, "Region": REGION},
    )
    last_accessed(root, {"app-role": job(service("s3", RECENT, {"GetObject": RECENT}))})


@_case("pass-role-younger-than-the-window")
def _young(root: Path) -> None:
    app(root, ESCALATION_POLICY, last_used={"LastUsedDate": RECENT, "Region": REGION}, created="2025-12-20T00:00:00Z")
    last_accessed(root, {"app-role": ESCALATION_USE})


@_case("pass-no-usage-data")
def _none(root: Path) -> None:
    app(root, doc(allow("*")))


@_case("pass-job-in-progress")
def _in_progress(root: Path) -> None:
    app(root, doc(allow("*")))
    last_accessed(root, {"app-role": job(status="IN_PROGRESS")})


@_case("pass-untracked-actions-are-kept")
def _untracked(root: Path) -> None:
    app(root, doc(allow("glue:*")), last_used={"LastUsedDate": RECENT, "Region": REGION})
    last_accessed(root, {"app-role": job(service("glue", RECENT))})


def register(case: Callable[..., Callable[[Callable[[Path], None]], Callable[[Path], None]]]) -> None:
    """Add the AWS-024 cases to make_rule_fixtures.py's `case` registry."""
    for name, (fn, expect) in CASES.items():
        case("AWS-024", name, expect)(fn)
