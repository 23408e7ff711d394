"""Absent is not empty: a GCP file left out never clears a finding, and fingerprints never depend on an
optional file. Through the CLI with `--baseline`, as a quarterly run would see it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from gcp_builder import CLUSTER, LOCATION, NUMBER, PROJECT, Case, binding, gsa, ksa_member, policy, pool

import kubeiam.cli as cli
from kubeiam.pipeline.audit import demo_dir

DEMO_GCP = "gcp/acme-data"
GRANT_RULES = ["GCP-001", "GCP-002", "GCP-003", "GCP-004", "GCP-005", "GCP-006", "GCP-011"]


def _run(evidence: Path, out: Path, *extra: str) -> dict[str, Any]:
    code = cli.main(["audit", "--evidence", str(evidence), "--format", "json", "--output", str(out), "--quiet", *extra])
    assert code in (0, 1, 3), code
    return json.loads(out.read_text())


def _gcp(report: dict[str, Any], key: str = "findings") -> dict[str, str]:
    return {f["fingerprint"]: f["rule_id"] for f in report.get(key, ()) if f["cloud"] == "gcp"}


def _demo(tmp_path: Path) -> tuple[Path, dict[str, Any], Path]:
    """A copy of the demo, its audit, and that report's path (the baseline)."""
    root = tmp_path / "demo"
    shutil.copytree(demo_dir(), root)
    baseline = tmp_path / "baseline.json"
    return root, _run(root, baseline), baseline


def test_removing_project_json_keeps_every_fingerprint(tmp_path: Path) -> None:
    """The project number (asset names, the default compute account) comes from the other files too."""
    root, before, baseline = _demo(tmp_path)
    (root / DEMO_GCP / "project.json").unlink()
    after = _run(root, tmp_path / "after.json", "--baseline", str(baseline))
    assert _gcp(after) == _gcp(before)
    assert _gcp(after, "resolved") == {}
    assert after["baseline"]["new"] == 0


def test_a_project_named_by_number_and_by_id_is_one_grant(tmp_path: Path) -> None:
    """The asset search names the project by number, its policy file by id: one binding, one finding."""
    api = gsa("api")
    editor = binding("roles/editor", f"serviceAccount:{api}")
    asset = {
        "resource": f"//cloudresourcemanager.googleapis.com/projects/{NUMBER}",
        "project": f"projects/{NUMBER}",
        "assetType": "cloudresourcemanager.googleapis.com/Project",
        "policy": policy(editor),
    }
    root = Case(project_policy=[editor], assets=[asset]).write(tmp_path / "ev")
    first = _run(root, tmp_path / "a.json")
    (root / "gcp" / PROJECT / "project.json").unlink()
    second = _run(root, tmp_path / "b.json")
    assert list(_gcp(first).values()) == ["GCP-001"]
    assert _gcp(second) == _gcp(first)


def test_the_default_compute_account_of_a_pool_without_project_json(tmp_path: Path) -> None:
    """Node pools name it `default`: its email needs the project number, which service-accounts.json
    also gives; without any file giving it, the pool is named in the coverage, never a made-up account."""
    compute = f"{NUMBER}-compute@developer.gserviceaccount.com"
    case = Case(gsas=[gsa("api"), compute], pools=[pool("p1", "default", "GCE_METADATA")])
    root = case.write(tmp_path / "ev")
    first = _run(root, tmp_path / "a.json")
    (gcp010,) = [f for f in first["findings"] if f["rule_id"] == "GCP-010"]
    assert gcp010["principal"] == compute
    (root / "gcp" / PROJECT / "project.json").unlink()
    assert _gcp(_run(root, tmp_path / "b.json")) == _gcp(first)
    accounts = root / "gcp" / PROJECT / "service-accounts.json"
    accounts.write_text(json.dumps([a for a in json.loads(accounts.read_text()) if a["email"] != compute]))
    third = _run(root, tmp_path / "c.json", "--baseline", str(tmp_path / "a.json"))
    assert not [f for f in third["findings"] if f["rule_id"] == "GCP-010"]
    (error,) = [e for e in third["coverage"]["errors"] if e.get("rules") == ["GCP-010"]]
    assert error["subject"] == f"{CLUSTER}/node/node-pool/p1" and "number" in error["reason"]
    assert [f["rule_id"] for f in third["not_rechecked"]] == ["GCP-010"]
    assert third["resolved"] == []


def _kubeconfig(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": "https://203.0.113.10"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def test_the_stable_cluster_id_comes_from_the_kubeconfig_name_without_cluster_json(tmp_path: Path) -> None:
    root = Case(project_policy=[binding("roles/editor", f"serviceAccount:{gsa('api')}")]).write(tmp_path / "ev")
    k8s = root / "kubernetes"
    (k8s / CLUSTER / "openid-configuration.json").unlink()  # no issuer either
    (k8s / CLUSTER).rename(k8s / "prod")
    (k8s / "prod" / "kubeconfig.json").write_text(json.dumps(_kubeconfig(f"gke_{PROJECT}_{LOCATION}_{CLUSTER}")))
    stable = f"//container.googleapis.com/projects/{PROJECT}/locations/{LOCATION}/clusters/{CLUSTER}"
    first = _run(root, tmp_path / "a.json")
    assert [c["id"] for c in first["coverage"]["clusters"]] == [stable]
    assert "GCP-001" in _gcp(first).values()
    shutil.rmtree(root / "gcp" / PROJECT / "gke")
    second = _run(root, tmp_path / "b.json", "--baseline", str(tmp_path / "a.json"))
    assert [c["id"] for c in second["coverage"]["clusters"]] == [stable]
    assert _gcp(second) == {fp: r for fp, r in _gcp(first).items() if r != "GCP-010"}
    assert second["resolved"] == []


@pytest.mark.parametrize(
    ("remove", "hidden"),
    [
        ("project-iam-policy.json", set()),  # the asset search holds a copy of the project's policy
        ("asset-iam-policies.json", set()),
        ("service-account-iam-policies.json", {"GCP-007"}),
        ("service-account-keys.json", {"GCP-008"}),
        ("gke/europe-west1/gke-data/node-pools.json", {"GCP-010"}),
        ("", {"GCP-001", "GCP-003", "GCP-005", "GCP-007", "GCP-008", "GCP-010"}),
    ],
    ids=["project-policy", "assets", "sa-policies", "keys", "node-pools", "whole-project"],
)
def test_an_absent_file_leaves_what_it_decides_not_rechecked_never_resolved(
    tmp_path: Path, remove: str, hidden: set[str]
) -> None:
    root, before, baseline = _demo(tmp_path)
    target = root / DEMO_GCP / remove
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    cluster = root / DEMO_GCP / "gke/europe-west1/gke-data/cluster.json"
    if remove.endswith("node-pools.json"):  # the cluster object carries them too: take them out of it
        cluster.write_text(json.dumps({k: v for k, v in json.loads(cluster.read_text()).items() if k != "nodePools"}))
    after = _run(root, tmp_path / "after.json", "--baseline", str(baseline))
    assert _gcp(after, "resolved") == {}
    gone = set(_gcp(before)) - set(_gcp(after))
    assert set(_gcp(after, "not_rechecked")) == gone
    assert hidden <= set(_gcp(after, "not_rechecked").values())
    assert all(e["subject"] for e in after["coverage"]["errors"] if e["source"] == "gcp")


def test_an_absent_file_hides_only_the_rules_it_decides(tmp_path: Path) -> None:
    """project-iam-policy.json absent: role findings are not re-checked, but a binding repaired since
    (GCP-007, decided by the account's own policy) is resolved."""
    root, before, baseline = _demo(tmp_path)
    assert "GCP-007" in _gcp(before).values()
    policies = root / DEMO_GCP / "service-account-iam-policies.json"
    doc = json.loads(policies.read_text())
    frontend = "frontend@acme-data.iam.gserviceaccount.com"
    trust = binding("roles/iam.workloadIdentityUser", ksa_member("web", "frontend").replace("fx-proj", "acme-data"))
    doc[frontend] = policy(trust)
    policies.write_text(json.dumps(doc))
    (root / DEMO_GCP / "project-iam-policy.json").unlink()
    after = _run(root, tmp_path / "after.json", "--baseline", str(baseline))
    assert list(_gcp(after, "resolved").values()) == ["GCP-007"]
    errors = [e for e in after["coverage"]["errors"] if e["location"].endswith("project-iam-policy.json")]
    assert [(e["subject"], e["rules"]) for e in errors] == [("gke-data", GRANT_RULES)]
