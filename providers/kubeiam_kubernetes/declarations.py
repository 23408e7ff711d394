"""What the Kubernetes provider declares: the name its cloud-free findings carry. It declares no identity
annotation and no credential variable: those belong to the cloud providers."""

from __future__ import annotations

from kubeiam.vocabulary.declarations import Declarations

KUBERNETES = "kubernetes"
"""The `cloud` of a finding that no cloud's evidence decides."""

DECLARATIONS = Declarations()
