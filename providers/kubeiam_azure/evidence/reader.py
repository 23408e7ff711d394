"""Read the Azure files of an evidence directory into links, identities, grants and the Azure view.

Pure: no network and no Azure package. Files are optional; what is absent stays unchecked. An item
that cannot be understood leaves the identities depending on it partly checked (`Gap`) or unchecked,
and the rest is audited.
"""

from __future__ import annotations

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import (
    CloudIdentity,
    Cluster,
    CoverageError,
    Gap,
    IdentityLink,
    Inventory,
    LinkStatus,
    ServiceAccount,
)
from kubeiam_azure.declarations import AZURE, AZURE_CLIENT_ID, AZURE_TENANT_ID
from kubeiam_azure.evidence.clusters import match_clusters
from kubeiam_azure.evidence.coverage import (
    addon_without_object_id,
    aks_gaps,
    aks_problems,
    federation_gap,
    grant_gaps,
    graph_absent,
    graph_entry_missing,
    kubelet_assignments_gap,
    kubelet_partly_checked,
    kubelet_without_object_id,
)
from kubeiam_azure.evidence.files import Files, load
from kubeiam_azure.evidence.kubernetes_rbac import aks_rbac
from kubeiam_azure.evidence.principals import Principals
from kubeiam_azure.evidence.usage import UNUSED_RULES, load_usage, usage_gaps
from kubeiam_azure.judge.trust import TrustIndex, subject_of, why_not
from kubeiam_azure.view import AksCluster, AzureView, ManagedIdentity, NodeIdentity

MECHANISM = "azure-workload-identity"
UNRESOLVED = "unresolved: may be an app registration"


def _first(gaps: list[Gap] | tuple[Gap, ...]) -> str:
    more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
    return f"{gaps[0].describe()}{more}"


class _Linker:
    """Links each annotated ServiceAccount to its identity; the look-ups are built once for all of them."""

    def __init__(self, files: Files, clusters: tuple[Cluster, ...], ids: Principals, reported: set[str]) -> None:
        self.files = files
        self.reported = reported
        """Subjects a live collection's coverage errors already name (a refused call is said once)."""
        self.ids = ids
        self.clusters = {c.name: c for c in clusters}
        self.by_client = {mi.client_id: mi for mi in files.identities.values()}
        self.known = {
            k.client_id: (k, a)
            for a in files.aks
            for k in (a.kubelet, *a.addon_identities)
            if k is not None and k.client_id
        }
        self.trust: dict[str, TrustIndex] = {}
        """By identity id, built on first use: an identity shared by many ServiceAccounts is indexed once."""
        self.errors: dict[CoverageError, None] = {}
        subs = {s.lower() for s in files.subscriptions}
        self.without_identities = sorted(subs - files.identity_subs)

    def link(self, sa: ServiceAccount, client_id: str) -> IdentityLink:
        def link(
            status: LinkStatus, principal: str, reason: str, identity: CloudIdentity | None = None
        ) -> IdentityLink:
            return IdentityLink(
                sa.cluster, sa.namespace, sa.name, AZURE, MECHANISM, principal, status, identity, reason
            )

        files = self.files
        if not files.subscriptions:
            return link(LinkStatus.UNCHECKED, client_id, "no Azure evidence (azure/<subscription-id>/identities.json)")
        mi = self.by_client.get(client_id)
        if mi is None:
            principal, reason, identity = self._not_listed(client_id)
            return link(LinkStatus.UNCHECKED, principal, reason, identity)
        identity = self.ids.of(mi)
        tenant = (sa.annotations.get(AZURE_TENANT_ID) or "").strip().lower()
        if tenant and mi.tenant_id and tenant != mi.tenant_id:
            return link(
                LinkStatus.UNTRUSTED,
                mi.id,
                f"tenant-id annotation {tenant} is not the identity's tenant {mi.tenant_id}",
                identity,
            )
        if mi.id not in files.federated:
            if mi.id not in self.reported:
                self.errors[federation_gap(mi, mi.subscription in files.federated_subs)] = None
            return link(
                LinkStatus.UNCHECKED,
                mi.id,
                f"federated credentials of {mi.name} not collected "
                f"(azure/{mi.subscription}/federated-credentials.json)",
                identity,
            )
        cluster = self.clusters.get(sa.cluster)
        issuer = cluster.issuer if cluster else None
        if not issuer:
            return link(
                LinkStatus.UNCHECKED,
                mi.id,
                "the cluster's token issuer is unknown (no openid-configuration.json, no AKS oidcIssuerProfile)",
                identity,
            )
        subject = subject_of(sa.namespace, sa.name)
        hit = self._trust(mi.id).find(issuer, subject)
        if hit is None:
            unread = files.federated_gaps.get(mi.id)
            if unread:
                # The credential that could not be read may be the one admitting this ServiceAccount.
                return link(
                    LinkStatus.UNCHECKED,
                    mi.id,
                    f"no readable federated credential of {mi.name} admits it; not understood: {_first(unread)}",
                    identity,
                )
            return link(LinkStatus.UNTRUSTED, mi.id, why_not(files.federated[mi.id], issuer, subject), identity)
        return link(LinkStatus.RESOLVED, mi.id, f"federated credential '{hit.name}'", identity)

    def _not_listed(self, client_id: str) -> tuple[str, str, CloudIdentity | None]:
        """(principal, reason, identity) of an unchecked link to a client id no readable identity has: the
        identity could not be read, is an AKS one, may be on a missing page or file, or is unknown."""
        files = self.files
        unread = files.unread_identities.get(client_id)
        if unread is not None:
            why = f"the identity with this client id could not be read: {unread.gap.describe()}"
            return unread.resource_id or client_id, why, None
        if client_id in self.known:
            k, aks = self.known[client_id]
            why = (
                f"the {k.role} identity of AKS cluster {aks.name}: not in identities.json, "
                "so its federated credentials were not read"
            )
            return k.resource_id or client_id, why, self.ids.known(k, aks.source)
        if not files.identity_subs:
            return client_id, "identities not collected (azure/<subscription-id>/identities.json)", None
        if files.unlisted_identities:
            why = (
                f"not among the identities read, and identities.json is incomplete: {_first(files.unlisted_identities)}"
            )
            return client_id, why, None
        if self.without_identities:
            absent = ", ".join(f"azure/{s}/identities.json" for s in self.without_identities)
            return client_id, f"not among the identities read; not in the evidence: {absent}", None
        return client_id, UNRESOLVED, None

    def _trust(self, identity_id: str) -> TrustIndex:
        if identity_id not in self.trust:
            self.trust[identity_id] = TrustIndex(self.files.federated.get(identity_id, ()))
        return self.trust[identity_id]


def read(evidence: Evidence, inventory: Inventory) -> Inventory:
    files = load(evidence)
    clusters, aks_of = match_clusters(inventory, files.aks)
    ids = Principals(files)
    reported = {e.subject.lower() for e in inventory.errors if e.source == AZURE and e.subject}
    linker = _Linker(files, clusters, ids, reported)
    links: list[IdentityLink] = []
    errors: list[CoverageError] = []
    by_id: dict[str, ManagedIdentity] = files.identities
    # Subscriptions holding identities but no role-assignments.json: usually none, then nothing to check.
    unassigned = {mi.subscription for mi in by_id.values()} - files.assignment_subs
    for sa in inventory.service_accounts:
        client_id = sa.annotations.get(AZURE_CLIENT_ID)
        if not client_id:
            continue
        link = linker.link(sa, client_id.strip().lower())
        links.append(link)
        if unassigned and link.status is LinkStatus.RESOLVED:
            errors += grant_gaps(link, by_id.get(link.principal), files.assignment_subs)
    kubelet: dict[str, CloudIdentity] = {}
    nodes: dict[str, tuple[NodeIdentity, ...]] = {}
    errors += aks_gaps(inventory, clusters, aks_of)
    for name, a in aks_of.items():
        errors += aks_problems(name, a, files.aks_problems.get(a.source, ()))
        if a.kubelet is not None:
            ident = ids.known(a.kubelet, a.source)
            if ident is None:
                errors.append(kubelet_without_object_id(name, a))
            else:
                kubelet[name] = ident
                if ident.gaps:
                    errors.append(kubelet_partly_checked(name, a, ident.gaps))
            errors += kubelet_assignments_gap(name, a, files.assignment_subs)
        nodes[name], addon_errors = _node_identities(name, a, ids, kubelet.get(name))
        errors += addon_errors
    principals, object_ids = _every_identity(files, ids, aks_of)
    errors += _graph_coverage(files, links, nodes, object_ids)
    usage = load_usage(evidence)
    # A usage read the live collection already failed on (named there) is not said twice.
    told = {e.subject.lower() for e in inventory.errors if e.source == AZURE and e.subject and e.rules == UNUSED_RULES}
    errors += usage_gaps(links, files.identities, usage, told)
    view = AzureView(
        roles=dict(files.roles),
        assignments=dict(files.assignments),
        identities=dict(files.identities),
        federated=dict(files.federated),
        aks=aks_of,
        kubelet=kubelet,
        usage=usage,
        node_identities=nodes,
        principals=principals,
        object_ids=object_ids,
        memberships=dict(files.memberships),
        app_roles=dict(files.app_roles),
        assignment_subscriptions=frozenset(files.assignment_subs),
    )
    # Azure RBAC for Kubernetes and local-admin holders, as RBAC for K8S-006.
    external, rbac_errors = aks_rbac(evidence, view)
    views = dict(inventory.views)
    views["azure"] = view
    return inventory.with_(
        clusters=clusters,
        links=inventory.links + tuple(links),
        errors=inventory.errors + tuple(dict.fromkeys([*linker.errors, *errors, *rbac_errors])),
        external_rbac=inventory.external_rbac + external,
        views=views,
    )


def _node_identities(
    cluster: str, aks: AksCluster, ids: Principals, kubelet: CloudIdentity | None
) -> tuple[tuple[NodeIdentity, ...], list[CoverageError]]:
    """The kubelet and add-on identities on the cluster's node scale sets (add-on identities are assigned
    to the VMSS like the kubelet's: any pod reaching IMDS may ask for their tokens by client id)."""
    found = [NodeIdentity("kubelet", kubelet)] if kubelet is not None else []
    errors = []
    for k in aks.addon_identities:
        ident = ids.known(k, aks.source)
        if ident is None:
            errors.append(addon_without_object_id(cluster, aks, k.role))
        else:
            found.append(NodeIdentity(k.role, ident))
    return tuple(found), errors


def _every_identity(
    files: Files, ids: Principals, aks_of: dict[str, AksCluster]
) -> tuple[dict[str, CloudIdentity], dict[str, str]]:
    """Every identity of the evidence, by principal, and its object id: reach walks identities no
    ServiceAccount names (an Owner identity another one may federate to itself)."""
    object_ids = {}
    for mi in files.identities.values():
        ids.of(mi)
        object_ids[mi.id] = mi.principal_id
    for a in aks_of.values():
        for k in (a.kubelet, *a.addon_identities):
            if k is not None and k.object_id and ids.known(k, a.source) is not None:
                object_ids[k.resource_id or k.object_id] = k.object_id
    return dict(ids.built), object_ids


def _graph_coverage(
    files: Files,
    links: list[IdentityLink],
    nodes: dict[str, tuple[NodeIdentity, ...]],
    object_ids: dict[str, str],
) -> list[CoverageError]:
    """What the Microsoft Graph files leave unchecked, for the identities in scope (linked or on nodes)."""
    in_scope = {link.principal: link.identity for link in links if link.identity is not None}
    in_scope.update({n.identity.principal: n.identity for ns in nodes.values() for n in ns})
    if not in_scope:
        return []
    groups = sum(1 for a in files.assignments.values() if a.to_group)
    errors = graph_absent(bool(files.membership_files), bool(files.app_role_files), groups)
    for principal, ident in sorted(in_scope.items()):
        oid = object_ids.get(principal)
        if oid is None or ident is None:
            continue
        if files.membership_files and oid not in files.memberships:
            errors.append(graph_entry_missing(principal, ident.name, files.membership_files[0], groups > 0))
        if files.app_role_files and oid not in files.app_roles:
            errors.append(graph_entry_missing(principal, ident.name, files.app_role_files[0], False))
    return errors
