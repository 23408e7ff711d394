"""Every labelled case of the k8s-rbac corpus (fixtures/kubernetes/rbac/cases.json) comes out as
labelled, with the real bootstrap ClusterRoles loaded under every cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubeiam_kubernetes.judge.rbac import RbacIndex
from kubeiam_kubernetes.judge.rbac_model import RbacObjects, Subject, UserInfo
from kubeiam_kubernetes.judge.rbac_parse import parse_rbac
from kubeiam_kubernetes.judge.takeover import TakeoverIndex
from kubeiam_kubernetes.judge.takeover_model import PodRef, Takeover, Target, TargetTakeover
from test_rbac_fixtures import cases, defaults, documents, kubehound_cluster, kubehound_pods, with_defaults

KH = "default"


def sa(ns: str, name: str) -> Subject:
    return Subject("ServiceAccount", name, ns)


def kh_target(name: str, secrets: tuple[str, ...] = ()) -> Target:
    return Target(KH, name, kubehound_pods().get((KH, name), ()), secrets)


# Any-ServiceAccount checks look at these: one with a running pod in KubeHound's namespace, one
# without pods elsewhere, one in kube-system.
ELSEWHERE = (Target("team-a", "app"), Target("kube-system", "coredns", (PodRef("coredns-1"),)))


@pytest.fixture(scope="module")
def kh_index() -> TakeoverIndex:
    return TakeoverIndex(kubehound_cluster())


def everything(result: TargetTakeover) -> tuple[Takeover, ...]:
    return result.findings + result.expected


def techniques(result: TargetTakeover, subject: Subject) -> set[str]:
    return {t.technique for t in everything(result) if t.subject == subject}


def edit_cluster() -> RbacObjects:
    """The defaults plus `edit` for alice and `view` for bob, both by RoleBinding in team-a."""
    docs: list[dict[str, Any]] = [
        {
            "kind": "RoleBinding",
            "metadata": {"name": f"{user}-{role}", "namespace": "team-a"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
        for user, role in (("alice", "edit"), ("bob", "view"))
    ]
    return defaults() + parse_rbac([("synthetic", {"kind": "List", "items": docs})])


TEAM_A_APP = Target("team-a", "app", (PodRef("app-1", "node-1"),), ("app-token-x7k2p",))
ALICE, BOB = Subject("User", "alice"), Subject("User", "bob")


# -- one check per case ------------------------------------------------------------------------------


def kh_pod_exec(idx: TakeoverIndex) -> None:
    result = idx.who_can_become(kh_target("impersonate-sa"))
    (exec_,) = [t for t in result.findings if t.subject == sa(KH, "pod-exec-sa")]
    assert exec_.technique == "exec" and exec_.bindings == ("RoleBinding/default/pod-exec-pods",)
    assert "exec" not in techniques(idx.who_can_become(Target(KH, "impersonate-sa")), sa(KH, "pod-exec-sa"))


def kh_pod_patch(idx: TakeoverIndex) -> None:
    result = idx.who_can_become(kh_target("impersonate-sa"))
    assert techniques(result, sa(KH, "pod-patch-sa")) == {"patch-pod"}
    # The live pod's ServiceAccount cannot be changed: no pod, nothing to patch.
    assert techniques(idx.who_can_become(Target(KH, "no-pods")), sa(KH, "pod-patch-sa")) == set()


def _token_secret_case(idx: TakeoverIndex, reader: str, binding: str) -> None:
    for name in ("impersonate-sa", "pod-create-sa"):
        with_secret = idx.who_can_become(kh_target(name, (f"{name}-token-abcde",)))
        (t,) = [t for t in with_secret.findings if t.subject == sa(KH, reader)]
        assert (t.technique, t.bindings) == ("read-token-secret", (binding,))
        assert techniques(idx.who_can_become(kh_target(name)), sa(KH, reader)) == set()  # since 1.24: no Secret


def kh_token_list(idx: TakeoverIndex) -> None:
    _token_secret_case(idx, "tokenlist-sa", "RoleBinding/default/pod-list-secrets")


def kh_token_bruteforce(idx: TakeoverIndex) -> None:
    _token_secret_case(idx, "tokenget-sa", "RoleBinding/default/pod-get-secrets")


def kh_pod_create(idx: TakeoverIndex) -> None:
    for target in (kh_target("impersonate-sa"), Target(KH, "fresh-sa")):
        assert "create-pods" in techniques(idx.who_can_become(target), sa(KH, "pod-create-sa"))
    for target in ELSEWHERE:
        assert techniques(idx.who_can_become(target), sa(KH, "pod-create-sa")) == set()


def _grants_itself_everywhere(idx: TakeoverIndex, name: str) -> None:
    for target in (kh_target("impersonate-sa"), *ELSEWHERE):
        result = idx.who_can_become(target)
        assert "grant-itself" in techniques(result, sa(KH, name)), target
        assert any(t.subject == sa(KH, name) for t in result.findings)


def kh_rolebind_crb_cr_crb_cr(idx: TakeoverIndex) -> None:
    _grants_itself_everywhere(idx, "rolebind-sa-crb-cr-crb-cr")


def kh_rolebind_crb_cr_rb_cr(idx: TakeoverIndex) -> None:
    _grants_itself_everywhere(idx, "rolebind-sa-crb-cr-rb-cr")


def _nothing_anywhere(idx: TakeoverIndex, subject: Subject) -> None:
    for target in (kh_target("impersonate-sa", ("impersonate-sa-token-abcde",)), *ELSEWHERE):
        assert techniques(idx.who_can_become(target), subject) == set(), target


def kh_crb_r_fail(idx: TakeoverIndex) -> None:
    _nothing_anywhere(idx, sa(KH, "rolebind-sa-crb-cr-crb-r-fail"))


def kh_rb_cr_crb_cr_fail(idx: TakeoverIndex) -> None:
    _nothing_anywhere(idx, sa(KH, "rolebind-sa-rb-cr-crb-cr-fail"))


def kh_rb_r_crb_cr_fail(idx: TakeoverIndex) -> None:
    _nothing_anywhere(idx, sa(KH, "rolebind-sa-rb-r-crb-cr-fail"))


def _binds_in_default_only(idx: TakeoverIndex, subject: Subject) -> None:
    result = idx.who_can_become(Target(KH, "fresh-sa"))
    grants = [t for t in result.findings if t.subject == subject and t.technique == "grant-itself"]
    assert grants, subject
    # e.g. binding Role default/admin (`*`) or default/create-pods, composed with POD_CREATE
    assert any("Role/default/" in t.detail for t in grants)
    for target in ELSEWHERE:
        assert techniques(idx.who_can_become(target), subject) == set()


def kh_rolebind_rb_r_rb_r(idx: TakeoverIndex) -> None:
    _binds_in_default_only(idx, sa(KH, "rolebind-sa-rb-r-rb-r"))


def kh_rolebind_user_group(idx: TakeoverIndex) -> None:
    _binds_in_default_only(idx, Subject("User", "user-rb-r-rb-r"))
    _binds_in_default_only(idx, Subject("Group", "group-rb-r-rb-r"))


def kh_nodes_identity(idx: TakeoverIndex) -> None:
    node = UserInfo("system:node:kubehound.test.local-worker", frozenset({"system:nodes", "system:authenticated"}))
    grants = idx.rbac.allowed(node, "list", "", "pods", namespace=KH)
    assert [g.binding.ref for g in grants] == ["ClusterRoleBinding/node-api-access"]
    assert not idx.rbac.allowed(node, "create", "", "pods", namespace=KH)
    for target in (kh_target("impersonate-sa"), *ELSEWHERE):
        assert techniques(idx.who_can_become(target), Subject("Group", "system:nodes")) == set()


def kh_impersonate_namespaced_role(idx: TakeoverIndex) -> None:
    # No upstream label. Kubernetes: users and groups are cluster-scoped, so a RoleBinding cannot grant
    # their impersonation; the Role does not name serviceaccounts either.
    me = Subject("User", "x")
    assert not idx.rbac.allowed(UserInfo("system:serviceaccount:default:impersonate-sa"), "impersonate", "", "users")
    assert me not in {t.subject for t in everything(idx.who_can_become(Target(KH, "pod-create-sa")))}
    _nothing_anywhere(idx, sa(KH, "impersonate-sa"))


def k8s_system_masters(_: TakeoverIndex) -> None:
    idx = TakeoverIndex(defaults())
    for target in (kh_target("impersonate-sa"), *ELSEWHERE):
        result = idx.who_can_become(target)
        (t,) = [t for t in result.expected if t.subject == Subject("Group", "system:masters")]
        assert t.technique == "wildcard" and t.bindings == ("ClusterRoleBinding/cluster-admin",)


def k8s_edit_in_namespace(_: TakeoverIndex) -> None:
    result = TakeoverIndex(edit_cluster()).who_can_become(TEAM_A_APP)
    found = techniques(result, ALICE)
    assert {"create-pods", "create-token", "impersonate", "read-token-secret", "exec"} <= found
    assert all(t.bindings == ("RoleBinding/team-a/alice-edit",) for t in result.findings if t.subject == ALICE)


def k8s_view_in_namespace(_: TakeoverIndex) -> None:
    result = TakeoverIndex(edit_cluster()).who_can_become(TEAM_A_APP)
    assert techniques(result, BOB) == set()


def k8s_authenticated(_: TakeoverIndex) -> None:
    idx = TakeoverIndex(defaults())
    broad = {Subject("Group", "system:authenticated"), Subject("Group", "system:unauthenticated")}
    for target in (TEAM_A_APP, *ELSEWHERE):
        assert {t.subject for t in everything(idx.who_can_become(target))} & broad == set()


def k8s_node_binding_empty(_: TakeoverIndex) -> None:
    idx = TakeoverIndex(defaults())
    for target in (TEAM_A_APP, *ELSEWHERE):
        subjects = {t.subject for t in everything(idx.who_can_become(target))}
        assert not [s for s in subjects if s.name == "system:nodes" or s.name.startswith("system:node:")]


def k8s_kube_controller_manager(_: TakeoverIndex) -> None:
    idx = TakeoverIndex(defaults())
    for target in (TEAM_A_APP, *ELSEWHERE):
        result = idx.who_can_become(target)
        assert "create-token" in techniques(result, Subject("User", "system:kube-controller-manager"))
        assert not [t for t in result.findings if t.subject.name == "system:kube-controller-manager"]


def k8s_clusterrole_aggregation_controller(_: TakeoverIndex) -> None:
    idx = TakeoverIndex(defaults())
    controller = sa("kube-system", "clusterrole-aggregation-controller")
    for target in (TEAM_A_APP, *ELSEWHERE):
        result = idx.who_can_become(target)
        assert techniques(result, controller) == {"grant-itself"}
        assert any("system:controller:clusterrole-aggregation-controller" in t.detail for t in result.expected)


def k8s_edit_no_rolebinding(_: TakeoverIndex) -> None:
    idx = TakeoverIndex(edit_cluster())
    other = Target("team-b", "app", (PodRef("app-1"),), ("app-token-x7k2p",))
    assert techniques(idx.who_can_become(other), ALICE) == set()


def _chart_case(files: tuple[str, ...], subjects: list[Subject], technique: str) -> None:
    idx = TakeoverIndex(with_defaults(*files))
    assert subjects
    for target in (TEAM_A_APP, *ELSEWHERE):
        result = idx.who_can_become(target)
        for subject in subjects:
            assert technique in {t.technique for t in result.findings if t.subject == subject}, (subject, target)


def flux_reconciler_cluster_admin(_: TakeoverIndex) -> None:
    subjects = [sa("flux-system", "kustomize-controller"), sa("flux-system", "helm-controller")]
    _chart_case(("charts/flux2/manifests__rbac__reconciler.yaml",), subjects, "wildcard")


def flux_crd_controller_token(_: TakeoverIndex) -> None:
    files = ("charts/flux2/manifests__rbac__controller.yaml",)
    crb = next(d for _s, d in documents(*files) if d["kind"] == "ClusterRoleBinding")
    subjects = [sa(s["namespace"], s["name"]) for s in crb["subjects"]]
    assert len(subjects) == 7
    _chart_case(files, subjects, "create-token")


def velero_cluster_admin(_: TakeoverIndex) -> None:
    _chart_case(("charts/velero/RENDERED_clusterrolebinding.yaml",), [sa("velero", "velero-server")], "wildcard")


def external_secrets_token_create(_: TakeoverIndex) -> None:
    subject = sa("external-secrets", "external-secrets")
    _chart_case(("charts/external-secrets/RENDERED_controller-rbac.yaml",), [subject], "create-token")


CHECKS: dict[str, Callable[[TakeoverIndex], None]] = {
    "kh-pod-exec-into-sa-pod": kh_pod_exec,
    "kh-pod-patch-into-sa-pod": kh_pod_patch,
    "kh-token-list": kh_token_list,
    "kh-token-bruteforce": kh_token_bruteforce,
    "kh-pod-create": kh_pod_create,
    "kh-rolebind-crb-cr-crb-cr": kh_rolebind_crb_cr_crb_cr,
    "kh-rolebind-crb-cr-rb-cr": kh_rolebind_crb_cr_rb_cr,
    "kh-rolebind-crb-cr-crb-r-fail": kh_crb_r_fail,
    "kh-rolebind-rb-cr-crb-cr-fail": kh_rb_cr_crb_cr_fail,
    "kh-rolebind-rb-r-crb-cr-fail": kh_rb_r_crb_cr_fail,
    "kh-rolebind-rb-r-rb-r": kh_rolebind_rb_r_rb_r,
    "kh-rolebind-user-group": kh_rolebind_user_group,
    "kh-nodes-identity": kh_nodes_identity,
    "kh-impersonate-namespaced-role": kh_impersonate_namespaced_role,
    "k8s-system-masters": k8s_system_masters,
    "k8s-edit-in-namespace": k8s_edit_in_namespace,
    "k8s-view-in-namespace": k8s_view_in_namespace,
    "k8s-authenticated": k8s_authenticated,
    "k8s-node-binding-empty": k8s_node_binding_empty,
    "k8s-kube-controller-manager": k8s_kube_controller_manager,
    "k8s-clusterrole-aggregation-controller": k8s_clusterrole_aggregation_controller,
    "k8s-edit-no-rolebinding": k8s_edit_no_rolebinding,
    "flux-reconciler-cluster-admin": flux_reconciler_cluster_admin,
    "flux-crd-controller-token": flux_crd_controller_token,
    "velero-cluster-admin": velero_cluster_admin,
    "external-secrets-token-create": external_secrets_token_create,
}

# The label each check asserts, so a relabelled case fails here until its check is revisited.
LABELS = {
    "kh-token-list": "only where a token Secret exists",
    "kh-token-bruteforce": "only where a token Secret exists",
    "kh-impersonate-namespaced-role": "not labelled",
    **{
        cid: False
        for cid in (
            "kh-rolebind-crb-cr-crb-r-fail",
            "kh-rolebind-rb-cr-crb-cr-fail",
            "kh-rolebind-rb-r-crb-cr-fail",
            "k8s-view-in-namespace",
            "k8s-authenticated",
            "k8s-node-binding-empty",
            "k8s-edit-no-rolebinding",
        )
    },
}


def test_every_case_has_a_check() -> None:
    assert set(CHECKS) == set(cases())


@pytest.mark.parametrize("case_id", sorted(cases()))
def test_case_comes_out_as_labelled(case_id: str, kh_index: TakeoverIndex) -> None:
    assert cases()[case_id]["can_become"] == LABELS.get(case_id, True)
    CHECKS[case_id](kh_index)


def test_the_hand_rendered_charts_follow_their_templates() -> None:
    """The RENDERED_ files assume chart defaults; the templates must still be guarded by them."""
    from test_rbac_fixtures import RBAC

    velero = (RBAC / "charts/velero/charts__velero__templates__clusterrolebinding.yaml").read_text()
    values = (RBAC / "charts/velero/charts__velero__values.yaml__rbac-section.yaml").read_text()
    assert "{{- if and .Values.rbac.create .Values.rbac.clusterAdministrator }}" in velero
    assert "name: {{ .Values.rbac.clusterAdministratorName }}" in velero
    assert "clusterAdministrator: true" in values and "clusterAdministratorName: cluster-admin" in values
    eso = (RBAC / "charts/external-secrets/deploy__charts__external-secrets__templates__rbac.yaml").read_text()
    guarded = eso.split("{{- if .Values.rbac.serviceAccountTokenCreate }}")[1].split("{{- end }}")[0]
    assert '"serviceaccounts/token"' in guarded and '"create"' in guarded


def test_the_kubehound_index_is_complete() -> None:
    # Nothing in KubeHound's cluster was left unread: no target carries unchecked problems.
    idx = TakeoverIndex(RbacIndex(kubehound_cluster()))
    assert idx.who_can_become(kh_target("impersonate-sa")).unchecked == ()
