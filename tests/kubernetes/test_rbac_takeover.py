"""Each takeover technique, its limits (resourceNames, scope, subresources) and the expected table."""

from __future__ import annotations

from typing import Any

import pytest
from kubeiam_kubernetes.judge.expected_subjects import DEFAULT_EXPECTED_SUBJECTS, expected_table
from kubeiam_kubernetes.judge.rbac_model import Subject
from kubeiam_kubernetes.judge.takeover import TakeoverIndex, who_can_become, who_can_become_all
from kubeiam_kubernetes.judge.takeover_model import ExpectedSubject, PodRef, Target, TargetTakeover
from test_rbac_fixtures import binding, cluster, defaults, role, rule, with_defaults

APP = Target("a", "app", (PodRef("app-1", "node-1"),), ("app-token-abcde",))
OTHER = Target("a", "other", (PodRef("other-1", "node-2"),), ("other-token-fghij",))
ELSEWHERE = Target("b", "app", (PodRef("app-1", "node-1"),), ("app-token-abcde",))
ALICE = Subject("User", "alice")


def judge(*items: dict[str, Any], target: Target = APP, bootstrap: bool = False) -> TargetTakeover:
    return who_can_become(cluster(*items, with_bootstrap=bootstrap), target)


def alice(result: TargetTakeover) -> set[str]:
    return {t.technique for t in result.findings if t.subject == ALICE}


def grant(*rules: dict[str, Any], namespace: str | None = "a", who: str = "User:alice") -> list[dict[str, Any]]:
    """A role with the rules bound to alice: by RoleBinding in `namespace`, or cluster-wide when None."""
    return [
        role("r", *rules, namespace=namespace),
        binding("b", "r", who, namespace=namespace, role_kind="Role" if namespace else "ClusterRole"),
    ]


# -- direct techniques -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_", "technique"),
    [
        (rule("create", "pods"), "create-pods"),
        (rule("create", "deployments", "apps"), "write-workload"),
        (rule("patch", "cronjobs", "batch"), "write-workload"),
        (rule("update", "replicationcontrollers"), "write-workload"),
        (rule("create", "serviceaccounts/token"), "create-token"),
        (rule("impersonate", "serviceaccounts"), "impersonate"),
        (rule("create", "pods/exec"), "exec"),
        (rule("create", "*/exec"), "exec"),
        (rule("get", "pods/exec"), "exec"),  # WebSocket upgrades, apiservers before 1.30
        (rule("create", "pods/attach"), "attach"),
        (rule("patch", "pods/ephemeralcontainers"), "ephemeral-container"),
        (rule("patch", "pods"), "patch-pod"),
        (rule("list", "secrets"), "read-token-secret"),
        (rule("get", "secrets"), "read-token-secret"),
        (rule("*", "*", "*"), "wildcard"),
    ],
)
def test_each_direct_technique(rule_: dict[str, Any], technique: str) -> None:
    result = judge(*grant(rule_))
    assert alice(result) == {technique}
    (t,) = result.findings
    assert t.bindings == ("RoleBinding/a/b",) and t.roles == ("Role/a/r",)
    assert alice(judge(*grant(rule_), target=ELSEWHERE)) == set()  # a RoleBinding stays in its namespace


@pytest.mark.parametrize(
    "rule_",
    [
        rule("get,list,watch", "pods,pods/log,serviceaccounts,configmaps"),  # view-like
        rule("create", "pods", names="x"),  # create carries no name: resourceNames make it useless
        rule("create", "pods", "apps"),  # wrong group
        rule("create", "deployments", "extensions"),  # no longer served: apps is what is checked
        rule("create", "pods/*"),  # RBAC has no prefix globs
        rule("create", "pods/portforward,pods/log,pods/eviction"),
        rule("create", "serviceaccounts"),  # the object, not its token
        rule("create,update,patch", "deployments/scale", "apps"),
        rule("*", "*", "custom.metrics.k8s.io"),
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
)
def test_what_is_not_a_technique(rule_: dict[str, Any]) -> None:
    assert alice(judge(*grant(rule_, namespace=None))) == set()


def test_core_wildcard_is_not_cluster_admin_but_still_a_takeover() -> None:
    found = alice(judge(*grant(rule("*", "*"))))
    assert "wildcard" not in found
    assert {"create-pods", "create-token", "impersonate", "exec", "read-token-secret"} <= found


def test_resource_names_limit_token_and_impersonation_to_the_named_serviceaccounts() -> None:
    items = grant(
        rule("create", "serviceaccounts/token", names="app"), rule("impersonate", "serviceaccounts", names="app")
    )
    assert alice(judge(*items)) == {"create-token", "impersonate"}
    assert alice(judge(*items, target=OTHER)) == set()


def test_resource_names_limit_pod_techniques_to_the_named_pods() -> None:
    items = grant(rule("create", "pods/exec,pods/attach", names="app-1"), rule("patch", "pods", names="app-1"))
    assert alice(judge(*items)) == {"exec", "attach", "patch-pod"}
    assert alice(judge(*items, target=OTHER)) == set()
    assert alice(judge(*items, target=Target("a", "app"))) == set()  # no pod, nothing to exec into


def test_secret_reads_need_a_legacy_token_secret_and_its_name() -> None:
    get_named = grant(rule("get", "secrets", names="app-token-abcde"))
    assert alice(judge(*get_named)) == {"read-token-secret"}
    assert alice(judge(*get_named, target=OTHER)) == set()
    assert alice(judge(*grant(rule("list", "secrets")), target=OTHER)) == {"read-token-secret"}
    assert alice(judge(*grant(rule("list", "secrets")), target=Target("a", "app"))) == set()  # none exists


def test_named_workload_writes_count_with_their_names() -> None:
    (t,) = judge(*grant(rule("patch", "deployments", "apps", names="web"))).findings
    assert t.technique == "write-workload" and "only web" in t.detail


def test_nodes_proxy_needs_a_clusterrolebinding_and_a_pod() -> None:
    assert alice(judge(*grant(rule("create", "nodes/proxy"), namespace=None))) == {"nodes-proxy"}
    assert alice(judge(*grant(rule("get", "nodes/proxy"), namespace=None))) == {"nodes-proxy"}
    assert alice(judge(*grant(rule("create", "nodes/proxy"), namespace="a"))) == set()
    assert alice(judge(*grant(rule("create", "nodes/proxy"), namespace=None), target=Target("a", "app"))) == set()
    named = grant(rule("create", "nodes/proxy", names="node-1"), namespace=None)
    assert alice(judge(*named)) == {"nodes-proxy"}
    assert alice(judge(*named, target=OTHER)) == set()  # its pod runs on node-2
    unknown_node = Target("a", "x", (PodRef("x-1"),))
    assert alice(judge(*named, target=unknown_node)) == {"nodes-proxy"}  # node unknown: cannot rule it out


def test_wildcard_scope_follows_the_binding() -> None:
    cluster_wide = grant(rule("*", "*", "*"), namespace=None)
    assert alice(judge(*cluster_wide, target=ELSEWHERE)) == {"wildcard"}
    assert alice(judge(*grant(rule("*", "*", "*")), target=ELSEWHERE)) == set()


# -- subjects ---------------------------------------------------------------------------------------


def test_broad_groups_are_findings_marked_broad() -> None:
    for group in ("system:authenticated", "system:serviceaccounts", "system:serviceaccounts:a"):
        (t,) = judge(*grant(rule("create", "pods"), who=f"Group:{group}")).findings
        assert t.subject == Subject("Group", group) and t.broad
    (t,) = judge(*grant(rule("create", "pods"), who="Group:devs")).findings
    assert not t.broad


def test_the_target_itself_is_not_a_finding_but_its_namespace_group_is() -> None:
    assert judge(*grant(rule("create", "pods"), who="ServiceAccount:a/app")).findings == ()
    assert judge(*grant(rule("create", "pods"), who="User:system:serviceaccount:a:app")).findings == ()
    assert len(judge(*grant(rule("create", "pods"), who="ServiceAccount:a/other")).findings) == 1


def test_own_controllers_are_expected_for_their_workload_only() -> None:
    objs = cluster(*grant(rule("patch", "deployments", "apps"), who="ServiceAccount:argocd/app-controller"))
    index = TakeoverIndex(objs)
    mine = index.who_can_become(Target("a", "app", own_controllers=("serviceaccount:argocd/app-controller",)))
    assert mine.findings == () and mine.expected[0].expected is not None
    assert len(index.who_can_become(Target("a", "other")).findings) == 1


# -- composite techniques --------------------------------------------------------------------------


def test_bind_needs_both_a_binding_writer_and_bind_on_a_role_with_a_technique() -> None:
    writer = rule("create", "rolebindings", "rbac.authorization.k8s.io")
    bind_edit = rule("bind", "clusterroles", "rbac.authorization.k8s.io", names="edit")
    bind_view = rule("bind", "clusterroles", "rbac.authorization.k8s.io", names="view")
    assert alice(judge(*grant(writer, bind_edit), bootstrap=True)) == {"grant-itself"}
    assert alice(judge(*grant(writer, bind_view), bootstrap=True)) == set()  # view has no technique
    assert alice(judge(*grant(bind_edit), bootstrap=True)) == set()  # cannot write the binding
    assert alice(judge(*grant(writer, bind_edit), bootstrap=True, target=ELSEWHERE)) == set()


def test_bind_on_roles_does_not_cover_clusterroles() -> None:
    items = grant(
        rule("create", "clusterrolebindings", "rbac.authorization.k8s.io"),
        rule("bind", "roles", "rbac.authorization.k8s.io"),
        namespace=None,
    )
    assert alice(judge(*items, bootstrap=True)) == set()


def test_escalate_and_update_on_a_role_bound_to_it() -> None:
    esc = rule("escalate,update", "roles", "rbac.authorization.k8s.io")
    assert alice(judge(*grant(esc))) == {"grant-itself"}  # it rewrites Role a/r, bound to it
    assert alice(judge(*grant(rule("escalate", "roles", "rbac.authorization.k8s.io")))) == set()
    assert alice(judge(*grant(rule("update", "roles", "rbac.authorization.k8s.io")))) == set()
    named_other = rule("escalate,update", "roles", "rbac.authorization.k8s.io", names="someone-else")
    assert alice(judge(*grant(named_other))) == set()


def test_escalate_on_clusterroles_needs_a_clusterrolebinding() -> None:
    # ClusterRoles are cluster-scoped: escalate/update on them through a RoleBinding is never allowed
    esc = rule("escalate,update", "clusterroles", "rbac.authorization.k8s.io")
    items = [role("esc", esc), binding("b", "esc", "User:alice", namespace="a")]
    assert alice(judge(*items)) == set()
    assert alice(judge(role("esc", esc), binding("b", "esc", "User:alice"))) == {"grant-itself"}


def test_levers_of_implicit_groups_count_for_their_members() -> None:
    # create rolebindings granted to every ServiceAccount of `ops`, bind on edit to one of them
    items = [
        role("writer", rule("create", "rolebindings", "rbac.authorization.k8s.io")),
        role("binder", rule("bind", "clusterroles", "rbac.authorization.k8s.io", names="edit")),
        binding("w", "writer", "Group:system:serviceaccounts:ops"),
        binding("b", "binder", "ServiceAccount:ops/bot"),
    ]
    result = judge(*items, bootstrap=True, target=ELSEWHERE)
    (t,) = result.findings
    assert (t.technique, t.subject, t.bindings) == (
        "grant-itself",
        Subject("ServiceAccount", "bot", "ops"),
        ("ClusterRoleBinding/w", "ClusterRoleBinding/b"),
    )


def test_escalate_on_a_clusterrole_bound_to_every_authenticated_user() -> None:
    # a ServiceAccount may rewrite system:basic-user, bound to system:authenticated: it gains anything
    esc = rule("escalate,update", "clusterroles", "rbac.authorization.k8s.io", names="system:basic-user")
    result = judge(*grant(esc, namespace=None, who="ServiceAccount:ops/bot"), bootstrap=True, target=ELSEWHERE)
    (t,) = [t for t in result.findings if t.subject == Subject("ServiceAccount", "bot", "ops")]
    assert t.technique == "grant-itself" and "ClusterRoleBinding/system:basic-user" in t.bindings


def test_create_secrets_and_read_them_back() -> None:
    items = grant(rule("create", "secrets"), rule("get", "secrets", names="mine"))
    assert alice(judge(*items, target=Target("a", "no-secret"))) == {"create-token-secret"}
    assert alice(judge(*grant(rule("create", "secrets")), target=Target("a", "no-secret"))) == set()


def test_a_cluster_wide_combination_is_reported_once_in_every_namespace() -> None:
    items = [
        *grant(rule("create,get", "secrets"), namespace=None),
        role("ns", rule("bind", "roles", "rbac.authorization.k8s.io"), namespace="a"),
        binding("nsb", "ns", "User:alice", namespace="a", role_kind="Role"),  # a lever of alice's in `a` too
    ]
    for target in (Target("a", "x"), Target("b", "x")):
        assert [t.technique for t in judge(*items, target=target).findings] == ["create-token-secret"]


def test_impersonation_of_users_and_groups() -> None:
    imp_users = rule("impersonate", "users", names="system:kube-controller-manager")
    result = judge(*grant(imp_users, namespace=None), bootstrap=True)
    (t,) = [t for t in result.findings if t.subject == ALICE]
    assert t.technique == "impersonate" and "system:kube-controller-manager" in t.detail
    # a user name that is a ServiceAccount's is checked as serviceaccounts, not users
    sa_name = rule("impersonate", "users", names="system:serviceaccount:a:app")
    assert alice(judge(*grant(sa_name, namespace=None))) == set()
    masters = grant(rule("impersonate", "users,groups"), namespace=None)
    assert alice(judge(*masters, target=ELSEWHERE)) == {"impersonate"}
    assert alice(judge(*grant(rule("impersonate", "groups"), namespace=None))) == set()  # needs a user too
    assert alice(judge(*grant(rule("impersonate", "users,groups")))) == set()  # users are cluster-scoped


# -- the expected table ----------------------------------------------------------------------------


def test_expected_table_matches_the_bootstrap_policy_both_ways() -> None:
    index = TakeoverIndex(defaults())
    seen = set()
    for target in (APP, Target("kube-system", "coredns", (PodRef("coredns-1", "n"),), ("coredns-token-x",))):
        result = index.who_can_become(target)
        assert result.findings == ()  # every default path is by design...
        seen |= {t.expected for t in result.expected}
    assert seen == set(DEFAULT_EXPECTED_SUBJECTS)  # ...and every entry is used
    assert all(e.why for e in DEFAULT_EXPECTED_SUBJECTS)


def test_an_expected_subject_through_a_binding_someone_added_is_a_finding() -> None:
    extra = binding("oops", "cluster-admin", "ServiceAccount:kube-system/job-controller")
    result = who_can_become(cluster(extra, with_bootstrap=True), APP)
    (t,) = result.findings
    assert t.subject == Subject("ServiceAccount", "job-controller", "kube-system") and t.technique == "wildcard"


def test_the_table_can_be_extended_and_narrowed() -> None:
    objs = with_defaults("charts/flux2/manifests__rbac__reconciler.yaml")
    flux = ExpectedSubject("serviceaccount:flux-system/*", "cluster-reconciler", "our GitOps")
    assert who_can_become(objs, APP).findings
    assert who_can_become(objs, APP, extra_expected=[flux]).findings == ()
    narrowed = who_can_become(objs, APP, extra_expected=[flux], remove_expected=["group:system:masters"])
    assert {t.subject.name for t in narrowed.findings} == {"system:masters"}
    with pytest.raises(ValueError, match="system:mastrs"):
        expected_table(remove=["group:system:mastrs"])
    with pytest.raises(ValueError, match="TakeoverIndex"):  # an index already has its table
        who_can_become(TakeoverIndex(objs), APP, extra_expected=[flux])


# -- many targets at once --------------------------------------------------------------------------


def test_all_targets_in_one_pass_equal_one_by_one() -> None:
    objs = cluster(
        *grant(rule("create", "pods"), rule("get", "secrets", names="other-token-fghij")),
        binding("ex", "exec", "Group:system:serviceaccounts:b", namespace="b"),
        role("exec", rule("create", "pods/exec")),
        with_bootstrap=True,
    )
    targets = [APP, OTHER, ELSEWHERE, Target("c", "idle")]
    together = who_can_become_all(objs, targets)
    assert list(together) == [(t.namespace, t.name) for t in targets]
    for t in targets:
        assert together[(t.namespace, t.name)] == who_can_become(objs, t)
    assert {x.technique for x in together[("a", "other")].findings} == {"create-pods", "read-token-secret"}
    assert {x.subject.name for x in together[("b", "app")].findings} == {"system:serviceaccounts:b"}
    assert together[("c", "idle")].findings == ()
