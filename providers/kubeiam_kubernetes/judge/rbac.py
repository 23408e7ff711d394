"""RBAC evaluated as the API server does it.

- Rule matching follows `k8s.io/component-helpers/auth/rbac` (VerbMatches, APIGroupMatches,
  ResourceMatches, ResourceNameMatches): `*` matches anything, `*/sub` a subresource of every
  resource, `pods` never matches `pods/exec`, and a rule with resourceNames never matches a request
  without a name (create, list without a name fieldSelector).
- A RoleBinding grants its role only in its own namespace, even when it references a ClusterRole;
  a ClusterRoleBinding grants everywhere, including cluster-scoped resources.
- Subjects match as `rbac.appliesToUser` does: User by name, Group by membership, ServiceAccount by
  its `system:serviceaccount:NS:NAME` username (its namespace defaulted to the RoleBinding's).
- ClusterRole aggregation as the clusterrole-aggregation controller computes it: the union of the
  rules of every other ClusterRole matched by any selector, transitively. The stored rules are kept
  too (a live cluster shows them already aggregated; a manifest shows `rules: null`), so the union
  is what the authorizer sees once the controller has caught up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from kubeiam_kubernetes.judge.rbac_model import (
    Binding,
    Grant,
    LabelSelector,
    Problem,
    RbacObjects,
    Role,
    Rule,
    Subject,
    UserInfo,
)

RoleKey = tuple[str, str | None, str]  # (kind, namespace or None, name)


def verb_matches(rule: Rule, verb: str) -> bool:
    return "*" in rule.verbs or verb in rule.verbs


def group_matches(rule: Rule, group: str) -> bool:
    return "*" in rule.api_groups or group in rule.api_groups


def resource_matches(rule: Rule, resource: str, subresource: str = "") -> bool:
    if "*" in rule.resources:
        return True
    combined = f"{resource}/{subresource}" if subresource else resource
    if combined in rule.resources:
        return True
    return bool(subresource) and f"*/{subresource}" in rule.resources


def name_matches(rule: Rule, name: str) -> bool:
    return rule.resource_names is None or name in rule.resource_names


def rule_allows(rule: Rule, verb: str, group: str, resource: str, subresource: str = "", name: str = "") -> bool:
    return (
        verb_matches(rule, verb)
        and group_matches(rule, group)
        and resource_matches(rule, resource, subresource)
        and name_matches(rule, name)
    )


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    for req in selector.requirements:
        present = req.key in labels
        if req.operator in ("Equals", "In"):
            if not present or labels[req.key] not in req.values:
                return False
        elif req.operator == "NotIn":
            if present and labels[req.key] in req.values:
                return False
        elif req.operator == "Exists":
            if not present:
                return False
        elif req.operator == "DoesNotExist":
            if present:
                return False
        else:  # the parser only lets known operators through; anything else selects nothing
            return False
    return True


def subject_applies(subject: Subject, user: UserInfo) -> bool:
    if subject.kind == "User":
        return subject.name == user.username
    if subject.kind == "Group":
        return subject.name in user.groups
    return subject.username == user.username


def _rule_key(rule: Rule) -> tuple[object, ...]:
    return (rule.verbs, rule.api_groups, rule.resources, rule.resource_names, rule.non_resource_urls)


def aggregate(cluster_roles: Mapping[str, Role]) -> dict[str, tuple[Rule, ...]]:
    """The effective rules of every ClusterRole, aggregation resolved (transitively, cycle-safe)."""
    done: dict[str, tuple[Rule, ...]] = {}
    visiting: set[str] = set()
    label_maps = {name: dict(role.labels) for name, role in cluster_roles.items()}

    def resolve(name: str) -> tuple[Rule, ...]:
        if name in done:
            return done[name]
        role = cluster_roles[name]
        if role.aggregation is None or name in visiting:
            return role.rules  # in a cycle, the stored rules are what the others see right now
        visiting.add(name)
        rules = list(role.rules)
        seen = {_rule_key(r) for r in rules}
        for other in sorted(cluster_roles):
            if other == name or not any(selector_matches(s, label_maps[other]) for s in role.aggregation):
                continue
            for rule in resolve(other):
                key = _rule_key(rule)
                if key not in seen:
                    seen.add(key)
                    origin = rule.origin or f"ClusterRole/{other}"
                    rules.append(
                        Rule(
                            rule.verbs,
                            rule.api_groups,
                            rule.resources,
                            rule.resource_names,
                            rule.non_resource_urls,
                            rule.index,
                            origin,
                        )
                    )
        visiting.discard(name)
        done[name] = tuple(rules)
        return done[name]

    return {name: resolve(name) for name in cluster_roles}


class RbacIndex:
    """Roles by key with aggregation resolved, bindings by namespace; built once, read many times."""

    def __init__(self, objects: RbacObjects) -> None:
        self.objects = objects
        self.roles: dict[RoleKey, Role] = {}
        problems = list(objects.problems)
        for role in objects.roles:
            key = (role.kind, role.namespace, role.name)
            if key in self.roles:  # two documents with the same object: keep the first, say so
                problems.append(
                    Problem(
                        role.source,
                        role.path,
                        f"duplicate {role.ref}; the first one is used",
                        role.namespace,
                        "invalid",
                    )
                )
                continue
            self.roles[key] = role
        cluster = {k[2]: r for k, r in self.roles.items() if k[0] == "ClusterRole"}
        aggregated = aggregate(cluster)
        self.rules: dict[RoleKey, tuple[Rule, ...]] = {
            k: (aggregated[k[2]] if k[0] == "ClusterRole" else r.rules) for k, r in self.roles.items()
        }
        self.bindings_by_namespace: dict[str | None, list[Binding]] = defaultdict(list)
        for binding in objects.bindings:
            self.bindings_by_namespace[binding.namespace].append(binding)
            if binding.role_key() not in self.roles:
                problems.append(
                    Problem(
                        binding.source,
                        f"{binding.path}.roleRef".lstrip("."),
                        f"{binding.ref} references {binding.role_ref.kind}/{binding.role_ref.name}, which is not "
                        "in the input: what it grants is unknown",
                        binding.namespace,
                        "unresolved-role",
                    )
                )
        self.problems: tuple[Problem, ...] = tuple(problems)

    def role_of(self, binding: Binding) -> Role | None:
        return self.roles.get(binding.role_key())

    def rules_of(self, binding: Binding) -> tuple[Rule, ...]:
        return self.rules.get(binding.role_key(), ())

    def bindings_for(self, namespace: str | None) -> Iterable[Binding]:
        """The bindings the authorizer visits for a request in `namespace` (None: cluster-scoped)."""
        yield from self.bindings_by_namespace.get(None, ())
        if namespace is not None:
            yield from self.bindings_by_namespace.get(namespace, ())

    def allowed(
        self,
        user: UserInfo,
        verb: str,
        api_group: str,
        resource: str,
        subresource: str = "",
        namespace: str | None = None,
        name: str = "",
    ) -> tuple[Grant, ...]:
        """Every grant that allows the request; empty means RBAC denies it."""
        out = []
        for binding in self.bindings_for(namespace):
            if not any(subject_applies(s, user) for s in binding.subjects):
                continue
            role = self.role_of(binding)
            for rule in self.rules_of(binding):
                if rule_allows(rule, verb, api_group, resource, subresource, name):
                    out.append(Grant(binding, role, rule))
        return tuple(out)
