"""Read the AWS evidence into the inventory: roles, IRSA and Pod Identity links, nodes' IMDS settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from kubeiam.annotations import AWS_ROLE_ARN
from kubeiam.evidence import Evidence
from kubeiam.model import (
    Cloud,
    CloudIdentity,
    Cluster,
    CoverageError,
    IdentityLink,
    Inventory,
    LinkStatus,
    ServiceAccount,
)
from kubeiam_aws.compute_reader import (
    EksFiles,
    Instance,
    LaunchTemplateVersion,
    imds_options,
    read_eks,
    read_instances,
    read_launch_templates,
)
from kubeiam_aws.iam_reader import read_account_iam, read_oidc_providers
from kubeiam_aws.trust import (
    WEB_IDENTITY,
    issuer_host,
    pod_identity_statements,
    trust_denies,
    web_identity_grants,
)
from kubeiam_aws.view import AwsNode, AwsView, EksCluster, NodeTemplate, Role

ROLE_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$"
)
_PROVIDER_ID = re.compile(r"^aws:///[^/]*/(i-[0-9a-f]+)$")


class _Roles:
    """Role look-up by ARN. Role names are case-insensitive in IAM; the path is part of the ARN, so a role
    of the same name under another path is another role (STS refuses the annotation's ARN)."""

    def __init__(self, roles: list[Role]) -> None:
        self.by_arn = {r.arn: r for r in roles}
        self.folded = {_fold(r.arn): r for r in roles}

    def find(self, arn: str) -> Role | None:
        return self.by_arn.get(arn) or self.folded.get(_fold(arn))


def _fold(arn: str) -> str:
    head, _, name = arn.rpartition("/")
    return f"{head}/{name.lower()}"


def read_aws(evidence: Evidence, inventory: Inventory) -> Inventory:
    roles: list[Role] = []
    errors: list[CoverageError] = []
    accounts: set[str] = set()
    oidc: dict[str, frozenset[str]] = {}
    instances: dict[str, Instance] = {}
    templates: list[LaunchTemplateVersion] = []
    eks_files: list[EksFiles] = []
    for account in evidence.children("aws"):
        iam = read_account_iam(evidence, account)
        if iam is not None:
            accounts.add(account)
            roles += iam[0]
            errors += iam[1]
        providers = read_oidc_providers(evidence, account)
        if providers is not None:
            oidc[account] = providers
        for region in evidence.children(f"aws/{account}"):
            instances.update((i.instance_id, i) for i in read_instances(evidence, account, region))
            templates += read_launch_templates(evidence, account, region)
            eks_files += read_eks(evidence, account, region)
    index = _Roles(roles)
    profiles = {p: r.arn for r in roles for p in r.instance_profiles}
    clusters, eks = _match_clusters(inventory, eks_files)
    by_cluster = {c.name: c for c in clusters}
    links = _irsa_links(inventory, by_cluster, index, accounts, oidc)
    links += _pod_identity_links(inventory, eks, eks_files, index, accounts)
    nodes, node_errors = _nodes(inventory, instances, profiles, bool(evidence.children("aws")))
    view = AwsView(
        roles=index.by_arn,
        accounts=frozenset(accounts),
        oidc_providers=oidc,
        eks=tuple(eks),
        nodes=tuple(nodes),
        templates=tuple(_templates(inventory, eks, eks_files, templates, index, profiles)),
        links=tuple(links),
        profiles=profiles,
    )
    views = dict(inventory.views)
    views["aws"] = view
    return inventory.with_(
        clusters=tuple(clusters),
        links=inventory.links + tuple(links),
        errors=inventory.errors + tuple(errors) + tuple(node_errors),
        views=views,
    )


def _match_clusters(inventory: Inventory, files: list[EksFiles]) -> tuple[list[Cluster], list[EksCluster]]:
    """Pair each EKS cluster with a Kubernetes evidence cluster: by issuer first, else by name."""
    clusters = list(inventory.clusters)
    eks = []
    for f in files:
        issuer = ((f.cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
        host = issuer_host(issuer)
        match = next((c for c in clusters if host and issuer_host(c.issuer) == host), None)
        if match is None:
            # By name only when an issuer cannot decide (one side does not know it).
            match = next((c for c in clusters if c.name == f.name and (c.issuer is None or host is None)), None)
        arn = str(f.cluster.get("arn") or f"arn:aws:eks:{f.region}:{f.account}:cluster/{f.name}")
        if match is not None:
            updated = replace(
                match, stable_id=match.stable_id or arn, issuer=match.issuer or issuer, cloud=match.cloud or Cloud.AWS
            )
            clusters[clusters.index(match)] = updated
        eks.append(
            EksCluster(
                f.name, arn, f.account, f.region, issuer, match.name if match else None, f"{f.base}/cluster.json"
            )
        )
    return clusters, eks


def _identity(role: Role) -> CloudIdentity:
    grants = role.grants + ((role.boundary,) if role.boundary else ())
    return CloudIdentity(Cloud.AWS, role.arn, "iam-role", role.name, grants, role.source)


def _irsa_links(
    inventory: Inventory,
    clusters: Mapping[str, Cluster],
    roles: _Roles,
    accounts: set[str],
    oidc: Mapping[str, frozenset[str]],
) -> list[IdentityLink]:
    links = []
    for sa in inventory.service_accounts:
        value = (sa.annotations.get(AWS_ROLE_ARN) or "").strip()
        m = ROLE_ARN.match(value)
        if not m:
            continue  # absent or malformed: the core's K8S-003 reports a malformed value
        account = m.group(2)
        link = IdentityLink(sa.cluster, sa.namespace, sa.name, Cloud.AWS, "irsa", value, LinkStatus.UNCHECKED)
        if account not in accounts:
            links.append(replace(link, reason=f"no aws/{account}/iam.json in the evidence: role not checked"))
            continue
        role = roles.find(value)
        if role is None:
            links.append(_absent(link, value, account, inventory))
            continue
        status, reason = _irsa_trust(role, sa, clusters.get(sa.cluster), oidc.get(account))
        links.append(replace(link, principal=role.arn, status=status, identity=_identity(role), reason=reason))
    return links


def _absent(link: IdentityLink, arn: str, account: str, inventory: Inventory) -> IdentityLink:
    """A role not in iam.json: missing, unless the collection that wrote it could not read it."""
    # Why: a denied GetRole leaves the role out of iam.json; calling it "missing" would report a
    # broken binding that may not be broken. The live collector records such calls as errors.
    for e in inventory.errors:
        if e.source == "aws" and arn in e.location:
            return replace(link, reason=f"role not collected ({e.location}: {e.reason})")
    return replace(link, status=LinkStatus.MISSING, reason=f"role {arn} does not exist in account {account}")


def _irsa_trust(
    role: Role, sa: ServiceAccount, cluster: Cluster | None, providers: frozenset[str] | None
) -> tuple[LinkStatus, str]:
    host = issuer_host(cluster.issuer if cluster else None)
    if host is None:
        return (
            LinkStatus.RESOLVED,
            "cluster issuer unknown (no openid-configuration.json or cluster.json): trust not verified",
        )
    if providers is not None and host not in providers:
        return LinkStatus.UNTRUSTED, f"account {role.account} has no IAM OIDC provider for {host}"
    grants = [g for g in web_identity_grants(role.trust) if g.host == host and g.account == role.account]
    if not grants:
        return LinkStatus.UNTRUSTED, f"trust policy names no OIDC provider for this cluster's issuer ({host})"
    if trust_denies(role.trust, WEB_IDENTITY):
        return LinkStatus.UNTRUSTED, "trust policy denies sts:AssumeRoleWithWebIdentity"
    if not any(g.admits(sa.namespace, sa.name) for g in grants):
        subs = ", ".join(sorted({v for g in grants for c in g.subs for v in c.values})) or "none"
        subject = f"system:serviceaccount:{sa.namespace}:{sa.name}"
        return LinkStatus.UNTRUSTED, f"trust does not admit {subject} (sub allows {subs})"
    return LinkStatus.RESOLVED, "trust admits this ServiceAccount"


def _pod_identity_links(
    inventory: Inventory, eks: list[EksCluster], files: list[EksFiles], roles: _Roles, accounts: set[str]
) -> list[IdentityLink]:
    known = {sa.key for sa in inventory.service_accounts}
    links = []
    for cluster, f in zip(eks, files, strict=True):
        if cluster.k8s_cluster is None:
            continue
        for a in f.associations:
            key = (cluster.k8s_cluster, str(a["namespace"]), str(a["serviceAccount"]))
            if key not in known:
                continue
            arn = str(a["roleArn"])
            m = ROLE_ARN.match(arn)
            account = m.group(2) if m else cluster.account
            link = IdentityLink(*key, Cloud.AWS, "eks-pod-identity", arn, LinkStatus.UNCHECKED)
            if account not in accounts:
                links.append(replace(link, reason=f"no aws/{account}/iam.json in the evidence: role not checked"))
                continue
            role = roles.find(arn)
            if role is None:
                links.append(_absent(link, arn, account, inventory))
            elif not pod_identity_statements(role.trust) or trust_denies(role.trust, "sts:AssumeRole"):
                links.append(
                    replace(
                        link,
                        principal=role.arn,
                        status=LinkStatus.UNTRUSTED,
                        identity=_identity(role),
                        reason="trust policy does not allow pods.eks.amazonaws.com to assume the role",
                    )
                )
            else:
                links.append(
                    replace(
                        link,
                        principal=role.arn,
                        status=LinkStatus.RESOLVED,
                        identity=_identity(role),
                        reason="Pod Identity association",
                    )
                )
    return links


def _nodes(
    inventory: Inventory, instances: Mapping[str, Instance], profiles: Mapping[str, str], has_aws: bool
) -> tuple[list[AwsNode], list[CoverageError]]:
    nodes, errors = [], []
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
            continue
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
    return nodes, errors


def _templates(
    inventory: Inventory,
    eks: list[EksCluster],
    files: list[EksFiles],
    versions: list[LaunchTemplateVersion],
    roles: _Roles,
    profiles: Mapping[str, str],
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
    for cluster in inventory.clusters:
        objects = view.of_kind(cluster.name, "EC2NodeClass") if view is not None else ()
        account = next((e.account for e in eks if e.k8s_cluster == cluster.name), None)
        for obj in objects:
            spec = obj.get("spec") or {}
            role_arn = _nodeclass_role(spec, account, roles, profiles)
            out.append(
                NodeTemplate(
                    cluster=cluster.name,
                    subject=f"ec2nodeclass/{obj['metadata']['name']}",
                    kind="EC2NodeClass",
                    imds=imds_options(spec.get("metadataOptions"), karpenter=True),
                    role_arn=role_arn,
                    source=cluster.source,
                )
            )
    return out


def _nodeclass_role(
    spec: Mapping[str, object], account: str | None, roles: _Roles, profiles: Mapping[str, str]
) -> str | None:
    """The node role an EC2NodeClass gives its nodes: `spec.role` (a role name) or `spec.instanceProfile`."""
    name = spec.get("role")
    if isinstance(name, str) and name:
        found = [r for r in roles.by_arn.values() if r.name.lower() == name.lower() and account in (None, r.account)]
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
