"""What the GCP files present leave unchecked: coverage entries, never a silent pass.

Computed after linking: which projects, clusters and node pools matter depends on what was reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kubeiam.vocabulary.model import CoverageError, IdentityLink, Inventory, Node
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.trust import KsaMember, cluster_key
from kubeiam_gcp.view import GkeCluster

from .grants import MemberGrants
from .index import EvidenceIndex


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
    return _link_gaps(index, matched, links) + _node_gaps(index, matched, inventory) + _uid_gaps(index, grants, wide)


def _link_gaps(
    index: EvidenceIndex, matched: Mapping[str, GkeCluster], links: Sequence[IdentityLink]
) -> list[CoverageError]:
    """What the files present leave unchecked for the identities reached (never read as "none")."""
    out: list[CoverageError] = []
    projects = {index.gsas[lk.principal].project for lk in links if lk.principal in index.gsas}
    projects |= {gke.project for gke in matched.values()}
    # Node service accounts may live in another project: their roles there are what pods can reach.
    projects |= {
        index.gsas[p.service_account].project
        for gke in matched.values()
        for p in gke.node_pools
        if p.service_account in index.gsas
    }
    for project in sorted(projects):
        files = index.projects.get(project)
        if files is None:
            continue
        base = f"gcp/{project}"
        if files.parent and files.ancestors is None:
            reason = f"not in the evidence: bindings on {files.parent} and above not checked"
            out.append(CoverageError("gcp", f"{base}/ancestors-iam-policies.json", reason))
        elif files.parent and files.ancestors is not None:
            # A partial file (one folder's or the organisation's policy could not be read) is not
            # "no bindings there": a parent always leads up to an organisation.
            missing = [files.parent] if files.parent not in files.ancestors else []
            if files.parent.startswith("folders/") and not any(a.startswith("organizations/") for a in files.ancestors):
                missing.append("the organisation")
            if missing:
                reason = f"no policy for {' and '.join(dict.fromkeys(missing))}: bindings there not checked"
                out.append(CoverageError("gcp", f"{base}/ancestors-iam-policies.json", reason))
        elif files.number is None and files.ancestors is None:
            # Without project.json the parent is unknown: folder and organisation bindings may exist.
            reason = (
                "not in the evidence: the project's parent is unknown, folder and organisation bindings not checked"
            )
            out.append(CoverageError("gcp", f"{base}/project.json", reason))
        if files.assets is None:
            reason = "not in the evidence: resource-level bindings (buckets, secrets, ...) not checked"
            out.append(CoverageError("gcp", f"{base}/asset-iam-policies.json", reason))
        if files.iam_policy is None:
            out.append(
                CoverageError(
                    "gcp", f"{base}/project-iam-policy.json", "not in the evidence: project bindings not checked"
                )
            )
    for lk in links:
        gsa = index.gsas.get(lk.principal)
        if gsa is not None and gsa.keys is None:
            out.append(
                CoverageError(
                    "gcp",
                    f"gcp/{gsa.project}/service-account-keys.json",
                    f"keys of {gsa.email} not in the evidence: user-managed keys not checked",
                    subject=f"{lk.cluster}/{lk.namespace}/{lk.service_account}",
                )
            )
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
            key = cluster_key(cluster.issuer or "") if "container.googleapis.com" in (cluster.issuer or "") else None
            if key and key[0] not in index.projects:
                # No folder for the cluster's project: roles granted straight to its KSAs
                # (principal://, principalSet://) cannot be seen, annotated or not.
                reason = (
                    f"not in the evidence: node pools' metadata mode and roles granted directly to the "
                    f"ServiceAccounts of {cluster.name} (principal:// members) are not checked"
                )
                out.append(CoverageError("gcp", f"gcp/{key[0]}/", reason, subject=cluster.name))
            elif (cluster.cloud == GCP or key) and nodes.get(cluster.name):
                where = "gcp/{}/gke/{}/{}/cluster.json".format(*key) if key else "gcp/<project>/gke/<location>/<name>"
                reason = "no GKE cluster object for this cluster: its node pools' metadata mode is not checked"
                out.append(CoverageError("gcp", where, reason, subject=cluster.name))
            continue
        pools = {p.name for p in gke.node_pools}
        labels = {n.labels.get("cloud.google.com/gke-nodepool") for n in nodes.get(cluster.name, ())}
        unknown = sorted((p or "(no gke-nodepool label)") for p in labels - pools)
        if unknown:
            reason = f"node pools {', '.join(unknown)} are not in the evidence: their metadata mode is not checked"
            where = (
                gke.node_pools[0].source if gke.node_pools else gke.source.replace("cluster.json", "node-pools.json")
            )
            out.append(CoverageError("gcp", where, reason, subject=cluster.name))
    return out


def _uid_gaps(index: EvidenceIndex, grants: MemberGrants, wide: Iterable[KsaMember]) -> list[CoverageError]:
    """Grants to `principalSet://.../kubernetes.serviceaccount.uid/UID`: the evidence carries no
    ServiceAccount uids, so whom they reach is unknown; say so rather than drop them."""
    out: list[CoverageError] = []
    for m in wide:
        if m.scope == "uid" and grants.of(m.member):
            files = sorted({b.source for b in index.by_member[m.member]})
            reason = f"roles granted to {m.member} not attributed to a ServiceAccount (uids are not in the evidence)"
            out.append(CoverageError("gcp", files[0], reason, subject=m.member))
    return out
