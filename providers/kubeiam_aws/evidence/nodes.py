"""The nodes' side of the AWS evidence: each node's instance and IMDS settings, and what will start nodes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_aws.evidence.ec2 import Instance, LaunchTemplateVersion, imds_options
from kubeiam_aws.evidence.eks import EksFiles
from kubeiam_aws.view import AwsNode, EksCluster, NodeTemplate, Role

_PROVIDER_ID = re.compile(r"^aws:///[^/]*/(i-[0-9a-f]+)$")


def read_nodes(
    inventory: Inventory, instances: Mapping[str, Instance], profiles: Mapping[str, str], has_aws: bool
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
                        subject=f"{node.cluster}/{node.name}",
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
                    subject=f"{node.cluster}/{node.name}",
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
                subject=f"cluster {cluster}",
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
            lt = ng.get("launchTemplate") or {}
            if not lt:
                continue
            found = _version(versions, lt)
            if found is None:
                wanted = f"{lt.get('id') or lt.get('name')} version {lt.get('version') or '$Default'}"
                errors.append(
                    CoverageError(
                        "aws",
                        f"aws/{f.account}/{f.region}/launch-template-versions.json",
                        f"launch template {wanted} of node group {ng['nodegroupName']} is not in the evidence: "
                        "the IMDS settings of the nodes it starts are not checked",
                        subject=f"nodegroup {cluster.k8s_cluster}/{ng['nodegroupName']}",
                    )
                )
                continue
            out.append(
                NodeTemplate(
                    cluster=cluster.k8s_cluster,
                    subject=f"nodegroup/{ng['nodegroupName']}",
                    kind="launch-template",
                    imds=found.imds,
                    role_arn=ng.get("nodeRole") or profiles.get(found.instance_profile or ""),
                    source=found.source,
                    template=f"{found.template_id} v{found.version}",
                )
            )
    view = inventory.views.get("kubernetes")
    for k8s_cluster in inventory.clusters:
        objects = view.of_kind(k8s_cluster.name, "EC2NodeClass") if view is not None else ()
        account = next((e.account for e in eks if e.k8s_cluster == k8s_cluster.name), None)
        for obj in objects:
            spec = obj.get("spec") or {}
            role_arn = _nodeclass_role(spec, account, roles, profiles)
            out.append(
                NodeTemplate(
                    cluster=k8s_cluster.name,
                    subject=f"ec2nodeclass/{obj['metadata']['name']}",
                    kind="EC2NodeClass",
                    imds=imds_options(spec.get("metadataOptions"), karpenter=True),
                    role_arn=role_arn,
                    source=k8s_cluster.source,
                )
            )
    return out


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


def _version(versions: list[LaunchTemplateVersion], lt: Mapping[str, object]) -> LaunchTemplateVersion | None:
    mine = [v for v in versions if v.template_id == lt.get("id") or (v.name and v.name == lt.get("name"))]
    if not mine:
        return None
    wanted = str(lt.get("version") or "$Default")
    if wanted == "$Latest":
        return max(mine, key=lambda v: v.version)
    if wanted == "$Default":
        return next((v for v in mine if v.default), max(mine, key=lambda v: v.version))
    return next((v for v in mine if str(v.version) == wanted), None)
