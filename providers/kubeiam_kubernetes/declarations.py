"""What the Kubernetes provider declares: the name its cloud-free findings carry. It declares no identity
annotation and no credential variable: those belong to the cloud providers."""

from __future__ import annotations

from kubeiam.vocabulary.declarations import Declarations

KUBERNETES = "kubernetes"
"""The `cloud` of a finding that no cloud's evidence decides."""


def _takeover_settings(raw: object) -> object:
    # Imported here: the rules package imports this module (its cloud name), so not at import time.
    from kubeiam_kubernetes.rules.takeover_index import parse_settings

    return parse_settings(raw)


DECLARATIONS = Declarations(settings={"takeover": _takeover_settings})
