"""Live Azure collection: the Azure files of EVIDENCE.md, from Resource Manager, each object fetched once.

Order of calls, per subscription in scope (see docs/azure-live.md for the permissions):

0. a central audit only: the subscriptions under the management groups given (`management_groups.py`);
1. user-assigned identities (one paged list) and AKS clusters (one paged list), in parallel;
2. federated credentials of the identities the ServiceAccounts name, and the role assignments of
   those identities' principals and of the matched clusters' kubelet identities;
3. the role definitions those assignments reference (those the bundled catalogue does not know);
4. the usage of those identities (`live/usage.py`): their Activity Log where they hold roles, their sign-ins.

Every failed call becomes a `CoverageError` and leaves its file (or its entry) out, so the reader
reports what depended on it as unchecked rather than clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError

from kubeiam.pipeline.evidence import write_json_file
from kubeiam.pipeline.progress import progress_of
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_azure.live.clients import (
    JSON,
    Calls,
    Settings,
    SharedToken,
    coverage,
    make_clients,
    make_credential,
    make_management_groups_client,
    to_rest,
)
from kubeiam_azure.live.management_groups import subscriptions_under
from kubeiam_azure.live.plan import Plan, make_plan, matches, parse_resource_id
from kubeiam_azure.live.roles import RoleFetcher
from kubeiam_azure.live.usage import collect_usage

# Why 3: a filtered list costs one call per principal; the unfiltered subscription list costs one
# call per page of *all* assignments, which in a real subscription is several pages. Few principals
# (`check`, a small namespace) are cheaper one by one.
PER_PRINCIPAL_MAX = 3

Fetched = tuple[str, str, list[JSON] | None]
"""(what, key, result) of one call in a batch: result None when the call failed (and is coverage)."""


def collect(
    request: CollectRequest,
    inventory: Inventory,
    *,
    credential: TokenCredential | None = None,
    settings: Settings | None = None,
) -> list[CoverageError]:
    """Write `azure/<subscription>/...` into `request.output` for what `inventory` references; with
    `--azure-management-group`, in every subscription under those groups too (`management_groups.py`)."""
    given = getattr(request.options, "azure_subscriptions", None)
    groups = tuple(getattr(request.options, "azure_management_groups", None) or ())
    plan_for = partial(make_plan, inventory, namespace=request.namespace, service_account=request.service_account)
    plan = plan_for(subscriptions=given)
    if plan.empty:
        return []
    if not plan.subscriptions and not groups:
        return [
            CoverageError(
                source="azure",
                location="--azure-subscription",
                reason="no Azure subscription in scope: no node has an azure:/// providerID; pass --azure-subscription",
                whole=True,
            )
        ]
    settings = settings or Settings.from_env()
    try:
        shared = SharedToken(credential or make_credential())
        # One token up front: without credentials every call would fail the same way.
        shared.get_token(settings.scope)
    except (AzureError, ValueError, ImportError) as exc:
        refused = coverage(exc, location="DefaultAzureCredential (token for Azure Resource Manager)")
        return [replace(refused, reason=f"no Azure credential: {refused.reason}", whole=True)]
    with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="kubeiam-azure") as pool:
        calls = Calls(pool, progress_of(request))
        try:
            if groups:
                # A central audit: the subscriptions under the groups, each as if given with --azure-subscription
                # (none found: none read, never the nodes' subscriptions instead).
                found = subscriptions_under(groups, calls, make_management_groups_client(shared, settings))
                wanted = [*(given or ()), *found]
                plan = plan_for(subscriptions=wanted) if wanted else replace(plan, subscriptions=())
            if plan.subscriptions:
                _Run(request, plan, settings, shared, calls).execute()
        except Exception as exc:  # never crash the audit: what is missing becomes coverage
            calls.errors.append(coverage(exc, location="azure live collection (stopped early)", subject=None))
    return _nothing_read(calls, settings) or calls.errors


def _nothing_read(calls: Calls, settings: Settings) -> list[CoverageError]:
    """Every call failed (ARM unreachable, the token refused, every call denied): one error for the whole
    source, so the run cannot pass as clean, rather than one per call saying the same thing."""
    if calls.succeeded or not calls.errors:
        return []
    causes = sorted({e.reason for e in calls.errors})
    more = f" (and {len(causes) - 1} other cause(s))" if len(causes) > 1 else ""
    return [
        CoverageError(
            source="azure",
            location=f"Azure Resource Manager ({settings.endpoint})",
            reason=f"nothing could be read, {len(calls.errors)} call(s) failed: {causes[0]}{more}",
            whole=True,
        )
    ]


class _Run:
    """One collection: the three phases over the plan's subscriptions, files written as they arrive."""

    def __init__(
        self,
        request: CollectRequest,
        plan: Plan,
        settings: Settings,
        credential: TokenCredential,
        calls: Calls,
    ) -> None:
        self.plan = plan
        self.output = Path(request.output)
        self.calls = calls
        # Shared clients, one set per subscription: connection pools and retry state live in them.
        self.clients = {sub: make_clients(sub, credential, settings) for sub in plan.subscriptions}
        self.settings = settings
        self.credential = credential

    def _write(self, sub: str, relative: str, value: Any) -> None:
        write_json_file(self.output / "azure" / sub / relative, value)

    # -- the three phases ------------------------------------------------------------------------

    def execute(self) -> None:
        subs = self.plan.subscriptions
        jobs: list[Callable[[], Fetched]] = []
        if self.plan.client_ids:
            jobs += [partial(self._identities, s) for s in subs]
        if self.plan.clusters:
            jobs += [partial(self._managed_clusters, s) for s in self.plan.cluster_subscriptions]
        identities: dict[str, list[JSON]] = {}
        clusters: dict[str, list[JSON] | None] = {}
        for kind, sub, result in self.calls.parallel("azure: identities and AKS clusters", jobs):
            if kind == "identities" and result is not None:
                identities[sub] = result
            elif kind == "aks":
                clusters[sub] = result
        needed = [i for items in identities.values() for i in items if _client_id(i) in self.plan.client_ids]
        kubelets = self._write_clusters(clusters)
        principals = sorted({p for p in (_principal_id(i) for i in needed) if p} | kubelets)
        assignments = self._phase_two(needed, principals)
        fetcher = RoleFetcher(self.calls, self.clients, self.plan.subscriptions[0])
        for sub, definitions in fetcher.fetch(assignments, principals).items():
            self._write(sub, "role-definitions.json", definitions)
        if self.settings.usage and needed:
            # 4. what those identities used (unused access): only they, where they hold roles.
            collect_usage(self.calls, self.clients, self.settings, self.credential, self._write, needed, assignments)

    def _identities(self, sub: str) -> Fetched:
        client = self.clients[sub].msi
        # Subject: the subscription. The ServiceAccounts whose client id it may hold are each named by the
        # reader (unchecked: "azure/<sub>/identities.json not in the evidence").
        items = self.calls.call(
            lambda: [to_rest(i) for i in client.user_assigned_identities.list_by_subscription()],
            location=f"azure/{sub}/identities.json (GET /subscriptions/{sub}/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities)",
            subject=sub,
        )
        if items is not None:
            self._write(sub, "identities.json", _sorted(items))
        return "identities", sub, items

    def _managed_clusters(self, sub: str) -> Fetched:
        client = self.clients[sub].containerservice
        # Subject: the one cluster it concerns, else the subscription (the reader names each cluster left
        # without its AKS file, with the rules that file decides).
        hints = [h.name for h in self.plan.clusters if not h.subscriptions or sub in h.subscriptions]
        found = self.calls.call(
            lambda: [to_rest(c) for c in client.managed_clusters.list()],
            location=f"azure/{sub}/aks (GET /subscriptions/{sub}/providers/Microsoft.ContainerService/managedClusters)",
            subject=hints[0] if len(hints) == 1 else sub,
        )
        return "aks", sub, found

    def _write_clusters(self, clusters: dict[str, list[JSON] | None]) -> set[str]:
        """Write the AKS clusters that are clusters of the inventory; return their kubelet principals."""
        kubelets: set[str] = set()
        matched: set[str] = set()
        for sub, items in clusters.items():
            for mc in items or ():
                hints = [h for h in self.plan.clusters if matches(h, mc)]
                if not hints:
                    continue  # another team's cluster: not ours to audit
                try:
                    _, rg, name = parse_resource_id(mc.get("id", ""))
                except ValueError as exc:
                    self.calls.errors.append(coverage(exc, location=f"azure/{sub}/aks", subject=hints[0].name))
                    continue
                matched.update(h.name for h in hints)
                self._write(sub, f"aks/{rg}/{name}.json", _scrub(mc))
                kubelet = ((mc.get("properties") or {}).get("identityProfile") or {}).get("kubeletidentity") or {}
                if kubelet.get("objectId"):
                    kubelets.add(kubelet["objectId"].lower())
        if clusters and all(v is not None for v in clusters.values()):
            for hint in self.plan.clusters:
                if hint.name not in matched:
                    self.calls.errors.append(
                        CoverageError(
                            source="azure",
                            location=f"GET /subscriptions/{{{','.join(clusters)}}}/providers/"
                            "Microsoft.ContainerService/managedClusters",
                            reason=f"no AKS cluster in subscription(s) {', '.join(clusters)} matches this cluster "
                            f"(node resource group {', '.join(sorted(hint.node_resource_groups)) or 'unknown'}, "
                            f"issuer {hint.issuer or 'unknown'}): its kubelet identity is not checked",
                            subject=hint.name,
                        )
                    )
        return kubelets

    def _phase_two(self, needed: list[JSON], principals: list[str]) -> dict[str, list[JSON]]:
        jobs: list[Callable[[], Fetched]] = [partial(self._federated, i) for i in needed]
        per_principal = len(principals) <= PER_PRINCIPAL_MAX
        if principals:
            for sub in self.plan.subscriptions:
                if per_principal:
                    jobs += [partial(self._assignments, sub, p) for p in principals]
                else:
                    jobs.append(partial(self._assignments, sub, None))
        credentials: dict[str, dict[str, list[JSON]]] = {}
        assignments: dict[str, dict[str, JSON]] = {}
        failed: set[str] = set()
        for kind, key, result in self.calls.parallel("azure: federated credentials and role assignments", jobs):
            if kind == "fic":
                if result is not None:
                    sub = parse_resource_id(key)[0].lower()
                    credentials.setdefault(sub, {})[key] = result
            elif result is None:
                failed.add(key)
            else:
                bucket = assignments.setdefault(key, {})
                for ra in result:
                    bucket.setdefault(ra.get("id", "").lower(), ra)
        for sub, by_identity in credentials.items():
            self._write(sub, "federated-credentials.json", dict(sorted(by_identity.items())))
        written: dict[str, list[JSON]] = {}
        for sub, by_id in assignments.items():
            # A partly failed per-principal listing would look like "no assignments" for the missing
            # principal: the file is only written when every listing of the subscription succeeded.
            if sub in failed:
                continue
            written[sub] = _sorted(by_id.values())
            self._write(sub, "role-assignments.json", written[sub])
        return written

    def _federated(self, identity: JSON) -> Fetched:
        sub, rg, name = parse_resource_id(identity["id"])
        client = self.clients.get(sub.lower())
        if client is None:  # listed in a subscription in scope, so always present; be safe
            return "fic", identity["id"], None
        return (
            "fic",
            identity["id"],
            self.calls.call(
                lambda: _sorted(
                    to_rest(c)
                    for c in client.msi.federated_identity_credentials.list(resource_group_name=rg, resource_name=name)
                ),
                location=f"azure/{sub.lower()}/federated-credentials.json "
                f"(GET {identity['id']}/federatedIdentityCredentials)",
                subject=identity["id"],
            ),
        )

    def _assignments(self, sub: str, principal: str | None) -> Fetched:
        client = self.clients[sub].authorization
        query = f"principalId eq '{principal}'" if principal else None
        return (
            "ra",
            sub,
            self.calls.call(
                lambda: [to_rest(ra) for ra in client.role_assignments.list_for_subscription(filter=query)],
                location=f"azure/{sub}/role-assignments.json (GET /subscriptions/{sub}/providers/"
                f"Microsoft.Authorization/roleAssignments{f'?$filter={query}' if query else ''})",
                subject=principal or sub,
            ),
        )


# Write-only secrets of a managed cluster. ARM does not return them today; if an API version ever
# did, they must still not reach an evidence directory.
_CLUSTER_SECRETS = (
    ("servicePrincipalProfile", "secret"),
    ("windowsProfile", "adminPassword"),
    ("aadProfile", "serverAppSecret"),
)


def _scrub(cluster: JSON) -> JSON:
    props = cluster.get("properties")
    if not isinstance(props, dict):
        return cluster
    props = dict(props)
    for section, key in _CLUSTER_SECRETS:
        if isinstance(props.get(section), dict) and key in props[section]:
            props[section] = {k: v for k, v in props[section].items() if k != key}
    return {**cluster, "properties": props}


def _client_id(identity: JSON) -> str:
    return str((identity.get("properties") or {}).get("clientId") or "").lower()


def _principal_id(identity: JSON) -> str:
    return str((identity.get("properties") or {}).get("principalId") or "").lower()


def _sorted(items: Iterable[JSON]) -> list[JSON]:
    """Sorted by id: two collections of the same state give the same files."""
    return sorted(items, key=lambda x: str(x.get("id", "")).lower())
