"""RBAC evaluated as the API server does: each test would fail if that semantic were wrong."""

from __future__ import annotations

from typing import Any

import pytest
from kubeiam_kubernetes.judge.rbac import RbacIndex, aggregate, resource_matches, rule_allows
from kubeiam_kubernetes.judge.rbac_model import Rule, UserInfo, service_account_user
from test_rbac_fixtures import binding, cluster, defaults, role, rule

ALICE = UserInfo("alice", frozenset({"system:authenticated"}))


def rules_of(index: RbacIndex, name: str) -> tuple[Rule, ...]:
    return index.rules[("ClusterRole", None, name)]


def can(index: RbacIndex, rule_: tuple[str, ...], user: UserInfo = ALICE) -> bool:
    """rule_ = (verb, group, resource, subresource, namespace, name)."""
    verb, group, resource, sub, ns, name = rule_
    return bool(index.allowed(user, verb, group, resource, sub, ns or None, name))


# -- matching --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "resource", "sub", "matches"),
    [
        ("pods", "pods", "exec", False),  # the parent never covers a subresource
        ("pods/exec", "pods", "exec", True),
        ("*/exec", "pods", "exec", True),  # */sub: that subresource of every resource
        ("*/exec", "pods", "", False),
        ("*/scale", "pods", "exec", False),
        ("pods/*", "pods", "exec", False),  # no prefix globs in RBAC
        ("*", "pods", "exec", True),
        ("*", "serviceaccounts", "token", True),
    ],
)
def test_resource_matching(resources: str, resource: str, sub: str, matches: bool) -> None:
    r = Rule(frozenset({"create"}), frozenset({""}), frozenset(resources.split(",")))
    assert resource_matches(r, resource, sub) is matches


def test_resource_names_restrict_named_requests_only() -> None:
    r = Rule(frozenset({"get", "create", "list"}), frozenset({""}), frozenset({"secrets"}), frozenset({"a"}))
    assert rule_allows(r, "get", "", "secrets", name="a")
    assert not rule_allows(r, "get", "", "secrets", name="b")
    # create and an unnamed list carry no name: a rule with resourceNames never allows them
    assert not rule_allows(r, "create", "", "secrets")
    assert not rule_allows(r, "list", "", "secrets")
    assert rule_allows(r, "list", "", "secrets", name="a")  # list with fieldSelector metadata.name=a


def test_wildcards_in_verbs_groups_and_resources() -> None:
    r = Rule(frozenset({"*"}), frozenset({"*"}), frozenset({"*"}))
    assert rule_allows(r, "impersonate", "", "serviceaccounts", name="x")
    assert rule_allows(r, "create", "apps", "deployments")
    core_only = Rule(frozenset({"*"}), frozenset({""}), frozenset({"*"}))
    assert not rule_allows(core_only, "create", "apps", "deployments")
    extensions = Rule(frozenset({"create"}), frozenset({"extensions"}), frozenset({"deployments"}))
    assert not rule_allows(extensions, "create", "apps", "deployments")  # a group is matched exactly


# -- aggregation -----------------------------------------------------------------------------------


def test_bootstrap_admin_edit_view_aggregate_transitively() -> None:
    index = RbacIndex(defaults())
    admin, edit, view = (rules_of(index, n) for n in ("admin", "edit", "view"))
    token = ("create", "", "serviceaccounts", "token", "ns", "x")
    assert any(rule_allows(r, *token[:4], name="x") for r in edit)  # from system:aggregate-to-edit
    assert any(rule_allows(r, *token[:4], name="x") for r in admin)  # edit is labelled aggregate-to-admin
    assert not any(rule_allows(r, *token[:4], name="x") for r in view)
    key = {(r.verbs, r.api_groups, r.resources, r.resource_names) for r in view}
    assert key <= {(r.verbs, r.api_groups, r.resources, r.resource_names) for r in edit}
    assert {r.origin for r in view} == {"ClusterRole/system:aggregate-to-view"}
    # the stored rules are `null`: without aggregation these roles would grant nothing
    assert all(r.rules == () for r in defaults().roles if r.name in ("admin", "edit", "view"))


@pytest.mark.parametrize(
    ("selector", "sources"),
    [
        ({"matchLabels": {"tier": "a"}}, {"a"}),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "c"]}]}, {"a", "c"}),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
            {"c", "plain"},
        ),  # no key: NotIn holds
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"a", "c"}),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"plain"}),
        (
            {"matchLabels": {"tier": "a"}, "matchExpressions": [{"key": "team", "operator": "In", "values": ["y"]}]},
            set(),
        ),
        ({}, {"a", "c", "plain"}),  # an empty selector selects every other ClusterRole
        (None, {"a", "c", "plain"}),  # so does a null entry (it decodes as an empty selector)
    ],
)
def test_label_selectors_match_as_kubernetes_does(selector: dict[str, Any] | None, sources: set[str]) -> None:
    objs = cluster(
        role("aggregator", aggregation=[selector]),
        role("a", rule("create", "pods"), labels={"tier": "a", "team": "x"}),
        role("c", rule("get", "secrets"), labels={"tier": "c"}),
        role("plain", rule("list", "nodes")),
    )
    assert objs.problems == ()
    assert {r.origin for r in rules_of(RbacIndex(objs), "aggregator")} == {f"ClusterRole/{s}" for s in sources}


def test_aggregation_is_transitive_through_other_aggregated_roles() -> None:
    objs = cluster(
        role("top", aggregation=[{"matchLabels": {"to-top": "true"}}]),
        role("middle", labels={"to-top": "true"}, aggregation=[{"matchLabels": {"to-middle": "true"}}]),
        role("leaf", rule("create", "pods"), labels={"to-middle": "true"}),
    )
    assert [r.origin for r in rules_of(RbacIndex(objs), "top")] == ["ClusterRole/leaf"]


def test_aggregation_cycles_end_and_a_role_never_aggregates_itself() -> None:
    objs = cluster(
        role("x", rule("get", "pods"), labels={"agg": "y"}, aggregation=[{"matchLabels": {"agg": "x"}}]),
        role("y", rule("get", "secrets"), labels={"agg": "x"}, aggregation=[{"matchLabels": {"agg": "y"}}]),
        role("self", rule("get", "nodes"), labels={"agg": "self"}, aggregation=[{"matchLabels": {"agg": "self"}}]),
    )
    index = RbacIndex(objs)
    assert {frozenset(r.resources) for r in rules_of(index, "x")} == {frozenset({"pods"}), frozenset({"secrets"})}
    assert {frozenset(r.resources) for r in rules_of(index, "y")} == {frozenset({"pods"}), frozenset({"secrets"})}
    assert [r.origin for r in rules_of(index, "self")] == [""]


def test_aggregate_leaves_roles_without_a_rule_alone() -> None:
    objs = cluster(role("p", rule("get", "pods"), labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"}))
    roles = {r.name: r for r in objs.roles}
    assert aggregate(roles)["p"] == roles["p"].rules


# -- binding scope ---------------------------------------------------------------------------------


def test_a_rolebinding_to_a_clusterrole_grants_only_in_its_namespace() -> None:
    index = RbacIndex(cluster(binding("alice-edit", "edit", "User:alice", namespace="a"), with_bootstrap=True))
    assert can(index, ("create", "", "pods", "", "a", ""))
    assert not can(index, ("create", "", "pods", "", "b", ""))
    assert not can(index, ("create", "", "pods", "", "", ""))  # nor at the cluster scope


def test_rules_through_a_rolebinding_never_reach_cluster_scoped_resources() -> None:
    objs = cluster(
        role("crb-writer", rule("create", "clusterrolebindings", "rbac.authorization.k8s.io")),
        binding("rb", "crb-writer", "User:alice", namespace="a"),
    )
    index = RbacIndex(objs)
    # kubectl auth can-i pattern-matches and says yes; the API server refuses (KubeHound ROLE_BIND.md)
    assert not can(index, ("create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", ""))
    assert can(index, ("create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "a", ""))  # meaningless


def test_a_clusterrolebinding_grants_everywhere() -> None:
    index = RbacIndex(cluster(binding("crb", "edit", "User:alice"), with_bootstrap=True))
    assert can(index, ("create", "", "pods", "", "a", "")) and can(index, ("create", "", "pods", "", "z", ""))


# -- subjects and implicit groups ------------------------------------------------------------------


def test_serviceaccount_subjects_default_to_the_rolebinding_namespace() -> None:
    objs = cluster(role("pods", rule("create", "pods")), binding("rb", "pods", "ServiceAccount:ci", namespace="a"))
    (b,) = objs.bindings
    assert b.subjects[0].namespace == "a"
    index = RbacIndex(objs)
    assert can(index, ("create", "", "pods", "", "a", ""), service_account_user("a", "ci"))
    assert not can(index, ("create", "", "pods", "", "a", ""), service_account_user("b", "ci"))


def test_a_user_subject_with_a_serviceaccount_username_is_that_serviceaccount() -> None:
    objs = cluster(role("pods", rule("create", "pods")), binding("crb", "pods", "User:system:serviceaccount:a:ci"))
    index = RbacIndex(objs)
    assert can(index, ("create", "", "pods", "", "x", ""), service_account_user("a", "ci"))
    assert objs.bindings[0].subjects[0].principal == "serviceaccount:a/ci"


@pytest.mark.parametrize(
    ("group", "who", "allowed"),
    [
        ("system:serviceaccounts:a", service_account_user("a", "x"), True),
        ("system:serviceaccounts:a", service_account_user("b", "x"), False),
        ("system:serviceaccounts:a", ALICE, False),
        ("system:serviceaccounts", service_account_user("b", "x"), True),
        ("system:serviceaccounts", ALICE, False),
        ("system:authenticated", service_account_user("b", "x"), True),
        ("system:authenticated", ALICE, True),
        ("system:unauthenticated", ALICE, False),
    ],
)
def test_implicit_groups(group: str, who: UserInfo, allowed: bool) -> None:
    index = RbacIndex(cluster(role("pods", rule("create", "pods")), binding("crb", "pods", f"Group:{group}")))
    assert can(index, ("create", "", "pods", "", "n", ""), who) is allowed


def test_nonresource_rules_grant_nothing_here() -> None:
    index = RbacIndex(defaults())
    everyone = UserInfo("someone", frozenset({"system:authenticated", "system:unauthenticated"}))
    assert not can(index, ("get", "", "pods", "", "n", ""), everyone)
    grants = index.allowed(everyone, "create", "authorization.k8s.io", "selfsubjectaccessreviews")
    assert [g.binding.name for g in grants] == ["system:basic-user"]
