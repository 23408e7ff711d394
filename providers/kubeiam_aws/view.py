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
