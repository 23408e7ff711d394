"""The pipeline: collection errors travel with the evidence directory; `check` of a missing ServiceAccount fails."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit, demo_dir
from kubeiam.pipeline.collection import COLLECTION_ERRORS, collect
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest, load_providers
from kubeiam.vocabulary.declarations import Declarations
from kubeiam.vocabulary.model import CoverageError, Inventory

DENIED = CoverageError("aws", "iam:GetRole arn:aws:iam::111122223333:role/x", "AccessDenied", "eks-prod/data/etl")


class _FailingProvider:
    """Writes one cluster, and fails one call, as a live provider would report it."""

    name = "kubernetes"
    order = 0
    rules = ()
    declarations = Declarations()

    def __init__(self, source: Path) -> None:
        self.source = source
        self.reads = 0

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        pass

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        self.reads += 1
        return next(p for p in load_providers() if p.name == "kubernetes").read(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> list[CoverageError]:
        shutil.copytree(self.source / "kubernetes", request.output / "kubernetes")
        return [DENIED]


def test_collect_writes_its_errors_and_an_offline_audit_reports_them(tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    provider = _FailingProvider(demo_dir())
    collect(CollectRequest(options=argparse.Namespace(), output=out), [provider])
    assert json.loads((out / COLLECTION_ERRORS).read_text())["errors"][0]["reason"] == "AccessDenied"

    report = audit(Evidence(out), providers=[provider])
    assert {"source": "aws", "location": DENIED.location, "reason": "AccessDenied", "subject": DENIED.subject} in (
        report.coverage["errors"]
    )
    assert report.incomplete


def test_a_check_of_another_service_account_does_not_carry_the_error(tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    provider = _FailingProvider(demo_dir())
    collect(CollectRequest(options=argparse.Namespace(), output=out), [provider])
    report = audit(Evidence(out), namespace="payments", service_account="api", providers=[provider])
    assert all(e["subject"] != DENIED.subject for e in report.coverage["errors"])


def test_a_malformed_collection_errors_file_is_an_input_error(tmp_path: Path) -> None:
    shutil.copytree(demo_dir() / "kubernetes", tmp_path / "kubernetes")
    (tmp_path / COLLECTION_ERRORS).write_text(json.dumps({"errors": [{"source": "aws"}]}))
    with pytest.raises(InputError, match=COLLECTION_ERRORS):
        audit(Evidence(tmp_path), providers=load_providers())


def test_check_of_a_service_account_the_evidence_lacks_is_an_input_error() -> None:
    # A CI gate on a misspelt name must fail loudly, not pass with "no findings".
    with pytest.raises(InputError, match="no ServiceAccount payments/typo"):
        audit(Evidence(demo_dir()), namespace="payments", service_account="typo", providers=load_providers())


def test_audit_of_a_namespace_the_evidence_lacks_is_an_input_error() -> None:
    with pytest.raises(InputError, match="--namespace paymnets"):
        audit(Evidence(demo_dir()), namespace="paymnets", providers=load_providers())
    assert audit(Evidence(demo_dir()), namespace="payments", providers=load_providers()).findings


def test_a_live_audit_reads_each_evidence_file_once(tmp_path: Path) -> None:
    """Collected, then read once: the inventory built while collecting is the one audited."""
    provider = _FailingProvider(demo_dir())
    request = CollectRequest(options=argparse.Namespace(), output=tmp_path / "evidence")
    report = audit(request, providers=[provider])
    assert provider.reads == 1
    assert report.coverage["sources"] == sorted(set(report.coverage["sources"]))
    assert "kubernetes/eks-prod/resources.json" in report.coverage["sources"]
    # The collection's own errors are in the live report, as in an offline re-audit of the directory.
    assert DENIED.location in {e["location"] for e in report.coverage["errors"]}
    offline = audit(Evidence(tmp_path / "evidence"), providers=[provider])
    assert offline.coverage == report.coverage
