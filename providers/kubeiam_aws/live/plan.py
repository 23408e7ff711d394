"""What a live AWS collection needs, worked out from the Kubernetes side of the inventory.

Nothing here calls AWS: it lists the clusters to look up, the IRSA roles the in-scope
ServiceAccounts name, and the EC2 instances behind the in-scope nodes, so that `check` of one
ServiceAccount fetches only what that ServiceAccount needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.model import Cluster, Inventory, Node, ServiceAccount
from kubeiam_aws.declarations import AWS, AWS_ROLE_ARN

ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(?P<account>\d{12}):role/"
    r"(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,64})$"
)
EKS_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):eks:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"cluster/(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{0,99})$"
)
_INSTANCE = re.compile(r"^aws:///(?P<zone>[a-z0-9-]+)/(?P<id>i-[0-9a-f]{8,17})$")
# Why strip to the first digit group: zones are the region plus a letter (eu-west-1a) and local or
# wavelength zones extend it (us-west-2-lax-1a); either way the region is the prefix up to `-N`.
_REGION = re.compile(r"^(?P<region>[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d+)")
_REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
"""EKS labels the nodes of a managed node group with the group's name."""


@dataclass(frozen=True, slots=True)
class RoleRef:
    arn: str
    partition: str
    account: str
    name: str


def parse_role_arn(value: str) -> RoleRef | None:
    m = ROLE_ARN.match(value.strip())
    if not m:
        return None
    return RoleRef(value.strip(), m["partition"], m["account"], m["name"])


@dataclass(frozen=True, slots=True)
class EksArn:
    """An EKS cluster's ARN, as `aws eks update-kubeconfig` names the kubeconfig's cluster entry."""

    arn: str
    partition: str
    region: str
    account: str
    name: str


def parse_eks_arn(value: str | None) -> EksArn | None:
    m = EKS_ARN.match((value or "").strip())
    return EksArn(m.group(0), m["partition"], m["region"], m["account"], m["name"]) if m else None


def region_of_zone(zone: str) -> str | None:
    m = _REGION.match(zone)
    return m["region"] if m else None


@dataclass(frozen=True)
class ClusterScope:
    """One Kubernetes cluster as seen from AWS: which region, which SAs and nodes are in scope."""

    cluster: Cluster
    region: str | None
    service_accounts: list[ServiceAccount] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    irsa: dict[str, list[str]] = field(default_factory=dict)
    """role ARN -> subjects (`cluster/ns/sa`) whose annotation names it."""
    arn: EksArn | None = None
    """The EKS cluster's ARN when the kubeconfig named the cluster by it (`Cluster.kubeconfig_name`)."""

    @property
    def name(self) -> str:
        return self.cluster.name

    @property
    def eks_name(self) -> str:
        """The name to ask EKS for: the ARN's, else the Kubernetes cluster's (the issuer then confirms it)."""
        return self.arn.name if self.arn else self.cluster.name

    def subjects(self) -> list[str]:
        """The in-scope ServiceAccounts, as coverage subjects."""
        return [subject(sa) for sa in self.service_accounts]

    def instances(self) -> dict[str, list[str]]:
        """region -> instance ids of the in-scope nodes (from `spec.providerID`)."""
        out: dict[str, list[str]] = {}
        for node in self.nodes:
            m = _INSTANCE.match(node.provider_id or "")
            if m:
                region = region_of_zone(m["zone"]) or self.region
                if region:
                    out.setdefault(region, []).append(m["id"])
        return {r: sorted(set(ids)) for r, ids in out.items()}

    def nodegroups(self) -> list[str]:
        """The managed node groups the in-scope nodes belong to (by EKS's node label)."""
        return sorted({n.labels[NODEGROUP_LABEL] for n in self.nodes if n.labels.get(NODEGROUP_LABEL)})

    def node_of_instance(self) -> dict[str, Node]:
        return {m["id"]: n for n in self.nodes if (m := _INSTANCE.match(n.provider_id or ""))}


@dataclass(frozen=True)
class Scope:
    clusters: list[ClusterScope]
    single: tuple[str, str] | None
    """`check`: the one (namespace, name) in scope."""
    namespace: str | None

    @property
    def full(self) -> bool:
        """A whole-cluster audit: every node group is read (a scoped run reads those behind its nodes)."""
        return self.namespace is None


def subject(sa: ServiceAccount) -> str:
    return f"{sa.cluster}/{sa.namespace}/{sa.name}"


def build_scope(request: CollectRequest, inventory: Inventory, default_region: str | None) -> Scope:
    single = request.service_account
    namespace = single[0] if single else request.namespace
    option_region = getattr(request.options, "aws_region", None)
    clusters = []
    for cluster in inventory.clusters:
        sas = [
            sa
            for sa in inventory.service_accounts
            if sa.cluster == cluster.name
            and (namespace is None or sa.namespace == namespace)
            and (single is None or sa.name == single[1])
        ]
        all_nodes = [n for n in inventory.nodes if n.cluster == cluster.name]
        irsa: dict[str, list[str]] = {}
        for sa in sas:
            value = sa.annotations.get(AWS_ROLE_ARN)
            if value and parse_role_arn(value):
                irsa.setdefault(value.strip(), []).append(subject(sa))
        arn = parse_eks_arn(cluster.kubeconfig_name)
        # A cluster is looked up in EKS when it is one (by its kubeconfig ARN), its nodes run on EC2, or
        # its ServiceAccounts use IRSA.
        if arn is None and cluster.cloud != AWS and not irsa:
            continue
        if namespace is None:
            nodes = all_nodes
        else:  # the nodes the in-scope pods run on, as the pipeline narrows them
            names = {
                w.node
                for w in inventory.workloads
                if w.cluster == cluster.name
                and w.namespace == namespace
                and (single is None or w.service_account == single[1])
            }
            nodes = [n for n in all_nodes if n.name in names]
        # The ARN names the cluster's region exactly; the option and the nodes are the best guesses otherwise.
        region = (arn.region if arn else None) or option_region or _region_of_nodes(all_nodes) or default_region
        clusters.append(ClusterScope(cluster, region, sas, nodes, irsa, arn))
    return Scope(clusters, single, namespace)


def _region_of_nodes(nodes: list[Node]) -> str | None:
    for node in nodes:
        for label in _REGION_LABELS:
            if node.labels.get(label):
                return node.labels[label]
        m = _INSTANCE.match(node.provider_id or "")
        if m and (region := region_of_zone(m["zone"])):
            return region
    return None
