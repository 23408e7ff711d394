"""Analysis: (Inventory, rules, config) -> findings. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeiam.quarterly.ownership import DEFAULT_OWNER_LABELS, owner_of
from kubeiam.vocabulary.compliance import applying
from kubeiam.vocabulary.findings import FIELD_SEPARATOR, Finding, Severity, fingerprint_of, identity_text
from kubeiam.vocabulary.model import Inventory
from kubeiam.vocabulary.rules import Match, Rule


@dataclass(frozen=True)
class AnalysisConfig:
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    """rule id -> severity, from the config file; never below the category's floor."""
    disabled_rules: frozenset[str] = frozenset()
    owner_labels: tuple[str, ...] = DEFAULT_OWNER_LABELS
    """Namespace labels that name a finding's owner, first match wins (every finding gets `owner`)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Provider-declared `kubeiam.toml` tables, parsed (set on the inventory for the rules)."""
    usage_window_days: int = 90
    """Access not used for this many days counts as unused (set on the inventory for the rules)."""
    source: str | None = None
    """Where the overrides and disabled rules came from (the config file), for the report's coverage."""


def analyse(inventory: Inventory, rules: Iterable[Rule], config: AnalysisConfig | None = None) -> tuple[Finding, ...]:
    config = config or AnalysisConfig()
    build = _Builder(inventory, config)
    by_fp: dict[str, Finding] = {}
    for rule in rules:
        if rule.id in config.disabled_rules:
            continue
        for match in rule.check(inventory):
            build(rule, match, by_fp)
    return tuple(sorted(by_fp.values(), key=Finding.sort_key))


class _Builder:
    """Match -> findings. A role's findings repeat for every ServiceAccount that takes the role (100,000
    findings at 20,000 ServiceAccounts), so what does not depend on the subject is worked out once per
    match and shared: severity, title, evidence (shared, never copied: evidence is not changed after it
    is built), owners per namespace, cluster ids."""

    def __init__(self, inventory: Inventory, config: AnalysisConfig) -> None:
        self._inventory = inventory
        self._config = config
        self._owners: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._cluster_ids: dict[str, str] = {}
        self._severities: dict[tuple[str, Severity | None], Severity] = {}
        self._controls: dict[tuple[str, str], tuple[Mapping[str, str], ...]] = {}
        # (id of a rule's evidence, source) -> (that evidence, kept alive so its id stays unique; with source)
        self._evidence: dict[tuple[int, str], tuple[Mapping[str, Any], Mapping[str, Any]]] = {}

    def __call__(self, rule: Rule, m: Match, by_fp: dict[str, Finding]) -> None:
        """Add the match's findings to `by_fp`. One ticket per problem: the same problem found twice keeps
        its worst severity (the first of equals). Checked before a finding is built: a fifth of the
        matches repeat a problem already found, and building a finding is most of the work."""
        cluster_id = self._cluster_ids.get(m.cluster)
        if cluster_id is None:
            cluster = self._inventory.cluster(m.cluster)
            cluster_id = self._cluster_ids[m.cluster] = cluster.identity if cluster else m.cluster
        severity = self._severities.get((rule.id, m.severity)) or self._severity(rule, m.severity)
        title = rule.title if not m.detail else f"{rule.title}: {m.detail}"
        evidence = self._with_source(m.evidence, m.source)
        remediation = m.remediation or rule.remediation
        controls = self._controls.get((rule.id, m.cluster))
        if controls is None:
            controls = self._controls_of(rule, m.cluster)
        # The fingerprint's fields around the subject are the same for every subject of the match.
        head = identity_text(rule.id, cluster_id) + FIELD_SEPARATOR
        tail = FIELD_SEPARATOR + identity_text(m.node, m.principal, m.source, m.item)
        sep = FIELD_SEPARATOR
        rank = severity.rank
        for namespace, name in m.subjects or ((m.namespace, m.service_account),):
            fp = fingerprint_of(f"{head}{namespace or ''}{sep}{name or ''}{tail}")
            kept = by_fp.get(fp)
            if kept is not None and rank <= kept.severity.rank:
                continue
            by_fp[fp] = Finding(
                fingerprint=fp,
                rule_id=rule.id,
                category=rule.category,
                severity=severity,
                title=title,
                cluster=m.cluster,
                cluster_id=cluster_id,
                namespace=namespace,
                service_account=name,
                node=m.node,
                cloud=m.cloud,
                principal=m.principal,
                evidence=evidence,
                remediation=remediation,
                compliance=controls,
                extra=self._owners.get((m.cluster, namespace)) or self._owner(m.cluster, namespace),
            )

    def _controls_of(self, rule: Rule, cluster_name: str) -> tuple[Mapping[str, str], ...]:
        """The rule's controls that apply on this cluster's platform, shared by all its findings there."""
        cluster = self._inventory.cluster(cluster_name)
        found = self._controls[(rule.id, cluster_name)] = tuple(
            c.to_dict() for c in applying(rule.compliance, cluster.cloud if cluster else None)
        )
        return found

    def _severity(self, rule: Rule, raised: Severity | None) -> Severity:
        severity = self._config.severity_overrides.get(rule.id, rule.severity)
        if raised is not None:
            severity = severity.at_least(raised)
        severity = self._severities[(rule.id, raised)] = severity.at_least(rule.category.floor)
        return severity

    def _owner(self, cluster: str, namespace: str | None) -> dict[str, Any]:
        owner = {"owner": owner_of(self._inventory, cluster, namespace, self._config.owner_labels)}
        self._owners[(cluster, namespace)] = owner
        return owner

    def _with_source(self, evidence: Mapping[str, Any], source: str | None) -> Mapping[str, Any]:
        if not source or "source" in evidence:
            return evidence
        key = (id(evidence), source)
        cached = self._evidence.get(key)
        if cached is None:
            cached = self._evidence[key] = (evidence, {**evidence, "source": source})
        return cached[1]
