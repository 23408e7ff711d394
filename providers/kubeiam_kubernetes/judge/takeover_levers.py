"""Techniques that need two grants or more: a subject that can grant itself a takeover.

- bind: write a RoleBinding (or ClusterRoleBinding) to a role that has a technique, holding `bind`
  on that role where the binding is written (registry/rbac BindingAuthorized);
- escalate: rewrite a role already bound to it (`escalate` + `update`/`patch` on that role);
- create-and-bind: create a role with any rule (`escalate` + `create`) and bind it;
- create a service-account-token Secret for the target and read what the controller fills in;
- impersonate the group system:masters, or (one hop) a User or Group that itself has a technique.

Levers of a ServiceAccount's or user's implicit groups count as theirs (they hold them as members).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from kubeiam_kubernetes.judge.rbac import RoleKey
from kubeiam_kubernetes.judge.rbac_model import (
    AUTHENTICATED,
    SA_GROUP_ALL,
    SA_GROUP_PREFIX,
    Binding,
    Grant,
    Role,
    Subject,
    service_account_of,
)
from kubeiam_kubernetes.judge.takeover_atoms import ANY, TECHNIQUES, Atom

Scope = str | None  # a namespace, or None for every namespace and the cluster scope
Lever = tuple[Atom, Grant]
Offer = tuple[Role, Atom]  # a role and the technique it offers once bound
OfferKey = tuple[str, str | None]  # (condition, name or None)
# The strongest technique a role offers is the one evidence names (wildcard first, as listed).
_RANK = {name: i for i, name in enumerate(TECHNIQUES)}
Emit = Callable[[str, Scope, str | None, str, Subject, tuple[Grant, ...], str], None]


def implicit_groups(subject: Subject) -> tuple[str, ...]:
    """Groups every request of this subject carries (when it is a User or ServiceAccount)."""
    if subject.kind == "Group":
        return ()
    sa = service_account_of(subject.username or "")
    if sa:
        return (SA_GROUP_ALL, f"{SA_GROUP_PREFIX}{sa[0]}", AUTHENTICATED)
    return (AUTHENTICATED,)


def _covers(atom: Atom, name: str) -> bool:
    return atom.names is None or name in atom.names


class LeverSet:
    """Levers of every subject, by scope; fed while bindings are read, judged once at the end."""

    def __init__(self) -> None:
        self.by_subject: dict[Subject, dict[Scope, dict[str, list[Lever]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list))
        )
        self._groups: dict[Subject, tuple[Subject, ...]] = {}

    def add(self, subject: Subject, scope: Scope, atom: Atom, grant: Grant) -> None:
        self.by_subject[subject][scope][atom.technique].append((atom, grant))

    def _with_groups(self, subject: Subject) -> tuple[Subject, ...]:
        if subject not in self._groups:
            self._groups[subject] = (subject, *(Subject("Group", g) for g in implicit_groups(subject)))
        return self._groups[subject]

    def _available(self, subject: Subject, scope: Scope) -> dict[str, list[Lever]]:
        out: dict[str, list[Lever]] = defaultdict(list)
        for src in (self.by_subject.get(s, {}) for s in self._with_groups(subject)):
            for sc in {None, scope}:
                for name, levers in src.get(sc, {}).items():
                    out[name].extend(levers)
        return out

    def _scopes(self, subject: Subject) -> set[Scope]:
        scopes: set[Scope] = {None}
        for s in self._with_groups(subject):
            scopes.update(self.by_subject.get(s, {}))
        return scopes

    def judge(
        self,
        emit: Emit,
        offers: Callable[[RoleKey, bool], dict[OfferKey, Offer]],
        role_keys: Iterable[RoleKey],
        bindings_of: Callable[[Subject], Iterable[Binding]],
        role_of: Callable[[Binding], Role | None],
    ) -> None:
        """Emit every composite technique. `offers(role, via_cluster_binding)` says what a role gives
        once bound; `bindings_of(subject)` lists the bindings naming it or one of its groups."""
        cluster_roles = sorted(k for k in role_keys if k[0] == "ClusterRole")
        roles_by_ns: dict[str, list[RoleKey]] = defaultdict(list)
        for k in role_keys:
            if k[0] == "Role" and k[1] is not None:
                roles_by_ns[k[1]].append(k)
        for subject in list(self.by_subject):
            for scope in sorted(self._scopes(subject), key=lambda s: (s is not None, s or "")):
                avail = self._available(subject, scope)
                ctx = _Judge(subject, scope, avail, emit, offers, cluster_roles, roles_by_ns)
                ctx.token_secret()
                ctx.bind()
                ctx.create_and_bind()
                ctx.escalate(bindings_of(subject), role_of)
                ctx.impersonate_masters()


class _Judge:
    def __init__(
        self,
        subject: Subject,
        scope: Scope,
        avail: dict[str, list[Lever]],
        emit: Emit,
        offers: Callable[[RoleKey, bool], dict[OfferKey, Offer]],
        cluster_roles: list[RoleKey],
        roles_by_ns: dict[str, list[RoleKey]],
    ) -> None:
        self.subject, self.scope, self.avail, self._emit = subject, scope, avail, emit
        self.offers, self.cluster_roles, self.roles_by_ns = offers, cluster_roles, roles_by_ns

    def emit(
        self, technique: str, scope: Scope, condition: str, name: str | None, grants: tuple[Grant, ...], detail: str
    ) -> None:
        # A narrower scope only adds what its own namespace's grants make possible: the same
        # combination of cluster-wide grants is already judged at the cluster scope.
        if self.scope is not None and all(g.binding.namespace != self.scope for g in grants):
            return
        # Levers held only through an implicit group (system:authenticated...) are the group's own: the group
        # is judged as a subject of its own, so every member need not repeat its composition.
        if self.subject.kind != "Group" and not any(self._names_me(g.binding) for g in grants):
            return
        self._emit(condition, scope, name, technique, self.subject, grants, detail)

    def _names_me(self, binding: Binding) -> bool:
        me = self.subject.principal
        return any(s.principal == me for s in binding.subjects)

    def where(self, scope: Scope) -> str:
        return f"namespace {scope}" if scope else "any namespace"

    def token_secret(self) -> None:
        for c_atom, c_grant in self.avail.get("create-secrets", [])[:1]:
            for _r_atom, r_grant in self.avail.get("read-secrets", [])[:1]:
                self.emit(
                    "create-token-secret",
                    self.scope,
                    ANY,
                    None,
                    (c_grant, r_grant),
                    f"{c_atom.describe()} and read it back, in {self.where(self.scope)}",
                )

    def _offer(
        self, writer: Lever, binder: Lever, role_keys: Iterable[RoleKey], scope: Scope, via_cluster: bool, what: str
    ) -> None:
        best: dict[OfferKey, Offer] = {}
        for key in role_keys:
            if not _covers(binder[0], key[2]):
                continue
            for okey, offer in self.offers(key, via_cluster).items():
                if okey not in best or _RANK[offer[1].technique] < _RANK[best[okey][1].technique]:
                    best[okey] = offer
        if (ANY, None) in best:  # any ServiceAccount of the scope: the conditional ones add nothing
            best = {(ANY, None): best[(ANY, None)]}
        for okey, (role, atom) in best.items():
            self.emit(
                "grant-itself",
                scope,
                okey[0],
                okey[1],
                (writer[1], binder[1]),
                f"can create a {what} to {role.ref} in {self.where(scope)}, which allows "
                f"{atom.technique} ({atom.describe()})",
            )

    def bind(self) -> None:
        writer = next(iter(self.avail.get("create-rolebindings", [])), None)
        if writer is not None:
            for binder in self.avail.get("bind-clusterroles", []):
                self._offer(writer, binder, self.cluster_roles, self.scope, False, "RoleBinding")
            for binder in self.avail.get("bind-roles", []):
                namespaces = [self.scope] if self.scope else sorted(self.roles_by_ns)
                for ns in namespaces:
                    self._offer(writer, binder, self.roles_by_ns.get(ns, []), ns, False, "RoleBinding")
        crb_writer = next(iter(self.avail.get("create-clusterrolebindings", [])), None)
        if crb_writer is not None and self.scope is None:
            for binder in self.avail.get("bind-clusterroles", []):
                self._offer(crb_writer, binder, self.cluster_roles, None, True, "ClusterRoleBinding")

    def create_and_bind(self) -> None:
        """escalate + create a role, then bind it (a new name: only an unrestricted `bind` works)."""
        for kind, writers in (
            ("roles", ("create-rolebindings",)),
            ("clusterroles", ("create-rolebindings", "create-clusterrolebindings")),
        ):
            esc = next(iter(self.avail.get(f"escalate-{kind}", [])), None)
            create = next(iter(self.avail.get(f"create-{kind}", [])), None)
            binder = next((lv for lv in self.avail.get(f"bind-{kind}", []) if lv[0].names is None), None)
            if not (esc and create and binder):
                continue
            for writer_name in writers:
                writer = next(iter(self.avail.get(writer_name, [])), None)
                if writer is None or (writer_name == "create-clusterrolebindings" and self.scope is not None):
                    continue
                self.emit(
                    "grant-itself",
                    self.scope,
                    ANY,
                    None,
                    (esc[1], create[1], writer[1], binder[1]),
                    f"can create a {kind[:-1]} with any rule and bind it to itself in {self.where(self.scope)}",
                )

    def escalate(self, bindings: Iterable[Binding], role_of: Callable[[Binding], Role | None]) -> None:
        if not (self.avail.get("escalate-roles") or self.avail.get("escalate-clusterroles")):
            return
        for binding in bindings:
            kind, role_ns, name = binding.role_key()
            res = "roles" if kind == "Role" else "clusterroles"
            if kind == "Role" and self.scope not in (None, role_ns):
                continue
            esc = next((lv for lv in self.avail.get(f"escalate-{res}", []) if _covers(lv[0], name)), None)
            upd = next((lv for lv in self.avail.get(f"update-{res}", []) if _covers(lv[0], name)), None)
            if esc is None or upd is None:
                continue
            role = role_of(binding)
            self.emit(
                "grant-itself",
                binding.namespace,
                ANY,
                None,
                (esc[1], upd[1], Grant(binding, role)),
                f"can add any rule to {kind}/{name}, which {binding.ref} binds to it",
            )

    def impersonate_masters(self) -> None:
        if self.scope is not None:
            return
        user = next(iter(self.avail.get("impersonate-users", [])), None)
        group = next((lv for lv in self.avail.get("impersonate-groups", []) if _covers(lv[0], "system:masters")), None)
        if user and group:
            self.emit(
                "impersonate",
                None,
                ANY,
                None,
                (group[1], user[1]),
                "can impersonate a user with the group system:masters, which bypasses RBAC",
            )
