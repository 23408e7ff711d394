"""What the evidence fuzz (tests/fuzz) found in the Kubernetes reader, each kept as a regression test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def audit(run_cli, evidence: Path, tmp_path: Path, baseline: Path | None = None) -> tuple[int, Any, str]:
    out, config = tmp_path / f"report-{baseline is not None}.json", tmp_path / "kubeiam.toml"
    config.write_text("")
    args: list[Any] = ["audit", "--evidence", evidence, "--format", "json", "--output", out, "--config", config]
    code, _, err = run_cli(*args, *(["--baseline", baseline] if baseline else []))
    return code, json.loads(out.read_text()) if out.exists() else None, err


def mutated_demo(tmp_path: Path, cluster: str, change) -> Path:
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    path = root / "kubernetes" / cluster / "resources.json"
    doc = json.loads(path.read_text())
    change(doc["items"])
    path.write_text(json.dumps(doc))
    return root


def test_a_pod_or_node_status_of_another_shape_is_no_internal_error(run_cli, tmp_path):
    """`status` as a list crashed the IPv6 check of the IMDS egress policies (AttributeError, exit 2)."""

    def change(items: list[dict[str, Any]]) -> None:
        next(i for i in items if i["kind"] == "Pod")["status"] = [{"podIP": "10.0.0.1"}]
        next(i for i in items if i["kind"] == "Node")["status"] = {"addresses": {"type": "InternalIP"}}

    code, report, err = audit(run_cli, mutated_demo(tmp_path, "eks-prod", change), tmp_path)

    assert code in (0, 1), err
    assert "internal error" not in err
    assert report["findings"]


def test_an_env_value_that_is_not_a_string_leaves_the_pods_credentials_unchecked(run_cli, tmp_path):
    """GOOGLE_APPLICATION_CREDENTIALS given as an object was read as no value: K8S-001 went `resolved`."""
    code, baseline, err = audit(run_cli, DEMO, tmp_path)
    assert code == 1, err
    before = [f for f in baseline["findings"] if f["rule_id"] == "K8S-001" and f["service_account"] == "gcs-sync"]
    assert len(before) == 1
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(baseline))

    def change(items: list[dict[str, Any]]) -> None:
        pod = next(i for i in items if i["kind"] == "Pod" and i["spec"].get("serviceAccountName") == "gcs-sync")
        env = pod["spec"]["containers"][0]["env"][0]
        assert env["name"] == "GOOGLE_APPLICATION_CREDENTIALS"
        env["value"] = {"path": env["value"]}

    code, report, err = audit(run_cli, mutated_demo(tmp_path, "gke-data", change), tmp_path, base)

    assert code == 1, err
    errors = [e for e in report["coverage"]["errors"] if ".env[0].value" in e["location"]]
    assert [(e["subject"], e["location"].split(":")[0]) for e in errors] == [
        ("gke-data/ops/gcs-sync", "kubernetes/gke-data/resources.json")
    ]
    assert before[0]["fingerprint"] in {f["fingerprint"] for f in report["not_rechecked"]}
    assert before[0]["fingerprint"] not in {f["fingerprint"] for f in report["resolved"]}


def test_a_secret_volume_without_a_name_leaves_the_pods_credentials_unchecked(run_cli, tmp_path):
    """A nameless volume backed no mount: the key file it mounts went unseen and K8S-001 `resolved`."""
    code, baseline, err = audit(run_cli, DEMO, tmp_path)
    assert code == 1, err
    before = [f for f in baseline["findings"] if f["rule_id"] == "K8S-001" and f["service_account"] == "gcs-sync"]
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(baseline))

    def change(items: list[dict[str, Any]]) -> None:
        pod = next(i for i in items if i["kind"] == "Pod" and i["spec"].get("serviceAccountName") == "gcs-sync")
        volume = next(v for v in pod["spec"]["volumes"] if "secret" in v)
        del volume["name"]

    code, report, err = audit(run_cli, mutated_demo(tmp_path, "gke-data", change), tmp_path, base)

    assert code == 1, err
    assert any(
        e["location"].startswith("kubernetes/gke-data/resources.json: ")
        and e["location"].endswith(".name")
        and ".volumes[" in e["location"]
        and e["subject"] == "gke-data/ops/gcs-sync"
        for e in report["coverage"]["errors"]
    )
    assert [f["fingerprint"] for f in report["not_rechecked"]] == [before[0]["fingerprint"]]


def _with_baseline(run_cli, tmp_path: Path) -> tuple[Any, Path]:
    code, baseline, err = audit(run_cli, DEMO, tmp_path)
    assert code == 1, err
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(baseline))
    return baseline, base


def _takeover(report: Any, cluster: str) -> set[str]:
    return {f["fingerprint"] for f in report["findings"] if f["rule_id"] == "K8S-006" and f["cluster"] == cluster}


def test_rbac_json_wrapped_in_a_list_is_a_coverage_error_not_no_rbac(run_cli, tmp_path):
    """`[<the List>]` read as a list of one object of kind List, skipped unseen: K8S-006 went `resolved`."""
    baseline, base = _with_baseline(run_cli, tmp_path)
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    rbac = root / "kubernetes/gke-data/rbac.json"
    rbac.write_text(json.dumps([json.loads(rbac.read_text())]))

    code, report, err = audit(run_cli, root, tmp_path, base)

    assert code == 1, err
    assert [e["location"] for e in report["coverage"]["errors"] if e["source"] == "kubernetes"] == [
        "kubernetes/gke-data/rbac.json: [0]"
    ]
    gone = _takeover(baseline, "gke-data") - _takeover(report, "gke-data")
    assert gone, "the mutation changes nothing: the test would pass without the fix"
    assert gone <= {f["fingerprint"] for f in report["not_rechecked"]}


def test_a_role_binding_whose_namespace_is_a_list_is_a_coverage_error_not_an_internal_error(run_cli, tmp_path):
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    rbac = root / "kubernetes/aks-apps/rbac.json"
    doc = json.loads(rbac.read_text())
    i, binding = next((i, b) for i, b in enumerate(doc["items"]) if b["kind"] == "RoleBinding")
    binding["metadata"]["namespace"] = [binding["metadata"]["namespace"]]
    rbac.write_text(json.dumps(doc))

    code, report, err = audit(run_cli, root, tmp_path)

    assert code == 1, err
    assert f"kubernetes/aks-apps/rbac.json: items[{i}].metadata.namespace" in {
        e["location"] for e in report["coverage"]["errors"]
    }


def test_a_pod_without_spec_is_not_read_as_running_as_default(run_cli, tmp_path):
    """A pod's `spec: null` read as a pod of `default`: the takeover of its real ServiceAccount went `resolved`."""
    baseline, base = _with_baseline(run_cli, tmp_path)

    def change(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item["kind"] == "Pod" and item["spec"].get("serviceAccountName") == "bq-loader":
                item["spec"] = None

    code, report, err = audit(run_cli, mutated_demo(tmp_path, "gke-data", change), tmp_path, base)

    assert code == 1, err
    assert any(
        e["location"].endswith(".spec") and "which ServiceAccount it runs as is unknown" in e["reason"]
        for e in report["coverage"]["errors"]
    )
    gone = _takeover(baseline, "gke-data") - _takeover(report, "gke-data")
    assert gone, "the mutation changes nothing: the test would pass without the fix"
    assert gone <= {f["fingerprint"] for f in report["not_rechecked"]}
