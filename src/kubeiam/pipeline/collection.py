"""Live collection: each provider fetches its part into the evidence directory, then reads it (once).

What a collection could not read is kept in the directory it wrote (`collection-errors.json`): an
offline re-audit of that directory reports the same coverage as the live audit did.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from pathlib import Path

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence, write_json_file
from kubeiam.pipeline.providers import CollectRequest, Provider, declarations_of
from kubeiam.vocabulary.model import CoverageError, Inventory


def collect(request: CollectRequest, providers: Sequence[Provider]) -> tuple[Evidence, Inventory, list[CoverageError]]:
    """Collect into `request.output`, provider by provider, and read what each wrote as it goes: a cloud
    provider needs what Kubernetes (and the providers before it) found. Returns the evidence directory,
    the inventory read from it (each file read once) and what could not be collected."""
    created = [p for p in (request.output, *request.output.parents) if not p.exists()]
    request.output.mkdir(parents=True, exist_ok=True)
    evidence = Evidence(request.output)
    errors: list[CoverageError] = []
    inventory = Inventory(declarations=declarations_of(providers))
    # Usage errors (a mistyped profile) before anything is collected: exit 2, nothing half-written.
    for provider in providers:
        check = getattr(provider, "check_options", None)
        if check is not None and request.collects(provider):
            check(request.options)
    # The progress bars (a context manager when drawn) live as long as the collection.
    bars = request.progress if hasattr(request.progress, "__enter__") else contextlib.nullcontext()
    try:
        with bars:  # type: ignore[attr-defined]
            for provider in providers:
                if request.collects(provider):
                    failed = tuple(provider.collect(request, inventory))
                    errors.extend(failed)
                    # Before the provider reads: a reader tells "not collected (AccessDenied)" from "absent".
                    inventory = inventory.with_(errors=inventory.errors + failed)
                inventory = provider.read(evidence, inventory)
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
    evidence.read.append(COLLECTION_ERRORS)  # a source of the audit, as when the directory is re-read
    return evidence, inventory, errors


COLLECTION_ERRORS = "collection-errors.json"
"""What a live collection could not read, kept in the evidence directory it wrote: an offline
re-audit of that directory then reports the same coverage as the live audit did."""


def write_collection_errors(root: Path, errors: Sequence[CoverageError]) -> None:
    rows = [e.to_dict() for e in sorted(set(errors), key=lambda e: (e.source, e.location, e.reason, e.subject or ""))]
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
        rules = row.get("rules") or []
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise InputError(f"{COLLECTION_ERRORS}: errors[{i}].rules must be a list of rule ids")
        out.append(
            CoverageError(
                row["source"],
                row["location"],
                row["reason"],
                subject if isinstance(subject, str) else None,
                rules=tuple(rules),
                whole=row.get("whole") is True,
            )
        )
    return tuple(out)
