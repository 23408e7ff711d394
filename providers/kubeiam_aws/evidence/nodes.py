"""The nodes' side of the AWS evidence: each node's instance and IMDS settings, and what will start nodes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_aws.evidence.ec2 import IMDS_RULES, TEMPLATE_RULES, Instance, LaunchTemplateVersion
from kubeiam_aws.evidence.eks import EksFiles, Nodegroup
from kubeiam_aws.evidence.imds import karpenter_imds
from kubeiam_aws.evidence.shapes import mapping, text
from kubeiam_aws.view import AwsNode, EksCluster, ImdsOptions, NodeTemplate, Role

_PROVIDER_ID = re.compile(r"^aws:///[^/]*/(i-[0-9a-f]+)$")


def read_nodes(
    inventory: Inventory,
    instances: Mapping[str, Instance],
    profiles: Mapping[str, str],
    roles: Mapping[str, Role],
    has_aws: bool,
) -> tuple[list[AwsNode], list[CoverageError]]:
    nodes, errors = [], []
    unread: dict[str, int] = {}
    for node in inventory.nodes:
        m = _PROVIDER_ID.match(node.provider_id or "")
        if not m:
            continue
        inst = instances.get(m.group(1))
        if inst is None:
            if has_aws:
                errors.append(
                    CoverageError(
                        "aws",
                        "aws/<account>/<region>/ec2-instances.json",
                        f"instance {m.group(1)} of node {node.name} is not in the evidence: IMDS settings not checked",
                        subject=f"{node.cluster}/node/{node.name}",
                    )
                )
            else:
                unread[node.cluster] = unread.get(node.cluster, 0) + 1
            continue
        if inst.instance_profile and inst.instance_profile not in profiles:
            # The node's credentials exist but are not judged: severities that depend on them stay low.
            errors.append(
                CoverageError(
                    "aws",
                    f"aws/{inst.account}/iam.json",
                    f"no role in the evidence holds instance profile {inst.instance_profile} of node {node.name}: "
                    "what pods get from IMDS there is not judged",
                    subject=f"{node.cluster}/node/{node.name}",
                )
            )
        role = roles.get(profiles.get(inst.instance_profile or "", ""))
        if role is not None and role.gaps:
            # What the node role can do sets how bad an exposed IMDS is: judged on part of its policies only.
            gap = role.gaps[0]
            errors.append(
                CoverageError(
                    "aws",
                    gap.location,
                    f"node role {role.name} of node {node.name} is judged on part of its evidence ({gap.item}: "
                    f"{gap.reason})",
                    subject=f"{node.cluster}/node/{node.name}",
                    rules=IMDS_RULES,
                )
            )
        not_read = inst.imds.unreadable + tuple(f"{p} not readable" for p in inst.problems)
        if not_read:
            # Unknown is not safe: the node is listed as not checked for what these settings decide.
            errors.append(
                CoverageError(
                    "aws",
                    inst.source,
                    f"{inst.item} ({inst.instance_id}, node {node.name}): {', '.join(not_read)}: "
                    "what pods can take from IMDS there is not decided",
                    subject=f"{node.cluster}/node/{node.name}",
                    rules=IMDS_RULES if not inst.problems else (),
                )
            )
        nodes.append(
            AwsNode(
                cluster=node.cluster,
                node=node.name,
                instance_id=inst.instance_id,
                account=inst.account,
                region=inst.region,
                imds=inst.imds,
                instance_profile=inst.instance_profile,
                role_arn=profiles.get(inst.instance_profile or ""),
                nodegroup=inst.tags.get("eks:nodegroup-name"),
                nodeclass=inst.tags.get("karpenter.k8s.aws/ec2nodeclass"),
                source=inst.source,
            )
        )
    for cluster, count in sorted(unread.items()):
        # No AWS evidence at all: one entry per cluster rather than one per node.
        errors.append(
            CoverageError(
                "aws",
                "aws/<account>/<region>/ec2-instances.json",
                f"{count} node(s) run on EC2 but the evidence holds no AWS files: IMDS settings and node roles "
                "not checked",
                subject=cluster,
            )
        )
    return nodes, errors


def node_templates(
    inventory: Inventory,
    eks: list[EksCluster],
    files: list[EksFiles],
    versions: list[LaunchTemplateVersion],
    roles: Mapping[str, Role],
    profiles: Mapping[str, str],
    errors: list[CoverageError],
) -> list[NodeTemplate]:
    out = []
    for cluster, f in zip(eks, files, strict=True):
        if cluster.k8s_cluster is None:
            continue
        for ng in f.nodegroups:
            found = _nodegroup_template(cluster.k8s_cluster, f, ng, versions, profiles, errors)
            out += [found] if found else []
    view = inventory.views.get("kubernetes")
    for k8s_cluster in inventory.clusters:
        objects = view.of_kind(k8s_cluster.name, "EC2NodeClass") if view is not None else ()
        account = next((e.account for e in eks if e.k8s_cluster == k8s_cluster.name), None)
        for obj in objects:
            name = text(mapping(obj.get("metadata")).get("name"))
            if name is None:
                continue
            spec = mapping(obj.get("spec"))
            subject = f"ec2nodeclass/{name}"
            imds = karpenter_imds(spec.get("metadataOptions"))
            _unreadable(
                errors, k8s_cluster.source, f"EC2NodeClass {name} spec.metadataOptions", k8s_cluster.name, subject, imds
            )
            out.append(
                NodeTemplate(
                    cluster=k8s_cluster.name,
                    subject=subject,
                    kind="EC2NodeClass",
                    imds=imds,
                    role_arn=_nodeclass_role(spec, account, roles, profiles),
                    source=k8s_cluster.source,
                )
            )
    return out


def _nodegroup_template(
    cluster: str,
    f: EksFiles,
    ng: Nodegroup,
    versions: list[LaunchTemplateVersion],
    profiles: Mapping[str, str],
    errors: list[CoverageError],
) -> NodeTemplate | None:
    lt = ng.launch_template
    if not lt:
        return None
    subject = f"nodegroup/{ng.name}"
    found = _version(versions, lt)
    if found is None:
        wanted = f"{lt.get('id') or lt.get('name')} version {lt.get('version') or '$Default'}"
        errors.append(
            CoverageError(
                "aws",
                f"aws/{f.account}/{f.region}/launch-template-versions.json",
                f"launch template {wanted} of node group {ng.name} is not in the evidence: "
                "the IMDS settings of the nodes it starts are not checked",
                subject=f"{cluster}/node/{subject}",
                rules=TEMPLATE_RULES,
            )
        )
        return None
    where = f"{found.item} ({found.template_id} v{found.version}) MetadataOptions"
    _unreadable(errors, found.source, where, cluster, subject, found.imds)
    return NodeTemplate(
        cluster=cluster,
        subject=subject,
        kind="launch-template",
        imds=found.imds,
        role_arn=ng.node_role or profiles.get(found.instance_profile or ""),
        source=found.source,
        template=f"{found.template_id} v{found.version}",
    )


def _unreadable(
    errors: list[CoverageError], source: str, where: str, cluster: str, subject: str, imds: ImdsOptions
) -> None:
    if imds.unreadable:
        errors.append(
            CoverageError(
                "aws",
                source,
                f"{where}: {', '.join(imds.unreadable)} not understood: what the nodes it starts get is not decided",
                subject=f"{cluster}/node/{subject}",
                rules=TEMPLATE_RULES,
            )
        )


def _nodeclass_role(
    spec: Mapping[str, object], account: str | None, roles: Mapping[str, Role], profiles: Mapping[str, str]
) -> str | None:
    """The node role an EC2NodeClass gives its nodes: `spec.role` (a role name) or `spec.instanceProfile`."""
    name = spec.get("role")
    if isinstance(name, str) and name:
        found = [r for r in roles.values() if r.name.lower() == name.lower() and account in (None, r.account)]
        return found[0].arn if len(found) == 1 else None
    profile = spec.get("instanceProfile")
    if isinstance(profile, str) and profile:
        return next((arn for p, arn in profiles.items() if p.rsplit("/", 1)[-1] == profile), None)
    return None


def _version(versions: list[LaunchTemplateVersion], lt: Mapping[str, str]) -> LaunchTemplateVersion | None:
    mine = [v for v in versions if v.template_id == lt.get("id") or (v.name and v.name == lt.get("name"))]
    if not mine:
        return None
    wanted = str(lt.get("version") or "$Default")
    if wanted == "$Latest":
        return max(mine, key=lambda v: v.version)
    if wanted == "$Default":
        return next((v for v in mine if v.default), max(mine, key=lambda v: v.version))
    return next((v for v in mine if str(v.version) == wanted), None)
