"""Live usage collection (issue 14) with the real SDK clients against the local HTTPS ARM and Graph:
the Activity Log through azure-mgmt-monitor, sign-ins through an azure-core pipeline, for the identities in
scope only, where they hold roles; throttling retried, refusals said once and turned into coverage."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import replace

import pytest
from azure_arm_server import Fault
from azure_live_helpers import LIVE, SUB_A, SUB_B, make_request
from kubeiam_azure import PROVIDER as AZURE
from kubeiam_azure.evidence.usage import load_usage
from kubeiam_azure.live import collect
from kubeiam_kubernetes import PROVIDER as KUBERNETES

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence

API, WORKER, DEPLOYER = (f"0a1b2c3d-0000-4000-8000-00000000000{n}" for n in (1, 2, 6))
UAMI = "providers/Microsoft.ManagedIdentity/userAssignedIdentities"
API_ID = f"/subscriptions/{SUB_A}/resourcegroups/rg-apps/{UAMI}/id-orders-api".lower()
WORKER_ID = API_ID.replace("id-orders-api", "id-orders-worker")
DEPLOYER_ID = f"/subscriptions/{SUB_B}/resourcegroups/rg-platform/{UAMI}/id-platform-deployer".lower()
ACTIVITY = "/providers/microsoft.insights/eventtypes/management/values"
FILTER = re.compile(
    r"^eventTimestamp ge '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ' and eventTimestamp le '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ' "
    r"and caller eq '(?P<caller>[0-9a-f-]{36})'$"
)


@pytest.fixture(autouse=True)
def no_catalogue(monkeypatch):
    monkeypatch.setattr("kubeiam_azure.live.roles.builtin_role_guids", lambda: frozenset())


def _run(tmp_path, k8s_inventory, credential, settings, **kw):
    out = tmp_path / "evidence"
    shutil.copytree(LIVE / "kubernetes", out / "kubernetes")
    kw.setdefault("subscriptions", [SUB_A, SUB_B])
    errors = collect(make_request(out, **kw), k8s_inventory, credential=credential, settings=settings)
    return out, errors


def _usage_calls(arm) -> Counter:
    """(subscription or graph, caller / principal, page) of every usage request."""
    out: Counter = Counter()
    for e in arm.log:
        path = e.path.lower()
        page = (e.query.get("$skiptoken") or [""])[0]
        if path.endswith(ACTIVITY):
            m = FILTER.match((e.query.get("$filter") or [""])[0])
            assert m, e.query
            out[(path.split("/")[2], m["caller"], page)] += 1
        elif path.startswith("/beta/"):
            principal = re.search(r"servicePrincipalId eq '([^']+)'", (e.query.get("$filter") or [""])[0])
            out[("graph", principal[1] if principal else "", page)] += 1
    return out


def test_usage_is_read_for_the_identities_in_scope_where_they_hold_roles(
    tmp_path, k8s_inventory, credential, usage_settings, arm
):
    out, errors = _run(tmp_path, k8s_inventory, credential, usage_settings)
    assert errors == []
    a, b = SUB_A.lower(), SUB_B.lower()
    # One Activity Log listing per (identity, subscription where it holds a role); pages followed
    # (the deployer's 3 events come in pages of 2); one sign-in page per identity.
    assert _usage_calls(arm) == Counter(
        {
            (a, API, ""): 1,
            (a, WORKER, ""): 1,
            (b, DEPLOYER, ""): 1,
            (b, DEPLOYER, "2"): 1,
            ("graph", API, ""): 1,
            ("graph", WORKER, ""): 1,
            ("graph", DEPLOYER, ""): 1,
        }
    )
    ev = Evidence(out)
    log_a = ev.load_object(f"azure/{SUB_A}/activity-log.json")
    assert set(log_a) == {API, WORKER} and set(ev.load_object(f"azure/{SUB_B}/activity-log.json")) == {DEPLOYER}
    # What ARM returned, in its wire shape; the 120-day-old event is outside what was asked for.
    assert len(log_a[WORKER]) == 2 and {"authorization", "caller", "eventTimestamp"} <= log_a[WORKER][0].keys()
    signed = ev.load_object(f"azure/{SUB_A}/managed-identity-sign-ins.json")
    assert set(signed) == {API, WORKER} and signed[WORKER]["value"] == []
    usage = load_usage(Evidence(out))
    assert usage is not None and usage.sign_ins[API].resources == ("Azure Key Vault", "Azure Storage")
    assert {o.action for o in usage.operations[(b, DEPLOYER)]} == {
        "Microsoft.Resources/deployments/write",
        "Microsoft.ContainerService/managedClusters/write",
    }


def test_collected_usage_audits_offline_to_unused_access(tmp_path, k8s_inventory, credential, usage_settings, arm):
    out, errors = _run(tmp_path, k8s_inventory, credential, usage_settings)
    assert errors == []
    report = audit(Evidence(out), providers=(KUBERNETES, AZURE))
    notes = [e for e in report.coverage["errors"] if e.get("rules") == ["AZ-012"]]
    assert notes == []
    found = {(f.namespace, f.service_account): f for f in report.findings if f.rule_id == "AZ-012"}
    deployer = found[("platform", "deployer")]
    assert deployer.severity.value == "high" and deployer.evidence["right_sized"]["drops"][0].startswith("admin: Owner")
    assert set(deployer.evidence["right_sized"]["document"]["Actions"]) == {
        "*/read",
        "Microsoft.ContainerService/managedClusters/write",
        "Microsoft.Resources/deployments/write",
    }
    # orders/api holds data roles and data-bound queue actions only: nothing is called unused.
    assert ("orders", "api") not in found


def test_check_reads_the_usage_of_its_identity_only(tmp_path, k8s_inventory, credential, usage_settings, arm):
    _, errors = _run(tmp_path, k8s_inventory, credential, usage_settings, service_account=("orders", "api"))
    assert errors == []
    assert _usage_calls(arm) == Counter({(SUB_A.lower(), API, ""): 1, ("graph", API, ""): 1})


def test_a_throttled_listing_is_retried_after_its_retry_after(tmp_path, k8s_inventory, credential, usage_settings, arm):
    arm.faults.append(
        Fault(rf"management/values.*{WORKER}", 429, 1, {"Retry-After": "1"}, "TooManyRequests", "slow down")
    )
    out, errors = _run(tmp_path, k8s_inventory, credential, usage_settings)
    assert errors == []
    tries = [e for e in arm.log if e.path.lower().endswith(ACTIVITY) and WORKER in str(e.query)]
    assert [e.status for e in tries] == [429, 200] and tries[1].at - tries[0].at >= 0.9
    assert WORKER in Evidence(out).load_object(f"azure/{SUB_A}/activity-log.json")


def test_a_refused_activity_log_is_said_once_for_its_subscription(
    tmp_path, k8s_inventory, credential, usage_settings, arm
):
    arm.faults.append(Fault(rf"/subscriptions/{SUB_A}{ACTIVITY}", 403, None, {}, "AuthorizationFailed", "no read"))
    out, errors = _run(tmp_path, k8s_inventory, credential, usage_settings)
    (error,) = errors
    assert error.subject == SUB_A.lower() and error.rules == ("AZ-012",)
    assert error.reason.startswith("403 AuthorizationFailed: no read:")
    # The probe only: the subscription's other identity is not asked after the refusal.
    assert sum(1 for k in _usage_calls(arm) if k[0] == SUB_A.lower()) == 1
    assert not (out / "azure" / SUB_A / "activity-log.json").exists()
    report = audit(Evidence(out), providers=(KUBERNETES, AZURE))
    notes = {e["subject"] for e in report.coverage["errors"] if e.get("rules") == ["AZ-012"]}
    # Each identity left unjudged is named (orders/worker's federation is broken: it holds no usable grant).
    assert notes == {API_ID}
    assert {f.service_account for f in report.findings if f.rule_id == "AZ-012"} == {"deployer"}


def test_one_failed_listing_leaves_only_its_identity_out(tmp_path, k8s_inventory, credential, usage_settings, arm):
    arm.faults.append(Fault(rf"management/values.*{WORKER}", 404, None, {}, "ResourceNotFound", "gone"))
    out, errors = _run(tmp_path, k8s_inventory, credential, usage_settings)
    (error,) = errors
    assert (error.subject, error.rules) == (WORKER_ID, ("AZ-012",)) and "404 ResourceNotFound" in error.reason
    assert set(Evidence(out).load_object(f"azure/{SUB_A}/activity-log.json")) == {API}


def test_sign_ins_not_readable_are_said_once_and_asked_no_more(
    tmp_path, k8s_inventory, credential, usage_settings, arm
):
    arm.faults.append(
        Fault(r"^/beta/", 403, None, {}, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "needs P1 or P2")
    )
    out, errors = _run(tmp_path, k8s_inventory, credential, usage_settings)
    (error,) = errors
    assert error.subject is None and error.rules == ("AZ-012",) and "sign-ins could not be read" in error.reason
    assert sum(1 for k in _usage_calls(arm) if k[0] == "graph") == 1
    # The Activity Log is still read and still judged.
    report = audit(Evidence(out), providers=(KUBERNETES, AZURE))
    assert any(f.rule_id == "AZ-012" for f in report.findings)


def test_usage_calls_stay_within_the_concurrency_bound(tmp_path, k8s_inventory, credential, usage_settings, arm):
    arm.latency = 0.05
    try:
        _, errors = _run(tmp_path, k8s_inventory, credential, replace(usage_settings, concurrency=2))
    finally:
        arm.latency = 0.0
    assert errors == [] and 2 <= arm.max_in_flight <= 2


def test_no_usage_call_when_usage_is_off_or_graph_unknown(tmp_path, k8s_inventory, credential, usage_settings, arm):
    _, errors = _run(tmp_path / "off", k8s_inventory, credential, replace(usage_settings, usage=False))
    assert errors == [] and _usage_calls(arm) == Counter()
    arm.reset()
    # A Resource Manager endpoint of no known cloud (this test server) has no known Graph: none is asked.
    _, errors = _run(tmp_path / "nograph", k8s_inventory, credential, replace(usage_settings, graph_endpoint=None))
    assert errors == [] and not any(k[0] == "graph" for k in _usage_calls(arm))
    assert any(k[0] == SUB_A.lower() for k in _usage_calls(arm))
