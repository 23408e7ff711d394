"""deploy/manifests/kubeiam.yaml is the chart's own rendering with default values, and stays so."""

from __future__ import annotations

import pytest

pytest.importorskip("helm_python", reason="helm-python-sdk has no wheel for this platform (Intel macOS)")

from helm_render import MANIFESTS, MANIFESTS_HEADER, by_kind, manifests_text


def test_plain_manifests_are_the_chart_rendered_with_default_values():
    assert MANIFESTS.read_text() == manifests_text(), (
        "deploy/manifests/kubeiam.yaml is stale: run .venv/bin/python tests/deploy/helm_render.py"
    )


def test_plain_manifests_hold_everything_a_run_needs():
    objs = by_kind(MANIFESTS.read_text().removeprefix(MANIFESTS_HEADER))
    assert set(objs) == {
        "NetworkPolicy",
        "ServiceAccount",
        "PersistentVolumeClaim",
        "ClusterRole",
        "ClusterRoleBinding",
        "CronJob",
    }
    assert {o["metadata"].get("namespace") for k, o in objs.items() if not k.startswith("Cluster")} == {"kubeiam"}
