"""A central audit: `--azure-management-group` reads every subscription under the group, all levels, with the
real azure-mgmt-managementgroups client (`get_descendants`, paged by `nextLink`) against the local ARM; one
subscription's failure is coverage naming it, never the end of the run."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
from azure_arm_server import Fault, ManagementGroup
from azure_live_helpers import LIVE, SUB_A, SUB_B
from kubeiam_azure import PROVIDER as AZURE
from kubeiam_azure.live import collect
from kubeiam_azure.live.management_groups import subscriptions_in
from kubeiam_kubernetes import PROVIDER as KUBERNETES

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest

# contoso -> SUB_A (the cluster's) and the child group contoso-platform -> SUB_B (the deployer's identity).
ROOT, CHILD = "contoso", "contoso-platform"
ROOT_ID = f"/providers/Microsoft.Management/managementGroups/{ROOT}"
DESCENDANTS = rf"/managementGroups/{ROOT}/descendants"
UAMI = "providers/Microsoft.ManagedIdentity/userAssignedIdentities"
DEPLOYER = f"/subscriptions/{SUB_B}/resourcegroups/rg-platform/{UAMI}/id-platform-deployer"


@pytest.fixture
def groups(arm):
    arm.management_groups = {
        ROOT: ManagementGroup("Contoso", subscriptions=(SUB_A,)),
        CHILD: ManagementGroup("Contoso platform", parent=ROOT, subscriptions=(SUB_B,)),
        "elsewhere": ManagementGroup("Another team", subscriptions=("99999999-0000-4000-8000-000000000009",)),
    }
    return arm


def _request(out: Path, *, groups=None, subscriptions=None, **kwargs) -> CollectRequest:
    options = argparse.Namespace(azure_subscriptions=subscriptions, azure_management_groups=groups)
    return CollectRequest(options=options, output=out, **kwargs)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def _audit(out: Path):
    shutil.copytree(LIVE / "kubernetes", out / "kubernetes", dirs_exist_ok=True)
    return audit(Evidence(out), providers=(KUBERNETES, AZURE))


def test_a_group_reads_every_subscription_below_it_as_if_each_were_given(
    tmp_path, k8s_inventory, credential, settings, groups
):
    def run(request: CollectRequest) -> list:
        return collect(request, k8s_inventory, credential=credential, settings=settings)

    by_name = run(_request(tmp_path / "named", subscriptions=[SUB_A, SUB_B]))
    named_calls = len(groups.log)
    groups.log.clear()
    central = run(_request(tmp_path / "group", groups=[ROOT]))
    assert by_name == central == []
    assert _files(tmp_path / "named") == _files(tmp_path / "group")
    # One listing for the whole tree: SUB_A, the child group, SUB_B on two pages of two.
    listed = [e for e in groups.log if e.path.endswith("/descendants")]
    assert [(e.path, e.query.get("$skiptoken")) for e in listed] == [
        (f"{ROOT_ID}/descendants", None),
        (f"{ROOT_ID}/descendants", ["2"]),
    ]
    assert all(e.query["api-version"] == ["2023-04-01"] for e in listed)
    assert len(groups.log) == named_calls + 2  # the subscriptions' calls are exactly those of the named run
    assert groups.max_in_flight <= settings.concurrency  # one bound for every subscription's calls together


def test_a_failing_subscription_is_coverage_and_the_other_is_audited(
    tmp_path, k8s_inventory, credential, settings, groups
):
    message = f"The client 'kubeiam-auditor' does not have authorization over scope '/subscriptions/{SUB_B}'"
    groups.faults.append(Fault(rf"^/subscriptions/{SUB_B}/", 403, None, {}, "AuthorizationFailed", message))
    out = tmp_path / "evidence"
    errors = collect(_request(out, groups=[ROOT]), k8s_inventory, credential=credential, settings=settings)

    assert errors and not any(e.whole for e in errors)
    assert all(SUB_B in e.location and e.reason.startswith("403 AuthorizationFailed") for e in errors)
    # Its identity listing names it; its role-assignment listings (one per principal in scope) each name the
    # principal whose grants there are unknown.
    principals = {f"0a1b2c3d-0000-4000-8000-00000000000{n}" for n in (1, 2, 5)}  # api, worker, kubelet
    assert sorted(e.subject or "" for e in errors) == sorted({SUB_B, *principals})
    assert not (out / "azure" / SUB_B).exists()
    assert (out / "azure" / SUB_A / "role-assignments.json").is_file()

    report = _audit(out)
    # SUB_A's identities are judged (their findings are there), SUB_B's is named unchecked, never clean.
    assert {f.service_account for f in report.findings if f.cloud == "azure"} >= {"api"}
    unchecked = [u for u in report.coverage["unchecked"] if u["cloud"] == "azure"]
    assert [u["service_account"] for u in unchecked] == ["deployer"]


def test_an_unlistable_group_is_coverage_naming_it_and_the_rest_is_read(
    tmp_path, k8s_inventory, credential, settings, groups
):
    groups.faults.append(Fault(DESCENDANTS, 403, None, {}, "AuthorizationFailed", "no descendants/read"))
    out = tmp_path / "evidence"
    request = _request(out, groups=[ROOT, "elsewhere", "/providers/Microsoft.Management/managementGroups/gone"])
    request.options.azure_subscriptions = [SUB_A]
    errors = collect(request, k8s_inventory, credential=credential, settings=settings)
    by_subject = {e.subject: e for e in errors if "/managementGroups/" in (e.subject or "")}
    assert sorted(by_subject) == [ROOT_ID, "/providers/Microsoft.Management/managementGroups/gone"]
    assert by_subject[ROOT_ID].reason == "403 AuthorizationFailed: no descendants/read"
    assert "not read" in by_subject[ROOT_ID].location
    assert by_subject["/providers/Microsoft.Management/managementGroups/gone"].reason.startswith("404 NotFound")
    # The other group's subscription (unknown to this ARM: 404 SubscriptionNotFound) and the one by name are read.
    assert (out / "azure" / SUB_A / "identities.json").is_file()
    assert any("99999999-0000-4000-8000-000000000009" in e.location for e in errors)
    assert not any(e.whole for e in errors)


def test_nothing_listable_is_one_whole_entry(tmp_path, k8s_inventory, credential, settings, groups):
    groups.faults.append(Fault(DESCENDANTS, 403, None, {}, "AuthorizationFailed", "no descendants/read"))
    errors = collect(_request(tmp_path, groups=[ROOT]), k8s_inventory, credential=credential, settings=settings)
    (error,) = errors
    assert error.whole and "nothing could be read" in error.reason and "AuthorizationFailed" in error.reason
    # The nodes' subscription is not read instead: the group was the scope asked for.
    assert [e.path for e in groups.log] == [f"{ROOT_ID}/descendants"]


def test_check_with_a_group_reads_every_subscription_below_it(tmp_path, k8s_inventory, credential, settings, groups):
    """The deployer's identity lives in SUB_B, not in the cluster's subscription: the group's listing finds it."""
    out = tmp_path / "evidence"
    request = _request(out, groups=[ROOT], namespace="platform", service_account=("platform", "deployer"))
    assert collect(request, k8s_inventory, credential=credential, settings=settings) == []
    assert DEPLOYER in Evidence(out).load_object(f"azure/{SUB_B}/federated-credentials.json")


def test_without_the_option_no_group_is_listed(tmp_path, k8s_inventory, credential, settings, groups):
    collect(_request(tmp_path, subscriptions=[SUB_A]), k8s_inventory, credential=credential, settings=settings)
    assert groups.log and not [e for e in groups.log if "managementgroups" in e.path.lower()]


def test_subscriptions_are_told_by_their_id_whatever_the_type_says():
    descendants = [
        {"id": f"/subscriptions/{SUB_A.upper()}", "type": "/subscriptions"},
        {"id": f"/subscriptions/{SUB_B}", "type": "Microsoft.Management/managementGroups/subscriptions"},
        {"id": ROOT_ID, "type": "Microsoft.Management/managementGroups"},
        {"id": f"/subscriptions/{SUB_A}", "type": "/subscriptions"},  # listed twice (two groups asked)
        {"type": "/subscriptions"},
    ]
    assert subscriptions_in(descendants) == [SUB_A, SUB_B]


def test_the_option_is_repeatable():
    parser = argparse.ArgumentParser()
    AZURE.add_arguments(parser.add_argument_group("azure"))
    args = parser.parse_args(["--azure-management-group", ROOT, "--azure-management-group", CHILD])
    assert args.azure_management_groups == [ROOT, CHILD]
    assert parser.parse_args([]).azure_management_groups is None


def test_both_documented_roles_grant_exactly_the_same_actions():
    """docs/azure.md's minimal role (audited by test_azure_audit.py) and docs/azure-live.md's are one role."""
    import json
    import re

    docs = Path(__file__).resolve().parents[3] / "docs"
    roles = [
        json.loads(re.search(r"```json\n(\{\n  \"Name\".*?)```", (docs / name).read_text(), re.S)[1])
        for name in ("azure.md", "azure-live.md")
    ]
    assert roles[0]["Actions"] == roles[1]["Actions"]
    assert "Microsoft.Management/managementGroups/descendants/read" in roles[0]["Actions"]
