"""ServiceAccount -> Google identity links: the annotated GSA, and direct `principal://` grants.

Indexed once per read, so resolving is linear in ServiceAccounts: KSA members by (namespace, name),
by namespace and pool-wide, the trust bindings (workloadIdentityUser / token minting to a KSA
member) by the scope they sit on, and each GSA's trust by the KSA it names.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubeiam.vocabulary.model import CloudIdentity, Grant, IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam_gcp.declarations import DECLARATIONS, GCP, GKE_SERVICE_ACCOUNT
from kubeiam_gcp.judge.trust import SA_RESOURCE, KsaMember, admits, is_trust, mints_tokens, parse_member
from kubeiam_gcp.view import WORKLOAD_IDENTITY_USER, Binding, GkeCluster, GoogleServiceAccount

from .clusters import gke_key
from .grants import MemberGrants
from .index import EvidenceIndex

Context = tuple[str | None, str | None, str | None]
"""(workload pool, pool project number, PROJECT/LOCATION/NAME) of a cluster."""


class Linker:
    """Links every ServiceAccount of `inventory` (`links`); remembers the trust of the GSAs reached
    (`trust`) and the pool- and cluster-wide KSA members holding roles (`wide`), for the view and
    the coverage."""

    def __init__(
        self,
        index: EvidenceIndex,
        grants: MemberGrants,
        matched: Mapping[str, GkeCluster],
        inventory: Inventory,
    ) -> None:
        self.index = index
        self.grants = grants
        self.matched = matched
        self.inventory = inventory
        # KSA members that hold a role, by what they name. Why only those: a member whose bindings are
        # all trust makes no direct link, and those are most KSA members of an estate (one per KSA).
        self.by_ksa: dict[tuple[str, str], list[KsaMember]] = {}
        self.by_namespace: dict[str, list[KsaMember]] = {}
        self.wide: list[KsaMember] = []
        self.trust_by_scope: dict[str, list[Binding]] = {}
        mints: dict[str, bool] = {}  # per role, not per binding
        for member, bindings in index.by_member.items():
            m = parse_member(member)
            if m is None:
                continue
            if not all(is_trust(b) for b in bindings):
                self._index_member(m)
            for b in bindings:
                if b.role not in mints:
                    mints[b.role] = mints_tokens(b.role, index.permissions(b.role))
                if mints[b.role]:
                    self.trust_by_scope.setdefault(self._trust_key(b.scope), []).append(b)
        self.trust: dict[str, tuple[Binding, ...]] = {}
        """GSA email -> its trust bindings, for the GSAs links reached."""
        self._trust_index: dict[str, _TrustIndex] = {}
        self._contexts: dict[str, Context] = {}
        self._identities: dict[str, CloudIdentity] = {}
        """One CloudIdentity per GSA or direct member, shared by every link to it."""

    def _index_member(self, m: KsaMember) -> None:
        if m.scope == "serviceaccount":
            self.by_ksa.setdefault((m.namespace or "", m.name or ""), []).append(m)
        elif m.scope == "namespace":
            self.by_namespace.setdefault(m.namespace or "", []).append(m)
        else:
            self.wide.append(m)

    def _trust_key(self, scope: str) -> str:
        if scope.startswith(SA_RESOURCE) and "/serviceAccounts/" in scope:
            ident = scope.rsplit("/", 1)[-1]
            return f"sa:{self.index.unique_ids.get(ident, ident)}"
        return scope

    def links(self, *, has_evidence: bool) -> list[IdentityLink]:
        out: list[IdentityLink] = []
        pattern = DECLARATIONS.by_key[GKE_SERVICE_ACCOUNT].value_pattern
        for sa in self.inventory.service_accounts:
            context = self._context(sa.cluster)
            email = sa.annotations.get(GKE_SERVICE_ACCOUNT, "").strip()
            if email and pattern.match(email):
                out.append(self._gsa_link(sa, email, context, has_evidence))
            pool, number, ckey = context
            if pool is not None:
                out += self._direct_links(sa, pool, number, ckey)
        return out

    def _direct_links(self, sa: ServiceAccount, pool: str, number: str | None, ckey: str | None) -> list[IdentityLink]:
        candidates = [
            *self.by_ksa.get((sa.namespace, sa.name), ()),
            *self.by_namespace.get(sa.namespace, ()),
            *self.wide,
        ]
        out = []
        for m in candidates:
            if admits(m, pool=pool, number=number, cluster=ckey, namespace=sa.namespace, name=sa.name):
                grants = self.grants.of(m.member)
                if grants:
                    out.append(_direct_link(sa, m, self._direct_identity(m, grants)))
        return out

    def _context(self, cluster_name: str) -> Context:
        """(workload pool, pool project number, PROJECT/LOCATION/NAME) of a cluster, worked out once."""
        found = self._contexts.get(cluster_name)
        if found is not None:
            return found
        gke = self.matched.get(cluster_name)
        pool: str | None
        ckey: str | None
        if gke is not None:
            pool, ckey = gke.workload_pool, f"{gke.project}/{gke.location}/{gke.name}"
        else:
            cluster = self.inventory.cluster(cluster_name)
            key = gke_key(cluster) if cluster else None
            pool = f"{key[0]}.svc.id.goog" if key else None
            ckey = "/".join(key) if key else None
        number = self.index.numbers.get(pool[: -len(".svc.id.goog")]) if pool else None
        found = self._contexts[cluster_name] = (pool, number, ckey)
        return found

    def _gsa_link(self, sa: ServiceAccount, email: str, context: Context, has_ev: bool) -> IdentityLink:
        def link(status: LinkStatus, reason: str, identity: CloudIdentity | None = None) -> IdentityLink:
            return IdentityLink(
                sa.cluster, sa.namespace, sa.name, GCP, "gke-workload-identity", email, status, identity, reason
            )

        index = self.index
        if not has_ev:
            return link(LinkStatus.UNCHECKED, "no Google Cloud evidence (gcp/) in the evidence directory")
        project = index.project_of(email)
        files = index.projects.get(project or "")
        if files is None or files.service_accounts is None:
            return link(LinkStatus.UNCHECKED, f"gcp/{project or '?'}/service-accounts.json is not in the evidence")
        gsa = index.gsas.get(email)
        unread = index.unread
        if gsa is None:
            # Absent from a list that could not be read whole is not "does not exist".
            note = unread.list_note(unread.account_lists, project)
            if note:
                return link(LinkStatus.UNCHECKED, f"{email} is not among the accounts read: {note}")
            return link(LinkStatus.MISSING, f"{email} is not in gcp/{project}/service-accounts.json")
        identity = self._gsa_identity(gsa)
        gke = self.matched.get(sa.cluster)
        if gke is not None and gke.workload_pool is None:
            return link(LinkStatus.UNTRUSTED, f"Workload Identity is not enabled on cluster {gke.name}", identity)
        if gsa.disabled:
            return link(LinkStatus.UNTRUSTED, f"{email} is disabled", identity)
        pool, number, ckey = context
        if pool is None:
            return link(LinkStatus.UNCHECKED, "the cluster's workload identity pool is unknown (no GKE cluster.json)")
        trusted = self._trust_of_gsa(gsa).first(pool, number, ckey, sa.namespace, sa.name)
        if trusted is not None:
            return link(LinkStatus.RESOLVED, f"{trusted.role} on {email} for {trusted.member}", identity)
        if email in unread.account_policy:
            reason = f"the IAM policy of {email} could not be read: {unread.account_policy[email].describe()}"
            return link(LinkStatus.UNCHECKED, reason, identity)
        if email in index.sa_policy_known and email not in unread.trust:
            member = f"serviceAccount:{pool}[{sa.namespace}/{sa.name}]"
            return link(LinkStatus.UNTRUSTED, f"no {WORKLOAD_IDENTITY_USER} on {email} for {member}", identity)
        if email in unread.trust:
            # A binding of its policy that could not be read may be the one that trusts this ServiceAccount.
            reason = f"no readable binding on {email} trusts it: {unread.trust[email][0].describe()}"
            return link(LinkStatus.UNCHECKED, reason, identity)
        reason = f"the IAM policy of {email} is not in gcp/{project}/service-account-iam-policies.json"
        return link(LinkStatus.UNCHECKED, reason, identity)

    def _gsa_identity(self, gsa: GoogleServiceAccount) -> CloudIdentity:
        identity = self._identities.get(gsa.email)
        if identity is None:
            member = f"serviceAccount:{gsa.email}"
            grants = self.grants.of(member)
            gaps = (*self.index.unread.gaps_of_account(gsa.email), *self.grants.gaps_of(member))
            kind = "google-service-account"
            identity = CloudIdentity(GCP, gsa.email, kind, gsa.display_name, grants, gsa.source, gaps)
            self._identities[gsa.email] = identity
        return identity

    def _direct_identity(self, m: KsaMember, grants: tuple[Grant, ...]) -> CloudIdentity:
        identity = self._identities.get(m.member)
        if identity is None:
            kind = "gke-principal-set" if m.is_set else "gke-principal"
            source = str((grants[0].document or {}).get("file", ""))
            gaps = (*self.index.unread.gaps_of_member(m.member), *self.grants.gaps_of(m.member))
            identity = CloudIdentity(GCP, m.member, kind, m.member.rsplit("/", 1)[-1], grants, source, gaps)
            self._identities[m.member] = identity
        return identity

    def _trust_of(self, gsa: GoogleServiceAccount) -> tuple[Binding, ...]:
        """Bindings that let a KSA impersonate `gsa`: on the GSA itself, its project or ancestors."""
        if gsa.email not in self.trust:
            files = self.index.projects.get(gsa.project)
            ancestors = files.ancestors.policies if files is not None and files.ancestors is not None else {}
            keys = [f"sa:{gsa.email}", f"projects/{gsa.project}", *ancestors]
            found = [b for k in keys for b in self.trust_by_scope.get(k, ())]
            self.trust[gsa.email] = tuple(sorted(found, key=lambda b: (b.member, b.role, b.scope)))
        return self.trust[gsa.email]

    def _trust_of_gsa(self, gsa: GoogleServiceAccount) -> _TrustIndex:
        found = self._trust_index.get(gsa.email)
        if found is None:
            found = self._trust_index[gsa.email] = _TrustIndex(self._trust_of(gsa))
        return found


class _TrustIndex:
    """One GSA's trust bindings indexed by the KSA they name. Why: a GSA trusted by many KSAs would
    otherwise be scanned (and its members parsed) once per ServiceAccount: quadratic."""

    def __init__(self, bindings: tuple[Binding, ...]) -> None:
        # (position in `bindings`, binding, member): the first admitting binding in that order wins.
        self.named: dict[tuple[str | None, str | None], list[tuple[int, Binding, KsaMember]]] = {}
        self.sets: list[tuple[int, Binding, KsaMember]] = []
        for i, b in enumerate(bindings):
            m = parse_member(b.member)
            if m is None:
                continue
            if m.scope == "serviceaccount":
                self.named.setdefault((m.namespace, m.name), []).append((i, b, m))
            else:
                self.sets.append((i, b, m))

    def first(self, pool: str, number: str | None, cluster: str | None, namespace: str, name: str) -> Binding | None:
        """The first binding (in trust order) that admits the KSA NAMESPACE/NAME, None if none does."""
        best: tuple[int, Binding] | None = None
        # Both lists are in trust order: the first hit of each is its earliest.
        for i, b, m in self.named.get((namespace, name), ()):
            if admits(m, pool=pool, number=number, cluster=cluster, namespace=namespace, name=name):
                best = (i, b)
                break
        for i, b, m in self.sets:
            if best is not None and i > best[0]:
                break
            if admits(m, pool=pool, number=number, cluster=cluster, namespace=namespace, name=name):
                best = (i, b)
                break
        return best[1] if best else None


def _direct_link(sa: ServiceAccount, m: KsaMember, identity: CloudIdentity) -> IdentityLink:
    reason = f"granted directly to {m.scope}-wide member" if m.is_set else "granted directly to the KSA's principal"
    return IdentityLink(
        sa.cluster, sa.namespace, sa.name, GCP, "gke-direct", m.member, LinkStatus.RESOLVED, identity, reason
    )
