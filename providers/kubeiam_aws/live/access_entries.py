"""EKS access entries of one cluster, for `access-entries.json`: who is mapped into the cluster, and with which
access policies (the Kubernetes provider's takeover rule, K8S-006, reads them through the AWS reader).

Calls, at the lower bound: `ListAccessEntries` (paged, 100 a page), then per entry `DescribeAccessEntry` and
`ListAssociatedAccessPolicies` (paged), side by side within the EKS concurrency limit: 1 + 2N for N entries.
A cluster whose `accessConfig.authenticationMode` is CONFIG_MAP has no access entries: nothing is asked.
A refused or failed call is a coverage error (subject the cluster, rule K8S-006) and no file is written:
an absent file is "not read", never "no entries".
"""

from __future__ import annotations

from typing import Any

from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.live.clients import AwsCallFailed, Clients, call, pages

ACCESS_ENTRIES = "access-entries.json"
TAKEOVER_RULES = ("K8S-006",)
_PAGE = {"PageSize": 100}


def wants_access_entries(described: dict[str, Any] | None) -> bool:
    """Whether the cluster may have access entries (unknown mode: ask)."""
    mode = ((described or {}).get("cluster") or {}).get("accessConfig", {}).get("authenticationMode")
    return bool(mode != "CONFIG_MAP")


def collect_access_entries(
    clients: Clients, eks: Any, cluster: str, subject: str
) -> tuple[dict[str, Any] | None, list[CoverageError]]:
    """`{"accessEntries": [<accessEntry> + "associatedAccessPolicies": [...]]}`, or None and why not."""
    loc = f"eks:ListAccessEntries {cluster}"
    try:
        arns = [a for page in pages(eks, "list_access_entries", loc, clusterName=cluster, PaginationConfig=_PAGE)
                for a in page.get("accessEntries", [])]  # fmt: skip
    except AwsCallFailed as exc:
        return None, [_error(exc, subject)]

    def entry(arn: str) -> dict[str, Any] | None:
        where = f"eks:DescribeAccessEntry {cluster}/{arn}"
        try:
            found: dict[str, Any] = call(eks, "describe_access_entry", where, clusterName=cluster, principalArn=arn)[
                "accessEntry"
            ]
        except AwsCallFailed as exc:
            if exc.not_found:  # removed since it was listed: it maps nobody
                return None
            raise
        if found.get("type", "STANDARD") == "STANDARD":
            where = f"eks:ListAssociatedAccessPolicies {cluster}/{arn}"
            listed = pages(
                eks, "list_associated_access_policies", where, clusterName=cluster, principalArn=arn,
                PaginationConfig=_PAGE,
            )  # fmt: skip
            found["associatedAccessPolicies"] = [p for page in listed for p in page.get("associatedAccessPolicies", [])]
        return found

    try:
        entries = [e for e in clients.map("eks", entry, sorted(set(arns))) if e is not None]
    except AwsCallFailed as exc:
        return None, [_error(exc, subject)]
    return {"accessEntries": entries}, []


def _error(exc: AwsCallFailed, subject: str) -> CoverageError:
    why = f"{exc.reason}: the IAM principals its access entries map into the cluster are unchecked"
    return CoverageError("aws", exc.location, why, subject, TAKEOVER_RULES)
