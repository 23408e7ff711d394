"""The issue-15 Azure rule fixtures (fixtures/rules/AZ-002, AZ-011, AZ-013) are what these scenarios write.

    .venv/bin/python tests/azure/test_azure_deeper_fixtures.py      # rewrites them after a change here

tests/test_rule_fixtures.py runs them; the test below keeps them in step with this file.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from azure_builder import RG, SUB, Scenario
from azure_deeper_support import (
    APPLICATION_RW,
    GLOBAL_ADMIN,
    ROLE_MANAGEMENT,
    USER_READ_ALL,
    app_role,
    assign,
    directory_role,
    graph_for,
    identity,
    ids,
    mi_scope,
    page,
    workload,
    write_graph,
)

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "rules"
KUBELET = ("30000000-0000-4000-8000-000000000003", "40000000-0000-4000-8000-000000000003")
ADDON = ("50000000-0000-4000-8000-000000000005", "60000000-0000-4000-8000-000000000005")
NODE_RG = "MC_rg-test_aks-test_westeurope"
FIC = "Managed Identity Federated Identity Credential Contributor"
AKS_ID = f"/subscriptions/{SUB}/resourcegroups/{RG}/providers/Microsoft.ContainerService/managedClusters/aks-test"
ADMIN_CREDENTIAL = "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action"

Case = tuple[str, str, Scenario, Any, dict[str, Any] | None]


def _graph(memberships: list[Any] = (), roles: list[Any] = ()) -> tuple[dict[str, Any], dict[str, Any]]:  # type: ignore[assignment]
    m, r = graph_for(ids(1)[1])
    m[ids(1)[1]], r[ids(1)[1]] = page(list(memberships)), page(list(roles))
    return m, r


def _app() -> Scenario:
    return workload(Scenario(), 1).managed_cluster()


def cases() -> Iterator[Case]:
    s = _app()
    yield (
        "AZ-002",
        "fail-vm-contributor-run-command",
        assign(s, ids(1)[1], "Virtual Machine Contributor", s.scope("rg")),
        None,
        {"count": 1, "severity": "high"},
    )

    s = _app()
    identity(s, 2)
    identity(s, 3)
    assign(s, ids(1)[1], FIC, mi_scope(s, 2))
    assign(s, ids(2)[1], FIC, mi_scope(s, 3))
    assign(s, ids(3)[1], "Owner", s.scope("subscription"))
    yield "AZ-002", "fail-federation-chain-to-an-owner", s, None, {"count": 1, "severity": "critical"}

    s = _app()
    identity(s, 2)
    s.fic("id-2", "system:serviceaccount:ops:deployer")
    assign(s, ids(2)[1], "Owner", s.scope("subscription"))
    s.custom_role("AKS credential reader", [ADMIN_CREDENTIAL])
    assign(s, ids(1)[1], "AKS credential reader", AKS_ID)
    yield "AZ-002", "fail-aks-admin-credential-to-a-federated-owner", s, None, {"count": 1, "severity": "critical"}

    s = _app()
    s.custom_role("AKS credential reader", [ADMIN_CREDENTIAL])
    assign(s, ids(1)[1], "AKS credential reader", AKS_ID)
    s.aks["disableLocalAccounts"] = True  # type: ignore[index]
    yield "AZ-002", "pass-aks-admin-credential-local-accounts-disabled", s, None, None

    s = _app()
    yield (
        "AZ-002",
        "pass-identity-operator-without-compute",
        assign(s, ids(1)[1], "Managed Identity Operator", s.scope("rg")),
        None,
        None,
    )

    s = _app()
    identity(s, 2)
    assign(s, ids(1)[1], FIC, mi_scope(s, 2))
    assign(s, ids(2)[1], "Reader", s.scope("subscription"))
    yield "AZ-002", "pass-federation-aimed-at-a-reader-identity", s, graph_for(ids(1)[1], ids(2)[1]), None

    s = workload(Scenario(), 1).managed_cluster(kubelet=KUBELET)
    addon = {"clientId": ADDON[0], "objectId": ADDON[1], "resourceId": s.mi_id("omsagent-aks-test", NODE_RG)}
    s.aks["addonProfiles"] = {"omsagent": {"enabled": True, "config": {}, "identity": addon}}  # type: ignore[index]
    assign(s, ADDON[1], "Contributor", s.scope("rg"))
    yield "AZ-011", "fail-add-on-identity-contributor-on-resource-group", s, None, {"count": 1, "severity": "high"}

    s = workload(Scenario(), 1).managed_cluster(kubelet=KUBELET)
    identity(s, 2)
    assign(s, KUBELET[1], "Contributor", s.scope("rg"))
    assign(s, ids(2)[1], "Owner", s.scope("subscription"))
    yield "AZ-011", "fail-kubelet-federates-an-owner", s, None, {"count": 1, "severity": "critical"}

    role_management = _graph(roles=[app_role(ids(1)[1], ROLE_MANAGEMENT)])
    yield (
        "AZ-013",
        "fail-graph-role-management-readwrite-directory",
        _app(),
        role_management,
        {"count": 1, "severity": "critical"},
    )
    application = _graph(roles=[app_role(ids(1)[1], APPLICATION_RW)])
    yield "AZ-013", "fail-graph-application-readwrite-all", _app(), application, {"count": 1, "severity": "high"}
    ga = directory_role("77777777-0000-4000-8000-000000000001", GLOBAL_ADMIN, "Global Administrator")
    yield (
        "AZ-013",
        "fail-global-administrator-directory-role",
        _app(),
        _graph(memberships=[ga]),
        {"count": 1, "severity": "critical"},
    )
    yield "AZ-013", "pass-graph-user-read-all", _app(), _graph(roles=[app_role(ids(1)[1], USER_READ_ALL)]), None
    yield "AZ-013", "pass-no-microsoft-graph-evidence", _app(), None, None


def write(root: Path, rule: str, name: str, s: Scenario, graph: Any, expect: dict[str, Any] | None) -> Path:
    d = root / rule / name
    shutil.rmtree(d, ignore_errors=True)
    s.write(d)
    if graph is not None:
        write_graph(d, *graph)
    if expect:
        (d / "expect.json").write_text(json.dumps(expect) + "\n")
    return d


def _files(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): p.read_text() for p in sorted(d.rglob("*")) if p.is_file()}


def test_the_fixtures_are_what_the_scenarios_write(tmp_path):
    for rule, name, s, graph, expect in cases():
        fresh = write(tmp_path, rule, name, s, graph, expect)
        assert _files(fresh) == _files(ROOT / rule / name), f"{rule}/{name}: run this file to rewrite the fixtures"


if __name__ == "__main__":
    for case in cases():
        print(write(ROOT, *case))
