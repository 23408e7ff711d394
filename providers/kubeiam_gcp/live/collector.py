"""Fetch what a plan names, each object once, in a few dependent phases, and write the evidence files.

Phases (each one's calls run concurrently, bounded per API by `Caller`):
0. a central audit only (`hierarchy.py`): folders.list and projects.list under the folders and organisations.
1. per project: projects.get (unless listed in phase 0), projects.getIamPolicy, searchAllIamPolicies,
   serviceAccounts.list (audit only); per cluster: clusters.get (clusters.list once per project for
   clusters known only by their nodes).
2. per annotated GSA: serviceAccounts.get (check only), getIamPolicy (audit: only when the asset
   search did not return its policy), keys.list; meanwhile the ancestors, level by level:
   folders.get up to the organisation, shared by all projects.
3. folders/organizations getIamPolicy for each distinct ancestor.
4. the custom roles bound in everything read so far: roles.get each, or roles.list (FULL) for a
   project binding many of its own roles; beside them, the usage data of the identities in scope
   (`usage.py`: recommender insights and recommendations, Policy Analyzer last authentication).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import wait
from functools import partial
from pathlib import Path
from typing import Any

from kubeiam.pipeline.progress import Progress
from kubeiam.vocabulary.model import CoverageError

from .clients import NOT_FOUND, Caller, Clients, Pools, policy_request, raise_bugs, tick
from .hierarchy import Listed
from .plan import ClusterRef, Plan, roles_in, sa_policies_in_assets
from .to_json import cluster as cluster_json
from .to_json import iam_policy, project_v1, rest_json, service_account_key, write_json
from .usage import UsageCollector

RM, IAM, CONTAINER, ASSET = "cloudresourcemanager", "iam", "container", "cloudasset"
"""The APIs; each has its own bounded pool of workers (and `Caller`'s semaphore as a backstop)."""

LIST_ROLES_FROM = 2
"""A project binding at least this many of its own custom roles is read with one roles.list (FULL)
rather than one roles.get per role. Why 2: a project holds at most 300 custom roles (IAM quota) and a
page holds 1,000, so the list is always one call; one role is a get (same cost, fewer bytes)."""


class Collector:
    def __init__(
        self,
        plan: Plan,
        clients: Clients,
        caller: Caller,
        output: Path,
        progress: Progress,
        listed: Listed | None = None,
    ) -> None:
        listed = listed or Listed()
        self.plan = plan
        self.clients = clients
        self.caller = caller
        self.output = output
        self.progress = progress
        # project id -> v3 Project message; a central audit's listing already returned it (and its folders).
        self.projects: dict[str, Any] = {p: v for p, v in listed.projects.items() if p in plan.projects}
        self.project_policies: dict[str, dict] = {}
        self.assets: dict[str, list[dict]] = {}
        self.account_lists: dict[str, list[dict]] = {}  # audit: every account of the project
        self.accounts: dict[str, dict] = {}  # email -> account (check: the ones fetched by get)
        self.accounts_failed: set[str] = set()
        self.sa_policies: dict[str, Mapping[str, Any]] = {}
        self.sa_keys: dict[str, list[dict]] = {}
        self.parents: dict[str, str | None] = dict(listed.parents)  # folders/N -> its parent, once read
        self.ancestor_policies: dict[str, dict] = {}
        self.clusters: dict[ClusterRef, dict] = {}
        self.roles: dict[str, dict] = {}
        self.gsas: dict[str, tuple[str, ...]] = dict(plan.service_accounts)
        self.usage = UsageCollector(plan, clients, caller)

    # -- orchestration -------------------------------------------------------------------------

    def run(self, pools: Pools) -> None:
        self._phase(pools, "gcp: projects and clusters", self._phase1_jobs())
        self._place_by_number()
        self._policies_from_assets()
        sa_jobs = [job for p in self.plan.projects for email in self.gsas.get(p, ()) for job in self._sa_jobs(p, email)]
        sa_task = self.progress.task("gcp: service accounts", total=len(sa_jobs))
        # IAM calls (the many) and the ancestry walk (Resource Manager) run side by side: separate pools.
        sa_futures = [pools.submit(IAM, tick(job, sa_task)) for job in sa_jobs]
        self._walk_ancestors(pools)
        ancestors = sorted({a for p in self.plan.projects for a in self._chain(p)})
        jobs = [(RM, self._ancestor_policy_job(a)) for a in ancestors]
        self._phase(pools, "gcp: ancestors' IAM policies", jobs)
        wait(sa_futures)
        raise_bugs(sa_futures)
        sa_task.done()
        # Usage data (issue 14) beside the custom roles: other APIs, other pools.
        usage_jobs = self.usage.jobs(
            self.project_policies, self.gsas, self.account_lists, self.sa_keys, self.accounts.values()
        )
        usage_task = self.progress.task("gcp: usage data", total=len(usage_jobs))
        usage_futures = [pools.submit(service, tick(job, usage_task)) for service, job in usage_jobs]
        self._phase(pools, "gcp: custom roles", [(IAM, job) for job in self._role_jobs()])
        wait(usage_futures)
        raise_bugs(usage_futures)
        usage_task.done()

    def _phase(self, pools: Pools, title: str, jobs: list[tuple[str, Callable[[], None]]]) -> None:
        task = self.progress.task(title, total=len(jobs))
        futures = [pools.submit(service, tick(job, task)) for service, job in jobs]
        wait(futures)
        raise_bugs(futures)
        task.done()

    def _phase1_jobs(self) -> list[tuple[str, Callable[[], None]]]:
        jobs: list[tuple[str, Callable[[], None]]] = []
        for p in self.plan.projects:
            if p not in self.projects:
                jobs.append((RM, partial(self._project, p)))
            jobs.append((RM, partial(self._project_policy, p)))
            jobs.append((ASSET, partial(self._assets, p)))
            if not self.plan.check:
                jobs.append((IAM, partial(self._account_list, p)))
        jobs += [(CONTAINER, partial(self._cluster, c)) for c in self.plan.clusters]
        for project in sorted({u.project for u in self.plan.unlocated}):
            jobs.append((CONTAINER, partial(self._cluster_list, project)))
        return jobs

    # -- phase 1 -------------------------------------------------------------------------------

    def _project(self, p: str) -> None:
        found = self.caller.call(
            RM, "projects.get", f"projects/{p}",
            lambda r, t: self.clients.projects().get_project(name=f"projects/{p}", retry=r, timeout=t),
            subject=f"projects/{p}",
        )  # fmt: skip
        if found is not None:
            self.projects[p] = found

    def _project_policy(self, p: str) -> None:
        found = self.caller.call(
            RM, "projects.getIamPolicy", f"projects/{p}",
            lambda r, t: self.clients.projects().get_iam_policy(
                request=policy_request(f"projects/{p}"), retry=r, timeout=t
            ),
            subject=f"projects/{p}",
        )  # fmt: skip
        if found is not None:
            self.project_policies[p] = iam_policy(found)

    def _assets(self, p: str) -> None:
        def search(r: Any, t: float) -> list[Any]:
            request = {"scope": f"projects/{p}", "page_size": 500}
            return list(self.clients.asset().search_all_iam_policies(request=request, retry=r, timeout=t))

        found = self.caller.call(ASSET, "searchAllIamPolicies", f"projects/{p}", search, subject=f"projects/{p}")
        if found is not None:
            self.assets[p] = [rest_json(x) for x in found]

    def _account_list(self, p: str) -> None:
        def list_accounts(r: Any, t: float) -> list[Any]:
            request = {"name": f"projects/{p}", "page_size": 100}
            return list(self.clients.iam().list_service_accounts(request=request, retry=r, timeout=t))

        found = self.caller.call(
            IAM, "projects.serviceAccounts.list", f"projects/{p}", list_accounts, subject=f"projects/{p}"
        )
        if found is not None:
            self.account_lists[p] = [rest_json(a) for a in found]

    def _cluster(self, ref: ClusterRef) -> None:
        found = self.caller.call(
            CONTAINER, "projects.locations.clusters.get", ref.resource,
            lambda r, t: self.clients.container().get_cluster(name=ref.resource, retry=r, timeout=t),
            subject=ref.kubernetes_cluster,
        )  # fmt: skip
        if found is not None:
            self.clusters[ref] = cluster_json(found)

    def _cluster_list(self, p: str) -> None:
        """Clusters known only by gce:// nodes: list the project's clusters and match node names.

        Why node names: GKE names each node `<instance group>-<suffix>` and the node pool lists its
        instance groups (`.../instanceGroupManagers/gke-CLUSTER-POOL-HASH-grp`).
        """
        parent = f"projects/{p}/locations/-"
        found = self.caller.call(
            CONTAINER, "projects.locations.clusters.list", parent,
            lambda r, t: self.clients.container().list_clusters(parent=parent, retry=r, timeout=t),
            subject=f"projects/{p}",
        )  # fmt: skip
        if found is None:
            return
        for unlocated in (u for u in self.plan.unlocated if u.project == p):
            for cluster in found.clusters:
                data = cluster_json(cluster)
                prefixes = [
                    url.rpartition("/")[2].removesuffix("-grp") + "-"
                    for pool in data.get("nodePools", ())
                    for url in pool.get("instanceGroupUrls", ())
                ]
                if any(n.startswith(prefixes_) for n in unlocated.node_names for prefixes_ in prefixes):
                    ref = ClusterRef(p, data.get("location", ""), data.get("name", ""), unlocated.kubernetes_cluster)
                    self.clusters[ref] = data
                    break
            else:
                self.caller.errors.append(
                    CoverageError(
                        "gcp", f"container projects.locations.clusters.list {parent}",
                        "no GKE cluster in the project owns these nodes", unlocated.kubernetes_cluster,
                    )
                )  # fmt: skip

    # -- phase 2 -------------------------------------------------------------------------------

    def _place_by_number(self) -> None:
        numbers = {rest_json(v).get("name", "").rpartition("/")[2]: p for p, v in self.projects.items()}
        for number, emails in self.plan.by_number.items():
            project = numbers.get(number)
            if project is None:
                for email in emails:
                    self.caller.errors.append(
                        CoverageError("gcp", email, f"project number {number} is not among the projects read", email)
                    )
                continue
            self.gsas[project] = tuple(sorted({*self.gsas.get(project, ()), *emails}))

    def _sa_jobs(self, p: str, email: str) -> list[Callable[[], None]]:
        if self.plan.check:
            return [lambda: self._account_then_policy(p, email)]
        listed = self.account_lists.get(p)
        if listed is not None and not any(a.get("email") == email for a in listed):
            return []  # the account does not exist: the list already says so
        if email in self.sa_policies:  # the asset search returned it (`_policies_from_assets`)
            return [lambda: self._sa_keys(p, email)]
        return [lambda: self._sa_policy(p, email), lambda: self._sa_keys(p, email)]

    def _policies_from_assets(self) -> None:
        """Audit: take the GSA policies the project's asset search already returned; ask for no copy.

        Why only in an audit: Cloud Asset search is eventually consistent (minutes), which suits a
        scheduled audit (what Google recommends it for) and saves one call per GSA; `check`, often a
        CI gate right after a change, reads its one GSA's policy directly.
        """
        if self.plan.check:
            return
        for p in self.plan.projects:
            listed, found = self.account_lists.get(p), self.assets.get(p)
            if listed is not None and found is not None:
                self.sa_policies.update(sa_policies_in_assets(listed, found, self.gsas.get(p, ())))

    def _account_then_policy(self, p: str, email: str) -> None:
        name = f"projects/{p}/serviceAccounts/{email}"
        found = self.caller.call(
            IAM, "projects.serviceAccounts.get", name,
            lambda r, t: self.clients.iam().get_service_account(name=name, retry=r, timeout=t),
            subject=email, not_found_ok=True,
        )  # fmt: skip
        if found is NOT_FOUND:
            return
        if found is None:
            self.accounts_failed.add(email)
        else:
            self.accounts[email] = rest_json(found)
        self._sa_policy(p, email)
        self._sa_keys(p, email)

    def _sa_policy(self, p: str, email: str) -> None:
        name = f"projects/{p}/serviceAccounts/{email}"
        found = self.caller.call(
            IAM, "projects.serviceAccounts.getIamPolicy", name,
            lambda r, t: self.clients.iam().get_iam_policy(request=policy_request(name), retry=r, timeout=t),
            subject=email, not_found_ok=True,
        )  # fmt: skip
        if found is not None and found is not NOT_FOUND:
            self.sa_policies[email] = iam_policy(found)

    def _sa_keys(self, p: str, email: str) -> None:
        from google.cloud import iam_admin_v1

        name = f"projects/{p}/serviceAccounts/{email}"
        user_managed = [iam_admin_v1.ListServiceAccountKeysRequest.KeyType.USER_MANAGED]
        found = self.caller.call(
            IAM, "projects.serviceAccounts.keys.list", name,
            lambda r, t: self.clients.iam().list_service_account_keys(
                name=name, key_types=user_managed, retry=r, timeout=t
            ),
            subject=email, not_found_ok=True,
        )  # fmt: skip
        if found is not None and found is not NOT_FOUND:
            self.sa_keys[email] = [service_account_key(k) for k in found.keys]

    def _walk_ancestors(self, pools: Pools) -> None:
        """Folders level by level from the projects up: each folder read once, however many projects share it."""
        frontier = {_parent(v) for v in self.projects.values()}
        while True:
            todo = sorted(f for f in frontier if f and f.startswith("folders/") and f not in self.parents)
            if not todo:
                return
            futures = [pools.submit(RM, partial(self._folder, f)) for f in todo]
            wait(futures)
            raise_bugs(futures)
            frontier = {self.parents.get(f) for f in todo}

    def _folder(self, folder: str) -> None:
        found = self.caller.call(
            RM, "folders.get", folder,
            lambda r, t: self.clients.folders().get_folder(name=folder, retry=r, timeout=t),
            subject=folder,
        )  # fmt: skip
        self.parents[folder] = (found.parent or None) if found is not None else None

    def _chain(self, p: str) -> list[str]:
        chain: list[str] = []
        node = _parent(self.projects[p]) if p in self.projects else None
        while node and node not in chain:
            chain.append(node)
            node = self.parents.get(node) if node.startswith("folders/") else None
        return chain

    # -- phase 3 and 4 -------------------------------------------------------------------------

    def _ancestor_policy_job(self, resource: str) -> Callable[[], None]:
        def job() -> None:
            kind = resource.partition("/")[0]
            client = self.clients.folders() if kind == "folders" else self.clients.organizations()
            found = self.caller.call(
                RM, f"{kind}.getIamPolicy", resource,
                lambda r, t: client.get_iam_policy(request=policy_request(resource), retry=r, timeout=t),
                subject=resource,
            )  # fmt: skip
            if found is not None:
                self.ancestor_policies[resource] = iam_policy(found)

        return job

    def _policies_of(self, p: str) -> list[Mapping[str, Any]]:
        policies: list[Mapping[str, Any]] = [self.project_policies.get(p, {})]
        policies += [self.ancestor_policies[a] for a in self._chain(p) if a in self.ancestor_policies]
        policies += [r.get("policy", {}) for r in self.assets.get(p, ())]
        policies += [self.sa_policies[e] for e in self.gsas.get(p, ()) if e in self.sa_policies]
        return policies

    def _role_jobs(self) -> list[Callable[[], None]]:
        wanted = sorted(set().union(*(roles_in(self._policies_of(p)) for p in self.plan.projects)))
        by_project: dict[str, list[str]] = {}
        for name in wanted:
            if name.startswith("projects/"):
                by_project.setdefault(name.split("/")[1], []).append(name)
        listed = {p for p, names in by_project.items() if len(names) >= LIST_ROLES_FROM}
        jobs: list[Callable[[], None]] = [partial(self._role_list, p) for p in sorted(listed)]
        jobs += [
            partial(self._role_get, n)
            for n in wanted
            if n.startswith("organizations/") or n.split("/")[1] not in listed
        ]
        return jobs

    def _role_list(self, p: str) -> None:
        from google.cloud import iam_admin_v1

        def list_roles(r: Any, t: float) -> list[Any]:
            request = {"parent": f"projects/{p}", "view": iam_admin_v1.RoleView.FULL, "page_size": 1000}
            return list(self.clients.iam().list_roles(request=request, retry=r, timeout=t))

        found = self.caller.call(IAM, "projects.roles.list", f"projects/{p}", list_roles, subject=f"projects/{p}")
        for role in found or ():
            data = rest_json(role)
            self.roles[data["name"]] = data

    def _role_get(self, name: str) -> None:
        kind = name.partition("/")[0]
        found = self.caller.call(
            IAM, f"{kind}.roles.get", name,
            lambda r, t: self.clients.iam().get_role(request={"name": name}, retry=r, timeout=t),
            subject=name, not_found_ok=True,  # a binding to a deleted custom role grants nothing
        )  # fmt: skip
        if found is not None and found is not NOT_FOUND:
            self.roles[name] = rest_json(found)

    # -- output --------------------------------------------------------------------------------

    def write(self) -> None:
        """Write only what was read: an absent file (or key) is "not checked", never "nothing there"."""
        for p in self.plan.projects:
            base = self.output / "gcp" / p
            if p in self.projects:
                write_json(base / "project.json", project_v1(self.projects[p]))
                write_json(
                    base / "ancestors-iam-policies.json",
                    {a: self.ancestor_policies[a] for a in self._chain(p) if a in self.ancestor_policies},
                )
            if p in self.project_policies:
                write_json(base / "project-iam-policy.json", self.project_policies[p])
            if p in self.assets:
                write_json(base / "asset-iam-policies.json", self.assets[p])
            emails = self.gsas.get(p, ())
            if p in self.account_lists:
                write_json(base / "service-accounts.json", self.account_lists[p])
            elif self.plan.check and emails and not self.accounts_failed.intersection(emails):
                # A get that failed must not read as "this account does not exist".
                write_json(base / "service-accounts.json", [self.accounts[e] for e in emails if e in self.accounts])
            if emails:
                write_json(base / "service-account-iam-policies.json", _pick(self.sa_policies, emails))
                write_json(base / "service-account-keys.json", _pick(self.sa_keys, emails))
            referenced = roles_in(self._policies_of(p))
            write_json(base / "custom-roles.json", [self.roles[n] for n in sorted(referenced) if n in self.roles])
        for ref, cluster in sorted(self.clusters.items()):
            base = self.output / "gcp" / ref.project / "gke" / ref.location / ref.name
            write_json(base / "cluster.json", cluster)
            # The cluster object already carries its node pools in full: `node-pools list` would
            # return the same objects, so it costs no second call.
            write_json(base / "node-pools.json", cluster.get("nodePools", []))
        self.usage.write(self.output)


def _parent(project: Any) -> str | None:
    return getattr(project, "parent", None) or None


def _pick(found: dict[str, Any], emails: Iterable[str]) -> dict[str, Any]:
    return {e: found[e] for e in emails if e in found}
