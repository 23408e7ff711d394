"""Who can become a ServiceAccount: every subject with a technique, and the bindings that give it.

Built once per cluster, linear in bindings: each role is cut into atoms once, each binding puts
its subjects' techniques into buckets keyed by what they need of a target (any ServiceAccount of a
scope; a named ServiceAccount, pod, Secret or node; or just "has a pod" / "has a token Secret").
A target then reads the few buckets that apply to it, so 20,000 ServiceAccounts cost 20,000 small
look-ups, not 20,000 passes over the bindings. Takeover objects are shared between targets.

A target whose token Secrets are not known (the cluster's Secrets were not listed: live collection never
reads them) may have one: it reads the "has a token Secret" buckets too, as copies marked
`secret_unknown` (made once per bucket), so what rests on a Secret that may not exist is said apart.
Grants limited by resourceNames to Secrets count only for the Secrets known by name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from fnmatch import fnmatchcase

from kubeiam_kubernetes.judge.expected_subjects import DEFAULT_EXPECTED_SUBJECTS, expected_table
from kubeiam_kubernetes.judge.rbac import RbacIndex, RoleKey
from kubeiam_kubernetes.judge.rbac_model import Binding, Grant, Problem, RbacObjects, Subject
from kubeiam_kubernetes.judge.takeover_atoms import (
    ANY,
    LEVER,
    NODE,
    POD,
    SA,
    SECRET,
    TECHNIQUES,
    Atom,
    AtomCache,
    atoms_of_rules,
)
from kubeiam_kubernetes.judge.takeover_levers import LeverSet, Offer, OfferKey, Scope, implicit_groups
from kubeiam_kubernetes.judge.takeover_model import (
    ExpectedSubject,
    Takeover,
    Target,
    TargetTakeover,
    is_the_target,
)

BucketKey = tuple[str, Scope, str | None]  # (condition, scope, name or None)
_RANK = {name: i for i, name in enumerate(TECHNIQUES)}  # the strongest technique is the one named
# What a target's legacy token Secrets are: some known by name, none (the cluster's list was read), unknown.
HAS_SECRET, NO_SECRET, SECRET_UNKNOWN = "has", "none", "unknown"


def _offer_key(atom: Atom) -> list[OfferKey]:
    """Where an atom lands: named atoms once per name; an unnamed "named ServiceAccount" is any."""
    if atom.condition == ANY or atom.names is None:
        return [(ANY if atom.condition == SA else atom.condition, None)]
    return [(atom.condition, n) for n in sorted(atom.names)]


class _Frozen:
    __slots__ = ("expected", "expected_principals", "findings", "principals")

    def __init__(self, items: list[Takeover]) -> None:
        self.findings = tuple(t for t in items if t.expected is None)
        self.expected = tuple(t for t in items if t.expected is not None)
        self.principals = frozenset(t.subject.principal for t in self.findings)
        self.expected_principals = frozenset(t.subject.principal for t in self.expected)


class TakeoverIndex:
    """Every takeover technique of a cluster's RBAC, indexed for per-ServiceAccount look-ups."""

    def __init__(self, rbac: RbacIndex | RbacObjects, expected: Sequence[ExpectedSubject] | None = None) -> None:
        self.rbac = rbac if isinstance(rbac, RbacIndex) else RbacIndex(rbac)
        self.expected_table = tuple(DEFAULT_EXPECTED_SUBJECTS if expected is None else expected)
        self._expected_by_principal: dict[str, tuple[ExpectedSubject, ...]] = {}
        self._atoms: dict[RoleKey, tuple[Atom, ...]] = {}
        self._atom_cache: AtomCache = {}
        self._offers: dict[tuple[RoleKey, bool], dict[OfferKey, Offer]] = {}
        self._buckets: dict[BucketKey, list[Takeover]] = defaultdict(list)
        self._seen: set[tuple[BucketKey, str, Subject, tuple[str, ...]]] = set()
        self._bindings_by_principal: dict[str, list[Binding]] = defaultdict(list)
        self._levers = LeverSet()
        self._build()
        self._buckets = dict(self._buckets)  # read-only from here: no default entries on look-up
        self._seen.clear()  # only needed while building
        self._offers.clear()
        self._bases: dict[tuple[str, bool, str, bool], _Frozen] = {}
        self._unknown_secret: dict[BucketKey, tuple[Takeover, ...]] = {}
        self._unchecked: dict[str, tuple[Problem, ...]] = {}
        self._named_nodes = [k for k in self._buckets if k[0] == NODE and k[2] is not None]
        self._problems: dict[Scope, list[Problem]] = defaultdict(list)
        for p in self.rbac.problems:
            if p.kind != "skipped-kind":
                self._problems[p.namespace].append(p)

    # -- building ----------------------------------------------------------------------------------

    def atoms(self, key: RoleKey) -> tuple[Atom, ...]:
        if key not in self._atoms:
            self._atoms[key] = atoms_of_rules(self.rbac.rules.get(key, ()), self._atom_cache)
        return self._atoms[key]

    def offers(self, key: RoleKey, via_cluster: bool) -> dict[OfferKey, Offer]:
        """What a role gives once bound (by a ClusterRoleBinding when `via_cluster`), by bucket."""
        if (key, via_cluster) not in self._offers:
            role = self.rbac.roles.get(key)
            out: dict[OfferKey, Offer] = {}
            for atom in self.atoms(key) if role is not None else ():
                if atom.condition == LEVER or (atom.cluster_only and not via_cluster):
                    continue
                for okey in _offer_key(atom):
                    out.setdefault(okey, (self.rbac.roles[key], atom))
            self._offers[(key, via_cluster)] = out
        return self._offers[(key, via_cluster)]

    def _expected(self, subject: Subject, grants: tuple[Grant, ...]) -> ExpectedSubject | None:
        # The bindings that carry the power (a rule), not the one that only binds a role it rewrites.
        names = tuple(
            sorted({g.binding.name for g in grants if g.rule is not None} or {g.binding.name for g in grants})
        )
        principal = subject.principal
        if principal not in self._expected_by_principal:
            self._expected_by_principal[principal] = tuple(
                e for e in self.expected_table if fnmatchcase(principal, e.principal)
            )
        candidates = self._expected_by_principal[principal]
        if not candidates:
            return None
        return next((e for e in candidates if all(fnmatchcase(n, e.binding) for n in names)), None)

    def _emit(
        self,
        condition: str,
        scope: Scope,
        name: str | None,
        technique: str,
        subject: Subject,
        grants: tuple[Grant, ...],
        detail: str,
    ) -> None:
        key: BucketKey = (condition, scope, name)
        seen = (key, technique, subject, tuple(dict.fromkeys(g.binding.ref for g in grants)))
        if seen in self._seen:
            return
        self._seen.add(seen)
        self._buckets[key].append(Takeover(technique, subject, grants, detail, self._expected(subject, grants)))

    def _build(self) -> None:
        for binding in self.rbac.objects.bindings:
            for subject in binding.subjects:
                self._bindings_by_principal[subject.principal].append(binding)
            role = self.rbac.role_of(binding)
            if role is None:
                continue  # named in the index's problems (unresolved-role)
            scope = binding.namespace
            for atom in self.atoms(binding.role_key()):
                if atom.cluster_only and scope is not None:
                    continue  # a RoleBinding never reaches cluster-scoped resources
                grant = Grant(binding, role, atom.rule)
                for subject in binding.subjects:
                    if atom.condition == LEVER:
                        self._levers.add(subject, scope, atom, grant)
                        continue
                    for condition, name in _offer_key(atom):
                        self._emit(condition, scope, name, atom.technique, subject, (grant,), atom.describe())
        self._levers.judge(
            self._emit, self.offers, list(self.rbac.roles), self._bindings_for_subject, self.rbac.role_of
        )
        self._impersonation_hop()

    def _bindings_for_subject(self, subject: Subject) -> Iterable[Binding]:
        yield from self._bindings_by_principal.get(subject.principal, ())
        for group in implicit_groups(subject):
            yield from self._bindings_by_principal.get(f"group:{group}", ())

    def _impersonation_hop(self) -> None:
        """Whoever may impersonate a User or Group that has a technique has it too (one hop)."""
        users: list[tuple[Subject, Atom, Grant]] = []
        groups: list[tuple[Subject, Atom, Grant]] = []
        for subject, scopes in self._levers.by_subject.items():
            levers = scopes.get(None, {})
            for atom, grant in levers.get("impersonate-users", []):
                users.append((subject, atom, grant))
            if levers.get("impersonate-users"):
                groups.extend((subject, atom, grant) for atom, grant in levers.get("impersonate-groups", []))
        if not users:
            return
        best: dict[tuple[BucketKey, Subject, Subject], tuple[Takeover, Grant]] = {}
        for key, items in self._buckets.items():
            for t in items:
                if t.subject.kind == "ServiceAccount" or t.subject.principal.startswith("serviceaccount:"):
                    continue  # SA impersonation is its own direct technique
                for imp, atom, grant in users if t.subject.kind == "User" else groups:
                    if imp == t.subject or not (atom.names is None or t.subject.name in atom.names):
                        continue
                    k = (key, imp, t.subject)
                    if k not in best or _RANK[t.technique] < _RANK[best[k][0].technique]:
                        best[k] = (t, grant)
        for (key, imp, whom), (t, grant) in best.items():
            if key[0] != ANY and ((ANY, key[1], None), imp, whom) in best:
                continue  # any ServiceAccount of the scope already: the conditional one adds nothing
            self._emit(
                key[0],
                key[1],
                key[2],
                "impersonate",
                imp,
                (grant, *t.grants),
                f"as {t.subject}, who can {t.technique}: {t.detail}",
            )

    # -- reading -----------------------------------------------------------------------------------

    def _base(self, ns: str, pods: bool, secrets: str, unknown_node: bool) -> _Frozen:
        """The unnamed buckets a target reads: the same for every ServiceAccount of a namespace with
        the same facts, so built once per (namespace, facts) and shared (tuples are not copied).
        `secrets`: HAS_SECRET, NO_SECRET or SECRET_UNKNOWN (the Secret buckets, marked)."""
        key = (ns, pods, secrets, unknown_node)
        base = self._bases.get(key)
        if base is None:
            keys: list[BucketKey] = [(ANY, None, None), (ANY, ns, None)]
            if pods:
                keys += [(POD, None, None), (POD, ns, None), (NODE, None, None)]
                keys += self._named_nodes if unknown_node else []
            if secrets == HAS_SECRET:
                keys += [(SECRET, None, None), (SECRET, ns, None)]
            items = [t for k in keys for t in self._buckets.get(k, ())]
            if secrets == SECRET_UNKNOWN:
                items += [t for k in ((SECRET, None, None), (SECRET, ns, None)) for t in self._maybe_secret(k)]
            base = self._bases[key] = _Frozen(items)
        return base

    def _maybe_secret(self, key: BucketKey) -> tuple[Takeover, ...]:
        """A "has a token Secret" bucket as it applies to a ServiceAccount that may have one: each takeover
        marked `secret_unknown`, copied once per bucket and shared by every namespace that reads it."""
        found = self._unknown_secret.get(key)
        if found is None:
            found = self._unknown_secret[key] = tuple(
                replace(t, secret_unknown=True) for t in self._buckets.get(key, ())
            )
        return found

    def _named(self, target: Target, unknown_node: bool) -> list[Takeover]:
        """Takeovers limited by resourceNames to this ServiceAccount, its pods, Secrets or nodes."""
        ns, get = target.namespace, self._buckets.get
        keys: list[BucketKey] = [(SA, None, target.name), (SA, ns, target.name)]
        for p in target.pods:
            keys += [(POD, None, p.name), (POD, ns, p.name)]
        for s in target.legacy_token_secrets:
            keys += [(SECRET, None, s), (SECRET, ns, s)]
        if target.pods and not unknown_node:
            keys += [(NODE, None, n) for n in sorted({p.node for p in target.pods if p.node})]
        return [t for k in keys for t in get(k, ())]

    def who_can_become(self, target: Target) -> TargetTakeover:
        unknown_node = any(p.node is None for p in target.pods)
        if target.legacy_token_secrets:
            secrets = HAS_SECRET
        else:
            secrets = NO_SECRET if target.token_secrets_known else SECRET_UNKNOWN
        base = self._base(target.namespace, bool(target.pods), secrets, unknown_node)
        named = self._named(target, unknown_node)
        if target.namespace not in self._unchecked:
            found = tuple(self._problems.get(None, ())) + tuple(self._problems.get(target.namespace, ()))
            self._unchecked[target.namespace] = found
        unchecked = self._unchecked[target.namespace]
        me, own = target.principal, frozenset(target.own_controllers)
        findings, expected = base.findings, base.expected  # shared tuples: no copy in the common case
        if me in base.principals or own & base.principals:
            findings, moved = self._sift(findings, target, own)
            expected += moved
        if me in base.expected_principals:
            expected = tuple(t for t in expected if not is_the_target(t.subject, target))
        if named:
            more, moved = self._sift(tuple(t for t in named if t.expected is None), target, own)
            findings += more
            expected += moved + tuple(
                t for t in named if t.expected is not None and not is_the_target(t.subject, target)
            )
        return TargetTakeover(target, findings, expected, unchecked)

    @staticmethod
    def _sift(
        items: tuple[Takeover, ...], target: Target, own: frozenset[str]
    ) -> tuple[tuple[Takeover, ...], tuple[Takeover, ...]]:
        """(findings, now expected): the target itself dropped, its own controllers expected."""
        keep: list[Takeover] = []
        moved: list[Takeover] = []
        for t in items:
            if is_the_target(t.subject, target):
                continue
            if t.subject.principal in own:
                why = ExpectedSubject(t.subject.principal, "*", "the workload's own controller (given by the caller)")
                moved.append(replace(t, expected=why))
            else:
                keep.append(t)
        return tuple(keep), tuple(moved)


def who_can_become(
    rbac: RbacIndex | RbacObjects | TakeoverIndex,
    target: Target,
    *,
    extra_expected: Iterable[ExpectedSubject] = (),
    remove_expected: Iterable[str] = (),
) -> TargetTakeover:
    """One ServiceAccount. For many, build a `TakeoverIndex` once or use `who_can_become_all`."""
    extra, remove = tuple(extra_expected), tuple(remove_expected)
    if isinstance(rbac, TakeoverIndex):
        if extra or remove:  # an index carries its table: overrides given here would be ignored
            raise ValueError("pass the expected-subject overrides to TakeoverIndex, not with an index")
        return rbac.who_can_become(target)
    return TakeoverIndex(rbac, expected_table(extra, remove)).who_can_become(target)


def who_can_become_all(
    rbac: RbacIndex | RbacObjects,
    targets: Iterable[Target],
    *,
    extra_expected: Iterable[ExpectedSubject] = (),
    remove_expected: Iterable[str] = (),
) -> dict[tuple[str, str], TargetTakeover]:
    """Every target of a cluster in one pass: the index is built once, each target is a look-up."""
    index = TakeoverIndex(rbac, expected_table(extra_expected, remove_expected))
    return {(t.namespace, t.name): index.who_can_become(t) for t in targets}
