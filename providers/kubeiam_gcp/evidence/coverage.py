"""What the GCP files present leave unchecked: coverage entries, never a silent pass.

Computed after linking: which projects, clusters and node pools matter depends on what was reached.
Every entry names its subject (a Kubernetes cluster, a ServiceAccount, a node pool, a principal) and
the rules whose findings it may hide, so that a baseline marks exactly those `not_rechecked`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kubeiam.vocabulary.model import CoverageError, IdentityLink, Inventory, LinkStatus, Node
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.trust import KsaMember, parse_member
from kubeiam_gcp.view import GkeCluster

from .clusters import gke_key
from .grants import MemberGrants
from .index import EvidenceIndex
from .project_folder import ProjectFiles
from .unread_coverage import GRANT_RULES, KEY_RULES, NODE_RULES, Reach, unread_gaps

POOL_LABEL = "cloud.google.com/gke-nodepool"


def coverage_gaps(
    index: EvidenceIndex,
    grants: MemberGrants,
    matched: Mapping[str, GkeCluster],
    inventory: Inventory,
    links: Sequence[IdentityLink],
    wide: Iterable[KsaMember],
) -> list[CoverageError]:
    """`matched`: the GKE cluster of each Kubernetes cluster found; `wide`: the pool-, cluster- and
    uid-wide KSA members that hold roles."""
    reach = project_reach(index, matched, inventory, links)
    return (
        _file_gaps(index, reach)
        + _key_gaps(index, links)
        + _node_gaps(index, matched, inventory)
        + _uid_gaps(index, grants, wide)
        + unread_gaps(index, grants, matched, inventory, links, reach)
        + _group_gaps(grants, links)
    )


def _group_gaps(grants: MemberGrants, links: Sequence[IdentityLink]) -> list[CoverageError]:
    """Sensitive grants to groups whose members the evidence does not hold: each Google service account
    linked may be in them. Named per account, for the role rules only (a binding's trust is not theirs)."""
    gaps = grants.group_gaps()
    if not gaps:
        return []
    more = f" (and {len(gaps) - 1} more groups)" if len(gaps) > 1 else ""
    granted = (LinkStatus.RESOLVED, LinkStatus.UNCHECKED)  # a broken binding gives the workload nothing
    linked = [lk for lk in links if lk.mechanism == "gke-workload-identity" and lk.identity is not None]
    accounts = sorted({lk.principal for lk in linked if lk.status in granted})
    return [
        CoverageError(GCP, f"{gaps[0].location}: {gaps[0].item}", gaps[0].reason + more, subject=a, rules=GRANT_RULES)
        for a in accounts
    ]


def project_reach(
    index: EvidenceIndex, matched: Mapping[str, GkeCluster], inventory: Inventory, links: Sequence[IdentityLink]
) -> Reach:
    """Project -> the Kubernetes clusters whose GCP findings its files decide: the clusters of the links
    to its service accounts or its pool's principals, its GKE clusters, the pools running as its accounts."""
    reach: dict[str, set[str]] = {}
    by_number = {n: p for p, n in index.numbers.items()}

    def add(project: str | None, cluster: str) -> None:
        if project:
            reach.setdefault(by_number.get(project, project), set()).add(cluster)

    project_of: dict[str, str | None] = {}  # per principal, not per ServiceAccount
    for lk in links:
        if lk.principal not in project_of:
            member = parse_member(lk.principal) if lk.mechanism == "gke-direct" else None
            found = member.pool.removesuffix(".svc.id.goog") if member else index.project_of(lk.principal)
            project_of[lk.principal] = found
        add(project_of[lk.principal], lk.cluster)
    for name, gke in matched.items():
        add(gke.project, name)
        for p in gke.node_pools:
            add(index.project_of(p.service_account), name)
    for cluster in inventory.clusters:
        key = gke_key(cluster)
        add(key[0] if key else None, cluster.name)
    return {p: tuple(sorted(cs)) for p, cs in reach.items()}


def _file_gaps(index: EvidenceIndex, reach: Reach) -> list[CoverageError]:
    """The policy files a reached project lacks: what they would grant is unknown (never read as "none")."""
    out: list[CoverageError] = []
    for project, clusters in sorted(reach.items()):
        files = index.projects.get(project)
        if files is None:
            continue
        for location, reason in _absent(files):
            out += [CoverageError(GCP, location, reason, subject=c, rules=GRANT_RULES) for c in clusters]
    return out


def _absent(files: ProjectFiles) -> list[tuple[str, str]]:
    base = f"gcp/{files.project}"
    out: list[tuple[str, str]] = []
    ancestors = files.ancestors.policies if files.ancestors is not None else None
    if files.parent_known and files.parent and ancestors is None:
        reason = f"not in the evidence: bindings on {files.parent} and above not checked"
        out.append((f"{base}/ancestors-iam-policies.json", reason))
    elif files.parent_known and files.parent and ancestors is not None:
        # A partial file (one folder's or the organisation's policy could not be read) is not
        # "no bindings there": a parent always leads up to an organisation.
        missing = [files.parent] if files.parent not in ancestors else []
        if files.parent.startswith("folders/") and not any(a.startswith("organizations/") for a in ancestors):
            missing.append("the organisation")
        if missing:
            reason = f"no policy for {' and '.join(dict.fromkeys(missing))}: bindings there not checked"
            out.append((f"{base}/ancestors-iam-policies.json", reason))
    elif not files.parent_known and ancestors is None:
        # Without the parent, folder and organisation bindings may exist.
        parent = [u for u in files.project_unread if u.item == "parent"]
        said = f"{parent[0].item} cannot be read" if parent else "not in the evidence"
        reason = f"{said}: the project's parent is unknown, folder and organisation bindings not checked"
        out.append((f"{base}/project.json", reason))
    if files.assets is None:
        reason = "not in the evidence: resource-level bindings (buckets, secrets, ...) not checked"
        out.append((f"{base}/asset-iam-policies.json", reason))
    if files.project_bindings is None:
        out.append((f"{base}/project-iam-policy.json", "not in the evidence: project bindings not checked"))
    return out


def _key_gaps(index: EvidenceIndex, links: Sequence[IdentityLink]) -> list[CoverageError]:
    out: list[CoverageError] = []
    for lk in links:
        gsa = index.gsas.get(lk.principal)
        if gsa is None or gsa.keys is not None:
            continue
        unread = index.unread.account_keys.get(gsa.email)
        location = unread.file if unread else f"gcp/{gsa.project}/service-account-keys.json"
        said = f"{unread.item}: {unread.reason}" if unread else f"keys of {gsa.email} not in the evidence"
        reason = f"{said}: user-managed keys not checked" if not unread else said
        subject = f"{lk.cluster}/{lk.namespace}/{lk.service_account}"
        out.append(CoverageError(GCP, location, reason, subject=subject, rules=KEY_RULES))
    return out


def _node_gaps(index: EvidenceIndex, matched: Mapping[str, GkeCluster], inventory: Inventory) -> list[CoverageError]:
    """GKE nodes whose pool (metadata mode, node service account) the evidence cannot tell."""
    out: list[CoverageError] = []
    nodes: dict[str, list[Node]] = {}
    for n in inventory.nodes:
        nodes.setdefault(n.cluster, []).append(n)
    for cluster in inventory.clusters:
        gke = matched.get(cluster.name)
        if gke is None:
            key = gke_key(cluster)
            if key and key[0] not in index.projects and key[0] not in index.numbers.values():
                # No folder for the cluster's project: roles granted straight to its KSAs
                # (principal://, principalSet://) cannot be seen, annotated or not.
                reason = (
                    f"not in the evidence: node pools' metadata mode and roles granted directly to the "
                    f"ServiceAccounts of {cluster.name} (principal:// members) are not checked"
                )
                out.append(CoverageError(GCP, f"gcp/{key[0]}/", reason, subject=cluster.name))
            elif (cluster.cloud == GCP or key) and nodes.get(cluster.name):
                where = "gcp/{}/gke/{}/{}/cluster.json".format(*key) if key else "gcp/<project>/gke/<location>/<name>"
                reason = (
                    "no GKE cluster object for this cluster: its node pools' metadata mode, and who its project's "
                    "IAM grants let act as its ServiceAccounts (K8S-006), are not checked"
                )
                out.append(CoverageError(GCP, where, reason, subject=cluster.name, rules=(*NODE_RULES, "K8S-006")))
            continue
        gke_file = index.gke.get((gke.project, gke.location, gke.name))
        # Pools the file names but that could not be judged have their own entries (unread_coverage).
        named = {str(p.get("name")) for p in (gke_file.pools or ()) if isinstance(p, dict)} if gke_file else set()
        named |= {u.pool for u in (gke_file.unread if gke_file else ()) if u.pool}
        pools = {p.name for p in gke.node_pools} | named
        labels = {n.labels.get(POOL_LABEL) for n in nodes.get(cluster.name, ())}
        unknown = sorted((p or "(no gke-nodepool label)") for p in labels - pools)
        if unknown:
            reason = f"node pools {', '.join(unknown)} are not in the evidence: their metadata mode is not checked"
            where = gke_file.pools_file if gke_file else gke.source.replace("cluster.json", "node-pools.json")
            out.append(CoverageError(GCP, where, reason, subject=cluster.name, rules=NODE_RULES))
    return out


def _uid_gaps(index: EvidenceIndex, grants: MemberGrants, wide: Iterable[KsaMember]) -> list[CoverageError]:
    """Grants to `principalSet://.../kubernetes.serviceaccount.uid/UID`: the evidence carries no
    ServiceAccount uids, so whom they reach is unknown; say so rather than drop them."""
    out: list[CoverageError] = []
    for m in wide:
        if m.scope == "uid" and grants.of(m.member):
            files = sorted({b.source for b in index.by_member[m.member]})
            reason = f"roles granted to {m.member} not attributed to a ServiceAccount (uids are not in the evidence)"
            out.append(CoverageError(GCP, files[0], reason, subject=m.member, rules=GRANT_RULES))
    return out
