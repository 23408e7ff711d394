"""AWS node rules: what a pod can take from the instance metadata service (IMDS)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import EgressBlock, Inventory, LinkStatus, Node, Workload
from kubeiam.vocabulary.rules import Match, Rule, rule
from kubeiam_aws.declarations import AWS
from kubeiam_aws.rules.helpers import analysis, aws_view
from kubeiam_aws.view import AwsNode, AwsView, ImdsOptions

_IMDS_DOC = "https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html"
_STRONG = ("admin", "escalation", "broad")


@dataclass(frozen=True, slots=True)
class Exposure:
    power: str
    """The node role's reach: `admin`, `escalation`, `broad`, `limited` or `unknown`."""
    exposed: tuple[str, ...]
    """ns/sa of pods on the node that reach IMDS (no egress block, not hostNetwork)."""
    without_identity: tuple[str, ...]
    """Of those, the ones with no AWS identity of their own (they run as the node role by design)."""
    mitigations: tuple[str, ...]
    """Egress policies that keep pods of a namespace away from 169.254.169.254."""
    role_can: tuple[str, ...] = ()
    """What the node role's credentials allow that matters (admin, escalation paths, broad reads)."""
    not_enforced: tuple[str, ...] = ()
    """Egress policies that would block IMDS but that nothing is known to enforce (then they block nothing)."""

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"node_role_reach": self.power, "pods_reaching_imds": list(self.exposed)}
        if self.role_can:
            out["node_role_can"] = list(self.role_can)
        if self.without_identity:
            out["pods_without_own_identity"] = list(self.without_identity)
        if self.mitigations:
            out["mitigations"] = list(self.mitigations)
        if self.not_enforced:
            out["mitigations_not_enforced"] = list(self.not_enforced)
        return out


def _exposure(inv: Inventory, node: AwsNode) -> Exposure:
    view = aws_view(inv)
    role = view.role(node.role_arn)
    result = analysis(inv, role) if role else None
    power = result.power if result else "unknown"
    role_can: list[str] = []
    if result is not None:
        role_can += [f"admin via {s.rsplit('/', 1)[-1]}" for s in result.admin + result.iam_admin]
        role_can += [f"escalate: {e.name}" for e in result.escalations]
        role_can += [f"read everywhere: {g.action}" for g in result.sensitive_reads]
    on_node, with_identity = _indexes(inv)
    exposed, bare, mitigations, unenforced = set(), set(), set(), set()
    for w in on_node.get((node.cluster, node.node), ()):
        if w.host_network:
            continue
        block, ignored = _enforced_block(inv, view, w.cluster, w.namespace)
        unenforced.update(ignored)
        if block is not None:
            mitigations.add(_named(block))
            continue
        key = f"{w.namespace}/{w.service_account}"
        exposed.add(key)
        if (w.cluster, w.namespace, w.service_account) not in with_identity:
            bare.add(key)
    return Exposure(
        power,
        tuple(sorted(exposed)),
        tuple(sorted(bare)),
        tuple(sorted(mitigations)),
        tuple(role_can[:10]),
        tuple(sorted(unenforced)),
    )


def _named(block: EgressBlock) -> str:
    return f"{block.kind} {block.namespace or '(cluster-wide)'}/{block.name}"


def _enforced_block(
    inv: Inventory, view: AwsView, cluster: str, namespace: str
) -> tuple[EgressBlock | None, list[str]]:
    """A policy that blocks IMDS for every pod of the namespace and that something enforces, and the blocking
    policies that nothing is known to enforce (EKS enforces none by default: judged as no block)."""
    blocks: dict[tuple[str, str | None], list[EgressBlock]] = inv.memo("aws_egress_blocks", _blocks_by_namespace)
    found = [*blocks.get((cluster, namespace), ()), *blocks.get((cluster, None), ())]
    if not found:
        return None, []
    enforced = view.network_policy.get(cluster)
    ignored = []
    for block in found:
        cilium = block.kind.startswith("Cilium")
        if enforced is not None and (enforced.cilium if cilium else enforced.kubernetes):
            return block, []
        how = (
            "Cilium is not seen running"
            if cilium and enforced and enforced.kubernetes
            else (enforced.how if enforced else "enforcement unknown")
        )
        ignored.append(f"{_named(block)}: {how}")
    return None, ignored


def _blocks_by_namespace(inv: Inventory) -> dict[tuple[str, str | None], list[EgressBlock]]:
    out: dict[tuple[str, str | None], list[EgressBlock]] = {}
    for b in inv.whole.egress_blocks:
        if b.selects_all_pods:
            out.setdefault((b.cluster, b.namespace), []).append(b)
    return out


def _indexes(inv: Inventory) -> tuple[dict[tuple[str, str], list[Workload]], set[tuple[str, str, str]]]:
    """Pods by node, and ServiceAccounts that have an AWS identity of their own; built once per inventory,
    from the whole inventory: `check` judges a node by every pod on it, as `audit` does."""
    return inv.memo("aws_node_indexes", lambda i: _build_indexes(i.whole))


def _build_indexes(inv: Inventory) -> tuple[dict[tuple[str, str], list[Workload]], set[tuple[str, str, str]]]:
    on_node: dict[tuple[str, str], list[Workload]] = {}
    for w in inv.workloads:
        if w.node:
            on_node.setdefault((w.cluster, w.node), []).append(w)
    with_identity = {
        (link.cluster, link.namespace, link.service_account)
        for link in aws_view(inv).links
        if link.status is LinkStatus.RESOLVED
    }
    return on_node, with_identity


def _aws_nodes(inv: Inventory) -> Iterator[AwsNode]:
    view = aws_view(inv)
    for n in inv.nodes:
        found = view.node(n.cluster, n.name)
        if found is not None:
            yield found


def _node_match(node: AwsNode, exp: Exposure, item: str, severity: Severity | None, **evidence: Any) -> Match:
    return Match(
        cluster=node.cluster,
        node=node.node,
        item=item,
        cloud=AWS,
        principal=node.role_arn,
        source=node.instance_id,
        severity=severity,
        evidence={
            "instance": node.instance_id,
            "file": node.source,
            "node_role": node.role_arn,
            **({"nodegroup": node.nodegroup} if node.nodegroup else {}),
            **({"ec2nodeclass": node.nodeclass} if node.nodeclass else {}),
            **evidence,
            **exp.evidence(),
        },
    )


@rule(
    "AWS-020",
    "Node allows IMDSv1",
    Category.IMDS_EXPOSURE,
    Severity.HIGH,
    rationale="With `HttpTokens: optional` any process that can make one GET to 169.254.169.254 (a pod, an SSRF "
    "in a web app) receives the node role's credentials; no token, no hop limit applies.",
    remediation="Set HttpTokens=required and HttpPutResponseHopLimit=1 on the launch template / EC2NodeClass "
    "(aws ec2 modify-instance-metadata-options --http-tokens required --http-put-response-hop-limit 1).",
    cloud=AWS,
    references=(_IMDS_DOC,),
)
def imds_v1(inv: Inventory) -> Iterator[Match]:
    for node in _aws_nodes(inv):
        if not node.imds.v1_allowed:
            continue
        exp = _exposure(inv, node)
        # Critical when a pod can become an admin-equivalent or escalating node role through it.
        severity = Severity.CRITICAL if exp.power in ("admin", "escalation") and exp.exposed else None
        yield _node_match(
            node, exp, "HttpTokens=optional", severity, http_tokens=node.imds.http_tokens, hop_limit=node.imds.hop_limit
        )


@rule(
    "AWS-021",
    "Node IMDS hop limit lets pods reach node credentials",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale="The IMDSv2 token answer travels `HttpPutResponseHopLimit` hops; a pod is one hop behind the host, "
    "so a limit of 2 or more hands every pod the node role. It matters most when that role is powerful "
    "and pods on the node have no identity of their own.",
    remediation="Set HttpPutResponseHopLimit=1 (pods then use IRSA / Pod Identity), or block egress to "
    "169.254.169.254/32 (and fd00:ec2::254/128 on IPv6 clusters) with a NetworkPolicy that is enforced (on EKS: "
    "the vpc-cni add-on with enableNetworkPolicy, Cilium or Calico).",
    cloud=AWS,
    references=(_IMDS_DOC,),
)
def imds_hop_limit(inv: Inventory) -> Iterator[Match]:
    for node in _aws_nodes(inv):
        if node.imds.v1_allowed or not node.imds.hop_exposed:
            continue
        exp = _exposure(inv, node)
        # Higher when the node role reaches far and pods there run without an identity of their own.
        severity = Severity.HIGH if exp.power in _STRONG and exp.without_identity else None
        yield _node_match(node, exp, f"HopLimit={node.imds.hop_limit}", severity, hop_limit=node.imds.hop_limit)


@rule(
    "AWS-022",
    "Launch template or EC2NodeClass will start nodes with exposed IMDS",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale="Fixing running instances does not last: the node group's launch template or Karpenter's "
    "EC2NodeClass starts every replacement node with the same metadata options. A launch template without "
    "MetadataOptions leaves them to the account default and the AMI (EC2's own default allows IMDSv1): "
    "reported as unset unless instance-metadata-defaults.json and images.json show what nodes get.",
    remediation="Set MetadataOptions HttpTokens=required, HttpPutResponseHopLimit=1 in the launch template "
    "(new version, make it default) or spec.metadataOptions in the EC2NodeClass.",
    cloud=AWS,
    references=(_IMDS_DOC, "https://karpenter.sh/docs/concepts/nodeclasses/#specmetadataoptions"),
)
def exposed_templates(inv: Inventory) -> Iterator[Match]:
    view = aws_view(inv)
    clusters = {c.name for c in inv.clusters}
    # Narrowed (`check`, `--namespace`): only the templates behind the nodes the scope's pods run on.
    behind = None if inv.scope is None else _templates_behind(view, inv.nodes)
    for t in view.templates:
        item = _template_item(t.imds)
        if t.cluster not in clusters or item is None:
            continue
        if behind is not None and (t.cluster, t.subject) not in behind:
            continue
        detail = item
        if item == _UNSET:
            # What EC2 gives then depends on the account default and the AMI, neither in the evidence: the
            # template does not pin IMDSv2, which is what the rule asks of it (the fix is the same).
            detail = f"{', '.join(t.imds.unset)} not set: nodes get the account default or the AMI's"
        yield Match(
            cluster=t.cluster,
            node=t.subject,
            item=item,
            cloud=AWS,
            principal=t.role_arn,
            source=t.subject,
            detail=f"{t.subject}{f' ({t.template})' if t.template else ''}: {detail}",
            severity=Severity.HIGH if t.imds.v1_allowed else None,
            evidence={
                "kind": t.kind,
                "file": t.source,
                **({"launch_template": t.template} if t.template else {}),
                "http_tokens": t.imds.http_tokens,
                "hop_limit": t.imds.hop_limit,
                **({"not_set": list(t.imds.unset)} if t.imds.unset else {}),
                **({"inherited": list(t.imds.inherited)} if t.imds.inherited else {}),
                "node_role": t.role_arn,
            },
        )


_UNSET = "MetadataOptions=unset"


def _template_item(imds: ImdsOptions) -> str | None:
    """What a template starts nodes with that exposes IMDS (or leaves to defaults the evidence cannot tell)."""
    if imds.v1_allowed:
        return "HttpTokens=optional"
    if imds.hop_exposed:
        return f"HopLimit={imds.hop_limit}"
    if imds.unset and not imds.disabled:
        return _UNSET
    return None


def _templates_behind(view: AwsView, nodes: Iterable[Node]) -> set[tuple[str, str]]:
    """(cluster, template subject) of the node group or EC2NodeClass each node was started by."""
    out = set()
    for n in nodes:
        found = view.node(n.cluster, n.name)
        if found is not None and found.nodegroup:
            out.add((n.cluster, f"nodegroup/{found.nodegroup}"))
        if found is not None and found.nodeclass:
            out.add((n.cluster, f"ec2nodeclass/{found.nodeclass}"))
    return out


@rule(
    "AWS-023",
    "hostNetwork pod can take a broad node role",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale="A hostNetwork pod is on the host's network: hop limits and pod NetworkPolicies do not stop it "
    "from reading the node role's credentials from IMDS, whatever its own identity.",
    remediation="Drop hostNetwork, or run such pods on nodes whose role has only the EKS worker policies.",
    cloud=AWS,
    references=(_IMDS_DOC,),
)
def host_network_node_role(inv: Inventory) -> Iterator[Match]:
    view = aws_view(inv)
    for sa in inv.service_accounts:
        for w in inv.workloads_of(sa):
            node = view.node(w.cluster, w.node or "") if w.host_network else None
            role = view.role(node.role_arn) if node else None
            if node is None or role is None or node.imds.disabled:
                continue
            power = analysis(inv, role).power
            if power not in _STRONG:
                continue
            yield Match.for_sa(
                sa,
                item=f"{w.owner_kind}/{w.owner_name}@{node.node}",
                cloud=AWS,
                principal=role.arn,
                source=node.instance_id,
                detail=f"{w.owner_kind} {w.owner_name} on {node.node}",
                severity=Severity.HIGH if power in ("admin", "escalation") else None,
                evidence={
                    "workload": f"{w.owner_kind}/{w.owner_name}",
                    "node": node.node,
                    "node_role": role.arn,
                    "node_role_reach": power,
                },
            )


RULES: tuple[Rule, ...] = (imds_v1, imds_hop_limit, exposed_templates, host_network_node_role)
