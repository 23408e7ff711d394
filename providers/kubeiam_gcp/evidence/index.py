"""The project folders read, indexed across projects once: accounts, custom roles, bindings, GKE clusters,
and the items that could not be read (`unread`), by what depends on them.

Frozen: the links, the coverage and the view are all worked out from this one index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.trust import SA_RESOURCE, cluster_key
from kubeiam_gcp.view import Binding, GoogleServiceAccount

from .gke import GkeClusterFile
from .guardrail_files import DenyRule
from .json_checks import Unread
from .numbers import project_numbers
from .policies import Bindings
from .project_folder import ProjectFiles
from .service_accounts import google_service_account
from .unread import UnreadIndex

_RESOURCE_MANAGER = "//cloudresourcemanager.googleapis.com/"
_SA_TYPE = "iam.googleapis.com/ServiceAccount"

ClusterKey = tuple[str, str, str]
"""(project id, location, name) of a GKE cluster."""


@dataclass(frozen=True)
class EvidenceIndex:
    projects: Mapping[str, ProjectFiles]
    """By project id, in the evidence's order."""
    numbers: Mapping[str, str]
    """Project id -> number, for the projects whose number some file gives (`numbers.py`)."""
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
    unread: UnreadIndex
    """The items that could not be read, by the identity, account, role or project they concern."""
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Group email -> member emails (lower case, transitive), from every group-memberships.json read."""
    groups_unread: Mapping[str, Unread] = field(default_factory=dict)
    """Group email -> why its members could not be read."""
    groups_file: bool = False
    """Whether any group-memberships.json was read (absent: every group's members are unknown)."""
    deny_rules: tuple[DenyRule, ...] = ()
    """Every deny rule read, attachment points by project id (`projects/ID`, `folders/N`, `organizations/N`)."""
    deny_read: frozenset[str] = frozenset()
    """The projects whose deny-policies.json was read."""

    def permissions(self, role: str) -> frozenset[str] | None:
        """A custom role's permissions, else the predefined role's; None when neither knows it."""
        if role in self.custom:
            return self.custom[role]
        return load_catalogue().permissions_of(role)

    def ancestry(self, project: str) -> tuple[str, ...]:
        """`projects/ID` and the folders and organisation above it that the evidence names."""
        files = self.projects.get(project)
        above: list[str] = []
        if files is not None and files.ancestors is not None:
            above += files.ancestors.chain or list(files.ancestors.policies)
        if files is not None and files.parent:
            above.append(files.parent)
        return (f"projects/{project}", *dict.fromkeys(above))

    def project_of(self, email: str) -> str | None:
        """The project of a Google service account, from its email (or the list that holds it)."""
        local, _, domain = email.partition("@")
        if domain.endswith(".iam.gserviceaccount.com"):
            return domain[: -len(".iam.gserviceaccount.com")]
        if domain == "appspot.gserviceaccount.com":
            return local
        if domain == "developer.gserviceaccount.com" and local.endswith("-compute"):
            number = local[: -len("-compute")]
            return next((p for p, n in self.numbers.items() if n == number), None)
        gsa = self.gsas.get(email)
        return gsa.project if gsa else None


def index_projects(projects: Iterable[ProjectFiles]) -> EvidenceIndex:
    folders = {p.project: p for p in projects}
    numbers = project_numbers(folders, _members(folders.values()))
    gsas: dict[str, GoogleServiceAccount] = {}
    unique_ids: dict[str, str] = {}
    custom: dict[str, frozenset[str]] = {}
    for p in folders.values():
        source = f"gcp/{p.project}/service-accounts.json"
        for sa in p.service_accounts.accounts if p.service_accounts is not None else ():
            keys = p.sa_keys.keys.get(sa["email"]) if p.sa_keys is not None else None
            gsa = google_service_account(sa, p.project, keys, source)
            gsas[gsa.email] = gsa
            if gsa.unique_id:
                unique_ids[gsa.unique_id] = gsa.email
        custom.update(p.custom_roles.permissions if p.custom_roles is not None else {})
    # Bindings second: a resource-level binding may name a service account of another project.
    reader = _BindingReader(gsas, unique_ids, {n: p for p, n in numbers.items()})
    gke: dict[ClusterKey, GkeClusterFile] = {}
    sa_policy_known: set[str] = set()
    for p in folders.values():
        sa_policy_known.update(reader.read(p))
        for found in p.clusters:
            key = cluster_key(str(found.cluster.get("selfLink", ""))) or (p.project, found.location, found.name)
            gke[(p.project, key[1], key[2])] = found
    by_member: dict[str, list[Binding]] = {}
    for b in reader.bindings.values():
        by_member.setdefault(b.member, []).append(b)
    groups: dict[str, frozenset[str]] = {}
    groups_unread: dict[str, Unread] = {}
    for p in folders.values():
        for group, members in (p.groups.members if p.groups is not None else {}).items():
            groups[group] = groups.get(group, frozenset()) | members
        for u in p.groups.unread if p.groups is not None else ():
            groups_unread.setdefault(u.item.split("[", 1)[0].lower(), u)
    by_number = {n: p for p, n in numbers.items()}
    deny = tuple(
        replace(r, attachment=_by_id(r.attachment, by_number))
        for p in folders.values()
        for r in (p.deny.rules if p.deny is not None else ())
    )
    return EvidenceIndex(
        groups={g: m for g, m in groups.items() if g not in groups_unread},
        groups_unread=groups_unread,
        groups_file=any(p.groups is not None for p in folders.values()),
        deny_rules=tuple(dict.fromkeys(deny)),
        deny_read=frozenset(p.project for p in folders.values() if p.deny is not None),
        projects=folders,
        numbers=numbers,
        gsas=gsas,
        unique_ids=unique_ids,
        custom=custom,
        by_member={m: tuple(bs) for m, bs in by_member.items()},
        sa_policy_known=frozenset(sa_policy_known),
        gke=gke,
        unread=UnreadIndex.of(folders.values()),
    )


def _by_id(attachment: str, by_number: Mapping[str, str]) -> str:
    kind, _, ident = attachment.partition("/")
    return f"projects/{by_number.get(ident, ident)}" if kind == "projects" else attachment


def _members(folders: Iterable[ProjectFiles]) -> Iterator[str]:
    """Every Workload Identity Federation member of every policy read (they name project numbers)."""
    for p in folders:
        for bindings in _policies(p):
            for b in bindings:
                yield from (m for m in b["members"] if m.startswith("principal"))


def _policies(p: ProjectFiles) -> Iterator[Bindings]:
    if p.project_bindings is not None:
        yield p.project_bindings
    if p.ancestors is not None:
        yield from p.ancestors.policies.values()
    if p.assets is not None:
        yield from (r["policy"]["bindings"] for r in p.assets.results)
    if p.sa_policies is not None:
        yield from p.sa_policies.policies.values()


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
        from_policy = p.iam_policy is not None
        source = f"{base}/{'project-iam-policy.json' if from_policy else 'ancestors-iam-policies.json'}"
        self._add(p.project_bindings, f"projects/{p.project}", "project", source)
        for anc, bindings in (p.ancestors.policies if p.ancestors is not None else {}).items():
            level = "folder" if anc.startswith("folders/") else "organization"
            self._add(bindings, anc, level, f"{base}/ancestors-iam-policies.json")
        for r in p.assets.results if p.assets is not None else ():
            res_scope, level = _scope_of(r["resource"], self.by_number)
            res_scope = self._sa_scope(res_scope)
            self._add(r["policy"]["bindings"], res_scope, level, f"{base}/asset-iam-policies.json", r)
        policies = p.sa_policies.policies if p.sa_policies is not None else {}
        for email, bindings in policies.items():
            res = self._sa_scope(f"{SA_RESOURCE}{p.project}/serviceAccounts/{email}")
            source = f"{base}/service-account-iam-policies.json"
            self._add(bindings, res, "resource", source, {"assetType": _SA_TYPE})
        return list(policies)

    def _sa_scope(self, resource: str) -> str:
        """One name per service account resource (assets may name it by unique id): by email."""
        if not resource.startswith(SA_RESOURCE) or "/serviceAccounts/" not in resource:
            return resource
        ident = resource.rsplit("/", 1)[-1]
        gsa = self.gsas.get(self.unique_ids.get(ident, ident))
        return f"{SA_RESOURCE}{gsa.project}/serviceAccounts/{gsa.email}" if gsa else resource

    def _add(
        self,
        bindings: Bindings | None,
        scope: str,
        level: str,
        source: str,
        asset: Mapping[str, Any] | None = None,
    ) -> None:
        for b in bindings or ():
            cond = b["condition"]
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
