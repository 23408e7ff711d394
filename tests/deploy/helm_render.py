"""The chart rendered by Helm's own engine, as `helm template` does, and the plain manifests made from it.

helm-python-sdk links the Helm v4 Go library (a wheel per platform): `install --dry-run=client` is
exactly `helm template` (values.schema.json enforced, objects in Helm's install order). Run this file
to regenerate deploy/manifests/kubeiam.yaml after changing the chart:

    .venv/bin/python tests/deploy/helm_render.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "kubeiam"
MANIFESTS = REPO / "deploy" / "manifests" / "kubeiam.yaml"
RELEASE = NAMESPACE = "kubeiam"

MANIFESTS_HEADER = """\
# kubeiam for clusters without Helm: the chart deploy/helm/kubeiam rendered with its default values,
# release "kubeiam" in namespace "kubeiam" (regenerate: .venv/bin/python tests/deploy/helm_render.py;
# a test keeps the two in sync). Before applying, set the image (the CronJob's `image:`), and the
# ServiceAccount's workload-identity annotation for your cloud (docs/deploy.md):
#
#   kubectl create namespace kubeiam
#   kubectl label namespace kubeiam pod-security.kubernetes.io/enforce=restricted
#   kubectl apply -n kubeiam -f deploy/manifests/kubeiam.yaml
"""


def render(values: dict[str, Any] | None = None, *, release: str = RELEASE, namespace: str = NAMESPACE) -> str:
    """The manifest `helm template RELEASE deploy/helm/kubeiam -n NAMESPACE` prints for these values."""
    import helm_python

    # In memory, client only: no cluster, no kubeconfig, nothing stored.
    config = helm_python.Config(storage_driver="memory", namespace=namespace)
    try:
        release_info = config.install(str(CHART), release, values or {}, dry_run="client", namespace=namespace)
    finally:
        config.close()
    return release_info["manifest"]


def objects(manifest: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def by_kind(manifest: str) -> dict[str, dict[str, Any]]:
    """One object per kind (the chart renders at most one of each)."""
    out: dict[str, dict[str, Any]] = {}
    for obj in objects(manifest):
        assert obj["kind"] not in out, f"two {obj['kind']} objects"
        out[obj["kind"]] = obj
    return out


def pod_spec(cronjob: dict[str, Any]) -> dict[str, Any]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def manifests_text() -> str:
    return MANIFESTS_HEADER + render()


if __name__ == "__main__":
    MANIFESTS.parent.mkdir(parents=True, exist_ok=True)
    MANIFESTS.write_text(manifests_text())
    print(f"wrote {MANIFESTS.relative_to(REPO)}")
