"""The test harness around a live collection: build the request, run it, read back what it wrote."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_live_estate import Estate
from aws_live_servers import FrontServer

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest, declarations_of, load_providers
from kubeiam.vocabulary.model import CoverageError, Inventory


@dataclass
class Run:
    errors: list[CoverageError]
    calls: dict[str, int]
    output: Path
    operations: list[str]
    """What the front server saw (IAM and EKS calls; EC2 goes straight to moto)."""

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def load(self, relative: str) -> Any:
        return json.loads((self.output / relative).read_text())


@dataclass
class LiveAws:
    moto_url: str
    front: FrontServer
    estate: Estate
    tmp: Path

    def evidence(self, name: str = "evidence") -> Path:
        """A fresh evidence directory holding the Kubernetes half of the estate."""
        return self.estate.write_kubernetes(self.tmp / name)

    def inventory(self, root: Path) -> Inventory:
        from kubeiam_kubernetes import PROVIDER as KUBERNETES

        # As the pipeline starts a read: with every provider's declarations (node schemes, annotations).
        return KUBERNETES.read(Evidence(root), Inventory(declarations=declarations_of(load_providers())))

    def collect(
        self,
        *,
        service_account: tuple[str, str] | None = None,
        namespace: str | None = None,
        root: Path | None = None,
        progress: object | None = None,
        **options: Any,
    ) -> Run:
        from kubeiam_aws.live import CallCounter, collect

        root = root or self.evidence(f"ev{len(list(self.tmp.iterdir()))}")
        counter = CallCounter()
        request = CollectRequest(
            options=argparse.Namespace(**options),
            output=root,
            namespace=namespace,
            service_account=service_account,
            progress=progress,
        )
        self.front.log.clear()
        errors = collect(request, self.inventory(root), counter)
        return Run(list(errors), counter.as_dict(), root, list(self.front.log))
