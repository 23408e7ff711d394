"""What K8S-006 looks up per cluster, built once per inventory: the takeover index over the cluster's own
RBAC and what the clouds grant into it, the cloud principal behind each subject, and each ServiceAccount's
takeover (its pods, its legacy token Secrets, and whether the cluster's token Secrets were listed at all).

Built on the whole inventory (`inv.whole`): RBAC is the cluster's, whatever `check` or `--namespace`
narrowed, so one finding has one evidence whether an audit or a check finds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeiam.vocabulary.model import ExternalRbac, Inventory, ServiceAccount
from kubeiam_kubernetes.judge.expected_subjects import DEFAULT_EXPECTED_SUBJECTS
from kubeiam_kubernetes.judge.rbac_parse import parse_rbac
from kubeiam_kubernetes.judge.takeover import TakeoverIndex
from kubeiam_kubernetes.judge.takeover_model import ExpectedSubject, PodRef, Target, TargetTakeover
from kubeiam_kubernetes.view import kubernetes_view

SETTINGS = "takeover"
"""`kubeiam.toml`'s `[takeover]` table, as `parse_settings` gives it (`Inventory.settings`)."""
ITEM = "kubeiam.io/item"
"""Annotation a cloud reader puts on a synthetic RBAC object: where in its evidence file it comes from."""
REMEDIATION = "kubeiam.io/remediation"
"""Annotation a cloud reader puts on a synthetic binding: what to change on the cloud side."""


@dataclass(frozen=True)
class CloudPrincipal:
    """The cloud principal behind a Kubernetes subject (an IAM role mapped by an EKS access entry...)."""

    principal: str
    source: str
    """The evidence file the mapping comes from."""
    note: str = ""


@dataclass
class ClusterTakeover:
    """One cluster's takeover index and the look-ups K8S-006's evidence needs."""

    index: TakeoverIndex
    cloud: Mapping[str, tuple[CloudPrincipal, ...]]
    """Subject principal (`user:NAME`, `group:NAME`) -> the cloud principals behind it."""
    items: Mapping[tuple[str, str], str]
    """(evidence file, binding ref) -> the item of the cloud evidence a synthetic binding comes from."""
    hints: Mapping[tuple[str, str], str]
    """(evidence file, binding ref) -> what to change on the cloud side for a synthetic binding."""
    results: dict[tuple[str, str], TargetTakeover] = field(default_factory=dict)
    """(namespace, name) -> who can become that ServiceAccount, asked once."""
    grouped: dict[tuple[int, int], tuple[object, object, Any]] = field(default_factory=dict)
    """K8S-006's per-subject grouping of a shared findings tuple (rules/takeover.py)."""
    evidence: dict[tuple[Any, ...], tuple[Sequence[Any], Any]] = field(default_factory=dict)
    """K8S-006's evidence of (subject, takeovers) before the identity's part (rules/takeover_evidence.py)."""

    tokens: Mapping[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)
    """The cluster's legacy token Secrets by ServiceAccount key (the Kubernetes view's)."""
    tokens_known: bool = False
    """The cluster's token Secrets were listed whole: a ServiceAccount without one in `tokens` has none.
    Otherwise one may exist (live collection never reads Secrets), and readers of Secrets count, marked."""

    def of(self, inv: Inventory, sa: ServiceAccount) -> TargetTakeover:
        key = (sa.namespace, sa.name)
        found = self.results.get(key)
        if found is None:
            pods = tuple(PodRef(w.pod, w.node) for w in inv.whole.workloads_of(sa))
            tokens = self.tokens.get(sa.key, ())
            target = Target(sa.namespace, sa.name, pods, tokens, token_secrets_known=self.tokens_known)
            found = self.results[key] = self.index.who_can_become(target)
        return found


def cluster_takeover(inv: Inventory, cluster: str) -> ClusterTakeover | None:
    """The cluster's takeover look-ups; None when its RBAC was not read (coverage says so)."""
    whole = inv.whole
    cache: dict[str, ClusterTakeover | None] = whole.memo("kubernetes_takeover", lambda _: {})
    if cluster not in cache:
        cache[cluster] = _build(whole, cluster)
    return cache[cluster]


def _build(inv: Inventory, cluster: str) -> ClusterTakeover | None:
    own = kubernetes_view(inv).rbac.get(cluster)
    if own is None:
        return None
    externals = [e for e in inv.external_rbac if e.cluster == cluster]
    synthetic = parse_rbac([(e.source, {"kind": "List", "items": list(e.objects)}) for e in externals if e.objects])
    extra, remove = settings(inv)
    index = TakeoverIndex(own + synthetic if externals else own, expected_table(extra, remove))
    items, hints = _annotations(externals)
    view = kubernetes_view(inv)
    return ClusterTakeover(
        index,
        _cloud_principals(externals),
        items,
        hints,
        tokens=view.token_secrets,
        tokens_known=cluster in view.token_secrets_listed,
    )


def expected_table(extra: Sequence[ExpectedSubject], remove: Sequence[str]) -> tuple[ExpectedSubject, ...]:
    """The documented table, minus `remove` (unknown entries are ignored: `kubeiam.toml` is checked when it
    is loaded), plus `extra`."""
    gone = set(remove)
    return tuple(e for e in DEFAULT_EXPECTED_SUBJECTS if e.principal not in gone) + tuple(extra)


def settings(inv: Inventory) -> tuple[tuple[ExpectedSubject, ...], tuple[str, ...]]:
    """`[takeover] expected` and `not_expected` from the configuration (parsed by `parse_settings`)."""
    parsed = inv.settings.get(SETTINGS)
    return parsed if isinstance(parsed, tuple) else ((), ())


def parse_settings(raw: Any) -> tuple[tuple[ExpectedSubject, ...], tuple[str, ...]]:
    """`[takeover]` of kubeiam.toml: `expected = [{principal, binding?, why?}]`, `not_expected = [principal]`.
    ValueError (one line) on anything else: a typo must not turn a finding off silently."""
    if not isinstance(raw, Mapping) or set(raw) - {"expected", "not_expected"}:
        raise ValueError("only `expected` and `not_expected` are read (docs/kubernetes.md)")
    extra = []
    for i, e in enumerate(raw.get("expected") or ()):
        if (
            not isinstance(e, Mapping)
            or not isinstance(e.get("principal"), str)
            or set(e) - {"principal", "binding", "why"}
        ):
            raise ValueError(f'expected[{i}] must be {{principal = "...", binding = "...", why = "..."}}')
        extra.append(ExpectedSubject(e["principal"], str(e.get("binding") or "*"), str(e.get("why") or "kubeiam.toml")))
    remove = raw.get("not_expected") or []
    if not isinstance(remove, list) or not all(isinstance(p, str) for p in remove):
        raise ValueError("not_expected must be a list of principals (user:NAME, group:NAME, serviceaccount:NS/NAME)")
    known = {e.principal for e in DEFAULT_EXPECTED_SUBJECTS}
    unknown = [p for p in remove if p not in known]
    if unknown:
        raise ValueError(f"not_expected names no entry of the documented table: {', '.join(unknown)}")
    return tuple(extra), tuple(remove)


def _cloud_principals(externals: Sequence[ExternalRbac]) -> dict[str, tuple[CloudPrincipal, ...]]:
    found: dict[str, dict[str, CloudPrincipal]] = {}
    for e in externals:
        for subject, principal in e.principals.items():
            found.setdefault(subject, {}).setdefault(principal, CloudPrincipal(principal, e.source, e.note))
    return {s: tuple(by.values()) for s, by in found.items()}


def _annotations(externals: Sequence[ExternalRbac]) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    items: dict[tuple[str, str], str] = {}
    hints: dict[tuple[str, str], str] = {}
    for e in externals:
        for obj in e.objects:
            meta: Mapping[str, Any] = obj.get("metadata") or {}
            annotations = meta.get("annotations") or {}
            name, ns = meta.get("name"), meta.get("namespace")
            ref = f"{obj.get('kind')}/{ns}/{name}" if ns else f"{obj.get('kind')}/{name}"
            if isinstance(annotations.get(ITEM), str):
                items[(e.source, ref)] = annotations[ITEM]
            if isinstance(annotations.get(REMEDIATION), str):
                hints[(e.source, ref)] = annotations[REMEDIATION]
    return items, hints
