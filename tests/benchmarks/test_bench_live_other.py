"""Smoke tests of bench_live_other.py at tiny scale: the live GCP, Azure and Kubernetes collectors,
against the test suite's servers (in this process, no latency), make the calls the lower bound says.
No timing is asserted."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import live_servers
import pytest
from bench_live_other import bound_of, build, client_endpoints, collect_once
from estate import Scale
from lower_bound_other import KUBE_PAGE
from other_clouds import AZ_SUB

# Big enough to page: 120 GSAs are 2 pages of serviceAccounts.list; 1,001 ServiceAccounts are 3 pages
# of 500; an ARM page of 5 pages every Azure list.
SCALES = {
    "gcp": Scale(service_accounts=150, roles=120, policies=3, nodes=4),
    "azure": Scale(service_accounts=60, roles=12, policies=6, nodes=4),
    "kubernetes": Scale(service_accounts=1001, roles=10, policies=2, nodes=3),
}
ARM_PAGE = 5


def _collect(cloud: str, tmp: Path, check: bool) -> tuple[dict[str, int], dict[str, int], Any]:
    estate, data, check_sa = build(cloud, SCALES[cloud], tmp, ARM_PAGE)
    server = live_servers.serve(cloud, data)
    try:
        endpoints = client_endpoints(cloud, server.endpoints, tmp)
        sa = check_sa if check else None
        result = collect_once(cloud, estate.evidence, tmp / "out", endpoints, sa)
        # Nothing refused, nothing left unchecked: not even Secrets, which kubeiam never asks for (K8S-006 takes a
        # legacy token Secret as possibly present instead of a coverage note).
        assert result["error_count"] == 0, result["errors"]
        calls = server.stats()["calls"]
    finally:
        server.close()
    return calls, bound_of(cloud, estate, sa, ARM_PAGE).calls, estate


@pytest.mark.parametrize("check", [False, True], ids=["whole-cluster", "check"])
@pytest.mark.parametrize("cloud", ["gcp", "azure", "kubernetes"])
def test_calls_are_within_the_lower_bound(cloud: str, check: bool, tmp_path: Path) -> None:
    calls, bound, _ = _collect(cloud, tmp_path, check)
    total, least = sum(calls.values()), sum(bound.values())
    assert least <= total <= 1.2 * least, (calls, bound)


def test_gcp_fetches_each_identity_and_role_once(tmp_path: Path) -> None:
    calls, bound, estate = _collect("gcp", tmp_path, check=False)
    assert calls == bound
    gsas = len(estate.projects["bench-proj"]["accounts"])
    assert calls["projects.serviceAccounts.list"] == math.ceil(gsas / 100) == 2
    assert calls["projects.serviceAccounts.keys.list"] == gsas
    # Every GSA's policy came with the asset search: none is asked for again.
    assert "projects.serviceAccounts.getIamPolicy" not in calls
    # Three bound custom roles of the project: one list, not three gets.
    assert calls["projects.roles.list"] == 1 and "projects.roles.get" not in calls


def test_azure_lists_pages_and_fetches_each_identity_once(tmp_path: Path) -> None:
    calls, bound, estate = _collect("azure", tmp_path, check=False)
    assert calls == bound
    assert calls["userAssignedIdentities.list"] == math.ceil(12 / ARM_PAGE)
    assert calls["federatedIdentityCredentials.list"] == 12
    # Each identity's Activity Log, its own query, paged like every ARM list (issue 14).
    events = json.loads((estate.arm_root / AZ_SUB / "activity-log.json").read_text())
    assert len(events) == 12 and any(events.values())
    assert calls["activityLogs.list"] == sum(math.ceil(max(1, len(e)) / ARM_PAGE) for e in events.values())


def test_kubernetes_lists_are_paged_at_500(tmp_path: Path) -> None:
    calls, bound, estate = _collect("kubernetes", tmp_path, check=False)
    assert calls == bound
    kinds = ("ServiceAccount", "Pod", "Node", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
    count = {k: sum(o["kind"] == k for o in estate.objects) for k in kinds}
    assert calls["list /api/v1/serviceaccounts"] == math.ceil(count["ServiceAccount"] / KUBE_PAGE) == 3
    assert calls["list /api/v1/pods"] == math.ceil(count["Pod"] / KUBE_PAGE) == 1
    assert calls["list /api/v1/nodes"] == 1
    # The RBAC, for K8S-006: one list per kind, paged like the rest; aws-auth is one get (a 404 on GKE).
    for kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"):
        path = f"/apis/rbac.authorization.k8s.io/v1/{kind.lower()}s"
        assert count[kind] and calls[f"list {path}"] == math.ceil(count[kind] / KUBE_PAGE), kind
    assert calls["get /api/v1/namespaces/kube-system/configmaps/aws-auth"] == 1


def test_check_of_one_service_account_makes_only_the_calls_it_needs(tmp_path: Path) -> None:
    for cloud in ("gcp", "azure", "kubernetes"):
        calls, bound, _ = _collect(cloud, tmp_path / cloud, check=True)
        assert calls == bound, cloud
