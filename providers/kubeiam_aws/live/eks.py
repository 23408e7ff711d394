"""EKS: find the cluster behind a Kubernetes cluster, its managed node groups, its Pod Identity associations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.live.access_entries import collect_access_entries, wants_access_entries
from kubeiam_aws.live.clients import AwsCallFailed, Clients, call, pages
from kubeiam_aws.live.coverage import IRSA_TRUST_RULES, NODE_TEMPLATE_RULES, POD_IDENTITY_RULES
from kubeiam_aws.live.plan import ClusterScope, Scope

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
    access_entries: dict[str, Any] | None = None
    """`access-entries.json` content (who is mapped into the cluster, for K8S-006); None when not read."""
    errors: list[CoverageError] = field(default_factory=list)
    kubeconfig_arn: str = ""
    """The kubeconfig's ARN, once the credentials are known to be of its account (EKS did not answer)."""

    @property
    def arn(self) -> str:
        """The EKS cluster's ARN: EKS's answer, else the kubeconfig's (confirmed); empty when neither."""
        return str((self.cluster or {}).get("cluster", {}).get("arn") or "") or self.kubeconfig_arn

    @property
    def account(self) -> str | None:
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else None

    @property
    def partition(self) -> str | None:
        parts = self.arn.split(":")
        return parts[1] if len(parts) > 5 else None


def collect_cluster(
    clients: Clients, scope: Scope, cs: ClusterScope, caller_account: Callable[[], str | None]
) -> EksLookup:
    """Everything EKS knows about one Kubernetes cluster; failures become coverage errors.

    `caller_account`: the credentials' account (STS), asked only when DescribeCluster failed and the
    kubeconfig's ARN would let the rest be read: EKS answers for the caller's own account only, so the
    ARN's name is asked for only when the ARN's account is the caller's.
    """
    result = EksLookup(cs, cs.region or "")
    eks = clients.client("eks", cs.region)
    try:
        result.cluster = _find(eks, cs)
    except AwsCallFailed as exc:
        if cs.arn is None or caller_account() != cs.arn.account:
            # Neither the cluster's EKS name nor its account is known for sure: nothing more to ask.
            result.errors.append(_error(exc, cs.name))
            result.errors += _unread(cs, scope, exc.location, exc.reason)
            return result
        # The kubeconfig's ARN names the cluster: its node groups and associations can still be read.
        result.kubeconfig_arn = cs.arn.arn
        result.errors.append(_error(exc, cs.name, IRSA_TRUST_RULES))
    else:
        if result.cluster is None:
            where = f"eks:DescribeCluster {cs.eks_name} ({cs.region})"
            why = "no EKS cluster with this name or issuer in the region: Pod Identity, node groups not checked"
            result.errors.append(CoverageError("aws", where, why, cs.name, POD_IDENTITY_RULES + NODE_TEMPLATE_RULES))
            return result
    name = result.cluster["cluster"]["name"] if result.cluster else cs.eks_name
    try:
        result.nodegroups = _nodegroups(clients, eks, name, None if scope.full else cs.nodegroups())
    except AwsCallFailed as exc:
        result.errors.append(_error(exc, cs.name, NODE_TEMPLATE_RULES))
    try:
        result.associations = _associations(clients, eks, name, scope)
    except AwsCallFailed as exc:
        result.errors += _pod_identity_unread(cs, exc.location, exc.reason)
    if wants_access_entries(result.cluster):
        result.access_entries, more = collect_access_entries(clients, eks, name, cs.name)
        result.errors += more
    return result


def _unread(cs: ClusterScope, scope: Scope, location: str, reason: str) -> list[CoverageError]:
    """The cluster could not be looked up: its node groups and every in-scope Pod Identity are unknown."""
    out = _pod_identity_unread(cs, location, reason)
    if scope.full or cs.nodegroups():
        out.append(CoverageError("aws", location, f"{reason}: node groups not read", cs.name, NODE_TEMPLATE_RULES))
    return out


def _pod_identity_unread(cs: ClusterScope, location: str, reason: str) -> list[CoverageError]:
    # Pod Identity carries no annotation: an unknown association list leaves every in-scope
    # ServiceAccount's Pod Identity unknown, not just the annotated ones'.
    why = f"{reason}: Pod Identity not read"
    return [CoverageError("aws", location, why, s, POD_IDENTITY_RULES) for s in cs.subjects() or [cs.name]]


def _find(eks: Any, cs: ClusterScope) -> dict[str, Any] | None:
    """DescribeCluster by the name of the kubeconfig's ARN (that cluster, or none), else by the Kubernetes
    name, falling back to matching the issuer across ListClusters.

    Why the issuer decides: the kubeconfig or evidence name is chosen by whoever collects, while the
    OIDC issuer is what IRSA trust policies name, so it is the one identifier both sides share.
    """
    issuer = cs.cluster.issuer
    try:
        found = call(eks, "describe_cluster", f"eks:DescribeCluster {cs.eks_name}", name=cs.eks_name)
        if cs.arn is not None:  # the ARN names the cluster: a same-named one of the caller's account is not it
            return found if found.get("cluster", {}).get("arn") == cs.arn.arn else None
        if issuer is None or _issuer(found) == issuer.rstrip("/"):
            return found
    except AwsCallFailed as exc:
        if not exc.not_found and exc.code != "InvalidParameterException":
            raise
    if issuer is None or cs.arn is not None:
        return None
    for page in pages(eks, "list_clusters", "eks:ListClusters", PaginationConfig=_PAGE):
        for name in page.get("clusters", []):
            if name == cs.eks_name:
                continue
            candidate = call(eks, "describe_cluster", f"eks:DescribeCluster {name}", name=name)
            if _issuer(candidate) == issuer.rstrip("/"):
                return candidate
    return None


def _issuer(described: dict[str, Any]) -> str:
    return str(described.get("cluster", {}).get("identity", {}).get("oidc", {}).get("issuer", "")).rstrip("/")


def _nodegroups(clients: Clients, eks: Any, cluster: str, names: list[str] | None) -> list[dict[str, Any]]:
    """Every managed node group (`names` None: a whole audit), or those named (the ones the scope's nodes
    belong to: a scoped run's findings are about the templates behind its own nodes only)."""
    if names is None:
        loc = f"eks:ListNodegroups {cluster}"
        listed = pages(eks, "list_nodegroups", loc, clusterName=cluster, PaginationConfig=_PAGE)
        names = [n for page in listed for n in page.get("nodegroups", [])]

    def describe(name: str) -> dict[str, Any] | None:
        loc = f"eks:DescribeNodegroup {cluster}/{name}"
        try:
            found = call(eks, "describe_nodegroup", loc, clusterName=cluster, nodegroupName=name)
        except AwsCallFailed as exc:
            if exc.not_found:  # deleted since: it starts no node
                return None
            raise
        nodegroup: dict[str, Any] = found["nodegroup"]
        return nodegroup

    return [ng for ng in clients.map("eks", describe, sorted(set(names))) if ng is not None]


def _associations(clients: Clients, eks: Any, cluster: str, scope: Scope) -> list[dict[str, Any]]:
    """The associations of the in-scope ServiceAccounts; in a scoped run that has any, every other one of
    the cluster too.

    Why the others: a role shared with a ServiceAccount outside the scope (AWS-006) is only seen in the
    other associations, and an association's role is only in its description (the list gives none).
    """
    params: dict[str, Any] = {"clusterName": cluster, "PaginationConfig": _PAGE}
    if scope.namespace:
        params["namespace"] = scope.namespace
    if scope.single:
        params["serviceAccount"] = scope.single[1]
    found = _describe(clients, eks, cluster, _list(eks, cluster, params))
    if scope.namespace and found:
        ids = {a["associationId"] for a in found}
        rest = _list(eks, cluster, {"clusterName": cluster, "PaginationConfig": _PAGE})
        found += _describe(clients, eks, cluster, [s for s in rest if s["associationId"] not in ids])
    return sorted(found, key=lambda a: str(a["associationId"]))


def _list(eks: Any, cluster: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    loc = f"eks:ListPodIdentityAssociations {cluster}"
    return [
        a for page in pages(eks, "list_pod_identity_associations", loc, **params) for a in page.get("associations", [])
    ]


def _describe(clients: Clients, eks: Any, cluster: str, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def describe(summary: dict[str, Any]) -> dict[str, Any]:
        aid = summary["associationId"]
        loc = f"eks:DescribePodIdentityAssociation {cluster}/{aid}"
        association: dict[str, Any] = call(
            eks, "describe_pod_identity_association", loc, clusterName=cluster, associationId=aid
        )["association"]
        return association

    return clients.map("eks", describe, sorted(summaries, key=lambda a: str(a["associationId"])))


def _error(exc: AwsCallFailed, subject: str, rules: tuple[str, ...] = ()) -> CoverageError:
    return CoverageError("aws", exc.location, exc.reason, subject, rules)
