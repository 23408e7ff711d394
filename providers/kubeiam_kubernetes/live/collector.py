"""Live collection through the `kubernetes` client into `kubernetes/<cluster>/` evidence files.

Writes exactly what `kubectl get ... -o json` prints (a `kind: List` whose items carry `kind` and
`apiVersion`, camelCase, no managedFields) so a collected directory and a hand-made one are read
by the same code, the cluster's RBAC (`rbac.json`, as `kubectl get roles,rolebindings,clusterroles,
clusterrolebindings -A -o json` prints it), and the kubeconfig's entry for the cluster (`kubeconfig.json`,
no credentials). Read-only, `get`/`list` only; Secrets are never requested, so no `token-secrets.json` is
written: K8S-006 then takes a legacy token Secret as possibly present (whoever may read the namespace's
Secrets is a possible takeover, said so in its evidence), which leaves nothing unchecked to report.

A cluster that cannot be read at all (credentials refused, no connection, every request refused) is a
coverage error with the cluster as subject and `whole`: the other contexts are still collected, and the
run cannot pass as clean. When no context could be reached the run ends with exit 2 and one line per
context: there is nothing to report, and the cause is the set-up (VPN, expired login), not the cluster.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import write_json_file
from kubeiam.pipeline.progress import progress_of
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.model import CoverageError
from kubeiam_kubernetes.declarations import KUBERNETES
from kubeiam_kubernetes.evidence.rbac import RBAC_FILE, TAKEOVER_RULES
from kubeiam_kubernetes.live.clients import CONCURRENCY, Absent, ClusterApi, Raw, Unreachable
from kubeiam_kubernetes.live.kubeconfig import Target, resolve_targets
from kubeiam_kubernetes.live.plan import (
    CONFIG_MAPS,
    NAMESPACES,
    NODES,
    SERVICE_ACCOUNTS,
    FirstServed,
    GetConfigMap,
    GetServiceAccount,
    Kind,
    ListKind,
    Plan,
    Step,
    plan_for,
)
from kubeiam_kubernetes.live.sanitize import as_kubectl_item


def collect(request: CollectRequest) -> list[CoverageError]:
    targets = resolve_targets(request.options)
    plan = plan_for(request.namespace, request.service_account)
    collectors = [_Collector(target, request, plan) for target in targets]
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="kubeiam-k8s") as pool:
        errors = [e for found in pool.map(_Collector.run, collectors) for e in found]
    lost = [c for c in collectors if c.unreachable]
    if len(lost) == len(collectors):
        raise InputError("; ".join(c.unreachable.message for c in lost if c.unreachable))
    read = [c for c in collectors if not c.unreachable]
    # What a context that could not be read might have held: it cannot be said to be absent.
    besides = "".join(f"; {c.target.label} could not be read ({c.unreachable.reason})" for c in lost if c.unreachable)
    where = ", ".join(c.target.label for c in read)
    if request.namespace and not request.service_account and all(c.namespace_missing for c in read):
        # A typo in --namespace would otherwise audit nothing and report "no findings".
        raise InputError(f"--namespace {request.namespace}: no such namespace ({where}){besides}")
    if request.service_account and not any(c.found_service_account for c in read):
        ns, name = request.service_account
        raise InputError(f"check: ServiceAccount {ns}/{name} not found ({where}) and no pod uses it{besides}")
    return errors


class _Collector:
    """One cluster's run of the plan, and its `resources.json` / `openid-configuration.json`."""

    def __init__(self, target: Target, request: CollectRequest, plan: Plan) -> None:
        self.target = target
        self.request = request
        self.plan = plan
        self.api = ClusterApi(target)
        self.found_service_account = False
        self.namespace_missing = False
        """The scope's namespace was listed (no 403) and is not there."""
        self.unreachable: Unreachable | None = None
        """Why nothing of the cluster could be read (401, TLS, no connection); None when it was read."""
        self.folder = request.output / "kubernetes" / target.cluster

    def run(self) -> list[CoverageError]:
        try:
            return self._run()
        except Unreachable as exc:
            # Nothing is written for it: its folder would claim a cluster that was read.
            self.unreachable = exc
            return [self._whole(exc.reason)]

    def _whole(self, reason: str) -> CoverageError:
        where = f"{self.target.server} ({self.target.label})"
        return CoverageError(KUBERNETES, where, reason, subject=self.target.cluster, whole=True)

    def _run(self) -> list[CoverageError]:
        steps = self.plan.steps
        rbac_steps = self.plan.rbac
        task = progress_of(self.request).task(
            f"kubernetes: {self.target.cluster}", total=len(steps) + len(rbac_steps) + 1 + self.plan.nodes_of_pods
        )
        items: list[dict[str, Any]] = []
        rbac: list[dict[str, Any]] = []
        rbac_complete = True
        try:
            # The lists do not depend on each other: side by side, bounded; their items kept in plan order
            # (a stable resources.json). Pages of one list stay one after another (each needs its token).
            with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="kubeiam-k8s-list") as pool:
                lists = [pool.submit(self._step, step) for step in steps]
                rbac_lists = [pool.submit(self._rbac_step, step) for step in rbac_steps]
                issuer = pool.submit(self._openid_configuration)
                try:
                    for done in lists:
                        items.extend(done.result())
                        task.advance()
                    for done_rbac in rbac_lists:
                        found, complete = done_rbac.result()
                        rbac.extend(found)
                        rbac_complete = rbac_complete and complete
                        task.advance()
                    oidc = issuer.result()
                except Unreachable:
                    pool.shutdown(cancel_futures=True)  # the rest would only wait for the same timeout
                    raise
                task.advance()
            if self.plan.nodes_of_pods:
                # `check`: the nodes its pods run on, which only the pods name.
                items.extend(self._nodes_of_pods(items))
                task.advance()
                self.found_service_account = self.found_service_account or any(i["kind"] == "Pod" for i in items)
        finally:
            task.done()
        self._write(items, oidc)
        if not self.api.answered and self.api.errors:
            # Every request refused (403 everywhere, a proxy's error pages): the cluster was not read at all, which
            # says everything the note below would.
            return [*self.api.errors, self._whole("every request was refused: nothing of the cluster was read")]
        if rbac_steps and rbac_complete:
            self._write_rbac(rbac)
        elif rbac_steps:
            # A list refused (403) leaves no rbac.json: no half of the RBAC passes for all of it.
            return [*self.api.errors, self._rbac_incomplete()]
        return list(self.api.errors)

    def _write(self, items: list[dict[str, Any]], oidc: Raw | None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
        write_json_file(self.folder / "resources.json", doc)
        if oidc is not None:
            write_json_file(self.folder / "openid-configuration.json", oidc)
        if self.target.kubeconfig is not None:
            write_json_file(self.folder / "kubeconfig.json", self.target.kubeconfig)

    def _write_rbac(self, items: list[dict[str, Any]]) -> None:
        doc = {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
        write_json_file(self.folder / RBAC_FILE, doc)

    def _rbac_incomplete(self) -> CoverageError:
        # The 403 itself is already a coverage error; this one says what it leaves unchecked.
        return CoverageError(
            KUBERNETES,
            f"{RBAC_FILE} ({self.target.label})",
            "not written: a list of roles or bindings could not be read, so who can act as the cluster's "
            "ServiceAccounts is unchecked",
            subject=self.target.cluster,
            rules=TAKEOVER_RULES,
        )

    # -- steps -----------------------------------------------------------------------------

    def _rbac_step(self, step: ListKind) -> tuple[list[dict[str, Any]], bool]:
        listing = self.api.list_kind(step.kind, step.namespace)
        return _as_kubectl(listing.items, step.kind), listing.complete

    def _step(self, step: Step) -> list[dict[str, Any]]:
        if isinstance(step, GetServiceAccount):
            return self._service_account(step)
        if isinstance(step, GetConfigMap):
            return self._config_map(step)
        if isinstance(step, FirstServed):
            return self._first_served(step.kinds)
        listing = self.api.list_kind(step.kind, step.namespace, field_selector=step.field_selector)
        if step.kind == NAMESPACES and self.plan.namespace:
            self.namespace_missing = listing.complete and not listing.items
        return _as_kubectl(listing.items, step.kind)

    def _service_account(self, step: GetServiceAccount) -> list[dict[str, Any]]:
        try:
            raw = self.api.read_service_account(step.namespace, step.name)
        except Absent:
            return []
        self.found_service_account = True  # or unknown (403, recorded as a coverage error): not "absent"
        if raw is None:
            return []
        return [as_kubectl_item(raw, SERVICE_ACCOUNTS.kind, SERVICE_ACCOUNTS.api_version)]

    def _config_map(self, step: GetConfigMap) -> list[dict[str, Any]]:
        try:
            raw = self.api.read_config_map(step.namespace, step.name)
        except Absent:
            return []
        return [as_kubectl_item(raw, CONFIG_MAPS.kind, CONFIG_MAPS.api_version)] if raw is not None else []

    def _first_served(self, kinds: tuple[Kind, ...]) -> list[dict[str, Any]]:
        for kind in kinds:
            try:
                return _as_kubectl(self.api.list_kind(kind, None, absent_ok=False).items, kind)
            except Absent:
                continue
        return []

    def _nodes_of_pods(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Only the nodes this ServiceAccount's pods run on...
        names = sorted({str(i["spec"]["nodeName"]) for i in items if i["kind"] == "Pod" and _node_of(i)})
        out = []
        for name in names:
            try:
                raw = self.api.read_node(name)
            except Absent:
                continue
            if raw is not None:
                out.append(as_kubectl_item(raw, NODES.kind, NODES.api_version))
        if not out:
            # ...or one node, so the cluster's platform (providerID) is still known.
            out = _as_kubectl(self.api.list_kind(NODES, None, single_page=1).items, NODES)
        return out

    def _openid_configuration(self) -> Raw | None:
        try:
            return self.api.openid_configuration()
        except Absent:
            return None  # issuer discovery disabled: the cloud's cluster object may still give it


def _as_kubectl(raw: list[Raw], kind: Kind) -> list[dict[str, Any]]:
    return [as_kubectl_item(i, kind.kind, kind.api_version) for i in raw]


def _node_of(pod: dict[str, Any]) -> str | None:
    return (pod.get("spec") or {}).get("nodeName")
