"""Live collection through the `kubernetes` client. (Owned by the live-collection work.)"""

from __future__ import annotations

from kubeiam.errors import InputError
from kubeiam.model import CoverageError
from kubeiam.providers import CollectRequest


def collect(request: CollectRequest) -> list[CoverageError]:
    raise InputError("live Kubernetes collection is not available yet; use --evidence DIR")
