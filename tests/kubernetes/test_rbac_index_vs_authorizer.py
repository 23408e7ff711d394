"""The indexed takeover look-up agrees with asking the authorizer request by request.

Random clusters (fixed seeds) of Roles, ClusterRoles and bindings with wildcards, subresource forms
and resourceNames; for every ServiceAccount, the direct techniques the index finds must be exactly
those a naive walk finds by calling `RbacIndex.allowed` with each concrete request the technique
needs. The index shares buckets between targets; this is what keeps that honest.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from kubeiam_kubernetes.judge.rbac import RbacIndex
from kubeiam_kubernetes.judge.rbac_model import RbacObjects, Subject, UserInfo
from kubeiam_kubernetes.judge.takeover import TakeoverIndex
from kubeiam_kubernetes.judge.takeover_atoms import WORKLOADS
from kubeiam_kubernetes.judge.takeover_model import PodRef, Target
from test_rbac_fixtures import binding, cluster, role

NAMESPACES = ("a", "b", "c")
SAS = ("s1", "s2", "s3")
SUBJECTS = (
    "User:u1", "User:u2", "Group:g1", "Group:system:serviceaccounts:a", "Group:system:authenticated",
    "ServiceAccount:a/s1", "ServiceAccount:b/s2", "ServiceAccount:c/ops", "User:system:serviceaccount:b/s3",
)  # fmt: skip
VERBS = ("get", "list", "watch", "create", "update", "patch", "impersonate", "bind", "*")
RESOURCES = (
    "pods", "pods/exec", "pods/attach", "pods/ephemeralcontainers", "*/exec", "secrets", "serviceaccounts",
    "serviceaccounts/token", "deployments", "jobs", "replicationcontrollers", "nodes/proxy", "nodes", "*",
    "rolebindings", "configmaps",
)  # fmt: skip
GROUPS = ("", "apps", "batch", "*", "rbac.authorization.k8s.io")
NAMES = ("s1", "s2", "pod-s1-0", "pod-s2-0", "s1-token", "n1", "n2")
DIRECT = {
    "create-pods", "write-workload", "create-token", "impersonate", "exec", "attach", "ephemeral-container",
    "patch-pod", "read-token-secret", "nodes-proxy",
}  # fmt: skip


def random_cluster(seed: int) -> RbacObjects:
    rnd = random.Random(seed)

    def rules() -> list[dict[str, Any]]:
        out = []
        for _ in range(rnd.randint(1, 3)):
            r: dict[str, Any] = {
                "apiGroups": rnd.sample(GROUPS, rnd.randint(1, 2)),
                "resources": rnd.sample(RESOURCES, rnd.randint(1, 3)),
                "verbs": rnd.sample(VERBS, rnd.randint(1, 3)),
            }
            if rnd.random() < 0.3:
                r["resourceNames"] = rnd.sample(NAMES, rnd.randint(1, 2))
            out.append(r)
        return out

    items = []
    for i in range(12):
        items.append(role(f"cr{i}", *rules()))
    for ns in NAMESPACES:
        for i in range(4):
            items.append(role(f"r{i}", *rules(), namespace=ns))
    for i in range(30):
        subjects = rnd.sample(SUBJECTS, rnd.randint(1, 3))
        if rnd.random() < 0.3:
            items.append(binding(f"crb{i}", f"cr{rnd.randrange(12)}", *subjects))
        else:
            ns = rnd.choice(NAMESPACES)
            kind = rnd.choice(("Role", "ClusterRole"))
            name = f"r{rnd.randrange(4)}" if kind == "Role" else f"cr{rnd.randrange(12)}"
            items.append(binding(f"rb{i}", name, *subjects, namespace=ns, role_kind=kind))
    return cluster(*items)


def targets() -> list[Target]:
    return [
        Target(ns, sa, (PodRef(f"pod-{sa}-0", "n1" if sa != "s2" else "n2"),), (f"{sa}-token",) if sa != "s3" else ())
        for ns in NAMESPACES
        for sa in SAS
    ]


def as_only(subject: Subject) -> UserInfo:
    """An identity that matches this subject's bindings and no other (no implicit groups)."""
    if subject.kind == "Group":
        return UserInfo("\x00nobody", frozenset({subject.name}))
    return UserInfo(subject.username or "", frozenset())


def naive(index: RbacIndex, user: UserInfo, t: Target) -> set[str]:
    def ok(verb: str, group: str, resource: str, sub: str = "", ns: str | None = t.namespace, name: str = "") -> bool:
        return bool(index.allowed(user, verb, group, resource, sub, ns, name))

    found = set()
    if ok("create", "", "pods"):
        found.add("create-pods")
    # A named workload's template can be rewritten too (if it exists): any name counts for update/patch.
    if any(ok("create", g, r) for g, r in WORKLOADS) or any(
        ok(v, g, r, name=n) for g, r in WORKLOADS for v in ("update", "patch") for n in NAMES
    ):
        found.add("write-workload")
    if ok("create", "", "serviceaccounts", "token", name=t.name):
        found.add("create-token")
    if ok("impersonate", "", "serviceaccounts", name=t.name):
        found.add("impersonate")
    for p in t.pods:
        for sub in ("exec", "attach"):
            if ok("create", "", "pods", sub, name=p.name) or ok("get", "", "pods", sub, name=p.name):
                found.add(sub)
        if ok("update", "", "pods", "ephemeralcontainers", name=p.name) or ok(
            "patch", "", "pods", "ephemeralcontainers", name=p.name
        ):
            found.add("ephemeral-container")
        if ok("update", "", "pods", name=p.name) or ok("patch", "", "pods", name=p.name):
            found.add("patch-pod")
        if any(ok(v, "", "nodes", "proxy", ns=None, name=p.node or "") for v in ("create", "get")):
            found.add("nodes-proxy")
    for s in t.legacy_token_secrets:
        if any(ok(v, "", "secrets", name=s) for v in ("get", "list", "watch")):
            found.add("read-token-secret")
    return found


@pytest.mark.parametrize("seed", range(8))
def test_index_agrees_with_the_authorizer(seed: int) -> None:
    objs = random_cluster(seed)
    assert objs.problems == ()
    rbac = RbacIndex(objs)
    index = TakeoverIndex(rbac, expected=())
    subjects = {s for b in objs.bindings for s in b.subjects}
    compared = 0
    for t in targets():
        result = index.who_can_become(t)
        got: set[tuple[str, str]] = set()
        for tk in result.findings:
            if tk.technique == "wildcard":  # a `*`/`*`/`*` rule: every direct technique of its scope
                got |= {(tk.subject.principal, x) for x in naive(rbac, as_only(tk.subject), t)}
            elif tk.technique in DIRECT and len(tk.grants) == 1:
                got.add((tk.subject.principal, tk.technique))
        want = {(s.principal, x) for s in subjects if s.principal != t.principal for x in naive(rbac, as_only(s), t)}
        assert got == want, t
        compared += len(want)
    assert compared > 20  # the random clusters do grant things
