"""The pipeline: collection errors travel with the evidence directory; `check` of a missing ServiceAccount fails."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from kubeiam.errors import InputError
from kubeiam.evidence import Evidence
from kubeiam.model import CoverageError, Inventory
from kubeiam.pipeline import COLLECTION_ERRORS, audit, collect, demo_dir
from kubeiam.providers import CollectRequest, load_providers

DENIED = CoverageError("aws", "iam:GetRole arn:aws:iam::111122223333:role/x", "AccessDenied", "eks-prod/data/etl")


class _FailingProvider:
    """Writes one cluster, and fails one call, as a live provider would report it."""

    name = "kubernetes"
    order = 0
    rules = ()

    def __init__(self, source: Path) -> None:
        self.source = source

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        pass

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
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
