"""The AWS view rules read (`inventory.views["aws"]`): roles, nodes, launch templates, EKS clusters.

Frozen, built once by the reader. The one mutable part is the analysis memo, keyed by role, so an
audit of many ServiceAccounts over few roles evaluates each role's policies once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubeiam.vocabulary.model import Gap, Grant, IdentityLink
from kubeiam.vocabulary.policy import Statement
from kubeiam_aws.judge.guardrails import Guardrail, PodSession
from kubeiam_aws.judge.resources import ResourceFile
from kubeiam_aws.judge.usage_data import UsageData


@dataclass(frozen=True, slots=True)
class Role:
    arn: str
    account: str
    name: str
    trust: tuple[Statement, ...]
    """The AssumeRolePolicyDocument."""
    trust_document: Mapping[str, Any]
    grants: tuple[Grant, ...]
    """Inline and attached managed policies (default version), in evidence order."""
    boundary: Grant | None = None
    """The permissions boundary, when one is set (None also when its document is not in evidence)."""
    boundary_arn: str | None = None
    created: datetime | None = None
    """CreateDate: no session of this role is older, which decides some date conditions."""
    instance_profiles: tuple[str, ...] = ()
    missing_policies: tuple[str, ...] = ()
    """Attached policy ARNs whose documents the evidence lacks (analysis is then incomplete)."""
    source: str = ""
    gaps: tuple[Gap, ...] = ()
    """Items of its evidence the reader could not understand (a statement, a policy, a field): the role is
    judged on the rest and its identity listed as partly checked."""
    trust_understood: bool = True
    """False when part of the trust policy was not understood: a verdict that it does not admit someone
    may be wrong (the unread statement may admit them), so such links are unchecked, not untrusted."""
    last_used: datetime | None = None
    """`RoleLastUsed.LastUsedDate` of iam.json (AWS-024)."""
    last_used_read: bool = False
    """`RoleLastUsed` was in the evidence: `last_used` None then means not used in the 400 days AWS keeps."""
    guardrails: tuple[Guardrail, ...] = ()
    """SCP levels and RCPs of its account's organization path (organization-policies.json), when read."""
    session: PodSession | None = None
    """Set on the role as one Pod Identity association gives it (its session policy, its session tags): the same
    role judged for that association's sessions. None: the role as IAM holds it."""

    @property
    def key(self) -> str:
        """What a role's judgement is memoised by: its ARN, or its ARN and the association whose session it is."""
        return self.arn if self.session is None else f"{self.arn}#{self.session.subject}"


@dataclass(frozen=True, slots=True)
class ImdsOptions:
    """IMDS settings as they apply, never guessed safe: what is unknown stays None and is named."""

    http_tokens: str | None
    """`required` (IMDSv2 only) or `optional` (IMDSv1 allowed); None when not known."""
    hop_limit: int | None
    """1-64; None when not known."""
    endpoint: str | None
    """`enabled` or `disabled` (an unknown value counts as enabled: it is the exposed one)."""
    unreadable: tuple[str, ...] = ()
    """Settings present but not understood (`HttpTokens=1`, `HttpPutResponseHopLimit=-1`, `MetadataOptions
    missing`): a coverage entry names them."""
    unset: tuple[str, ...] = ()
    """Settings a launch template leaves to the account default or the AMI when the evidence holds neither."""
    inherited: tuple[str, ...] = ()
    """Where settings the template leaves unset come from (`HttpTokens=optional from the account default`)."""

    @property
    def disabled(self) -> bool:
        return self.endpoint == "disabled"

    @property
    def v1_allowed(self) -> bool:
        return not self.disabled and self.http_tokens == "optional"

    @property
    def hop_exposed(self) -> bool:
        # Why >1: the IMDSv2 token PUT answer is dropped after `hop_limit` hops; a pod behind the
        # node's bridge/veth is one hop more than the host, so 2 lets every pod fetch a token.
        return not self.disabled and self.hop_limit is not None and self.hop_limit > 1


@dataclass(frozen=True, slots=True)
class AwsNode:
    cluster: str
    node: str
    instance_id: str
    account: str
    region: str
    imds: ImdsOptions
    instance_profile: str | None
    role_arn: str | None
    """The node instance role (what IMDS hands out), resolved through the instance profile."""
    nodegroup: str | None = None
    nodeclass: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class NodeTemplate:
    """Something that will start nodes: a managed node group's launch template or an EC2NodeClass."""

    cluster: str
    subject: str
    """`nodegroup/NAME` or `ec2nodeclass/NAME`: the finding's node field (stable across template versions)."""
    kind: str
    imds: ImdsOptions
    role_arn: str | None
    source: str
    template: str | None = None
    """`lt-... v3` for a launch template: shown, not fingerprinted."""


@dataclass(frozen=True, slots=True)
class EksCluster:
    name: str
    arn: str
    account: str
    region: str
    issuer: str | None
    k8s_cluster: str | None
    """The Kubernetes evidence cluster it matched (by issuer, else by name)."""
    source: str


@dataclass(frozen=True, slots=True)
class NetworkPolicyEnforcement:
    """Whether a cluster enforces NetworkPolicy objects, and Cilium's own policies (EKS: not by default)."""

    kubernetes: bool | None
    """NetworkPolicy objects: True (VPC CNI network policy enabled, Cilium or Calico running), False (the
    vpc-cni add-on says disabled and no other engine is seen), None (unknown)."""
    cilium: bool
    """CiliumNetworkPolicy objects: Cilium runs (its agent, or its policies, are in the evidence)."""
    how: str
    """What says so, or what is missing: for the finding's evidence."""


@dataclass(frozen=True)
class AwsView:
    roles: Mapping[str, Role]
    """Role ARN -> role, every account in the evidence."""
    accounts: frozenset[str]
    """Accounts whose iam.json was read."""
    oidc_providers: Mapping[str, frozenset[str]]
    """Account -> OIDC provider host paths (issuer without https://); only accounts with the file."""
    eks: tuple[EksCluster, ...] = ()
    nodes: tuple[AwsNode, ...] = ()
    templates: tuple[NodeTemplate, ...] = ()
    links: tuple[IdentityLink, ...] = ()
    """Every AWS link before narrowing (a role trusted by several ServiceAccounts needs them all)."""
    profiles: Mapping[str, str] = field(default_factory=dict)
    """Instance profile ARN -> role ARN."""
    associated: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Role ARN -> `cluster/ns/sa` of every Pod Identity association that gives it (in the evidence or not)."""
    usage: UsageData = field(default_factory=UsageData)
    """Service and action last accessed, IAM Access Analyzer unused-access findings (AWS-024)."""
    org_ids: Mapping[str, str] = field(default_factory=dict)
    """Account -> its AWS Organizations id (organization-policies.json), for `aws:PrincipalOrgID`."""
    resource_files: Mapping[str, tuple[ResourceFile, ...]] = field(default_factory=dict)
    """Account -> the KMS key, S3 bucket and Secrets Manager policy files read for it."""
    sessions: Mapping[tuple[str, str, str, str], Role] = field(default_factory=dict)
    """(cluster, namespace, ServiceAccount, role ARN) -> the role as that Pod Identity association's sessions get it
    (its session policy, its session tags), where that changes what the role can do."""
    network_policy: Mapping[str, NetworkPolicyEnforcement] = field(default_factory=dict)
    """Cluster -> whether its network policies are enforced (EKS clusters matched to the Kubernetes evidence)."""
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def role(self, arn: str | None) -> Role | None:
        return self.roles.get(arn) if arn else None

    def node(self, cluster: str, name: str) -> AwsNode | None:
        index: dict[tuple[str, str], AwsNode] | None = self.memo.get("nodes")
        if index is None:
            index = self.memo["nodes"] = {(n.cluster, n.node): n for n in self.nodes}
        return index.get((cluster, name))

    def links_to(self, principal: str) -> tuple[IdentityLink, ...]:
        index: dict[str, tuple[IdentityLink, ...]] | None = self.memo.get("links")
        if index is None:
            grouped: dict[str, list[IdentityLink]] = {}
            for link in self.links:
                grouped.setdefault(link.principal, []).append(link)
            index = self.memo["links"] = {k: tuple(v) for k, v in grouped.items()}
        return index.get(principal, ())


def empty_view() -> AwsView:
    return AwsView(roles={}, accounts=frozenset(), oidc_providers={})
