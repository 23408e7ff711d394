"""The audit pipeline: evidence -> inventory -> findings -> report. Live audits collect first."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubeiam.engine import AnalysisConfig, analyse
from kubeiam.errors import InputError
from kubeiam.evidence import Evidence, write_json_file
from kubeiam.gcpause import gc_paused
from kubeiam.model import CoverageError, Inventory
from kubeiam.providers import CollectRequest, Provider, load_providers
from kubeiam.report import Report, build_report
from kubeiam.rules import all_rules


def read_inventory(evidence: Evidence, providers: Sequence[Provider]) -> Inventory:
    known = {p.name for p in providers}
    if not any(evidence.path(name).is_dir() for name in known):
        # Most likely the wrong folder: auditing it would print an empty, "clean" report.
        raise InputError(f"{evidence.root}: not an evidence directory (no {'/, '.join(sorted(known))}/ folder in it)")
    # Errors of the live collection that wrote this directory come first, so a provider's reader
    # can tell "not collected (AccessDenied)" from "does not exist".
    inventory = Inventory(errors=read_collection_errors(evidence))
    for provider in providers:
        inventory = provider.read(evidence, inventory)
    if not inventory.clusters:
        inventory = inventory.with_(
            errors=(
                *inventory.errors,
                CoverageError("kubernetes", "kubernetes/", "no cluster evidence: no ServiceAccount was audited"),
            )
        )
    return inventory.with_(sources=tuple(dict.fromkeys(evidence.read)))


def narrow(inventory: Inventory, namespace: str | None, name: str | None = None) -> Inventory:
    """Keep only one namespace (or one ServiceAccount) and the nodes its pods run on."""
    if namespace is None:
        return inventory

    def keep(obj: object) -> bool:
        ns = getattr(obj, "namespace", None)
        sa = getattr(obj, "service_account", getattr(obj, "name", None))
        return ns == namespace and (name is None or sa == name)

    workloads = tuple(w for w in inventory.workloads if keep(w))
    service_accounts = tuple(s for s in inventory.service_accounts if keep(s))
    used_nodes = {(w.cluster, w.node) for w in workloads}
    # Cluster-level rules (launch templates, node pools) iterate clusters: keep only the ones the
    # narrowed ServiceAccounts live in, so `check` says nothing about unrelated clusters.
    clusters = {s.cluster for s in service_accounts} | {w.cluster for w in workloads}
    return inventory.with_(
        clusters=tuple(c for c in inventory.clusters if c.name in clusters),
        namespaces=tuple(n for n in inventory.namespaces if n.name == namespace),
        service_accounts=service_accounts,
        workloads=workloads,
        nodes=tuple(n for n in inventory.nodes if (n.cluster, n.name) in used_nodes),
        links=tuple(link for link in inventory.links if keep(link)),
        errors=tuple(e for e in inventory.errors if e.subject is None or _subject_in(e.subject, namespace, name)),
        scope=namespace if name is None else f"{namespace}/{name}",
    )


def _subject_in(subject: str, namespace: str, name: str | None) -> bool:
    parts = subject.split("/")
    if len(parts) != 3:  # a principal or cluster-level subject: keep, it may concern this SA
        return True
    return parts[1] == namespace and (name is None or parts[2] == name)


def collect(request: CollectRequest, providers: Sequence[Provider]) -> tuple[Evidence, list[CoverageError]]:
    """Live collection into `request.output`, provider by provider; returns what failed."""
    created = [p for p in (request.output, *request.output.parents) if not p.exists()]
    request.output.mkdir(parents=True, exist_ok=True)
    evidence = Evidence(request.output)
    errors: list[CoverageError] = []
    inventory = Inventory()
    try:
        for provider in providers:
            errors.extend(provider.collect(request, inventory))
            # Each cloud provider needs what Kubernetes (and earlier providers) found: re-read.
            inventory = provider.read(Evidence(request.output), inventory)
    except BaseException:
        # Bad input (unknown context, unreadable kubeconfig...): leave no half-written evidence
        # directory behind, and no empty folders this run created.
        if created:  # never delete a folder the user already had
            shutil.rmtree(request.output, ignore_errors=True)
        for folder in created[1:]:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    write_collection_errors(request.output, errors)
    return evidence, errors


COLLECTION_ERRORS = "collection-errors.json"
"""What a live collection could not read, kept in the evidence directory it wrote: an offline
re-audit of that directory then reports the same coverage as the live audit did."""


def write_collection_errors(root: Path, errors: Sequence[CoverageError]) -> None:
    rows = [
        {"source": e.source, "location": e.location, "reason": e.reason, "subject": e.subject}
        for e in sorted(set(errors), key=lambda e: (e.source, e.location, e.reason, e.subject or ""))
    ]
    write_json_file(root / COLLECTION_ERRORS, {"errors": rows})


def read_collection_errors(evidence: Evidence) -> tuple[CoverageError, ...]:
    rows = evidence.load_list(COLLECTION_ERRORS, key="errors")
    if rows is None:
        return ()
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("source", "location", "reason")):
            raise InputError(f"{COLLECTION_ERRORS}: errors[{i}] needs string fields source, location, reason")
        subject = row.get("subject")
        out.append(
            CoverageError(row["source"], row["location"], row["reason"], subject if isinstance(subject, str) else None)
        )
    return tuple(out)


def audit_with_inventory(
    evidence: Evidence,
    *,
    namespace: str | None = None,
    service_account: str | None = None,
    mode: str = "audit",
    providers: Sequence[Provider] | None = None,
    config: AnalysisConfig | None = None,
    now: datetime | None = None,
) -> tuple[Report, Inventory]:
    """The one audit path: read, narrow, analyse, report. Returns the narrowed inventory too, for the
    stages after it (owners, annotation suppressions) that need the Kubernetes objects."""
    providers = providers if providers is not None else load_providers()
    now = now or datetime.now(UTC)  # the one clock of an audit: the report's time, and what rules judge expiry by
    with gc_paused():
        inventory = narrow(read_inventory(evidence, providers).with_(as_of=now), namespace, service_account)
        # A CI gate on a misspelt name must not pass as "no findings".
        if service_account is not None and not inventory.service_accounts:
            raise InputError(f"check: no ServiceAccount {namespace}/{service_account} in {evidence.root}")
        if namespace is not None and not inventory.service_accounts and not inventory.namespaces:
            raise InputError(f"--namespace {namespace}: no such namespace in {evidence.root}")
        rules = all_rules(providers)
        findings = analyse(inventory, rules, config)
    report = build_report(inventory, findings, rules=rules, mode=mode, generated_at=now)
    return report, inventory


def audit(evidence: Evidence, **options: Any) -> Report:
    """`audit_with_inventory` without the inventory."""
    return audit_with_inventory(evidence, **options)[0]


def demo_dir() -> Path:
    """The bundled demo evidence (fixtures/demo in the source tree)."""
    return Path(__file__).resolve().parents[2] / "fixtures" / "demo"
