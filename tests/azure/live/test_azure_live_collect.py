"""Live Azure collection with the real SDK clients against the local HTTPS ARM (azure_arm_server)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from azure_arm_server import Fault
from azure_live_helpers import SUB_A, SUB_B, make_request
from kubeiam_azure.live import collect

from kubeiam.pipeline.evidence import Evidence

UAMI = "providers/Microsoft.ManagedIdentity/userAssignedIdentities"
API_ID = f"/subscriptions/{SUB_A}/resourcegroups/rg-apps/{UAMI}/id-orders-api"
WORKER_ID = API_ID.replace("id-orders-api", "id-orders-worker")
DEPLOYER_ID = f"/subscriptions/{SUB_B}/resourcegroups/rg-platform/{UAMI}/id-platform-deployer"
API_PRINCIPAL, WORKER_PRINCIPAL = "0a1b2c3d-0000-4000-8000-000000000001", "0a1b2c3d-0000-4000-8000-000000000002"
KUBELET_PRINCIPAL, DEPLOYER_PRINCIPAL = "0a1b2c3d-0000-4000-8000-000000000005", "0a1b2c3d-0000-4000-8000-000000000006"
BUILTINS = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d",
}


@pytest.fixture(autouse=True)
def no_catalogue(monkeypatch):
    """Collect as if the reader's built-in catalogue were absent (tests that need it patch it back)."""
    monkeypatch.setattr("kubeiam_azure.live.roles.builtin_role_guids", lambda: frozenset())


def _run(tmp_path, k8s_inventory, credential, settings, **kw):
    out = tmp_path / "evidence"
    errors = collect(make_request(out, **kw), k8s_inventory, credential=credential, settings=settings)
    return out, errors


def _load(out: Path, sub: str, name: str):
    return Evidence(out).load(f"azure/{sub}/{name}")


def _requests(arm) -> Counter:
    """(path, $filter, $skiptoken) of every request, api-version left out, times in a filter as `<time>`."""
    return Counter(
        (
            e.path.lower(),
            _TIME.sub("<time>", (e.query.get("$filter") or [""])[0]),
            (e.query.get("$skiptoken") or [""])[0],
        )
        for e in arm.log
    )


_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _caller(principal: str) -> str:
    """The Activity Log filter of one principal's operations over the window (times as `_requests` gives them)."""
    return f"eventTimestamp ge '<time>' and eventTimestamp le '<time>' and caller eq '{principal}'"


def test_audit_writes_the_evidence_files_in_rest_shape(tmp_path, k8s_inventory, credential, settings, arm):
    out, errors = _run(tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B])
    assert errors == []
    ev = Evidence(out)
    for sub in (SUB_A, SUB_B):
        for name in ("identities.json", "role-assignments.json", "role-definitions.json"):
            assert isinstance(ev.load_list(f"azure/{sub}/{name}"), list), name
        assert isinstance(ev.load_object(f"azure/{sub}/federated-credentials.json"), dict)
    identities = ev.load_list(f"azure/{SUB_A}/identities.json")
    assert {i["properties"]["clientId"] for i in identities} >= {
        "11111111-2222-4333-8444-555555555555",
        "66666666-7777-4888-9999-000000000000",
    }
    assert all({"id", "name", "type", "location"} <= i.keys() and "principalId" in i["properties"] for i in identities)
    # Federated credentials of the identities the ServiceAccounts name, and of no other.
    assert set(_load(out, SUB_A, "federated-credentials.json")) == {API_ID, WORKER_ID}
    fic = _load(out, SUB_B, "federated-credentials.json")[DEPLOYER_ID]
    assert {c["properties"]["subject"] for c in fic} == {
        "system:serviceaccount:platform:deployer",
        "system:serviceaccount:ci:deployer",
    }
    assert fic[0]["properties"]["audiences"] == ["api://AzureADTokenExchange"]
    ras = _load(out, SUB_A, "role-assignments.json")
    by_principal = Counter(ra["properties"]["principalId"] for ra in ras)
    assert by_principal[API_PRINCIPAL] == 3 and by_principal[KUBELET_PRINCIPAL] == 1
    conditioned = [ra for ra in ras if ra["properties"].get("condition")]
    assert conditioned and conditioned[0]["properties"]["conditionVersion"] == "2.0"
    assert any(ra["properties"]["scope"].startswith("/providers/Microsoft.Management/managementGroups/") for ra in ras)
    # Every role the relevant principals hold is defined in the subscription's file.
    relevant = {API_PRINCIPAL, WORKER_PRINCIPAL, KUBELET_PRINCIPAL, DEPLOYER_PRINCIPAL}
    for sub in (SUB_A, SUB_B):
        defined = {rd["name"] for rd in _load(out, sub, "role-definitions.json")}
        refs = {
            ra["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]
            for ra in _load(out, sub, "role-assignments.json")
            if ra["properties"]["principalId"] in relevant
        }
        assert refs and refs <= defined
    custom = next(rd for rd in _load(out, SUB_A, "role-definitions.json") if rd["properties"]["type"] == "CustomRole")
    assert custom["properties"]["permissions"][0]["dataActions"] == ["Microsoft.ServiceBus/*"]
    # Only the AKS cluster the inventory runs on, at aks/<resource group>/<name>.json.
    aks = sorted(p.relative_to(out).as_posix() for p in (out / "azure").rglob("aks/*/*.json"))
    assert aks == [f"azure/{SUB_A}/aks/rg-apps/aks-apps.json"]
    cluster = ev.load_object(aks[0], "id", "properties")
    assert cluster["properties"]["oidcIssuerProfile"]["issuerURL"] == k8s_inventory.clusters[0].issuer
    assert cluster["properties"]["securityProfile"]["workloadIdentity"]["enabled"] is True
    # The bearer token never reaches the evidence.
    assert all(arm.token not in p.read_text() for p in out.rglob("*.json"))


def test_next_link_paging_is_followed(tmp_path, k8s_inventory, credential, settings, arm):
    out, errors = _run(tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B])
    assert errors == []
    pages = arm.calls(rf"{SUB_A}/providers/Microsoft.ManagedIdentity/userAssignedIdentities$")
    assert sorted((e.query.get("$skiptoken") or ["0"])[0] for e in pages) == ["0", "2", "4"]
    served = len(arm.world.subs[SUB_A]["identities"])
    assert len(_load(out, SUB_A, "identities.json")) == served == 5
    # Four principals: one unfiltered listing per subscription, three pages of four in A.
    assert len(arm.calls(rf"{SUB_A}/providers/Microsoft.Authorization/roleAssignments")) == 3
    assert len(_load(out, SUB_A, "role-assignments.json")) == len(arm.world.subs[SUB_A]["role-assignments"])


def test_each_object_is_fetched_once(tmp_path, k8s_inventory, credential, settings, arm):
    _, errors = _run(tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B])
    assert errors == []
    counted = _requests(arm)
    assert counted and max(counted.values()) == 1, [k for k, v in counted.items() if v > 1]
    assert not arm.calls(r"id-reporting|id-backup|aks-apps-agentpool/federated")  # not named by any SA
    assert credential.calls == 1  # one token, shared by the three clients


def test_429_is_retried_after_retry_after(tmp_path, k8s_inventory, credential, settings, arm):
    arm.faults.append(
        Fault(
            r"/roleAssignments\?",
            429,
            times=1,
            headers={"Retry-After": "1"},
            code="TooManyRequests",
            message="The request is being throttled.",
        )
    )
    out, errors = _run(tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B])
    assert errors == []
    throttled = [e for e in arm.log if e.status == 429]
    assert len(throttled) == 1
    retry = next(
        e for e in arm.log if e.path == throttled[0].path and e.query == throttled[0].query and e.status == 200
    )
    # azure-core's first retry is immediate when no Retry-After is given: the gap proves it was read.
    assert retry.at - throttled[0].at >= 0.9
    sub = throttled[0].path.split("/")[2]
    assert len(_load(out, sub, "role-assignments.json")) == len(arm.world.subs[sub]["role-assignments"])


def test_403_becomes_coverage_and_the_rest_is_collected(tmp_path, k8s_inventory, credential, settings, arm):
    message = (
        "The client 'kubeiam-auditor' does not have authorization to perform action "
        "'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read'"
    )
    arm.faults.append(
        Fault(r"id-orders-worker/federatedIdentityCredentials", 403, None, {}, "AuthorizationFailed", message)
    )
    out, errors = _run(tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B])
    assert len(errors) == 1
    error = errors[0]
    assert (error.source, error.subject) == ("azure", WORKER_ID)
    assert error.reason.startswith("403 AuthorizationFailed: The client 'kubeiam-auditor'")
    assert "federated-credentials.json" in error.location and "id-orders-worker" in error.location
    # The worker is left out (unchecked), never written as "no credentials"; everything else is there.
    assert set(_load(out, SUB_A, "federated-credentials.json")) == {API_ID}
    for sub in (SUB_A, SUB_B):
        assert _load(out, sub, "role-assignments.json") and _load(out, sub, "identities.json")
    assert (out / "azure" / SUB_A / "aks" / "rg-apps" / "aks-apps.json").is_file()


def test_403_on_a_subscription_leaves_its_file_out(tmp_path, k8s_inventory, credential, settings, arm):
    arm.faults.append(
        Fault(
            rf"/subscriptions/{SUB_B}/providers/Microsoft.Authorization/roleAssignments",
            403,
            None,
            {},
            "AuthorizationFailed",
        )
    )
    out, errors = _run(tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B])
    assert [(e.source, e.reason.split(":")[0]) for e in errors] == [("azure", "403 AuthorizationFailed")]
    assert f"azure/{SUB_B}/role-assignments.json" in errors[0].location
    assert not (out / "azure" / SUB_B / "role-assignments.json").exists()
    assert _load(out, SUB_A, "role-assignments.json")
    assert _load(out, SUB_B, "federated-credentials.json")


def test_check_fetches_only_what_one_service_account_needs(tmp_path, k8s_inventory, credential, settings, arm):
    out, errors = _run(tmp_path, k8s_inventory, credential, settings, service_account=("orders", "api"))
    assert errors == []
    a = f"/subscriptions/{SUB_A}".lower()
    rd = f"{a}/providers/microsoft.authorization/roledefinitions/"
    expected = Counter(
        {
            (f"{a}/providers/microsoft.managedidentity/userassignedidentities", "", ""): 1,
            (f"{a}/providers/microsoft.managedidentity/userassignedidentities", "", "2"): 1,
            (f"{a}/providers/microsoft.managedidentity/userassignedidentities", "", "4"): 1,
            (f"{a}/providers/microsoft.containerservice/managedclusters", "", ""): 1,
            (API_ID.lower() + "/federatedidentitycredentials", "", ""): 1,
            (f"{a}/providers/microsoft.authorization/roleassignments", f"principalId eq '{API_PRINCIPAL}'", ""): 1,
            (f"{a}/providers/microsoft.authorization/roleassignments", f"principalId eq '{KUBELET_PRINCIPAL}'", ""): 1,
            (rd + "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "", ""): 1,  # Storage Blob Data Reader
            (rd + "5c4b3a29-1807-4f6e-9d5c-4b3a29180701", "", ""): 1,  # the custom Orders Queue Operator
            (rd + "7f951dda-4ed3-4680-a7ca-43fe172d538d", "", ""): 1,  # AcrPull (kubelet)
            # Its usage (issue 14): the Activity Log of its identity alone, where it holds roles. (No sign-ins:
            # the test server is of no known cloud, so no Microsoft Graph is asked.)
            (f"{a}/providers/microsoft.insights/eventtypes/management/values", _caller(API_PRINCIPAL), ""): 1,
        }
    )
    assert _requests(arm) == expected
    assert {ra["properties"]["principalId"] for ra in _load(out, SUB_A, "role-assignments.json")} == {
        API_PRINCIPAL,
        KUBELET_PRINCIPAL,
    }
    assert set(_load(out, SUB_A, "federated-credentials.json")) == {API_ID}


def test_check_skips_roles_the_catalogue_knows(tmp_path, k8s_inventory, credential, settings, arm, monkeypatch):
    monkeypatch.setattr("kubeiam_azure.live.roles.builtin_role_guids", lambda: frozenset(BUILTINS))
    out, errors = _run(tmp_path, k8s_inventory, credential, settings, service_account=("orders", "api"))
    assert errors == []
    fetched = [e.path.rsplit("/", 1)[-1] for e in arm.calls(r"/roleDefinitions")]
    assert fetched == ["5c4b3a29-1807-4f6e-9d5c-4b3a29180701"]
    assert [rd["properties"]["roleName"] for rd in _load(out, SUB_A, "role-definitions.json")] == [
        "Orders Queue Operator"
    ]


def test_many_roles_use_one_list_instead_of_gets(tmp_path, k8s_inventory, credential, settings, arm, monkeypatch):
    monkeypatch.setattr("kubeiam_azure.live.roles.ROLE_GETS_MAX", 1)
    out, errors = _run(tmp_path, k8s_inventory, credential, settings, service_account=("orders", "api"))
    assert errors == []
    role_calls = arm.calls(r"/roleDefinitions")
    assert [e.path.rsplit("/", 1)[-1] for e in role_calls] == ["roleDefinitions"]
    names = {rd["name"] for rd in _load(out, SUB_A, "role-definitions.json")}
    assert {"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "7f951dda-4ed3-4680-a7ca-43fe172d538d"} <= names


def test_subscriptions_are_inferred_from_node_provider_ids(tmp_path, k8s_inventory, credential, settings, arm):
    out, errors = _run(tmp_path, k8s_inventory, credential, settings)
    assert errors == []
    assert {e.path.split("/")[2] for e in arm.log} == {SUB_A}
    assert sorted(p.name for p in (out / "azure").iterdir()) == [SUB_A]


def test_namespace_narrows_identities(tmp_path, k8s_inventory, credential, settings, arm):
    out, errors = _run(
        tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B], namespace="platform"
    )
    assert errors == []
    assert not (out / "azure" / SUB_A / "federated-credentials.json").exists()
    assert set(_load(out, SUB_B, "federated-credentials.json")) == {DEPLOYER_ID}


def test_unmatched_cluster_is_reported(tmp_path, k8s_inventory, credential, settings, arm):
    arm.world.subs[SUB_A]["managed-clusters"], saved = [], arm.world.subs[SUB_A]["managed-clusters"]
    try:
        _, errors = _run(tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A])
    finally:
        arm.world.subs[SUB_A]["managed-clusters"] = saved
    assert [(e.subject, "kubelet identity is not checked" in e.reason) for e in errors] == [("aks-apps", True)]


def test_written_files_are_stable(tmp_path, k8s_inventory, credential, settings, arm):
    first, _ = _run(tmp_path / "1", k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B])
    second, _ = _run(tmp_path / "2", k8s_inventory, credential, settings, subscriptions=[SUB_A, SUB_B])
    files = sorted(p.relative_to(first) for p in first.rglob("*.json"))
    assert files == sorted(p.relative_to(second) for p in second.rglob("*.json"))
    for rel in files:
        assert json.loads((first / rel).read_text()) == json.loads((second / rel).read_text()), rel


def test_cluster_secrets_never_reach_the_evidence(tmp_path, k8s_inventory, credential, settings, arm):
    saved = arm.world.subs[SUB_A]["managed-clusters"]
    leaky = json.loads(json.dumps(saved))
    leaky[0]["properties"]["windowsProfile"] = {"adminUsername": "azureuser", "adminPassword": "Sup3r-s3cret!"}
    leaky[0]["properties"]["servicePrincipalProfile"]["secret"] = "sp-s3cret"
    arm.world.subs[SUB_A]["managed-clusters"] = leaky
    try:
        out, errors = _run(tmp_path, k8s_inventory, credential, settings, subscriptions=[SUB_A])
    finally:
        arm.world.subs[SUB_A]["managed-clusters"] = saved
    assert errors == []
    text = (out / "azure" / SUB_A / "aks" / "rg-apps" / "aks-apps.json").read_text()
    assert "s3cret" not in text and "azureuser" in text


def test_progress_is_reported(tmp_path, k8s_inventory, credential, settings, arm):
    seen: list[tuple[str, int | None, int]] = []

    class Task:
        def __init__(self, description, total):
            self.entry = [description, total, 0]
            seen.append(self.entry)

        def advance(self, amount=1):
            self.entry[2] += amount

        def done(self):
            pass

    class Progress:
        def task(self, description, total=None):
            return Task(description, total)

    request = make_request(tmp_path, subscriptions=[SUB_A])
    request = type(request)(request.options, request.output, progress=Progress())
    assert collect(request, k8s_inventory, credential=credential, settings=settings) == []
    assert seen and all(d.startswith("azure: ") and total == done for d, total, done in seen)
