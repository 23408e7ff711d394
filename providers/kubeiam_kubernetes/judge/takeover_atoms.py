"""What one RBAC rule contributes to "who can become a ServiceAccount".

A rule is cut into atoms once per role; each atom is either a direct technique (with what it
reaches: any ServiceAccount of the scope, or named ServiceAccounts / pods / Secrets / nodes) or a
lever that only counts in combination (bind, escalate, writing bindings, creating Secrets,
impersonating users and groups). Matching goes through `rbac.rule_allows`, so `*`, `*/exec` and
resourceNames behave as in the API server.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeiam_kubernetes.judge.rbac import rule_allows
from kubeiam_kubernetes.judge.rbac_model import Rule

RBAC_GROUP = "rbac.authorization.k8s.io"

# Technique names, as they appear in evidence, with what each means.
TECHNIQUES: dict[str, str] = {
    "wildcard": "every verb on every resource (cluster-admin-like), so every technique below",
    "create-pods": "create a pod in its namespace with spec.serviceAccountName set to it",
    "write-workload": "create or change a pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, "
    "CronJob, ReplicationController) in its namespace to run as it",
    "create-token": "mint a token for it (TokenRequest: create serviceaccounts/token)",
    "impersonate": "act as it through impersonation (as the ServiceAccount, or as a user or group that can)",
    "exec": "exec into a pod that runs as it and read the mounted token",
    "attach": "attach to a pod that runs as it",
    "ephemeral-container": "add an ephemeral container to a pod that runs as it",
    "patch-pod": "change the image of a pod that runs as it (its ServiceAccount cannot change, its code can)",
    "read-token-secret": "read its legacy service-account-token Secret",
    "create-token-secret": "create a service-account-token Secret for it and read the token the controller adds",
    "nodes-proxy": "run commands in its pods through the kubelet API (nodes/proxy)",
    "grant-itself": "grant itself one of these (bind a role that has it, escalate a role bound to it)",
}

# Conditions an atom puts on the target.
ANY = "any"  # any ServiceAccount of the scope
SA = "sa"  # the ServiceAccounts named
POD = "pod"  # ServiceAccounts with a running pod (named pods when names are given)
SECRET = "secret"  # ServiceAccounts with a legacy token Secret (named Secrets when names are given)
NODE = "node"  # ServiceAccounts with a pod on a node (named nodes when names are given)
LEVER = "lever"  # no target by itself

WORKLOADS = (
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "replicationcontrollers"),
)
# Impersonation verbs: the classic one, and the finer ones of constrained impersonation (KEP-5284).
IMPERSONATE_SA_VERBS = ("impersonate", "impersonate:serviceaccount")
IMPERSONATE_USER_VERBS = ("impersonate", "impersonate:user-info")


@dataclass(frozen=True)
class Atom:
    technique: str  # a TECHNIQUES key, or a lever name
    condition: str  # ANY | SA | POD | SECRET | NODE | LEVER
    verbs: str  # the verbs matched, for evidence ("create", "get (WebSocket, before 1.30)")
    resource: str  # what was matched, for evidence ("pods/exec", "deployments.apps")
    names: frozenset[str] | None  # resourceNames limiting it; None = any
    cluster_only: bool  # a cluster-scoped request: only a ClusterRoleBinding grants it
    rule: Rule

    def describe(self) -> str:
        only = f" (only {', '.join(sorted(self.names))})" if self.names is not None else ""
        return f"{self.verbs} {self.resource}{only}"


def _matched(rule: Rule, verbs: tuple[str, ...], group: str, resource: str, sub: str = "") -> list[str]:
    # The name is checked separately (resourceNames become the atom's names), so ask with a name
    # the rule will accept.
    name = next(iter(rule.resource_names)) if rule.resource_names else ""
    return [v for v in verbs if rule_allows(rule, v, group, resource, sub, name)]


def _no_names(rule: Rule) -> bool:
    return rule.resource_names is None


# Every resource a technique or lever asks about: a rule naming none of them (and no `*` form)
# contributes nothing, which is most rules; they are skipped without matching each request.
_RELEVANT = frozenset(
    {
        "pods",
        "pods/exec",
        "pods/attach",
        "pods/ephemeralcontainers",
        "serviceaccounts",
        "serviceaccounts/token",
        "secrets",
        "nodes/proxy",
        "rolebindings",
        "clusterrolebindings",
        "roles",
        "clusterroles",
        "users",
        "groups",
    }
    | {res for _group, res in WORKLOADS}
)


AtomCache = dict[tuple[object, ...], tuple["Atom", ...]]


def atoms_of_rule(rule: Rule, cache: AtomCache | None = None) -> tuple[Atom, ...]:
    """The atoms of a rule. The same rule text recurs across roles: with a `cache` (one per
    cluster), its cut is made once and reused."""
    if cache is None:
        return _cut(rule)
    key = (rule.verbs, rule.api_groups, rule.resources, rule.resource_names)
    cut = cache.get(key)
    if cut is None:
        cut = cache[key] = _cut(rule)
    if not cut or cut[0].rule is rule:
        return cut
    return tuple(Atom(a.technique, a.condition, a.verbs, a.resource, a.names, a.cluster_only, rule) for a in cut)


def _cut(rule: Rule) -> tuple[Atom, ...]:
    if not rule.resources:
        return ()  # non-resource URLs give no power over ServiceAccounts
    if rule.resources.isdisjoint(_RELEVANT) and not any(r.startswith("*") for r in rule.resources):
        return ()
    names = rule.resource_names
    if "*" in rule.verbs and "*" in rule.api_groups and "*" in rule.resources and names is None:
        return (Atom("wildcard", ANY, "*", "*.*", None, False, rule),)
    out: list[Atom] = []

    def add(
        technique: str,
        condition: str,
        verbs: list[str],
        resource: str,
        cluster_only: bool = False,
        any_name: bool = False,
    ) -> None:
        if verbs:
            out.append(
                Atom(technique, condition, ",".join(verbs), resource, None if any_name else names, cluster_only, rule)
            )

    # Creating: a create request carries no name, so a rule with resourceNames never allows it.
    if _no_names(rule):
        add("create-pods", ANY, _matched(rule, ("create",), "", "pods"), "pods")
    kinds, verbs_seen = [], set()
    for group, res in WORKLOADS:
        vs = _matched(rule, ("create", "update", "patch"), group, res)
        vs = [v for v in vs if v != "create" or _no_names(rule)]
        if vs:
            kinds.append(f"{res}.{group}" if group else res)
            verbs_seen.update(vs)
    if kinds:
        # A named Deployment whose template may be rewritten still runs as any SA of the namespace.
        out.append(
            Atom(
                "write-workload",
                ANY,
                ",".join(sorted(verbs_seen)),
                ",".join(kinds),
                None if "create" in verbs_seen else names,
                False,
                rule,
            )
        )
    add("create-token", SA, _matched(rule, ("create",), "", "serviceaccounts", "token"), "serviceaccounts/token")
    add("impersonate", SA, _matched(rule, IMPERSONATE_SA_VERBS, "", "serviceaccounts"), "serviceaccounts")
    for sub, technique in (("exec", "exec"), ("attach", "attach")):
        create = _matched(rule, ("create",), "", "pods", sub)
        # WebSocket upgrades arrive as GET; apiservers before 1.30 authorised them with `get`.
        get = (
            []
            if create
            else [f"{v} (WebSocket, apiservers before 1.30)" for v in _matched(rule, ("get",), "", "pods", sub)]
        )
        add(technique, POD, create or get, f"pods/{sub}")
    add(
        "ephemeral-container",
        POD,
        _matched(rule, ("update", "patch"), "", "pods", "ephemeralcontainers"),
        "pods/ephemeralcontainers",
    )
    add("patch-pod", POD, _matched(rule, ("update", "patch"), "", "pods"), "pods")
    read = _matched(rule, ("get", "list", "watch"), "", "secrets")
    add("read-token-secret", SECRET, read, "secrets")
    # nodes/proxy: POST for exec; GET (WebSocket) has been reported to be enough too.
    add("nodes-proxy", NODE, _matched(rule, ("create", "get"), "", "nodes", "proxy"), "nodes/proxy", True)

    # Levers: they count only together (see takeover_levers).
    if read:
        add("read-secrets", LEVER, read, "secrets", any_name=True)
    if _no_names(rule):
        add("create-secrets", LEVER, _matched(rule, ("create",), "", "secrets"), "secrets")
        add("create-rolebindings", LEVER, _matched(rule, ("create",), RBAC_GROUP, "rolebindings"), "rolebindings")
        add(
            "create-clusterrolebindings",
            LEVER,
            _matched(rule, ("create",), RBAC_GROUP, "clusterrolebindings"),
            "clusterrolebindings",
            True,
        )
        add("create-roles", LEVER, _matched(rule, ("create",), RBAC_GROUP, "roles"), "roles")
        add("create-clusterroles", LEVER, _matched(rule, ("create",), RBAC_GROUP, "clusterroles"), "clusterroles", True)
    # `bind` is checked in the namespace of the binding being written, so a RoleBinding may grant
    # `bind` on ClusterRoles for use in its namespace (registry/rbac BindingAuthorized).
    add("bind-roles", LEVER, _matched(rule, ("bind",), RBAC_GROUP, "roles"), "roles")
    add("bind-clusterroles", LEVER, _matched(rule, ("bind",), RBAC_GROUP, "clusterroles"), "clusterroles")
    add("escalate-roles", LEVER, _matched(rule, ("escalate",), RBAC_GROUP, "roles"), "roles")
    add("escalate-clusterroles", LEVER, _matched(rule, ("escalate",), RBAC_GROUP, "clusterroles"), "clusterroles", True)
    add("update-roles", LEVER, _matched(rule, ("update", "patch"), RBAC_GROUP, "roles"), "roles")
    add(
        "update-clusterroles",
        LEVER,
        _matched(rule, ("update", "patch"), RBAC_GROUP, "clusterroles"),
        "clusterroles",
        True,
    )
    add("impersonate-users", LEVER, _matched(rule, IMPERSONATE_USER_VERBS, "", "users"), "users", True)
    add("impersonate-groups", LEVER, _matched(rule, IMPERSONATE_USER_VERBS, "", "groups"), "groups", True)
    return tuple(out)


def atoms_of_rules(rules: tuple[Rule, ...], cache: AtomCache | None = None) -> tuple[Atom, ...]:
    return tuple(a for rule in rules for a in atoms_of_rule(rule, cache))
