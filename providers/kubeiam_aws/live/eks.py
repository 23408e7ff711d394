"""EKS: find the cluster behind a Kubernetes cluster, its managed node groups, its Pod Identity associations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.live.clients import AwsCallFailed, Clients, call, pages
from kubeiam_aws.live.plan import ClusterScope, Scope, subject

_PAGE = {"PageSize": 100}  # the largest page the EKS list calls allow


@dataclass
class EksLookup:
    """What EKS answered for one Kubernetes cluster (filled in as the calls return; failures in `errors`)."""

    scope: ClusterScope
    region: str
    cluster: dict[str, Any] | None = None
    """`describe-cluster` output ({"cluster": {...}})."""
    nodegroups: list[dict[str, Any]] | None = None
    associations: list[dict[str, Any]] | None = None
    errors: list[CoverageError] = field(default_factory=list)

    @property
    def account(self) -> str | None:
        arn = (self.cluster or {}).get("cluster", {}).get("arn", "")
        parts = arn.split(":")
        return parts[4] if len(parts) > 5 else None


def collect_cluster(clients: Clients, scope: Scope, cs: ClusterScope) -> EksLookup:
    """Everything EKS knows about one Kubernetes cluster; failures become coverage errors."""
    result = EksLookup(cs, cs.region or "")
    eks = clients.client("eks", cs.region)
    try:
        result.cluster = _find(eks, cs)
    except AwsCallFailed as exc:
        result.errors.append(_error(exc, f"cluster {cs.name}"))
        return result
    if result.cluster is None:
        return result
    name = result.cluster["cluster"]["name"]
    if scope.single is None:  # node groups are cluster-level: not what `check` of one SA needs
        try:
            result.nodegroups = _nodegroups(clients, eks, name)
        except AwsCallFailed as exc:
            result.errors.append(_error(exc, f"cluster {cs.name}"))
    try:
        result.associations = _associations(clients, eks, name, scope)
    except AwsCallFailed as exc:
        # Pod Identity carries no annotation: an unreadable association list leaves every
        # in-scope ServiceAccount unchecked, not just the annotated ones.
        for sa in cs.service_accounts:
            result.errors.append(_error(exc, subject(sa)))
        if not cs.service_accounts:
            result.errors.append(_error(exc, f"cluster {cs.name}"))
    return result


def _find(eks: Any, cs: ClusterScope) -> dict[str, Any] | None:
    """DescribeCluster by the Kubernetes name; fall back to matching the issuer across ListClusters.

    Why the issuer decides: the kubeconfig or evidence name is chosen by whoever collects, while the
    OIDC issuer is what IRSA trust policies name, so it is the one identifier both sides share.
    """
    issuer = cs.cluster.issuer
    try:
        found = call(eks, "describe_cluster", f"eks:DescribeCluster {cs.name}", name=cs.name)
        if issuer is None or _issuer(found) == issuer.rstrip("/"):
            return found
    except AwsCallFailed as exc:
        if not exc.not_found and exc.code != "InvalidParameterException":
            raise
    if issuer is None:
        return None
    for page in pages(eks, "list_clusters", "eks:ListClusters", PaginationConfig=_PAGE):
        for name in page.get("clusters", []):
            if name == cs.name:
                continue
            candidate = call(eks, "describe_cluster", f"eks:DescribeCluster {name}", name=name)
            if _issuer(candidate) == issuer.rstrip("/"):
                return candidate
    return None


def _issuer(described: dict[str, Any]) -> str:
    return str(described.get("cluster", {}).get("identity", {}).get("oidc", {}).get("issuer", "")).rstrip("/")


def _nodegroups(clients: Clients, eks: Any, cluster: str) -> list[dict[str, Any]]:
    names = [
        n
        for page in pages(
            eks, "list_nodegroups", f"eks:ListNodegroups {cluster}", clusterName=cluster, PaginationConfig=_PAGE
        )
        for n in page.get("nodegroups", [])
    ]

    def describe(name: str) -> dict[str, Any]:
        loc = f"eks:DescribeNodegroup {cluster}/{name}"
        nodegroup: dict[str, Any] = call(eks, "describe_nodegroup", loc, clusterName=cluster, nodegroupName=name)[
            "nodegroup"
        ]
        return nodegroup

    return clients.map("eks", describe, sorted(names))


def _associations(clients: Clients, eks: Any, cluster: str, scope: Scope) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"clusterName": cluster, "PaginationConfig": _PAGE}
    if scope.namespace:
        params["namespace"] = scope.namespace
    if scope.single:
        params["serviceAccount"] = scope.single[1]
    loc = f"eks:ListPodIdentityAssociations {cluster}"
    summaries = [
        a for page in pages(eks, "list_pod_identity_associations", loc, **params) for a in page.get("associations", [])
    ]

    def describe(summary: dict[str, Any]) -> dict[str, Any]:
        aid = summary["associationId"]
        loc = f"eks:DescribePodIdentityAssociation {cluster}/{aid}"
        association: dict[str, Any] = call(
            eks, "describe_pod_identity_association", loc, clusterName=cluster, associationId=aid
        )["association"]
        return association

    return clients.map("eks", describe, sorted(summaries, key=lambda a: a["associationId"]))


def _error(exc: AwsCallFailed, subject_: str) -> CoverageError:
    return CoverageError(source="aws", location=exc.location, reason=exc.reason, subject=subject_)
