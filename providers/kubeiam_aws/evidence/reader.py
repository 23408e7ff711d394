"""Read the AWS evidence into the inventory: roles, IRSA and Pod Identity links, nodes' IMDS settings."""

from __future__ import annotations

import re

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_aws.evidence.access_entries import access_entries_rbac
from kubeiam_aws.evidence.clusters import match_clusters
from kubeiam_aws.evidence.coverage import eks_gaps, partial_trust_evidence, unmatched_eks
from kubeiam_aws.evidence.ec2 import Ec2Files, read_ec2
from kubeiam_aws.evidence.eks import EksFiles, read_eks
from kubeiam_aws.evidence.guardrails import AccountGuardrails, read_guardrails
from kubeiam_aws.evidence.iam import read_account_iam
from kubeiam_aws.evidence.links import RoleIndex, associated_subjects, irsa_links, pod_identity_links
from kubeiam_aws.evidence.network import enforcement
from kubeiam_aws.evidence.nodes import node_templates, read_nodes
from kubeiam_aws.evidence.oidc import OidcProviders, read_oidc_providers
from kubeiam_aws.evidence.reach_targets import unread_targets
from kubeiam_aws.evidence.sessions import pod_identity_sessions
from kubeiam_aws.evidence.usage import UsageReader, usage_coverage
from kubeiam_aws.view import AwsView, Role

_INSTANCE = re.compile(r"^aws:///[^/]*/(i-[0-9a-f]+)$")


def read(evidence: Evidence, inventory: Inventory) -> Inventory:
    roles: list[Role] = []
    errors: list[CoverageError] = []
    accounts: dict[str, str | None] = {}
    oidc: dict[str, OidcProviders] = {}
    ec2 = Ec2Files()
    eks_files: list[EksFiles] = []
    usage = UsageReader()
    guards: dict[str, AccountGuardrails] = {}
    for account in evidence.children("aws"):
        iam = read_account_iam(evidence, account)
        guards[account] = read_guardrails(evidence, account)  # SCPs, RCPs, resource policies (issue 15)
        errors += guards[account].errors
        if iam is not None:
            accounts[account] = iam.incomplete
            roles += guards[account].apply(iam.roles)
            errors += iam.errors
        providers, provider_errors = read_oidc_providers(evidence, account)
        errors += provider_errors
        if providers is not None:
            oidc[account] = providers
        for region in evidence.children(f"aws/{account}"):
            read_ec2(evidence, account, region, ec2)
            eks_files += read_eks(evidence, account, region)
        usage.read(evidence, account, evidence.children(f"aws/{account}"))
    index = RoleIndex.of(roles, {a: why for a, why in accounts.items() if why})
    profiles = {p: r.arn for r in roles for p in r.instance_profiles}
    hosts = {a: p.hosts for a, p in oidc.items()}
    clusters, eks = match_clusters(inventory, eks_files, hosts, roles, _node_accounts(inventory, ec2))
    by_cluster = {c.name: c for c in clusters}
    complete = {a: p.hosts for a, p in oidc.items() if not p.unread}
    audiences = {a: p.client_ids for a, p in oidc.items()}
    links = irsa_links(inventory, by_cluster, index, set(accounts), complete, audiences)
    links += pod_identity_links(inventory, eks, eks_files, index, set(accounts))
    sessions, links = pod_identity_sessions(eks, eks_files, links, index)
    errors += unread_targets(links, index.by_arn, set(accounts), index.incomplete)
    nodes, node_errors = read_nodes(inventory, ec2.instances, profiles, index.by_arn, bool(evidence.children("aws")))
    errors += ec2.errors
    errors += partial_trust_evidence(inventory, links, oidc)
    errors += unmatched_eks(eks, eks_files)
    errors += eks_gaps(eks, eks_files)
    # Cloud principals mapped into the clusters (access entries, aws-auth), as RBAC for K8S-006.
    external, entry_errors = access_entries_rbac(evidence, inventory.with_(clusters=tuple(clusters)), eks)
    errors += entry_errors
    usage_data = usage.data()
    errors += usage.errors
    errors += usage_coverage(links, index.by_arn, usage_data, [*inventory.errors, *errors])
    view = AwsView(
        roles=index.by_arn,
        accounts=frozenset(accounts),
        oidc_providers=complete,
        eks=tuple(eks),
        nodes=tuple(nodes),
        templates=tuple(node_templates(inventory, eks, eks_files, ec2.templates, index.by_arn, profiles, errors)),
        links=tuple(links),
        profiles=profiles,
        associated=associated_subjects(eks, eks_files, index),
        usage=usage_data,
        org_ids={a: g.org.org_id for a, g in guards.items() if g.org and g.org.org_id},
        resource_files={a: g.resource_files for a, g in guards.items() if g.resource_files},
        sessions=sessions,
        network_policy=enforcement(
            inventory.with_(clusters=tuple(clusters)),
            eks,
            {f"{f.base}/cluster.json": f.vpc_cni for f in eks_files if f.vpc_cni},
        ),
    )
    views = dict(inventory.views)
    views["aws"] = view
    return inventory.with_(
        clusters=tuple(clusters),
        links=inventory.links + tuple(links),
        errors=inventory.errors + tuple(errors) + tuple(node_errors),
        external_rbac=inventory.external_rbac + external,
        views=views,
    )


def _node_accounts(inventory: Inventory, ec2: Ec2Files) -> dict[str, set[str]]:
    """Cluster -> accounts whose ec2-instances.json holds its nodes' instances."""
    out: dict[str, set[str]] = {}
    for node in inventory.nodes:
        m = _INSTANCE.match(node.provider_id or "")
        inst = ec2.instances.get(m.group(1)) if m else None
        if inst is not None:
            out.setdefault(node.cluster, set()).add(inst.account)
    return out
