"""Read the Azure files of an evidence directory into links, identities, grants and the Azure view.

Pure: no network and no Azure package. Files are optional; what is absent stays unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kubeiam.annotations import AZURE_CLIENT_ID, AZURE_TENANT_ID
from kubeiam.evidence import Evidence
from kubeiam.model import (
    Cloud,
    CloudIdentity,
    Cluster,
    CoverageError,
    Grant,
    IdentityLink,
    Inventory,
    LinkStatus,
    ServiceAccount,
)
from kubeiam.policy import Statement
from kubeiam_azure.profile import scope_level, statements
from kubeiam_azure.shapes import (
    AksCluster,
    FederatedCredential,
    KnownIdentity,
    ManagedIdentity,
    RoleAssignment,
    RoleDefinition,
    items_of,
    parse_aks,
    parse_federated_credential,
    parse_identity,
    parse_role_assignment,
    parse_role_definition,
)
from kubeiam_azure.trust import TrustIndex, subject_of, why_not
from kubeiam_azure.view import AzureView

MECHANISM = "azure-workload-identity"
UNRESOLVED = "unresolved: may be an app registration"


@dataclass
class _Files:
    """Everything read from `azure/<subscription>/...`, merged over subscriptions."""

    subscriptions: list[str] = field(default_factory=list)
    roles: dict[str, RoleDefinition] = field(default_factory=dict)
    assignments: dict[str, RoleAssignment] = field(default_factory=dict)
    assignment_subs: set[str] = field(default_factory=set)
    identities: dict[str, ManagedIdentity] = field(default_factory=dict)
    identity_subs: set[str] = field(default_factory=set)
    federated: dict[str, tuple[FederatedCredential, ...]] = field(default_factory=dict)
    aks: list[AksCluster] = field(default_factory=list)
    _trust: dict[str, TrustIndex] = field(default_factory=dict)

    def trust(self, identity_id: str) -> TrustIndex:
        if identity_id not in self._trust:
            self._trust[identity_id] = TrustIndex(self.federated.get(identity_id, ()))
        return self._trust[identity_id]


def _load(evidence: Evidence) -> _Files:
    f = _Files()
    for sub in evidence.children("azure"):
        base = f"azure/{sub}"
        f.subscriptions.append(sub)
        path = f"{base}/role-definitions.json"
        doc = evidence.load(path)
        if doc is not None:
            for i, raw in enumerate(items_of(doc, path)):
                role = parse_role_definition(raw, f"{path}: [{i}]", path)
                f.roles[role.id] = role
        path = f"{base}/role-assignments.json"
        doc = evidence.load(path)
        if doc is not None:
            f.assignment_subs.add(sub.lower())
            for i, raw in enumerate(items_of(doc, path)):
                a = parse_role_assignment(raw, f"{path}: [{i}]", path)
                f.assignments.setdefault(a.id, a)  # inherited ones repeat in every subscription
        path = f"{base}/identities.json"
        doc = evidence.load(path)
        if doc is not None:
            f.identity_subs.add(sub.lower())
            for i, raw in enumerate(items_of(doc, path)):
                mi = parse_identity(raw, f"{path}: [{i}]", sub.lower(), path)
                f.identities[mi.id] = mi
        path = f"{base}/federated-credentials.json"
        doc = evidence.load_object(path)
        for key, value in (doc or {}).items():
            where = f"{path}: {key!r}"
            creds = items_of(value, where)
            f.federated[key.lower()] = tuple(
                parse_federated_credential(c, f"{where}[{i}]", path) for i, c in enumerate(creds)
            )
        for rg in evidence.children(f"{base}/aks"):
            for name in evidence.files(f"{base}/aks/{rg}"):
                path = f"{base}/aks/{rg}/{name}"
                f.aks.append(parse_aks(evidence.load_object(path), path, sub.lower(), rg))
    return f


def _norm(issuer: str | None) -> str | None:
    return issuer.rstrip("/") if issuer else None


def _match(clusters: tuple[Cluster, ...], aks: list[AksCluster]) -> tuple[tuple[Cluster, ...], dict[str, AksCluster]]:
    """AKS object <-> Kubernetes cluster: by token issuer first (unambiguous), else by name."""
    matched: dict[str, AksCluster] = {}
    free = list(aks)
    for c in clusters:
        if c.stable_id or c.cloud not in (None, Cloud.AZURE):
            continue  # another cloud's cluster (EKS, GKE) or one already matched
        hit = next((a for a in free if a.issuer and _norm(a.issuer) == _norm(c.issuer)), None)
        if hit is None:
            # Two known issuers that differ are two clusters, whatever their names say.
            named = [a for a in free if a.name == c.name and not (a.issuer and c.issuer)]
            hit = named[0] if len(named) == 1 else None
        if hit is not None:
            matched[c.name] = hit
            free.remove(hit)
    out = []
    for c in clusters:
        a = matched.get(c.name)
        if a is None:
            out.append(c)
            continue
        out.append(replace(c, stable_id=a.id, cloud=c.cloud or Cloud.AZURE, issuer=c.issuer or a.issuer))
    return tuple(out), matched


class _Identities:
    """Builds each CloudIdentity once, its grants once per assignment (shared between identities)."""

    def __init__(self, files: _Files) -> None:
        self.files = files
        self.by_principal: dict[str, list[RoleAssignment]] = {}
        for a in sorted(files.assignments.values(), key=lambda a: a.id):
            self.by_principal.setdefault(a.principal_id, []).append(a)
        self.grants: dict[str, Grant] = {}
        self.statements: dict[str, tuple[Statement, ...]] = {}
        """By role definition GUID: a role's statements are shared by all its assignments."""
        self.built: dict[str, CloudIdentity] = {}
        self.errors: list[CoverageError] = []

    def grant(self, a: RoleAssignment) -> Grant:
        g = self.grants.get(a.id)
        if g is None:
            role = self.files.roles.get(a.role_id)
            if role is None:
                from kubeiam_azure.catalogue import load

                role = load().roles.get(a.role_id)
            if role is None:
                self.errors.append(
                    CoverageError(
                        "azure",
                        a.source,
                        f"role definition {a.role_id} of assignment {a.id} not found "
                        "(custom role missing from role-definitions.json?)",
                        subject=a.principal_id,
                    )
                )
            g = Grant(
                source=a.id,
                kind="role-assignment",
                statements=self._statements(role) if role else (),
                role=role.name if role else (a.role_name or a.role_id),
                scope=a.scope,
                scope_level=scope_level(a.scope),
                condition=a.condition,
                document={
                    "id": a.id,
                    "roleDefinitionId": a.role_id,
                    "roleDefinitionName": role.name if role else a.role_name,
                    "scope": a.scope,
                    "principalId": a.principal_id,
                    "condition": a.condition,
                    "file": a.source,
                },
            )
            self.grants[a.id] = g
        return g

    def _statements(self, role: RoleDefinition) -> tuple[Statement, ...]:
        found = self.statements.get(role.id)
        if found is None:
            found = self.statements[role.id] = statements(role)
        return found

    def get(self, principal: str, object_id: str, name: str, source: str) -> CloudIdentity:
        ident = self.built.get(principal)
        if ident is None:
            grants = tuple(self.grant(a) for a in self.by_principal.get(object_id, ()))
            ident = CloudIdentity(Cloud.AZURE, principal, "managed-identity", name, grants, source)
            self.built[principal] = ident
        return ident

    def of(self, mi: ManagedIdentity) -> CloudIdentity:
        return self.get(mi.id, mi.principal_id, mi.name, mi.source)

    def known(self, k: KnownIdentity, source: str) -> CloudIdentity | None:
        if not k.object_id:
            return None
        principal = k.resource_id or k.object_id
        return self.get(principal, k.object_id, principal.rsplit("/", 1)[-1], source)


def read_azure(evidence: Evidence, inventory: Inventory) -> Inventory:
    files = _load(evidence)
    clusters, aks_of = _match(inventory.clusters, files.aks)
    cluster_by_name = {c.name: c for c in clusters}
    ids = _Identities(files)
    by_client = {mi.client_id: mi for mi in files.identities.values()}
    known = {
        k.client_id: (k, a)
        for a in files.aks
        for k in (a.kubelet, *a.addon_identities)
        if k is not None and k.client_id
    }
    links: list[IdentityLink] = []
    errors: list[CoverageError] = []
    for sa in inventory.service_accounts:
        client_id = sa.annotations.get(AZURE_CLIENT_ID)
        if not client_id:
            continue
        link = _link(sa, client_id.strip().lower(), files, cluster_by_name.get(sa.cluster), by_client, known, ids)
        links.append(link)
        errors += _grant_gaps(sa, link, files)
    kubelet = {}
    errors += _aks_gaps(inventory, clusters, aks_of)
    for name, a in aks_of.items():
        if a.kubelet is not None:
            ident = ids.known(a.kubelet, a.source)
            if ident is not None:
                kubelet[name] = ident
            else:
                reason = f"the kubelet identity of {a.name} has no objectId: its role assignments were not checked"
                errors.append(CoverageError("azure", a.source, reason, subject=name))
            if a.subscription not in files.assignment_subs:
                errors.append(
                    CoverageError(
                        "azure",
                        f"azure/{a.subscription}/role-assignments.json",
                        f"not in the evidence: role assignments of the kubelet identity of {a.name} were not checked",
                        subject=name,
                    )
                )
    view = AzureView(
        subscriptions=tuple(files.subscriptions),
        roles=dict(files.roles),
        assignments=dict(files.assignments),
        identities=dict(files.identities),
        federated=dict(files.federated),
        aks=aks_of,
        kubelet=kubelet,
    )
    views = dict(inventory.views)
    views["azure"] = view
    return inventory.with_(
        clusters=clusters,
        links=inventory.links + tuple(links),
        errors=inventory.errors + tuple(dict.fromkeys(ids.errors + errors)),
        views=views,
    )


def _link(
    sa: ServiceAccount,
    client_id: str,
    files: _Files,
    cluster: Cluster | None,
    by_client: dict[str, ManagedIdentity],
    known: dict[str, tuple[KnownIdentity, AksCluster]],
    ids: _Identities,
) -> IdentityLink:
    def link(status: LinkStatus, principal: str, reason: str, identity: CloudIdentity | None = None) -> IdentityLink:
        return IdentityLink(
            sa.cluster, sa.namespace, sa.name, Cloud.AZURE, MECHANISM, principal, status, identity, reason
        )

    if not files.subscriptions:
        return link(LinkStatus.UNCHECKED, client_id, "no Azure evidence (azure/<subscription-id>/identities.json)")
    mi = by_client.get(client_id)
    if mi is None:
        if client_id in known:
            k, aks = known[client_id]
            return link(
                LinkStatus.UNCHECKED,
                k.resource_id or client_id,
                f"the {k.role} identity of AKS cluster {aks.name}: not in identities.json, "
                "so its federated credentials were not read",
                ids.known(k, aks.source),
            )
        if not files.identity_subs:
            return link(
                LinkStatus.UNCHECKED, client_id, "identities not collected (azure/<subscription-id>/identities.json)"
            )
        return link(LinkStatus.UNCHECKED, client_id, UNRESOLVED)
    identity = ids.of(mi)
    tenant = (sa.annotations.get(AZURE_TENANT_ID) or "").strip().lower()
    if tenant and mi.tenant_id and tenant != mi.tenant_id:
        return link(
            LinkStatus.UNTRUSTED,
            mi.id,
            f"tenant-id annotation {tenant} is not the identity's tenant {mi.tenant_id}",
            identity,
        )
    if mi.id not in files.federated:
        return link(
            LinkStatus.UNCHECKED,
            mi.id,
            f"federated credentials of {mi.name} not collected (azure/{mi.subscription}/federated-credentials.json)",
            identity,
        )
    issuer = cluster.issuer if cluster else None
    if not issuer:
        return link(
            LinkStatus.UNCHECKED,
            mi.id,
            "the cluster's token issuer is unknown (no openid-configuration.json, no AKS oidcIssuerProfile)",
            identity,
        )
    subject = subject_of(sa.namespace, sa.name)
    hit = files.trust(mi.id).find(issuer, subject)
    if hit is None:
        return link(LinkStatus.UNTRUSTED, mi.id, why_not(files.federated[mi.id], issuer, subject), identity)
    return link(LinkStatus.RESOLVED, mi.id, f"federated credential '{hit.name}'", identity)


def _aks_gaps(
    inventory: Inventory, clusters: tuple[Cluster, ...], aks_of: dict[str, AksCluster]
) -> list[CoverageError]:
    """AKS clusters (nodes with an azure:// providerID) that no `az aks show` file matched: their
    kubelet identity and IMDS exposure are not checked; say so rather than report nothing."""
    with_nodes = {n.cluster for n in inventory.nodes}
    return [
        CoverageError(
            "azure",
            f"azure/<subscription-id>/aks/<resource-group>/{c.name}.json",
            "no AKS cluster object matches this cluster: the kubelet identity and IMDS exposure were not checked",
            subject=c.name,
        )
        for c in clusters
        if c.cloud is Cloud.AZURE and c.name not in aks_of and c.name in with_nodes
    ]


def _grant_gaps(sa: ServiceAccount, link: IdentityLink, files: _Files) -> list[CoverageError]:
    """A resolved identity whose subscription's role assignments are absent is not clean: say so."""
    mi = files.identities.get(link.principal)
    if link.status is not LinkStatus.RESOLVED or mi is None or mi.subscription in files.assignment_subs:
        return []
    return [
        CoverageError(
            "azure",
            f"azure/{mi.subscription}/role-assignments.json",
            f"not in the evidence: role assignments of {mi.name} were not checked",
            subject=f"{sa.cluster}/{sa.namespace}/{sa.name}",
        )
    ]
