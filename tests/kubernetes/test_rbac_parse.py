"""Reading RBAC JSON: real variants accepted; what is not understood is named, never dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubeiam_kubernetes.judge.rbac import RbacIndex
from kubeiam_kubernetes.judge.rbac_model import Problem, RbacObjects, Subject
from kubeiam_kubernetes.judge.rbac_parse import parse_rbac
from kubeiam_kubernetes.judge.takeover import TakeoverIndex
from kubeiam_kubernetes.judge.takeover_model import Target
from test_rbac_fixtures import binding, documents, role, rule

SRC = "kubernetes/prod/rbac.json"


def parse(doc: Any, **kw: Any) -> RbacObjects:
    return parse_rbac([(SRC, doc)], **kw)


def paths(problems: tuple[Problem, ...]) -> list[tuple[str, str]]:
    return [(p.path, p.kind) for p in problems]


def test_kubectl_list_output_round_trips_through_json() -> None:
    # What `kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o json` prints.
    items = [doc for _s, d in documents("k8s-defaults/cluster-roles.yaml") for doc in d["items"]]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
    objs = parse(json.loads(text))
    assert objs.problems == () and len(objs.roles) == 31
    cluster_admin = next(r for r in objs.roles if r.name == "cluster-admin")
    assert cluster_admin.rules[0].verbs == frozenset({"*"}) and cluster_admin.rules[1].non_resource_urls


def test_typed_lists_whose_items_have_no_kind() -> None:
    # The API's own RoleList / ClusterRoleBindingList (client-go, curl) leave `kind` off the items.
    roles = {"kind": "RoleList", "items": [{"metadata": {"name": "r", "namespace": "a"}, "rules": []}]}
    crbs = {
        "kind": "ClusterRoleBindingList",
        "items": [{"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": None}],
    }
    objs = parse_rbac([("roles.json", roles), ("crbs.json", crbs), ("empty.json", {"kind": "RoleList", "items": None})])
    assert objs.problems == ()
    assert [(r.kind, r.namespace) for r in objs.roles] == [("Role", "a")]
    assert objs.bindings[0].kind == "ClusterRoleBinding" and objs.bindings[0].subjects == ()


def test_single_objects_and_arrays_and_empty_documents() -> None:
    objs = parse_rbac(
        [
            ("one.yaml", role("r", rule("get", "pods"))),
            ("many.json", [binding("b", "r", "User:u")]),
            ("blank.yaml", None),
        ]
    )
    assert (len(objs.roles), len(objs.bindings), objs.problems) == (1, 1, ())


def test_rules_null_absent_and_empty_all_mean_no_rules() -> None:
    items: list[dict[str, Any]] = [
        {"kind": "ClusterRole", "metadata": {"name": n}, **extra}
        for n, extra in (("null", {"rules": None}), ("absent", {}), ("empty", {"rules": []}))
    ]
    objs = parse({"kind": "List", "items": items})
    assert objs.problems == () and all(r.rules == () for r in objs.roles)


@pytest.mark.parametrize(
    ("item", "path", "kind"),
    [
        ({"kind": "ClusterRole", "metadata": {}}, "items[0].metadata.name", "unreadable"),
        ({"kind": "Role", "metadata": {"name": "r"}}, "items[0].metadata.namespace", "unreadable"),
        (
            {
                "kind": "ClusterRole",
                "metadata": {"name": "r"},
                "rules": [{"verbs": "get", "apiGroups": [""], "resources": ["pods"]}],
            },
            "items[0].rules[0].verbs",
            "unreadable",
        ),
        (
            {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]},
            "items[0].rules[0].verbs",
            "unreadable",
        ),
        (
            {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "resources": ["pods"]}]},
            "items[0].rules[0].apiGroups",
            "invalid",
        ),
        (
            {
                "kind": "ClusterRole",
                "metadata": {"name": "r"},
                "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": [1]}],
            },
            "items[0].rules[0].resourceNames",
            "unreadable",
        ),
        (
            {
                "kind": "ClusterRole",
                "metadata": {"name": "r"},
                "aggregationRule": {"clusterRoleSelectors": [{"matchExpressions": [{"key": "k", "operator": "Like"}]}]},
            },
            "items[0].aggregationRule.clusterRoleSelectors[0].matchExpressions[0].operator",
            "unreadable",
        ),
        (
            {"kind": "ClusterRoleBinding", "metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "r"}},
            "items[0].roleRef",
            "invalid",
        ),
        ({"kind": "ClusterRoleBinding", "metadata": {"name": "b"}}, "items[0].roleRef", "unreadable"),
        (
            {
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "b"},
                "roleRef": {"kind": "ClusterRole", "name": "r"},
                "subjects": [{"kind": "Robot", "name": "x"}],
            },
            "items[0].subjects[0].kind",
            "unreadable",
        ),
        (
            {
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "b"},
                "roleRef": {"kind": "ClusterRole", "name": "r"},
                "subjects": [{"kind": "ServiceAccount", "name": "x"}],
            },
            "items[0].subjects[0].namespace",
            "invalid",
        ),
        ({"kind": "Pod", "metadata": {"name": "p"}}, "items[0].kind", "skipped-kind"),
        ("not an object", "items[0]", "unreadable"),
    ],
)
def test_what_cannot_be_understood_is_named_with_its_path(item: Any, path: str, kind: str) -> None:
    objs = parse({"kind": "List", "items": [item, role("ok", rule("get", "pods"))]})
    assert paths(objs.problems) == [(path, kind)]
    assert "ok" in {r.name for r in objs.roles}  # one bad item never sinks the others
    assert all(p.source == SRC for p in objs.problems)


def test_a_bad_rule_keeps_the_rest_of_its_role_and_a_bad_subject_the_rest_of_its_binding() -> None:
    r = role("r", rule("create", "pods"), {"verbs": ["get"], "apiGroups": [""], "resources": "secrets"})
    b = binding("b", "r", "User:u")
    b["subjects"].insert(0, {"kind": "Robot", "name": "x"})
    objs = parse({"kind": "List", "items": [r, b]})
    assert paths(objs.problems) == [
        ("items[0].rules[1].resources", "unreadable"),
        ("items[1].subjects[0].kind", "unreadable"),
    ]
    assert len(objs.roles[0].rules) == 1 and objs.roles[0].rules[0].index == 0
    assert objs.bindings[0].subjects == (Subject("User", "u"),)


def test_unreadable_documents_are_named() -> None:
    objs = parse_rbac([("a.json", 42), ("b.json", {"kind": "List", "items": {"x": 1}})])
    assert [(p.source, p.path) for p in objs.problems] == [("a.json", "(document)"), ("b.json", "items")]


def test_a_missing_role_is_unknown_not_empty() -> None:
    objs = parse({"kind": "List", "items": [binding("b", "gone", "User:u", namespace="a")]})
    (p,) = RbacIndex(objs).problems
    assert (p.kind, p.namespace, p.path) == ("unresolved-role", "a", "items[0].roleRef")


def test_problems_reach_the_targets_they_could_hide_something_from() -> None:
    bad_role = {"kind": "Role", "metadata": {"name": "r", "namespace": "a"}, "rules": [{"verbs": 1}]}
    bad_crb = {"kind": "ClusterRoleBinding", "metadata": {"name": "b"}, "roleRef": {}}
    objs = parse({"kind": "List", "items": [bad_role, bad_crb, {"kind": "ConfigMap", "metadata": {"name": "c"}}]})
    index = TakeoverIndex(objs)
    in_a = index.who_can_become(Target("a", "app")).unchecked
    in_b = index.who_can_become(Target("b", "app")).unchecked
    assert [p.path for p in in_a] == ["items[1].roleRef", "items[0].rules[0].verbs"]
    assert [p.path for p in in_b] == ["items[1].roleRef"]  # a Role of `a` cannot hide anything in b
    assert not index.who_can_become(Target("b", "app")).complete


def test_default_namespace_plays_kubectl_minus_n() -> None:
    manifest = [
        ("m.yaml", role("r", rule("create", "pods"), namespace="x")),
        ("m.yaml#1", binding("b", "r", "ServiceAccount:ci", namespace="x", role_kind="Role")),
    ]
    for _src, doc in manifest:
        del doc["metadata"]["namespace"]
    assert [p.path for p in parse_rbac(manifest).problems] == ["metadata.namespace", "metadata.namespace"]
    objs = parse_rbac(manifest, default_namespace="default")
    assert objs.roles[0].namespace == "default" and objs.bindings[0].namespace == "default"
    assert objs.bindings[0].subjects == (Subject("ServiceAccount", "ci", "default"),)


def test_a_real_serviceaccount_subject_without_namespace() -> None:
    # KubeHound's IDENTITY_IMPERSONATE RoleBinding names its ServiceAccount without a namespace.
    objs = parse_rbac(documents("kubehound/IDENTITY_IMPERSONATE.yaml"))
    (b,) = objs.bindings
    assert b.subjects == (Subject("ServiceAccount", "impersonate-sa", "default"),)
    raw = next(d for _s, d in documents("kubehound/IDENTITY_IMPERSONATE.yaml") if d["kind"] == "RoleBinding")
    assert "namespace" not in raw["subjects"][0]  # the default came from the binding, as the authorizer does
