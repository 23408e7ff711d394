"""Normalise the GCP evidence files into the model: GKE clusters, GSAs, bindings, identity links.

Pure: no google-cloud import, no network. See files.py for the shapes, view.py for what rules read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from kubeiam.evidence import Evidence
from kubeiam.model import (
    Cloud,
    Cluster,
    CoverageError,
    Grant,
    IdentityLink,
    Inventory,
)
from kubeiam.policy import Effect, Statement
from kubeiam_gcp.catalogue import load_catalogue
from kubeiam_gcp.files import ProjectFiles, load_project
from kubeiam_gcp.gaps import coverage_gaps
from kubeiam_gcp.links import SA_RESOURCE, Linker, is_trust
from kubeiam_gcp.members import cluster_key
from kubeiam_gcp.view import (
    Binding,
    GcpView,
    GkeCluster,
    GoogleServiceAccount,
    NodePool,
    ServiceAccountKey,
)

_RESOURCE_MANAGER = "//cloudresourcemanager.googleapis.com/"


def read_gcp(evidence: Evidence, inventory: Inventory) -> Inventory:
    projects = [load_project(evidence, p) for p in evidence.children("gcp")]
    state = State(projects)
    clusters = tuple(state.match_cluster(c) for c in inventory.clusters)
    inventory = inventory.with_(clusters=clusters)
    linker = Linker(state, inventory)
    links = linker.links(has_evidence=bool(projects))
    view = state.view(links, linker.trust)
    state.errors += coverage_gaps(state, inventory, linker, links)
    views = dict(inventory.views)
    views["gcp"] = view
    return inventory.with_(
        links=inventory.links + tuple(links),
        errors=inventory.errors + tuple(state.errors),
        views=views,
    )


def _scope_of(resource: str, numbers: Mapping[str, str]) -> tuple[str, str]:
    """(scope, level) of a Cloud Asset resource name; projects are named by id where known."""
    if resource.startswith(_RESOURCE_MANAGER):
        kind, _, ident = resource[len(_RESOURCE_MANAGER) :].partition("/")
        level = {"projects": "project", "folders": "folder", "organizations": "organization"}.get(kind)
        if level and "/" not in ident:
            return f"{kind}/{numbers.get(ident, ident)}", level
    return resource, "resource"


class State:
    def __init__(self, projects: list[ProjectFiles]) -> None:
        self.projects = {p.project: p for p in projects}
        self.numbers = {p.project: p.number for p in projects if p.number}
        by_number = {n: p for p, n in self.numbers.items()}
        self.errors: list[CoverageError] = []
        self.gsas: dict[str, GoogleServiceAccount] = {}
        self.unique_ids: dict[str, str] = {}
        self.custom: dict[str, frozenset[str]] = {}
        self.bindings: dict[tuple[str, str, str, str], Binding] = {}
        self.sa_policy_known: set[str] = set()
        self.gke: dict[tuple[str, str, str], tuple[Mapping[str, Any], list | None, str, str]] = {}
        self.matched: dict[str, GkeCluster] = {}
        self._by_member: dict[str, list[Binding]] | None = None
        self._grants: dict[str, tuple[Grant, ...]] = {}
        for p in projects:
            self._read_accounts(p)
        # Bindings second: a resource-level binding may name a service account of another project.
        for p in projects:
            self._read_bindings(p, by_number)

    # -- reading ---------------------------------------------------------------------------
    def _read_accounts(self, p: ProjectFiles) -> None:
        base = f"gcp/{p.project}"
        for sa in p.service_accounts or ():
            email = sa["email"]
            keys = None
            if p.sa_keys is not None and email in p.sa_keys:
                keys = tuple(_key(k) for k in p.sa_keys[email])
            self.gsas[email] = GoogleServiceAccount(
                email=email,
                project=str(sa.get("projectId") or p.project),
                unique_id=str(sa["uniqueId"]) if sa.get("uniqueId") else None,
                disabled=bool(sa.get("disabled", False)),
                display_name=str(sa.get("displayName") or ""),
                source=f"{base}/service-accounts.json",
                keys=keys,
            )
            if sa.get("uniqueId"):
                self.unique_ids[str(sa["uniqueId"])] = email
        for role in p.custom_roles or ():
            if not role.get("deleted"):
                self.custom[role["name"]] = frozenset(role.get("includedPermissions") or ())

    def _read_bindings(self, p: ProjectFiles, by_number: Mapping[str, str]) -> None:
        base = f"gcp/{p.project}"
        scope = f"projects/{p.project}"
        self._add(p.iam_policy, scope, "project", f"{base}/project-iam-policy.json")
        for anc, bindings in (p.ancestors or {}).items():
            level = "folder" if anc.startswith("folders/") else "organization"
            self._add(bindings, anc, level, f"{base}/ancestors-iam-policies.json")
        for r in p.assets or ():
            res_scope, level = _scope_of(r["resource"], by_number)
            res_scope = self._sa_scope(res_scope)
            self._add(r["policy"].get("bindings") or [], res_scope, level, f"{base}/asset-iam-policies.json", r)
        for email, bindings in (p.sa_policies or {}).items():
            self.sa_policy_known.add(email)
            res = self._sa_scope(f"{SA_RESOURCE}{p.project}/serviceAccounts/{email}")
            self._add(bindings, res, "resource", f"{base}/service-account-iam-policies.json", {"assetType": _SA_TYPE})
        for file, cluster, pools in p.clusters:
            key = cluster_key(str(cluster.get("selfLink", ""))) or (p.project, cluster["_location"], cluster["name"])
            key = (p.project, key[1], key[2])
            self.gke[key] = (cluster, pools, file, cluster["_pools_file"])

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

    # -- roles and grants ------------------------------------------------------------------
    def permissions(self, role: str) -> frozenset[str] | None:
        if role in self.custom:
            return self.custom[role]
        return load_catalogue().permissions_of(role)

    def by_member(self) -> dict[str, list[Binding]]:
        if self._by_member is None:
            self._by_member = {}
            for b in self.bindings.values():
                self._by_member.setdefault(b.member, []).append(b)
        return self._by_member

    def grants_of(self, member: str) -> tuple[Grant, ...]:
        grants = self._grants.get(member)
        if grants is None:
            grants = tuple(self._grant(b) for b in self.by_member().get(member, ()) if not is_trust(b))
            self._grants[member] = grants
        return grants

    def _grant(self, b: Binding) -> Grant:
        perms = self.permissions(b.role)
        if perms is None:
            self.errors.append(
                CoverageError(
                    "gcp",
                    b.source,
                    f"role {b.role} is neither in the predefined-role catalogue "
                    f"({load_catalogue().date}) nor in custom-roles.json: its permissions are unknown",
                    subject=b.member,
                )
            )
        statements = (_statement(b.role, perms),) if perms else ()
        cond = b.condition or {}
        return Grant(
            source=b.grant_source,
            kind="role-binding",
            statements=statements,
            role=b.role,
            scope=b.scope,
            scope_level=b.scope_level,
            condition=cond.get("expression") or (cond.get("title") if cond else None),
            document=b.document(),
        )

    # -- clusters --------------------------------------------------------------------------
    def match_cluster(self, cluster: Cluster) -> Cluster:
        found = self._find_gke(cluster)
        issuer_key = cluster_key(cluster.issuer or "") if "container.googleapis.com" in (cluster.issuer or "") else None
        if found is None:
            if issuer_key is None:
                return cluster
            p, loc, n = issuer_key
            return replace(cluster, stable_id=f"//container.googleapis.com/projects/{p}/locations/{loc}/clusters/{n}")
        (project, location, name), (obj, pools, file, pools_file) = found
        stable = f"//container.googleapis.com/projects/{project}/locations/{location}/clusters/{name}"
        wi = (obj.get("workloadIdentityConfig") or {}).get("workloadPool") or None
        autopilot = bool((obj.get("autopilot") or {}).get("enabled"))
        if autopilot and not wi:
            wi = f"{project}.svc.id.goog"  # Autopilot always runs Workload Identity
        self.matched[cluster.name] = GkeCluster(
            k8s_name=cluster.name,
            project=project,
            location=location,
            name=name,
            stable_id=stable,
            workload_pool=wi,
            autopilot=autopilot,
            node_pools=tuple(self._pool(cluster.name, project, p, pools_file, autopilot) for p in pools or ()),
            source=file,
        )
        issuer = (
            cluster.issuer
            or f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}"
        )
        return replace(cluster, stable_id=stable, issuer=issuer, cloud=cluster.cloud or Cloud.GCP)

    def _find_gke(self, cluster: Cluster) -> tuple[tuple[str, str, str], tuple] | None:
        issuer_key = cluster_key(cluster.issuer or "")
        if issuer_key:
            p, loc, n = issuer_key
            for key, value in self.gke.items():
                if key[1:] == (loc, n) and p in (key[0], self.numbers.get(key[0])):
                    return key, value
        by_name = [(k, v) for k, v in self.gke.items() if cluster.name in (k[2], f"gke_{k[0]}_{k[1]}_{k[2]}")]
        return by_name[0] if len(by_name) == 1 else None

    def _pool(self, cluster: str, project: str, pool: Mapping[str, Any], file: str, autopilot: bool) -> NodePool:
        config = pool.get("config") or {}
        sa = config.get("serviceAccount") or "default"
        if sa == "default":
            number = self.numbers.get(project)
            sa = f"{number}-compute@developer.gserviceaccount.com" if number else f"default@{project}"
        mode = (config.get("workloadMetadataConfig") or {}).get("mode") or (
            config.get("workloadMetadataConfig") or {}
        ).get("nodeMetadata")
        if mode == "GKE_METADATA_SERVER":  # the v1beta1 spelling
            mode = "GKE_METADATA"
        if autopilot:
            mode = "GKE_METADATA"
        return NodePool(cluster, pool["name"], sa, mode, file, str(pool.get("selfLink", "")))

    def view(self, links: list[IdentityLink], trust: Mapping[str, tuple[Binding, ...]]) -> GcpView:
        # Only what rules look up: the linked identities' and the node pools' grants.
        members = [f"serviceAccount:{lk.principal}" if "@" in lk.principal else lk.principal for lk in links]
        members += [f"serviceAccount:{p.service_account}" for c in self.matched.values() for p in c.node_pools]
        grants = {m: self.grants_of(m) for m in dict.fromkeys(members)}
        roles = {g.role for gs in grants.values() for g in gs if g.role}
        return GcpView(
            clusters=dict(self.matched),
            service_accounts=dict(self.gsas),
            grants=grants,
            trusted_by={e: t for e, t in trust.items() if t},
            permissions={r: p for r in roles if (p := self.permissions(r)) is not None},
            project_numbers=dict(self.numbers),
        )


_SA_TYPE = "iam.googleapis.com/ServiceAccount"


_STATEMENTS: dict[tuple[str, frozenset[str]], Statement] = {}


def _statement(role: str, perms: frozenset[str]) -> Statement:
    # Memoised per role: roles/editor carries ~12,000 permissions; build its statement once.
    key = (role, perms)
    st = _STATEMENTS.get(key)
    if st is None:
        st = _STATEMENTS[key] = Statement(Effect.ALLOW, actions=tuple(sorted(perms)), sid=role)
    return st


def _key(k: Mapping[str, Any]) -> ServiceAccountKey:
    return ServiceAccountKey(
        name=k["name"],
        key_type=str(k.get("keyType") or "USER_MANAGED"),
        origin=k.get("keyOrigin"),
        valid_after=k.get("validAfterTime"),
        valid_before=k.get("validBeforeTime"),
        disabled=bool(k.get("disabled", False)),
    )
