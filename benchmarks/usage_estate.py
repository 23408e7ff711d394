"""Usage data for the AWS estate (issue 14, AWS-024), in the shapes the AWS CLI prints (docs/evidence.md).

For each IRSA role: its ACTION_LEVEL job as `aws iam get-service-last-accessed-details` prints it (every service
its policies grant; for the services AWS tracks at action level, the tracked actions they grant), keyed by role
ARN in `aws/<account>/service-last-accessed.json`; and its `RoleLastUsed` in iam.json. Every 25th role was never
used, every 10th not for 200 days; the others used 70% of their services and half of the tracked actions of
those, so most roles get a right-sized policy. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

TAKEN = "2026-11-30T07:00:05Z"
"""When every job completed: the end of the window (the estate's roles were created 11 months before)."""
RECENT = "2026-11-28T10:00:00Z"
OLD = "2026-05-14T07:00:00Z"
"""200 days before `TAKEN`: outside the default 90-day window."""
TRACKED = frozenset({"s3", "ec2", "iam", "lambda"})
"""Services AWS tracks at action level, among those the estate grants."""


def add_usage(iam: dict[str, Any], region: str, seed: int = 7, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Set `RoleLastUsed` on the roles of `iam` (in place) and return `service-last-accessed.json` for them;
    `skip`: role names left without usage data (the node role)."""
    from kubeiam_aws.judge.catalogue import aws_catalog

    catalogue = aws_catalog().by_service
    documents = {p["Arn"]: _default(p) for p in iam["Policies"]}
    rng = random.Random(seed + 1)
    out: dict[str, Any] = {}
    for i, role in enumerate(r for r in iam["RoleDetailList"] if r["RoleName"] not in set(skip)):
        statements = [s for p in role["RolePolicyList"] for s in _statements(p["PolicyDocument"])]
        statements += [s for a in role["AttachedManagedPolicies"] for s in _statements(documents[a["PolicyArn"]])]
        granted = _granted(statements, catalogue)
        never, idle = i % 25 == 0, i % 10 == 0
        last = None if never else OLD if idle else RECENT
        role["RoleLastUsed"] = {"LastUsedDate": last, "Region": region} if last else {}
        services = []
        for namespace, actions in sorted(granted.items()):
            used = last if idle or never else RECENT if rng.random() < 0.7 else None
            services.append(_service(namespace, used, actions if namespace in TRACKED else None, rng, role["Arn"]))
        out[role["Arn"]] = {
            "JobStatus": "COMPLETED",
            "JobType": "ACTION_LEVEL",
            "JobCreationDate": "2026-11-30T07:00:00Z",
            "JobCompletionDate": TAKEN,
            "IsTruncated": False,
            "ServicesLastAccessed": services,
        }
    return out


def _default(policy: dict[str, Any]) -> Any:
    return next(v["Document"] for v in policy["PolicyVersionList"] if v["IsDefaultVersion"])


def _statements(document: Any) -> list[dict[str, Any]]:
    found = document["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def _granted(statements: list[dict[str, Any]], catalogue: dict[str, tuple[str, ...]]) -> dict[str, set[str]]:
    """Service namespace -> the actions (names without the prefix) its Allow statements grant."""
    out: dict[str, set[str]] = {}
    for s in statements:
        if s["Effect"] != "Allow":
            continue
        for pattern in [s["Action"]] if isinstance(s["Action"], str) else s["Action"]:
            if pattern == "*":
                for service, names in catalogue.items():
                    out.setdefault(service, set()).update(n.split(":", 1)[1] for n in names)
                continue
            service, _, action = pattern.partition(":")
            names = catalogue.get(service.lower(), ())
            matched = {n.split(":", 1)[1] for n in names if fnmatchcase(n.lower(), pattern.lower())}
            out.setdefault(service.lower(), set()).update(matched or {action})
    return out


def _service(
    namespace: str, used: str | None, actions: set[str] | None, rng: random.Random, arn: str
) -> dict[str, Any]:
    """One `ServicesLastAccessed` entry as the API reference shapes it (the schema-built corpus sample)."""
    out: dict[str, Any] = {"ServiceName": namespace, "ServiceNamespace": namespace, "TotalAuthenticatedEntities": 0}
    if used:
        out.update(
            LastAuthenticated=used,
            LastAuthenticatedEntity=arn,
            LastAuthenticatedRegion="eu-west-1",
            TotalAuthenticatedEntities=1,
        )
    if actions is not None:
        tracked = []
        for name in sorted(actions):
            item: dict[str, Any] = {"ActionName": name}
            if used and (used != RECENT or rng.random() < 0.5):
                item.update(LastAccessedEntity=arn, LastAccessedTime=used, LastAccessedRegion="eu-west-1")
            tracked.append(item)
        out["TrackedActionsLastAccessed"] = tracked
    return out
