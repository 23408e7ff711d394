"""Read the Azure files of an evidence directory into links, identities, grants and the Azure view.

Pure: no network and no Azure package. Files are optional; what is absent stays unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import (
    CloudIdentity,
    Cluster,
    CoverageError,
    Grant,
    IdentityLink,
    Inventory,
    LinkStatus,
    ServiceAccount,
)
from kubeiam.vocabulary.policy import Statement
from kubeiam_azure.declarations import AZURE, AZURE_CLIENT_ID, AZURE_TENANT_ID
from kubeiam_azure.evidence.aks import parse_aks
from kubeiam_azure.evidence.assignments import parse_role_assignment
from kubeiam_azure.evidence.coverage import aks_gaps, grant_gaps, kubelet_assignments_gap, kubelet_without_object_id
from kubeiam_azure.evidence.definitions import parse_role_definition
from kubeiam_azure.evidence.fields import items_of
from kubeiam_azure.evidence.identities import parse_federated_credential, parse_identity
from kubeiam_azure.judge.catalogue import role_definition
from kubeiam_azure.judge.profile import scope_level, statements
from kubeiam_azure.judge.trust import TrustIndex, subject_of, why_not
from kubeiam_azure.view import (
    AksCluster,
    AzureView,
    FederatedCredential,
    KnownIdentity,
    ManagedIdentity,
    RoleAssignment,
    RoleDefinition,
)

MECHANISM = "azure-workload-identity"
UNRESOLVED = "unresolved: may be an app registration"


@dataclass(frozen=True)
class _Files:
    """Everything read from `azure/<subscription>/...`, merged over subscriptions."""

    subscriptions: tuple[str, ...]
    roles: Mapping[str, RoleDefinition]
    assignments: Mapping[str, RoleAssignment]
    assignment_subs: frozenset[str]
    """Subscriptions (lower-cased) whose role-assignments.json was read."""
    identities: Mapping[str, ManagedIdentity]
    identity_subs: frozenset[str]
    """Subscriptions (lower-cased) whose identities.json was read."""
    federated: Mapping[str, tuple[FederatedCredential, ...]]
    aks: tuple[AksCluster, ...]


def _load(evidence: Evidence) -> _Files:
    subscriptions: list[str] = []
    roles: dict[str, RoleDefinition] = {}
    assignments: dict[str, RoleAssignment] = {}
    assignment_subs: set[str] = set()
    identities: dict[str, ManagedIdentity] = {}
    identity_subs: set[str] = set()
    federated: dict[str, tuple[FederatedCredential, ...]] = {}
    aks: list[AksCluster] = []
    for sub in evidence.children("azure"):
        base = f"azure/{sub}"
        subscriptions.append(sub)
        path = f"{base}/role-definitions.json"
        doc = evidence.load(path)
        if doc is not None:
            for i, raw in enumerate(items_of(doc, path)):
                role = parse_role_definition(raw, f"{path}: [{i}]", path)
                roles[role.id] = role
        path = f"{base}/role-assignments.json"
        doc = evidence.load(path)
        if doc is not None:
            assignment_subs.add(sub.lower())
            for i, raw in enumerate(items_of(doc, path)):
                a = parse_role_assignment(raw, f"{path}: [{i}]", path)
                assignments.setdefault(a.id, a)  # inherited ones repeat in every subscription
        path = f"{base}/identities.json"
        doc = evidence.load(path)
        if doc is not None:
            identity_subs.add(sub.lower())
            for i, raw in enumerate(items_of(doc, path)):
                mi = parse_identity(raw, f"{path}: [{i}]", sub.lower(), path)
                identities[mi.id] = mi
        path = f"{base}/federated-credentials.json"
        for key, value in (evidence.load_object(path) or {}).items():
            where = f"{path}: {key!r}"
            creds = items_of(value, where)
            federated[key.lower()] = tuple(
                parse_federated_credential(c, f"{where}[{i}]", path) for i, c in enumerate(creds)
            )
        for rg in evidence.children(f"{base}/aks"):
            for name in evidence.files(f"{base}/aks/{rg}"):
                path = f"{base}/aks/{rg}/{name}"
                aks.append(parse_aks(evidence.load_object(path), path, sub.lower()))
    return _Files(
        tuple(subscriptions),
        roles,
        assignments,
        frozenset(assignment_subs),
        identities,
        frozenset(identity_subs),
        federated,
        tuple(aks),
    )


def _norm(issuer: str | None) -> str | None:
    return issuer.rstrip("/") if issuer else None


def _match(
    clusters: tuple[Cluster, ...], aks: tuple[AksCluster, ...]
) -> tuple[tuple[Cluster, ...], dict[str, AksCluster]]:
    """AKS object <-> Kubernetes cluster: by token issuer first (unambiguous), else by name."""
    matched: dict[str, AksCluster] = {}
    free = list(aks)
    for c in clusters:
        if c.stable_id or c.cloud not in (None, AZURE):
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
        out.append(replace(c, stable_id=a.id, cloud=c.cloud or AZURE, issuer=c.issuer or a.issuer))
    return tuple(out), matched


class _Identities:
    """Builds each CloudIdentity once, its grants once per assignment (shared between identities)."""

    def __init__(self, files: _Files) -> None:
        self.roles = files.roles
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
            role = role_definition(self.roles, a.role_id)
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
            ident = CloudIdentity(AZURE, principal, "managed-identity", name, grants, source)
            self.built[principal] = ident
        return ident

    def of(self, mi: ManagedIdentity) -> CloudIdentity:
        return self.get(mi.id, mi.principal_id, mi.name, mi.source)

    def known(self, k: KnownIdentity, source: str) -> CloudIdentity | None:
        if not k.object_id:
            return None
        principal = k.resource_id or k.object_id
        return self.get(principal, k.object_id, principal.rsplit("/", 1)[-1], source)


class _Linker:
    """Links each annotated ServiceAccount to its identity; the look-ups are built once for all of them."""

    def __init__(self, files: _Files, clusters: tuple[Cluster, ...], ids: _Identities) -> None:
        self.files = files
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
            if client_id in self.known:
                k, aks = self.known[client_id]
                return link(
                    LinkStatus.UNCHECKED,
                    k.resource_id or client_id,
                    f"the {k.role} identity of AKS cluster {aks.name}: not in identities.json, "
                    "so its federated credentials were not read",
                    self.ids.known(k, aks.source),
                )
            if not files.identity_subs:
                return link(
                    LinkStatus.UNCHECKED,
                    client_id,
                    "identities not collected (azure/<subscription-id>/identities.json)",
                )
            return link(LinkStatus.UNCHECKED, client_id, UNRESOLVED)
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
            return link(LinkStatus.UNTRUSTED, mi.id, why_not(files.federated[mi.id], issuer, subject), identity)
        return link(LinkStatus.RESOLVED, mi.id, f"federated credential '{hit.name}'", identity)

    def _trust(self, identity_id: str) -> TrustIndex:
        if identity_id not in self.trust:
            self.trust[identity_id] = TrustIndex(self.files.federated.get(identity_id, ()))
        return self.trust[identity_id]


def read(evidence: Evidence, inventory: Inventory) -> Inventory:
    files = _load(evidence)
    clusters, aks_of = _match(inventory.clusters, files.aks)
    ids = _Identities(files)
    linker = _Linker(files, clusters, ids)
    links: list[IdentityLink] = []
    errors: list[CoverageError] = []
    for sa in inventory.service_accounts:
        client_id = sa.annotations.get(AZURE_CLIENT_ID)
        if not client_id:
            continue
        link = linker.link(sa, client_id.strip().lower())
        links.append(link)
        errors += grant_gaps(sa, link, files.identities, files.assignment_subs)
    kubelet = {}
    errors += aks_gaps(inventory, clusters, aks_of)
    for name, a in aks_of.items():
        if a.kubelet is not None:
            ident = ids.known(a.kubelet, a.source)
            if ident is not None:
                kubelet[name] = ident
            else:
                errors.append(kubelet_without_object_id(name, a))
            errors += kubelet_assignments_gap(name, a, files.assignment_subs)
    view = AzureView(
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
