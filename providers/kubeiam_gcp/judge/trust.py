"""Who a GKE Workload Identity member admits: IAM member strings that name Kubernetes ServiceAccounts,
and the bindings that make a Google service account's trust.

Three spellings reach a KSA:
- `serviceAccount:POOL[NS/KSA]` (legacy, on a Google service account's policy),
- `principal://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/subject/ns/NS/sa/KSA`
  (Workload Identity Federation for GKE, granted directly),
- `principalSet://.../workloadIdentityPools/POOL/...` for many: a namespace, a cluster, a
  ServiceAccount uid, or the whole pool (`/*`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kubeiam_gcp.view import WORKLOAD_IDENTITY_USER, Binding

SA_RESOURCE = "//iam.googleapis.com/projects/"
"""Full resource names of service accounts start so (`...projects/P/serviceAccounts/EMAIL`)."""
# Why also getAccessToken: the GKE metadata server mints the GSA's token with generateAccessToken,
# so any role carrying iam.serviceAccounts.getAccessToken on the GSA (Token Creator) admits the KSA.
_TOKEN_PERMISSION = "iam.serviceAccounts.getAccessToken"

_LEGACY = re.compile(r"^serviceAccount:(?P<pool>[^\[\]]+\.svc\.id\.goog)\[(?P<ns>[^/\]]+)/(?P<sa>[^\]]+)\]$")
_WIF = re.compile(
    r"^(?P<kind>principal|principalSet)://iam\.googleapis\.com/projects/(?P<number>[^/]+)"
    r"/locations/global/workloadIdentityPools/(?P<pool>[^/]+)/(?P<rest>.+)$"
)
_SUBJECT = re.compile(r"subject/ns/([^/]+)/sa/([^/]+)")
_CLUSTER_URL = re.compile(
    r"projects/(?P<project>[^/]+)/(?:locations|zones)/(?P<location>[^/]+)/clusters/(?P<name>[^/]+)"
)


@dataclass(frozen=True, slots=True)
class KsaMember:
    """What a member string admits, in Kubernetes terms."""

    member: str
    """The member as written."""
    pool: str
    """`PROJECT.svc.id.goog` (or a fleet pool)."""
    number: str | None
    """The pool project's number from a principal member; None for the legacy form."""
    scope: str
    """`serviceaccount`, `namespace`, `cluster`, `uid`, `pool`."""
    namespace: str | None = None
    name: str | None = None
    cluster: str | None = None
    """For `cluster` scope: `PROJECT/LOCATION/NAME` of the cluster URL."""
    uid: str | None = None

    @property
    def is_set(self) -> bool:
        """True when more than one ServiceAccount can match (everything but one named KSA)."""
        return self.scope not in ("serviceaccount", "uid")


@lru_cache(maxsize=1 << 17)
def parse_member(member: str) -> KsaMember | None:
    """The KSA meaning of an IAM member, or None when it names no Kubernetes ServiceAccount.

    Memoised (the result is frozen): reading, trust checks and rules ask about the same members
    once per ServiceAccount."""
    m = _LEGACY.match(member)
    if m:
        return KsaMember(member, m["pool"], None, "serviceaccount", m["ns"], m["sa"])
    m = _WIF.match(member)
    if not m or not m["pool"].endswith(".svc.id.goog"):
        # Other pools (AWS, self-managed OIDC) are not GKE; their subjects are not ours to resolve.
        return None
    pool, number, rest = m["pool"], m["number"], m["rest"]
    if m["kind"] == "principal":
        sub = _SUBJECT.fullmatch(rest)
        return KsaMember(member, pool, number, "serviceaccount", sub[1], sub[2]) if sub else None
    if rest == "*":
        return KsaMember(member, pool, number, "pool")
    if rest.startswith("namespace/"):
        return KsaMember(member, pool, number, "namespace", namespace=rest[len("namespace/") :])
    if rest.startswith("kubernetes.namespace/"):
        return KsaMember(member, pool, number, "namespace", namespace=rest[len("kubernetes.namespace/") :])
    if rest.startswith("kubernetes.serviceaccount.uid/"):
        return KsaMember(member, pool, number, "uid", uid=rest.rsplit("/", 1)[-1])
    if rest.startswith("kubernetes.cluster/"):
        c = _CLUSTER_URL.search(rest)
        return KsaMember(member, pool, number, "cluster", cluster=f"{c[1]}/{c[2]}/{c[3]}" if c else rest)
    return None


def cluster_key(url: str) -> tuple[str, str, str] | None:
    """(project, location, name) of a GKE cluster URL, selfLink or issuer (`zones/` or `locations/`)."""
    c = _CLUSTER_URL.search(url or "")
    return (c[1], c[2], c[3]) if c else None


# gcloud names kubeconfig clusters and contexts gke_PROJECT_LOCATION_NAME. Project ids, locations and
# cluster names hold no underscore (a domain-scoped project id may hold `.` and `:`).
_KUBECONFIG_NAME = re.compile(r"^gke_([a-z][a-z0-9.:-]*[a-z0-9])_([a-z0-9-]+)_([a-z0-9-]+)$")


def kubeconfig_key(name: str | None) -> tuple[str, str, str] | None:
    """(project, location, name) of a GKE cluster from gcloud's kubeconfig name `gke_P_L_N`."""
    m = _KUBECONFIG_NAME.match(name or "")
    return (m[1], m[2], m[3]) if m else None


def admits(member: KsaMember, *, pool: str, number: str | None, cluster: str | None, namespace: str, name: str) -> bool:
    """Whether `member` admits the KSA NAMESPACE/NAME of a cluster in `pool`.

    `number` is the pool project's number when known; a principal member naming another number
    is another pool (same id in another project cannot happen, but a typo can). `cluster` is
    `PROJECT/LOCATION/NAME` of the KSA's cluster when known.
    """
    if member.pool != pool or (member.number and number and member.number != number):
        return False
    if member.scope == "serviceaccount":
        return member.namespace == namespace and member.name == name
    if member.scope == "namespace":
        return member.namespace == namespace
    if member.scope == "pool":
        return True
    if member.scope == "cluster":
        return cluster is not None and member.cluster == cluster
    return False  # uid: the evidence does not carry ServiceAccount uids reliably


def is_trust(b: Binding) -> bool:
    """A workloadIdentityUser binding of a KSA member on one GSA is that GSA's trust, not a grant of
    the member. Given to anything else (another GSA, a user) it is token minting on that GSA: a grant."""
    return b.role == WORKLOAD_IDENTITY_USER and b.scope.startswith(SA_RESOURCE) and parse_member(b.member) is not None


def mints_tokens(role: str, permissions: frozenset[str] | None) -> bool:
    """Whether `role` on a GSA (or above it) lets a member take the GSA: workloadIdentityUser, or any
    role with getAccessToken. `permissions` None: the role is unknown."""
    return role == WORKLOAD_IDENTITY_USER or _TOKEN_PERMISSION in (permissions or ())
