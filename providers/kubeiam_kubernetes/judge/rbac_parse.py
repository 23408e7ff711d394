"""Read RBAC objects from decoded JSON (or YAML) into `rbac_model`, tolerating real variants.

Accepts what `kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o json` prints
(a `kind: List`), the API's typed lists (`RoleList`, whose items carry no `kind`), single objects,
and JSON arrays of objects. Anything not understood becomes a `Problem` naming the file and the item
path (`items[12].rules[0].verbs`): never an exception, never silently dropped. Where the API server
would itself reject an object (a ClusterRoleBinding to a Role), the problem says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubeiam_kubernetes.judge.rbac_model import (
    SUBJECT_KINDS,
    Binding,
    LabelRequirement,
    LabelSelector,
    Problem,
    RbacObjects,
    Role,
    RoleRef,
    Rule,
    Subject,
)

ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
NAMESPACED = ("Role", "RoleBinding")
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class _Unreadable(Exception):
    """Internal: one field could not be read; carries the path for the Problem."""

    def __init__(self, path: str, message: str, kind: str = "unreadable") -> None:
        super().__init__(message)
        self.path, self.message, self.kind = path, message, kind


def _join(prefix: str, part: str) -> str:
    if not prefix:
        return part.lstrip(".")
    return f"{prefix}{part}" if part.startswith("[") else f"{prefix}.{part}"


def parse_rbac(documents: Iterable[tuple[str, Any]], *, default_namespace: str | None = None) -> RbacObjects:
    """Parse (source label, decoded document) pairs. `default_namespace` plays `kubectl -n` for
    manifests whose namespaced objects leave the namespace out; `kubectl get` output always has it."""
    roles: list[Role] = []
    bindings: list[Binding] = []
    problems: list[Problem] = []
    for source, doc in documents:
        for path, item, kind_hint in _items(source, doc, problems):
            _parse_item(source, path, item, kind_hint, default_namespace, roles, bindings, problems)
    return RbacObjects(tuple(roles), tuple(bindings), tuple(problems))


def _items(source: str, doc: Any, problems: list[Problem]) -> Iterable[tuple[str, Any, str | None]]:
    if doc is None:  # an empty YAML document: nothing was there
        return
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield f"[{i}]", item, None
        return
    if not isinstance(doc, Mapping):
        problems.append(Problem(source, "(document)", f"expected an object or a list, got {type(doc).__name__}"))
        return
    if "items" in doc:
        items = doc["items"]
        list_kind = doc.get("kind")
        hint = list_kind[: -len("List")] if isinstance(list_kind, str) and list_kind.endswith("List") else None
        if items is None:  # `items: null` is how an empty typed list can print
            return
        if not isinstance(items, list):
            problems.append(Problem(source, "items", f"expected a list, got {type(items).__name__}"))
            return
        for i, item in enumerate(items):
            yield f"items[{i}]", item, hint or None
        return
    yield "", doc, None


def _parse_item(
    source: str,
    path: str,
    item: Any,
    kind_hint: str | None,
    default_namespace: str | None,
    roles: list[Role],
    bindings: list[Binding],
    problems: list[Problem],
) -> None:
    if not isinstance(item, Mapping):
        problems.append(Problem(source, path or "(document)", f"expected an object, got {type(item).__name__}"))
        return
    kind = item.get("kind") or kind_hint
    if isinstance(kind, str) and kind.endswith("List") and "items" in item:
        # A List inside a list (the file wrapped once more): its objects would be skipped unseen.
        problems.append(Problem(source, path or "(document)", f"a {kind} inside a list: its objects were not read"))
        return
    if kind not in ROLE_KINDS + BINDING_KINDS:
        problems.append(
            Problem(source, _join(path, "kind"), f"not an RBAC object ({kind!r}); skipped", kind="skipped-kind")
        )
        return
    namespace: str | None = None
    try:
        meta = item.get("metadata")
        if not isinstance(meta, Mapping):
            raise _Unreadable(_join(path, "metadata"), "missing or not an object")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise _Unreadable(_join(path, "metadata.name"), "missing or not a string")
        if kind in NAMESPACED:
            written = meta.get("namespace") or default_namespace
            if not isinstance(written, str) or not written:  # (a Problem's namespace is a string or None)
                raise _Unreadable(_join(path, "metadata.namespace"), f"a {kind} needs a namespace")
            namespace = written
        if kind in ROLE_KINDS:
            roles.append(_role(source, path, item, kind, name, namespace, problems))
        else:
            binding = _binding(source, path, item, kind, name, namespace, problems)
            if binding is not None:
                bindings.append(binding)
    except _Unreadable as err:
        problems.append(Problem(source, err.path, err.message, namespace, err.kind))


def _strings(value: Any, path: str, *, required: bool = False) -> frozenset[str]:
    if value is None:
        if required:
            raise _Unreadable(path, "missing")
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Unreadable(path, "expected a list of strings")
    return frozenset(value)


def _rule(raw: Any, path: str, index: int) -> Rule:
    if not isinstance(raw, Mapping):
        raise _Unreadable(path, "expected an object")
    verbs = _strings(raw.get("verbs"), _join(path, "verbs"), required=True)
    resources = _strings(raw.get("resources"), _join(path, "resources"))
    urls = _strings(raw.get("nonResourceURLs"), _join(path, "nonResourceURLs"))
    if resources and raw.get("apiGroups") is None:
        # The API server rejects such a rule; guessing the group would invent a grant.
        raise _Unreadable(_join(path, "apiGroups"), "a rule with resources needs apiGroups", "invalid")
    groups = _strings(raw.get("apiGroups"), _join(path, "apiGroups"))
    names = _strings(raw.get("resourceNames"), _join(path, "resourceNames"))
    return Rule(verbs, groups, resources, names or None, urls, index)


def _labels(meta: Mapping[str, Any], path: str) -> tuple[tuple[str, str], ...]:
    labels = meta.get("labels")
    if labels is None:
        return ()
    if not isinstance(labels, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise _Unreadable(_join(path, "metadata.labels"), "expected a map of strings")
    return tuple(sorted(labels.items()))


def _selector(raw: Any, path: str) -> LabelSelector:
    if raw is None:
        # The selectors are a list of structs: a null entry decodes as an empty selector, which
        # the aggregation controller turns into "everything" (metav1.LabelSelectorAsSelector).
        return LabelSelector()
    if not isinstance(raw, Mapping):
        raise _Unreadable(path, "expected a label selector")
    reqs: list[LabelRequirement] = []
    match_labels = raw.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in match_labels.items()
    ):
        raise _Unreadable(_join(path, "matchLabels"), "expected a map of strings")
    reqs.extend(LabelRequirement(k, "Equals", frozenset({v})) for k, v in sorted(match_labels.items()))
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise _Unreadable(_join(path, "matchExpressions"), "expected a list")
    for i, expr in enumerate(expressions):
        epath = _join(path, f"matchExpressions[{i}]")
        if not isinstance(expr, Mapping) or not isinstance(expr.get("key"), str):
            raise _Unreadable(epath, "expected {key, operator, values}")
        op = expr.get("operator")
        if op not in SELECTOR_OPERATORS:
            raise _Unreadable(_join(epath, "operator"), f"unknown operator {op!r}")
        values = _strings(expr.get("values"), _join(epath, "values"))
        if (op in ("In", "NotIn")) != bool(values):
            raise _Unreadable(_join(epath, "values"), f"{op} {'needs' if not values else 'takes no'} values")
        reqs.append(LabelRequirement(expr["key"], op, values))
    return LabelSelector(tuple(reqs))


def _role(
    source: str,
    path: str,
    item: Mapping[str, Any],
    kind: str,
    name: str,
    namespace: str | None,
    problems: list[Problem],
) -> Role:
    meta = item["metadata"]
    try:
        labels = _labels(meta, path)
    except _Unreadable as err:
        problems.append(Problem(source, err.path, err.message, namespace, err.kind))
        labels = ()
    raw_rules = item.get("rules")
    rules: list[Rule] = []
    if raw_rules is not None and not isinstance(raw_rules, list):
        problems.append(Problem(source, _join(path, "rules"), "expected a list", namespace))
        raw_rules = None
    for j, raw in enumerate(raw_rules or []):
        try:
            rules.append(_rule(raw, _join(path, f"rules[{j}]"), j))
        except _Unreadable as err:  # the rest of the role still counts
            problems.append(Problem(source, err.path, err.message, namespace, err.kind))
    aggregation: tuple[LabelSelector, ...] | None = None
    agg = item.get("aggregationRule")
    if agg is not None and kind == "ClusterRole":
        apath = _join(path, "aggregationRule")
        try:
            if not isinstance(agg, Mapping):
                raise _Unreadable(apath, "expected an object")
            selectors = agg.get("clusterRoleSelectors") or []
            if not isinstance(selectors, list):
                raise _Unreadable(_join(apath, "clusterRoleSelectors"), "expected a list")
            aggregation = tuple(
                _selector(s, _join(apath, f"clusterRoleSelectors[{i}]")) for i, s in enumerate(selectors)
            )
        except _Unreadable as err:
            problems.append(Problem(source, err.path, err.message, None, err.kind))
            aggregation = ()
    return Role(kind, name, namespace, tuple(rules), labels, aggregation, source, path)


def _subject(raw: Any, path: str, binding_kind: str, binding_ns: str | None) -> Subject:
    if not isinstance(raw, Mapping):
        raise _Unreadable(path, "expected an object")
    kind, name = raw.get("kind"), raw.get("name")
    if kind not in SUBJECT_KINDS:
        raise _Unreadable(_join(path, "kind"), f"unknown subject kind {kind!r}")
    if not isinstance(name, str) or not name:
        raise _Unreadable(_join(path, "name"), "missing or not a string")
    if kind != "ServiceAccount":
        return Subject(kind, name)
    ns = raw.get("namespace") or (binding_ns if binding_kind == "RoleBinding" else None)
    if not isinstance(ns, str) or not ns:
        # The authorizer matches nobody for it (rbac.appliesToUser); the API rejects it anyway.
        raise _Unreadable(_join(path, "namespace"), "a ServiceAccount subject needs a namespace here", "invalid")
    return Subject(kind, name, ns)


def _binding(
    source: str,
    path: str,
    item: Mapping[str, Any],
    kind: str,
    name: str,
    namespace: str | None,
    problems: list[Problem],
) -> Binding | None:
    ref = item.get("roleRef")
    rpath = _join(path, "roleRef")
    if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str) or not ref.get("name"):
        raise _Unreadable(rpath, "missing or without a name")
    ref_kind = ref.get("kind")
    if ref_kind not in ROLE_KINDS:
        raise _Unreadable(_join(rpath, "kind"), f"unknown role kind {ref_kind!r}")
    if kind == "ClusterRoleBinding" and ref_kind == "Role":
        raise _Unreadable(rpath, "a ClusterRoleBinding cannot reference a Role (the API rejects it)", "invalid")
    raw_subjects = item.get("subjects")
    subjects: list[Subject] = []
    if raw_subjects is not None and not isinstance(raw_subjects, list):
        raise _Unreadable(_join(path, "subjects"), "expected a list")
    for i, raw in enumerate(raw_subjects or []):
        try:
            subjects.append(_subject(raw, _join(path, f"subjects[{i}]"), kind, namespace))
        except _Unreadable as err:
            problems.append(Problem(source, err.path, err.message, namespace, err.kind))
    return Binding(kind, name, namespace, RoleRef(ref_kind, ref["name"]), tuple(subjects), source, path)
