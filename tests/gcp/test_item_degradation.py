"""One item of a GCP file that cannot be understood never sinks the audit and never counts as safe.

For every reader (project policy, ancestors, asset search, service accounts, their policies and keys,
custom roles, cluster, node pools): the item is named (file and item path) as a `Gap` of the identities
depending on it or as a coverage entry naming its subject, and the rest is audited. A file that is not
the command's shape at the top level stops the audit (exit 2) naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gcp_builder import CLUSTER, LOCATION, PROJECT, Case, binding, gsa, ksa_member, policy, pool, user_key

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report

API = gsa("api")
BASE = f"gcp/{PROJECT}"
GKE = f"{BASE}/gke/{LOCATION}/{CLUSTER}"
GRANT_RULES = ["GCP-001", "GCP-002", "GCP-003", "GCP-004", "GCP-005", "GCP-006", "GCP-011"]


def _case(**kw: Any) -> Case:
    """The API workload holds roles/editor (GCP-001 critical): what must survive any bad item elsewhere."""
    kw.setdefault("project_policy", [binding("roles/editor", f"serviceAccount:{API}")])
    kw.setdefault("ancestors", {"folders/200000000002": [], "organizations/300000000003": []})
    kw.setdefault("assets", [])
    return Case(**kw)


def _edit(root: Path, file: str, change: Callable[[Any], Any]) -> None:
    path = root / file
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _audit(root: Path) -> Report:
    return audit(Evidence(root))


def _rules(report: Report) -> dict[str, str]:
    return {f.rule_id: f.severity.value for f in report.findings if f.cloud == "gcp" and f.service_account == "api"}


def _gap_items(report: Report) -> list[tuple[str, str]]:
    return [(i["location"], i["item"]) for u in report.coverage["unchecked"] for i in u.get("items", ())]


def _errors(report: Report) -> list[dict[str, Any]]:
    return [e for e in report.coverage["errors"] if e["source"] == "gcp"]


def _clean(tmp_path: Path) -> None:
    report = _audit(_case().write(tmp_path / "clean"))
    assert _rules(report) == {"GCP-001": "critical"}
    assert report.coverage["unchecked"] == [] and _errors(report) == []


# --- IAM policies -------------------------------------------------------------------------------------


def test_a_binding_whose_role_cannot_be_read_is_a_gap_of_its_members(tmp_path: Path) -> None:
    _clean(tmp_path)
    root = _case().write(tmp_path / "bad")
    _edit(
        root,
        f"{BASE}/project-iam-policy.json",
        lambda p: {**p, "bindings": [*p["bindings"], {"role": ["roles/owner"], "members": [f"serviceAccount:{API}"]}]},
    )
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}  # the rest is audited
    assert _gap_items(report) == [(f"{BASE}/project-iam-policy.json", "bindings[1].role")]
    (entry,) = report.coverage["unchecked"]
    assert entry["reason"].startswith("partly checked") and entry["service_account"] == "api"
    assert report.incomplete  # --strict exits 3


def test_a_binding_whose_members_cannot_be_read_is_coverage_for_the_project(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    _edit(
        root,
        f"{BASE}/project-iam-policy.json",
        lambda p: {**p, "bindings": [*p["bindings"], {"role": "roles/owner", "members": "serviceAccount:x"}]},
    )
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    (error,) = _errors(report)
    assert error["location"] == f"{BASE}/project-iam-policy.json"
    assert error["reason"].startswith("bindings[1].members:")
    assert error["subject"] == CLUSTER and error["rules"] == GRANT_RULES


def test_a_member_that_is_not_a_string_leaves_the_others_granted(tmp_path: Path) -> None:
    root = _case(project_policy=[binding("roles/editor", f"serviceAccount:{API}")]).write(tmp_path)
    _edit(
        root,
        f"{BASE}/project-iam-policy.json",
        lambda p: {**p, "bindings": [{"role": "roles/editor", "members": [f"serviceAccount:{API}", {"x": 1}]}]},
    )
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    (error,) = _errors(report)
    assert error["reason"].startswith("bindings[0].members[1]:") and error["subject"] == CLUSTER


def _token_creator_on_other() -> dict[str, Any]:
    """A resource-level grant that escalates (GCP-002): minting tokens of another service account."""
    return {
        "resource": f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{gsa('other')}",
        "assetType": "iam.googleapis.com/ServiceAccount",
        "policy": policy(binding("roles/iam.serviceAccountTokenCreator", f"serviceAccount:{API}")),
    }


def test_bindings_that_are_not_a_list_are_coverage_not_exit_2(tmp_path: Path) -> None:
    root = _case(assets=[_token_creator_on_other()]).write(tmp_path)
    _edit(root, f"{BASE}/project-iam-policy.json", lambda p: {**p, "bindings": {"role": "roles/editor"}})
    report = _audit(root)
    assert "GCP-002" in _rules(report)  # from the asset search, still read
    assert [(e["location"], e["reason"].split(":")[0], e["subject"]) for e in _errors(report)] == [
        (f"{BASE}/project-iam-policy.json", "bindings", CLUSTER)
    ]


def test_a_condition_that_cannot_be_read_counts_as_none_and_is_named(tmp_path: Path) -> None:
    root = _case(project_policy=[binding("roles/secretmanager.secretAccessor", f"serviceAccount:{API}")]).write(
        tmp_path
    )
    _edit(
        root, f"{BASE}/project-iam-policy.json", lambda p: {**p, "bindings": [{**p["bindings"][0], "condition": "x"}]}
    )
    report = _audit(root)
    assert _rules(report) == {"GCP-003": "medium", "GCP-005": "low"}  # the wider reading: unconditioned
    assert _gap_items(report) == [(f"{BASE}/project-iam-policy.json", "bindings[0].condition")]


def test_ancestor_policies_that_cannot_be_read_are_coverage(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    _edit(
        root,
        f"{BASE}/ancestors-iam-policies.json",
        lambda a: {"folders/200000000002": [], "organizations/300000000003": a["organizations/300000000003"], "x": {}},
    )
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    (error,) = _errors(report)
    # The folder's policy is a list, not a policy; "x" is no ancestor: both named, for the cluster.
    assert error["reason"].startswith("folders/200000000002: expected an IAM policy object")
    assert error["reason"].endswith("(also x)")
    assert (error["subject"], error["rules"]) == (CLUSTER, GRANT_RULES)


def test_an_asset_result_that_cannot_be_read_leaves_the_others_read(tmp_path: Path) -> None:
    assets = [{"policy": {}}, _token_creator_on_other(), {"resource": "//x", "policy": []}]
    report = _audit(_case(project_policy=[], assets=assets).write(tmp_path))
    assert set(_rules(report)) == {"GCP-002", "GCP-005"}
    (error,) = _errors(report)
    assert error["reason"].startswith("[0].resource: ") and error["reason"].endswith("(also [2].policy)")


# --- service accounts -----------------------------------------------------------------------------------


def test_an_empty_object_as_the_account_list_is_not_no_accounts(tmp_path: Path) -> None:
    """`gcloud iam service-accounts list --format=json` prints `[]` for none: `{}` is not its output, and
    reading it as "no accounts" would turn GCP-001 critical into GCP-007 medium (missing)."""
    root = _case().write(tmp_path)
    (root / BASE / "service-accounts.json").write_text("{}")
    with pytest.raises(InputError) as err:
        _audit(root)
    assert f"{BASE}/service-accounts.json" in str(err.value)
    assert "gcloud iam service-accounts list" in str(err.value)


def test_an_account_entry_without_email_leaves_missing_accounts_unchecked(tmp_path: Path) -> None:
    other = gsa("other")
    root = _case(ksas=[("app", "api", API), ("app", "ghost", gsa("ghost"))], gsas=[API, other]).write(tmp_path)
    _edit(root, f"{BASE}/service-accounts.json", lambda a: [a[0], {"displayName": "no email"}])
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    # ghost may be the unreadable entry: not "missing" (GCP-007), unchecked, with the item named.
    assert not [f for f in report.findings if f.rule_id == "GCP-007"]
    (entry,) = [u for u in report.coverage["unchecked"] if u["service_account"] == "ghost"]
    assert f"{BASE}/service-accounts.json: [1].email" in entry["reason"]


def test_an_account_named_only_by_its_resource_name_is_read(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    _edit(root, f"{BASE}/service-accounts.json", lambda a: [{k: v for k, v in x.items() if k != "email"} for x in a])
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    assert report.coverage["unchecked"] == [] and _errors(report) == []


def test_a_disabled_flag_that_cannot_be_read_counts_as_enabled(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    _edit(root, f"{BASE}/service-accounts.json", lambda a: [{**x, "disabled": "yes"} for x in a])
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    assert _gap_items(report) == [(f"{BASE}/service-accounts.json", "[0].disabled")]


def test_an_account_policy_that_cannot_be_read_is_unchecked_not_broken(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    _edit(root, f"{BASE}/service-account-iam-policies.json", lambda d: {API: ["not a policy"]})
    report = _audit(root)
    assert "GCP-007" not in _rules(report)
    assert _rules(report) == {"GCP-001": "critical"}  # unchecked links with a known account keep its roles
    (entry,) = report.coverage["unchecked"]
    assert f"{BASE}/service-account-iam-policies.json: {API}" in entry["reason"]


def test_an_unreadable_trust_binding_is_unchecked_not_broken(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    bad = {"role": 7, "members": [ksa_member("app", "api")]}
    _edit(root, f"{BASE}/service-account-iam-policies.json", lambda d: {API: {"bindings": [bad]}})
    report = _audit(root)
    assert "GCP-007" not in _rules(report)
    (entry,) = report.coverage["unchecked"]
    assert entry["reason"].startswith(f"no readable binding on {API} trusts it")
    assert (f"{BASE}/service-account-iam-policies.json", f"{API}.bindings[0].role") in _gap_items(report)


def test_keys_that_cannot_be_read(tmp_path: Path) -> None:
    root = _case(keys={API: [user_key(API, 2), user_key(API, 3)]}).write(tmp_path)
    _edit(root, f"{BASE}/service-account-keys.json", lambda d: {API: [d[API][0], {"keyType": "USER_MANAGED"}]})
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical", "GCP-008": "high"}  # the key that can be read
    assert _gap_items(report) == [(f"{BASE}/service-account-keys.json", f"{API}[1].name")]
    _edit(root, f"{BASE}/service-account-keys.json", lambda d: {API: {"keys": "none"}})
    report = _audit(root)
    (error,) = _errors(report)
    assert error["subject"] == f"{CLUSTER}/app/api" and error["rules"] == ["GCP-008"]
    assert error["reason"].startswith(f"{API}: expected the account's list of keys")


# --- custom roles ---------------------------------------------------------------------------------------


def test_a_custom_role_whose_permissions_cannot_be_read_is_a_gap(tmp_path: Path) -> None:
    role = f"projects/{PROJECT}/roles/r1"
    bindings = [binding("roles/editor", f"serviceAccount:{API}"), binding(role, f"serviceAccount:{API}")]
    custom = [
        {"name": "x-without-permissions-list", "includedPermissions": {"a": 1}},
        {"name": role, "includedPermissions": 5},
    ]
    report = _audit(_case(project_policy=bindings, custom_roles=custom).write(tmp_path))
    assert _rules(report) == {"GCP-001": "critical"}
    assert _gap_items(report) == [(f"{BASE}/custom-roles.json", "[1].includedPermissions")]


def test_an_unreadable_role_entry_is_named_for_a_role_not_found(tmp_path: Path) -> None:
    role = f"projects/{PROJECT}/roles/r1"
    bindings = [binding("roles/editor", f"serviceAccount:{API}"), binding(role, f"serviceAccount:{API}")]
    report = _audit(_case(project_policy=bindings, custom_roles=[{"title": "no name"}]).write(tmp_path))
    assert _rules(report) == {"GCP-001": "critical"}
    (entry,) = report.coverage["unchecked"]
    (item,) = entry["items"]
    assert role in item["reason"] and f"{BASE}/custom-roles.json: [0].name" in item["reason"]


# --- cluster and node pools -----------------------------------------------------------------------------


def test_a_workload_identity_config_that_cannot_be_read_is_coverage_not_disabled(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    _edit(root, f"{GKE}/cluster.json", lambda c: {**c, "workloadIdentityConfig": "on"})
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}  # not "Workload Identity disabled" (GCP-007)
    (error,) = _errors(report)
    assert (error["location"], error["subject"]) == (f"{GKE}/cluster.json", CLUSTER)
    assert error["reason"].startswith("workloadIdentityConfig:")


def test_node_pools_listed_as_an_object_are_coverage(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    (root / GKE / "node-pools.json").unlink()
    _edit(root, f"{GKE}/cluster.json", lambda c: {**c, "nodePools": {"name": "default-pool"}})
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    errors = {(e["location"], e["reason"].split(":")[0]): (e["subject"], e.get("rules")) for e in _errors(report)}
    assert errors[(f"{GKE}/cluster.json", "nodePools")] == (CLUSTER, ["GCP-010"])


@pytest.mark.parametrize(
    ("change", "item", "subject"),
    [
        (lambda p: {**p, "config": ["GKE_METADATA"]}, "nodePools[0].config", "node-pool/default-pool"),
        (
            lambda p: {**p, "config": {**p["config"], "serviceAccount": 5}},
            "nodePools[0].config.serviceAccount",
            "node-pool/default-pool",
        ),
        (lambda p: {k: v for k, v in p.items() if k != "name"}, "nodePools[0].name", None),
    ],
    ids=["config", "account", "name"],
)
def test_a_node_pool_that_cannot_be_read_is_coverage_naming_it(
    tmp_path: Path, change: Callable[[Any], Any], item: str, subject: str | None
) -> None:
    root = _case(pools=[pool("default-pool", gsa("nodes"), "GCE_METADATA")]).write(tmp_path)
    _edit(root, f"{GKE}/node-pools.json", lambda pools: [change(pools[0])])
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    assert not [f for f in report.findings if f.rule_id == "GCP-010"]
    errors = [e for e in _errors(report) if item in e["reason"]]
    assert errors, _errors(report)
    assert errors[0]["location"] == f"{GKE}/node-pools.json"
    if subject:
        assert errors[0]["subject"] == f"{CLUSTER}/node/{subject}" and errors[0]["rules"] == ["GCP-010"]


@pytest.mark.parametrize(
    "config",
    [["GKE_METADATA"], {"mode": ["GKE_METADATA"]}, {"mode": 1}, {"mode": "GKE_METADATA_V2"}, {"mode": ""}, {}],
    ids=["list", "mode-list", "mode-number", "mode-unknown", "mode-empty", "mode-missing"],
)
def test_a_metadata_mode_that_is_missing_or_unknown_is_never_safe(tmp_path: Path, config: Any) -> None:
    root = _case(pools=[pool("default-pool", gsa("nodes"))]).write(tmp_path)
    assert not [f for f in _audit(root).findings if f.rule_id == "GCP-010"]  # GKE_METADATA: safe
    _edit(
        root,
        f"{GKE}/node-pools.json",
        lambda pools: [{**pools[0], "config": {**pools[0]["config"], "workloadMetadataConfig": config}}],
    )
    (finding,) = [f for f in _audit(root).findings if f.rule_id == "GCP-010"]
    assert finding.node == "node-pool/default-pool"


def test_project_file_items_that_cannot_be_read(tmp_path: Path) -> None:
    root = _case(ancestors=None).write(tmp_path)
    _edit(root, f"{BASE}/project.json", lambda p: {**p, "projectNumber": None, "parent": ["folders/1"]})
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    (error,) = [e for e in _errors(report) if e["location"] == f"{BASE}/project.json"]
    assert error["reason"].startswith("parent cannot be read") and error["subject"] == CLUSTER


def test_a_key_expiry_without_a_time_zone_is_read_as_utc(tmp_path: Path) -> None:
    root = _case(keys={API: [user_key(API, 2, valid_before="2000-01-01T00:00:00")]}).write(tmp_path / "past")
    assert _rules(_audit(root)) == {"GCP-001": "critical"}  # expired: no longer a credential
    root = _case(keys={API: [user_key(API, 2, valid_before="9999-01-01T00:00:00")]}).write(tmp_path / "future")
    assert _rules(_audit(root)) == {"GCP-001": "critical", "GCP-008": "high"}


def test_a_deleted_custom_role_grants_nothing_and_is_no_gap(tmp_path: Path) -> None:
    role = f"projects/{PROJECT}/roles/old"
    bindings = [binding("roles/editor", f"serviceAccount:{API}"), binding(role, f"serviceAccount:{API}")]
    custom = [{"name": role, "deleted": True, "includedPermissions": ["resourcemanager.projects.setIamPolicy"]}]
    report = _audit(_case(project_policy=bindings, custom_roles=custom).write(tmp_path))
    assert _rules(report) == {"GCP-001": "critical"}
    assert report.coverage["unchecked"] == [] and _errors(report) == []


def test_an_empty_object_as_an_accounts_keys_is_not_no_keys(tmp_path: Path) -> None:
    root = _case(keys={API: [user_key(API, 2)]}).write(tmp_path)
    _edit(root, f"{BASE}/service-account-keys.json", lambda d: {API: {}})
    report = _audit(root)
    assert "GCP-008" not in _rules(report)
    (error,) = _errors(report)
    assert (error["subject"], error["rules"]) == (f"{CLUSTER}/app/api", ["GCP-008"])


def test_a_workload_pool_that_is_there_but_empty_is_unknown_not_off(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    _edit(root, f"{GKE}/cluster.json", lambda c: {**c, "workloadIdentityConfig": {"workloadPool": None}})
    report = _audit(root)
    assert _rules(report) == {"GCP-001": "critical"}
    assert [e["reason"].split(":")[0] for e in _errors(report)] == ["workloadIdentityConfig.workloadPool"]
