"""Normalise the GCP evidence files into the model: GKE clusters, GSAs, bindings, identity links.

Pure: no google-cloud import, no network. One pass, each step handed what it needs:
the project folders parsed (`project_folder`), indexed across projects (`index`), the inventory's
clusters matched to GKE (`clusters`), the links (`links`), what stays unchecked (`coverage`), and the
typed view rules read (`view.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import IdentityLink, Inventory
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.view import Binding, GcpView, GkeCluster

from .clusters import match_cluster
from .coverage import coverage_gaps, project_reach
from .grants import AccountGrants, MemberGrants
from .guardrails import guardrails_of
from .index import EvidenceIndex, index_projects
from .kubernetes_rbac import gke_rbac
from .links import Linker
from .project_folder import load_project
from .usage import UsageReader
from .usage_coverage import usage_coverage


def read(evidence: Evidence, inventory: Inventory) -> Inventory:
    projects = [load_project(evidence, p) for p in evidence.children("gcp")]
    index = index_projects(projects)
    matches = [match_cluster(index, c) for c in inventory.clusters]
    matched = {gke.k8s_name: gke for _, gke in matches if gke is not None}
    inventory = inventory.with_(clusters=tuple(c for c, _ in matches))
    grants = MemberGrants(index)
    linker = Linker(index, grants, matched, inventory)
    links = linker.links(has_evidence=bool(projects))
    view = _view(index, grants, matched, links, linker.trust)
    gaps = coverage_gaps(index, grants, matched, inventory, links, linker.wide)
    # Usage (GCP-011): optional files, absent = a coverage note per identity, never "unused".
    usage = UsageReader(index.numbers, index.unique_ids)
    view = replace(view, usage=usage.read(evidence, index.projects))
    gaps += usage_coverage(index, view.usage, usage.unread, links, project_reach(index, matched, inventory, links))
    # Project grants carrying container.* permissions, as RBAC for K8S-006.
    external, rbac_gaps = gke_rbac(index, matched)
    views = dict(inventory.views)
    views[GCP] = view
    return inventory.with_(
        links=inventory.links + tuple(links),
        errors=inventory.errors + tuple(gaps) + rbac_gaps,
        external_rbac=inventory.external_rbac + external,
        views=views,
    )


def _view(
    index: EvidenceIndex,
    grants: MemberGrants,
    matched: Mapping[str, GkeCluster],
    links: Sequence[IdentityLink],
    trust: Mapping[str, tuple[Binding, ...]],
) -> GcpView:
    # Only what rules look up: the linked identities' and the node pools' grants.
    members = [f"serviceAccount:{lk.principal}" if "@" in lk.principal else lk.principal for lk in links]
    members += [f"serviceAccount:{p.service_account}" for c in matched.values() for p in c.node_pools]
    by_member = {m: grants.of(m) for m in dict.fromkeys(members)}
    roles = {g.role for gs in by_member.values() for g in gs if g.role}
    return GcpView(
        clusters=dict(matched),
        service_accounts=dict(index.gsas),
        grants=by_member,
        trusted_by={e: t for e, t in trust.items() if t},
        permissions={r: p for r in roles if (p := index.permissions(r)) is not None},
        project_numbers=dict(index.numbers),
        # Issue 15: what chains through other accounts and the guardrails need (judge/reach.py, guardrails.py).
        custom_roles=dict(index.custom),
        accounts=AccountGrants(grants, index.gsas),
        accounts_in=_accounts_in(index),
        guardrails=guardrails_of(index),
    )


def _accounts_in(index: EvidenceIndex) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for email, gsa in index.gsas.items():
        for scope in index.ancestry(gsa.project):
            found.setdefault(scope, []).append(email)
    return {scope: tuple(sorted(emails)) for scope, emails in found.items()}
