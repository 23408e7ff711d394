"""ServiceAccount -> Google identity links: the annotated GSA, and direct `principal://` grants.

Indexed once per read, so resolving is linear in ServiceAccounts: KSA members by (namespace, name),
by namespace and pool-wide, and the trust bindings (workloadIdentityUser / token minting to a KSA
member) by the scope they sit on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeiam.annotations import BY_KEY, GKE_SERVICE_ACCOUNT
from kubeiam.model import Cloud, CloudIdentity, Grant, IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam_gcp.members import KsaMember, admits, cluster_key, parse_member
from kubeiam_gcp.view import WORKLOAD_IDENTITY_USER, Binding, GoogleServiceAccount

if TYPE_CHECKING:
    from kubeiam_gcp.reader import State

SA_RESOURCE = "//iam.googleapis.com/projects/"
# Why also getAccessToken: the GKE metadata server mints the GSA's token with generateAccessToken,
# so any role carrying iam.serviceAccounts.getAccessToken on the GSA (Token Creator) admits the KSA.
_TOKEN_PERMISSION = "iam.serviceAccounts.getAccessToken"


class Linker:
    def __init__(self, state: State, inventory: Inventory) -> None:
        self.state = state
        self.inventory = inventory
        self.by_ksa: dict[tuple[str, str], list[KsaMember]] = {}
        self.by_namespace: dict[str, list[KsaMember]] = {}
        self.wide: list[KsaMember] = []
        self.trust_by_scope: dict[str, list[Binding]] = {}
        for member in state.by_member():
            m = parse_member(member)
            if m is None:
                continue
            if m.scope == "serviceaccount":
                self.by_ksa.setdefault((m.namespace or "", m.name or ""), []).append(m)
            elif m.scope == "namespace":
                self.by_namespace.setdefault(m.namespace or "", []).append(m)
            else:
                self.wide.append(m)
            for b in state.by_member()[member]:
                if b.role == WORKLOAD_IDENTITY_USER or _TOKEN_PERMISSION in (state.permissions(b.role) or ()):
                    self.trust_by_scope.setdefault(self._trust_key(b.scope), []).append(b)
        self.trust: dict[str, tuple[Binding, ...]] = {}
        """GSA email -> its trust bindings, for the GSAs links reached."""

    def _trust_key(self, scope: str) -> str:
        if scope.startswith(SA_RESOURCE) and "/serviceAccounts/" in scope:
            ident = scope.rsplit("/", 1)[-1]
            return f"sa:{self.state.unique_ids.get(ident, ident)}"
        return scope

    def links(self, *, has_evidence: bool) -> list[IdentityLink]:
        out: list[IdentityLink] = []
        for sa in self.inventory.service_accounts:
            pool, number, ckey = self._context(sa)
            email = sa.annotations.get(GKE_SERVICE_ACCOUNT, "").strip()
            if email and BY_KEY[GKE_SERVICE_ACCOUNT].value_pattern.match(email):
                out.append(self._gsa_link(sa, email, pool, number, ckey, has_evidence))
            if pool is None:
                continue
            candidates = [*self.by_ksa.get((sa.namespace, sa.name), ()), *self.by_namespace.get(sa.namespace, ())]
            for m in [*candidates, *self.wide]:
                if admits(m, pool=pool, number=number, cluster=ckey, namespace=sa.namespace, name=sa.name):
                    grants = self.state.grants_of(m.member)
                    if grants:
                        out.append(_direct_link(sa, m, grants))
        return out

    def _context(self, sa: ServiceAccount) -> tuple[str | None, str | None, str | None]:
        """(workload pool, pool project number, PROJECT/LOCATION/NAME) of a KSA's cluster."""
        gke = self.state.matched.get(sa.cluster)
        if gke is not None:
            pool, ckey = gke.workload_pool, f"{gke.project}/{gke.location}/{gke.name}"
        else:
            cluster = self.inventory.cluster(sa.cluster)
            key = (
                cluster_key(cluster.issuer or "")
                if cluster and "container.googleapis.com" in (cluster.issuer or "")
                else None
            )
            pool = f"{key[0]}.svc.id.goog" if key else None
            ckey = "/".join(key) if key else None
        number = self.state.numbers.get(pool[: -len(".svc.id.goog")]) if pool else None
        return pool, number, ckey

    def _gsa_link(
        self, sa: ServiceAccount, email: str, pool: str | None, number: str | None, ckey: str | None, has_ev: bool
    ) -> IdentityLink:
        def link(status: LinkStatus, reason: str, identity: CloudIdentity | None = None) -> IdentityLink:
            return IdentityLink(
                sa.cluster, sa.namespace, sa.name, Cloud.GCP, "gke-workload-identity", email, status, identity, reason
            )

        state = self.state
        if not has_ev:
            return link(LinkStatus.UNCHECKED, "no Google Cloud evidence (gcp/) in the evidence directory")
        project = self._project_of(email)
        files = state.projects.get(project or "")
        if files is None or files.service_accounts is None:
            return link(LinkStatus.UNCHECKED, f"gcp/{project or '?'}/service-accounts.json is not in the evidence")
        gsa = state.gsas.get(email)
        if gsa is None:
            return link(LinkStatus.MISSING, f"{email} is not in gcp/{project}/service-accounts.json")
        grants = state.grants_of(f"serviceAccount:{email}")
        identity = CloudIdentity(Cloud.GCP, email, "google-service-account", gsa.display_name, grants, gsa.source)
        gke = state.matched.get(sa.cluster)
        if gke is not None and gke.workload_pool is None:
            return link(LinkStatus.UNTRUSTED, f"Workload Identity is not enabled on cluster {gke.name}", identity)
        if gsa.disabled:
            return link(LinkStatus.UNTRUSTED, f"{email} is disabled", identity)
        if pool is None:
            return link(LinkStatus.UNCHECKED, "the cluster's workload identity pool is unknown (no GKE cluster.json)")
        trusted = [
            b
            for b in self.trust_of(gsa)
            if (m := parse_member(b.member))
            and admits(m, pool=pool, number=number, cluster=ckey, namespace=sa.namespace, name=sa.name)
        ]
        if trusted:
            return link(LinkStatus.RESOLVED, f"{trusted[0].role} on {email} for {trusted[0].member}", identity)
        if email in state.sa_policy_known:
            member = f"serviceAccount:{pool}[{sa.namespace}/{sa.name}]"
            return link(LinkStatus.UNTRUSTED, f"no {WORKLOAD_IDENTITY_USER} on {email} for {member}", identity)
        reason = f"the IAM policy of {email} is not in gcp/{project}/service-account-iam-policies.json"
        return link(LinkStatus.UNCHECKED, reason, identity)

    def _project_of(self, email: str) -> str | None:
        local, _, domain = email.partition("@")
        if domain.endswith(".iam.gserviceaccount.com"):
            return domain[: -len(".iam.gserviceaccount.com")]
        if domain == "appspot.gserviceaccount.com":
            return local
        if domain == "developer.gserviceaccount.com" and local.endswith("-compute"):
            number = local[: -len("-compute")]
            return next((p for p, n in self.state.numbers.items() if n == number), None)
        gsa = self.state.gsas.get(email)
        return gsa.project if gsa else None

    def trust_of(self, gsa: GoogleServiceAccount) -> tuple[Binding, ...]:
        """Bindings that let a KSA impersonate `gsa`: on the GSA itself, its project or ancestors."""
        if gsa.email not in self.trust:
            files = self.state.projects.get(gsa.project)
            keys = [f"sa:{gsa.email}", f"projects/{gsa.project}", *((files.ancestors or {}) if files else {})]
            found = [b for k in keys for b in self.trust_by_scope.get(k, ())]
            self.trust[gsa.email] = tuple(sorted(found, key=lambda b: (b.member, b.role, b.scope)))
        return self.trust[gsa.email]


def _direct_link(sa: ServiceAccount, m: KsaMember, grants: tuple[Grant, ...]) -> IdentityLink:
    kind = "gke-principal-set" if m.is_set else "gke-principal"
    source = str((grants[0].document or {}).get("file", ""))
    identity = CloudIdentity(Cloud.GCP, m.member, kind, m.member.rsplit("/", 1)[-1], grants, source)
    reason = f"granted directly to {m.scope}-wide member" if m.is_set else "granted directly to the KSA's principal"
    return IdentityLink(
        sa.cluster, sa.namespace, sa.name, Cloud.GCP, "gke-direct", m.member, LinkStatus.RESOLVED, identity, reason
    )
