"""The audit: evidence (read offline, or collected live and read once) -> inventory -> findings -> report.

`audit()` is the one entry: `kubeiam audit` and `check`, live or offline, the tests and the benchmarks all
run it. The quarterly stages (owners, suppressions, baseline) run inside it when given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from kubeiam.errors import InputError
from kubeiam.pipeline.collection import collect, read_collection_errors
from kubeiam.pipeline.engine import AnalysisConfig, analyse
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.gcpause import gc_paused
from kubeiam.pipeline.narrow import narrow, to_cluster
from kubeiam.pipeline.providers import CollectRequest, Provider, all_rules, declarations_of, load_providers
from kubeiam.pipeline.report import Report, build_report
from kubeiam.quarterly.stages import Stages, enrich
from kubeiam.vocabulary.model import CoverageError, Inventory


def audit(
    source: Evidence | CollectRequest,
    *,
    providers: Sequence[Provider] | None = None,
    namespace: str | None = None,
    service_account: str | None = None,
    cluster: str | None = None,
    mode: str = "audit",
    config: AnalysisConfig | None = None,
    stages: Stages | None = None,
    now: datetime | None = None,
) -> Report:
    """Audit an evidence directory (offline), or collect one live first (`CollectRequest`), narrowed to
    `cluster`, `namespace` (and `service_account`) when given; with `stages`, the quarterly stages follow."""
    providers = providers if providers is not None else load_providers()
    # The one clock of an audit: the report's time, and what rules judge expiry by.
    now = now or (stages.now if stages else datetime.now(UTC))
    if config is None:
        config = replace(stages.analysis, owner_labels=stages.owner_labels) if stages else AnalysisConfig()
    with gc_paused():
        if isinstance(source, CollectRequest):
            evidence, inventory, _ = collect(source, providers)
            inventory = finish_reading(inventory, evidence)
            where = str(source.output)
        else:
            inventory = read_inventory(source, providers)
            where = str(source.root)
        if cluster is not None:
            if inventory.cluster(cluster) is None:
                known = ", ".join(c.name for c in inventory.clusters) or "none"
                raise InputError(f"no cluster {cluster} in {where} (clusters: {known})")
            inventory = to_cluster(inventory, cluster)
        inventory = inventory.with_(as_of=now, usage_window_days=config.usage_window_days, settings=config.settings)
        inventory = narrow(inventory, namespace, service_account)
        # A CI gate on a misspelt name must not pass as "no findings".
        if service_account is not None and not inventory.service_accounts:
            subject = "/".join(x for x in (cluster, namespace, service_account) if x)
            raise InputError(f"check: no ServiceAccount {subject} in {where}")
        if namespace is not None and not inventory.service_accounts and not inventory.namespaces:
            raise InputError(f"--namespace {namespace}: no such namespace in {where}")
        rules = all_rules(providers)
        findings = analyse(inventory, rules, config)
    report = build_report(inventory, findings, rules=rules, mode=mode, generated_at=now, config=config)
    if stages is None:
        return report
    return enrich(report, inventory, stages, namespace=namespace, service_account=service_account, cluster=cluster)


def read_inventory(evidence: Evidence, providers: Sequence[Provider]) -> Inventory:
    """Every provider's reading of an evidence directory, in provider order (Kubernetes first)."""
    if not any(evidence.path(p.name).is_dir() for p in providers):
        # Most likely the wrong folder: auditing it would print an empty, "clean" report.
        names = "/, ".join(sorted(p.name for p in providers))
        raise InputError(f"{evidence.root}: not an evidence directory (no {names}/ folder in it)")
    # Errors of the live collection that wrote this directory come first, so a provider's reader
    # can tell "not collected (AccessDenied)" from "does not exist".
    inventory = Inventory(errors=read_collection_errors(evidence), declarations=declarations_of(providers))
    for provider in providers:
        inventory = provider.read(evidence, inventory)
    return finish_reading(inventory, evidence)


def finish_reading(inventory: Inventory, evidence: Evidence) -> Inventory:
    if not inventory.clusters:
        missing = CoverageError("kubernetes", "kubernetes/", "no cluster evidence: no ServiceAccount was audited")
        inventory = inventory.with_(errors=(*inventory.errors, missing))
    return inventory.with_(sources=tuple(dict.fromkeys(evidence.read)), errors=(*inventory.errors, *evidence.refused))


def demo_dir() -> Path:
    """The bundled demo evidence (fixtures/demo in the source tree)."""
    return Path(__file__).resolve().parents[3] / "fixtures" / "demo"
