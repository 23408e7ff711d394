"""EC2: the instances behind the nodes (IMDS settings, instance profile) and the node groups' launch templates."""

from __future__ import annotations

import re
from typing import Any

from kubeiam_aws.live.clients import AwsCallFailed, Clients, call

# Why 1000: DescribeInstances accepts a list of ids in one request, and 1000 keeps the request
# body small (~40 kB) while making a 500-node cluster one call.
INSTANCE_BATCH = 1000
_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")


def describe_instances(clients: Clients, region: str, ids: list[str]) -> tuple[dict[str, Any], list[AwsCallFailed]]:
    """`describe-instances` output for `ids` ({"Reservations": [...]}), in batches; plus the failures.

    An id that no longer exists (a terminated node still listed) makes AWS reject the whole batch:
    drop the ids the error names and ask again, so one stale node does not hide the others.
    """
    ec2 = clients.client("ec2", region)
    batches = [ids[i : i + INSTANCE_BATCH] for i in range(0, len(ids), INSTANCE_BATCH)]

    def one(batch: list[str]) -> tuple[list[dict[str, Any]], AwsCallFailed | None]:
        remaining = list(batch)
        while remaining:
            loc = f"ec2:DescribeInstances {region} ({len(remaining)} instances)"
            try:
                return call(ec2, "describe_instances", loc, InstanceIds=remaining).get("Reservations", []), None
            except AwsCallFailed as exc:
                gone = set(_INSTANCE_ID.findall(exc.message)) if exc.code == "InvalidInstanceID.NotFound" else set()
                if not gone & set(remaining):
                    return [], exc
                remaining = [i for i in remaining if i not in gone]
        return [], None

    reservations: list[dict[str, Any]] = []
    failures: list[AwsCallFailed] = []
    for found, failure in clients.map("ec2", one, batches):
        reservations += found
        if failure:
            failures.append(failure)
    reservations.sort(key=lambda r: r.get("ReservationId", ""))
    return {"Reservations": reservations}, failures


def launch_template_versions(
    clients: Clients, region: str, templates: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[AwsCallFailed]]:
    """`describe-launch-template-versions` of each node group template: its pinned, $Latest and $Default versions.

    Why all three: the node group runs the pinned version today, while $Latest and $Default are
    what an update or a new node group will start.
    """
    ec2 = clients.client("ec2", region)
    by_template: dict[tuple[str, str], set[str]] = {}
    for t in templates:
        key = ("LaunchTemplateId", t["id"]) if t.get("id") else ("LaunchTemplateName", t.get("name", ""))
        if key[1]:
            by_template.setdefault(key, {"$Latest", "$Default"}).add(str(t.get("version") or "$Default"))

    def one(item: tuple[tuple[str, str], set[str]]) -> tuple[list[dict[str, Any]], AwsCallFailed | None]:
        (param, value), versions = item
        loc = f"ec2:DescribeLaunchTemplateVersions {region} {value}"
        try:
            found = call(ec2, "describe_launch_template_versions", loc, **{param: value}, Versions=sorted(versions))
        except AwsCallFailed as exc:
            if exc.code != "InvalidLaunchTemplateId.VersionNotFound" or len(versions) <= 2:
                return [], None if exc.not_found else exc  # a deleted template starts no node
            # The pinned version was deleted: $Latest and $Default still decide new nodes.
            try:
                found = call(
                    ec2, "describe_launch_template_versions", loc, **{param: value}, Versions=["$Default", "$Latest"]
                )
            except AwsCallFailed as again:
                return [], None if again.not_found else again
        return found.get("LaunchTemplateVersions", []), None

    seen: dict[tuple[str, int], dict[str, Any]] = {}
    failures = []
    for found, failure in clients.map("ec2", one, sorted(by_template.items())):
        for v in found:
            # User data is a bootstrap script that often carries tokens: evidence never holds
            # secret values, and IMDS settings are elsewhere in the template.
            (v.get("LaunchTemplateData") or {}).pop("UserData", None)
            seen[(v.get("LaunchTemplateId", ""), int(v.get("VersionNumber", 0)))] = v
        if failure:
            failures.append(failure)
    return {"LaunchTemplateVersions": [seen[k] for k in sorted(seen)]}, failures


def instance_profiles(reservations: dict[str, Any]) -> dict[str, str]:
    """instance id -> instance profile ARN."""
    out = {}
    for r in reservations.get("Reservations", []):
        for inst in r.get("Instances", []):
            arn = (inst.get("IamInstanceProfile") or {}).get("Arn")
            if arn:
                out[inst["InstanceId"]] = arn
    return out
