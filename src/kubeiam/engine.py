"""Analysis: (Inventory, rules, config) -> findings. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kubeiam.findings import Finding, Severity, fingerprint
from kubeiam.model import Inventory
from kubeiam.ownership import DEFAULT_OWNER_LABELS, owner_of
from kubeiam.rules.base import Match, Rule


@dataclass(frozen=True)
class AnalysisConfig:
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    """rule id -> severity, from the config file; never below the category's floor."""
    disabled_rules: frozenset[str] = frozenset()
    owner_labels: tuple[str, ...] = DEFAULT_OWNER_LABELS
    """Namespace labels that name a finding's owner, first match wins (every finding gets `owner`)."""


def analyse(inventory: Inventory, rules: Iterable[Rule], config: AnalysisConfig | None = None) -> tuple[Finding, ...]:
    config = config or AnalysisConfig()
    by_fp: dict[str, Finding] = {}
    owners: dict[tuple[str, str | None], str | None] = {}  # per namespace, not per finding
    for rule in rules:
        if rule.id in config.disabled_rules:
            continue
        for match in rule.check(inventory):
            key = (match.cluster, match.namespace)
            if key not in owners:
                owners[key] = owner_of(inventory, match.cluster, match.namespace, config.owner_labels)
            finding = _finding(rule, match, inventory, config, owners[key])
            kept = by_fp.get(finding.fingerprint)
            # One ticket per problem: the same problem found twice keeps its worst severity.
            if kept is None or finding.severity.rank > kept.severity.rank:
                by_fp[finding.fingerprint] = finding
    return tuple(sorted(by_fp.values(), key=Finding.sort_key))


def _finding(rule: Rule, m: Match, inventory: Inventory, config: AnalysisConfig, owner: str | None) -> Finding:
    cluster = inventory.cluster(m.cluster)
    cluster_id = cluster.identity if cluster else m.cluster
    severity = config.severity_overrides.get(rule.id, rule.severity)
    if m.severity is not None:
        severity = severity.at_least(m.severity)
    severity = severity.at_least(rule.category.floor)
    title = rule.title if not m.detail else f"{rule.title}: {m.detail}"
    evidence = dict(m.evidence)
    if m.source and "source" not in evidence:
        evidence["source"] = m.source
    return Finding(
        fingerprint=fingerprint(
            rule.id, cluster_id, m.namespace, m.service_account, m.node, m.principal, m.source, m.item
        ),
        rule_id=rule.id,
        category=rule.category,
        severity=severity,
        title=title,
        cluster=m.cluster,
        cluster_id=cluster_id,
        namespace=m.namespace,
        service_account=m.service_account,
        node=m.node,
        cloud=m.cloud,
        principal=m.principal,
        evidence=evidence,
        remediation=m.remediation or rule.remediation,
        extra={"owner": owner},
    )
