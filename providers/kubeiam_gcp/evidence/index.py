"""The project folders read, indexed across projects once: accounts, custom roles, bindings, GKE clusters.

Frozen: the links, the coverage and the view are all worked out from this one index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.trust import SA_RESOURCE, cluster_key
from kubeiam_gcp.view import Binding, GoogleServiceAccount

from .gke import GkeClusterFile
from .project_folder import ProjectFiles
from .roles import custom_role_permissions
from .service_accounts import google_service_account

_RESOURCE_MANAGER = "//cloudresourcemanager.googleapis.com/"
_SA_TYPE = "iam.googleapis.com/ServiceAccount"

ClusterKey = tuple[str, str, str]
"""(project id, location, name) of a GKE cluster."""


@dataclass(frozen=True)
class EvidenceIndex:
    projects: Mapping[str, ProjectFiles]
    """By project id, in the evidence's order."""
    numbers: Mapping[str, str]
    """Project id -> number, for the projects whose project.json was read."""
    gsas: Mapping[str, GoogleServiceAccount]
    """By email, every project read."""
    unique_ids: Mapping[str, str]
    """Service account unique id -> email."""
    custom: Mapping[str, frozenset[str]]
    """Custom role name -> permissions."""
    by_member: Mapping[str, tuple[Binding, ...]]
    """Member -> its bindings (each binding once however many files repeat it), in reading order."""
    sa_policy_known: frozenset[str]
    """Emails whose own IAM policy was read (its absence elsewhere means "not checked")."""
    gke: Mapping[ClusterKey, GkeClusterFile]

    def permissions(self, role: str) -> frozenset[str] | None:
        """A custom role's permissions, else the predefined role's; None when neither knows it."""
        if role in self.custom:
            return self.custom[role]
        return load_catalogue().permissions_of(role)


def index_projects(projects: Iterable[ProjectFiles]) -> EvidenceIndex:
    folders = {p.project: p for p in projects}
    numbers = {p.project: p.number for p in folders.values() if p.number}
    gsas: dict[str, GoogleServiceAccount] = {}
    unique_ids: dict[str, str] = {}
    custom: dict[str, frozenset[str]] = {}
    for p in folders.values():
        for sa in p.service_accounts or ():
            keys = p.sa_keys.get(sa["email"]) if p.sa_keys is not None else None
            gsa = google_service_account(sa, p.project, keys, f"gcp/{p.project}/service-accounts.json")
            gsas[gsa.email] = gsa
            if gsa.unique_id:
                unique_ids[gsa.unique_id] = gsa.email
        custom.update(custom_role_permissions(p.custom_roles or ()))
    # Bindings second: a resource-level binding may name a service account of another project.
    reader = _BindingReader(gsas, unique_ids, {n: p for p, n in numbers.items()})
    gke: dict[ClusterKey, GkeClusterFile] = {}
    sa_policy_known: set[str] = set()
    for p in folders.values():
        sa_policy_known.update(reader.read(p))
        for found in p.clusters:
            key = cluster_key(str(found.cluster.get("selfLink", ""))) or (
                p.project,
                found.location,
                found.cluster["name"],
            )
            gke[(p.project, key[1], key[2])] = found
    by_member: dict[str, list[Binding]] = {}
    for b in reader.bindings.values():
        by_member.setdefault(b.member, []).append(b)
    return EvidenceIndex(
        projects=folders,
        numbers=numbers,
        gsas=gsas,
        unique_ids=unique_ids,
        custom=custom,
        by_member={m: tuple(bs) for m, bs in by_member.items()},
        sa_policy_known=frozenset(sa_policy_known),
        gke=gke,
    )


class _BindingReader:
    """Collects the bindings of every policy file, one per (role, member, scope, condition)."""

    def __init__(
        self, gsas: Mapping[str, GoogleServiceAccount], unique_ids: Mapping[str, str], by_number: Mapping[str, str]
    ) -> None:
        self.gsas, self.unique_ids, self.by_number = gsas, unique_ids, by_number
        self.bindings: dict[tuple[str, str, str, str], Binding] = {}

    def read(self, p: ProjectFiles) -> list[str]:
        """Add the project's bindings; returns the emails whose own policy the folder holds."""
        base = f"gcp/{p.project}"
        self._add(p.iam_policy, f"projects/{p.project}", "project", f"{base}/project-iam-policy.json")
        for anc, bindings in (p.ancestors or {}).items():
            level = "folder" if anc.startswith("folders/") else "organization"
            self._add(bindings, anc, level, f"{base}/ancestors-iam-policies.json")
        for r in p.assets or ():
            res_scope, level = _scope_of(r["resource"], self.by_number)
            res_scope = self._sa_scope(res_scope)
            self._add(r["policy"].get("bindings") or [], res_scope, level, f"{base}/asset-iam-policies.json", r)
        for email, bindings in (p.sa_policies or {}).items():
            res = self._sa_scope(f"{SA_RESOURCE}{p.project}/serviceAccounts/{email}")
            source = f"{base}/service-account-iam-policies.json"
            self._add(bindings, res, "resource", source, {"assetType": _SA_TYPE})
        return list(p.sa_policies or ())

    def _sa_scope(self, resource: str) -> str:
        """One name per service account resource (assets may name it by unique id): by email."""
        if not resource.startswith(SA_RESOURCE) or "/serviceAccounts/" not in resource:
            return resource
        ident = resource.rsplit("/", 1)[-1]
        gsa = self.gsas.get(self.unique_ids.get(ident, ident))
        return f"{SA_RESOURCE}{gsa.project}/serviceAccounts/{gsa.email}" if gsa else resource

    def _add(
        self,
        bindings: Iterable[Mapping[str, Any]] | None,
        scope: str,
        level: str,
        source: str,
        asset: Mapping[str, Any] | None = None,
    ) -> None:
        for b in bindings or ():
            cond = b.get("condition") or None
            for member in b["members"]:
                # The same binding is often seen twice (project policy and asset search): keep one.
                key = (b["role"], member, scope, json.dumps(cond, sort_keys=True) if cond else "")
                if key not in self.bindings:
                    asset_type = (asset or {}).get("assetType")
                    self.bindings[key] = Binding(b["role"], member, scope, level, source, cond, asset_type)


def _scope_of(resource: str, numbers: Mapping[str, str]) -> tuple[str, str]:
    """(scope, level) of a Cloud Asset resource name; projects are named by id where known."""
    if resource.startswith(_RESOURCE_MANAGER):
        kind, _, ident = resource[len(_RESOURCE_MANAGER) :].partition("/")
        level = {"projects": "project", "folders": "folder", "organizations": "organization"}.get(kind)
        if level and "/" not in ident:
            return f"{kind}/{numbers.get(ident, ident)}", level
    return resource, "resource"
