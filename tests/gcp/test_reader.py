"""The GCP reader: cluster matching, link statuses, grants with conditions, shapes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gcp_builder import (
    CLUSTER,
    NUMBER,
    POOL,
    PROJECT,
    Case,
    binding,
    gsa,
    ksa_member,
    policy,
    principal,
    principal_set,
)
from kubeiam_gcp.declarations import GCP

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.model import LinkStatus

API = gsa("api")


def _inventory(root: Path):
    return read_inventory(Evidence(root), load_providers())


def _gcp_links(inv, mechanism: str = "gke-workload-identity"):
    return [lk for lk in inv.links if lk.cloud == GCP and lk.mechanism == mechanism]


def test_cluster_matched_by_issuer_gets_stable_id(tmp_path: Path) -> None:
    inv = _inventory(Case().write(tmp_path))
    cluster = inv.cluster(CLUSTER)
    assert (
        cluster.stable_id == f"//container.googleapis.com/projects/{PROJECT}/locations/us-central1/clusters/{CLUSTER}"
    )
    assert inv.views["gcp"].clusters[CLUSTER].workload_pool == POOL


def test_cluster_matched_by_gke_context_name_without_issuer(tmp_path: Path) -> None:
    root = Case().write(tmp_path)
    k8s = root / "kubernetes"
    (k8s / CLUSTER / "openid-configuration.json").unlink()
    (k8s / CLUSTER).rename(k8s / f"gke_{PROJECT}_us-central1_{CLUSTER}")
    inv = _inventory(root)
    (cluster,) = inv.clusters
    assert cluster.stable_id and cluster.stable_id.endswith(f"/clusters/{CLUSTER}")
    assert cluster.issuer and cluster.issuer.startswith("https://container.googleapis.com/v1/projects/")
    assert _gcp_links(inv)[0].status is LinkStatus.RESOLVED


def test_unmatched_cluster_keeps_its_name_as_identity(tmp_path: Path) -> None:
    root = Case().write(tmp_path)
    k8s = root / "kubernetes"
    (k8s / CLUSTER / "openid-configuration.json").unlink()
    (k8s / CLUSTER).rename(k8s / "some-other-cluster")
    inv = _inventory(root)
    assert inv.clusters[0].stable_id is None
    assert inv.clusters[0].identity == "some-other-cluster"


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        (Case(), LinkStatus.RESOLVED, "roles/iam.workloadIdentityUser"),
        (Case(sa_policies={API: policy()}), LinkStatus.UNTRUSTED, "[app/api]"),
        (Case(gsas=[gsa("other")]), LinkStatus.MISSING, "not in gcp/fx-proj/service-accounts.json"),
        (Case(disabled=(API,)), LinkStatus.UNTRUSTED, "disabled"),
        (Case(workload_pool=None), LinkStatus.UNTRUSTED, "Workload Identity is not enabled"),
        (
            Case(sa_policies={API: policy(binding("roles/iam.workloadIdentityUser", principal("app", "api")))}),
            LinkStatus.RESOLVED,
            "principal://",
        ),
        (
            Case(sa_policies={API: policy(binding("roles/iam.serviceAccountTokenCreator", ksa_member("app", "api")))}),
            LinkStatus.RESOLVED,
            "serviceAccountTokenCreator",
        ),
        (
            Case(sa_policies={API: policy(binding("roles/iam.workloadIdentityUser", ksa_member("app", "apix")))}),
            LinkStatus.UNTRUSTED,
            "no roles/iam.workloadIdentityUser",
        ),
    ],
)
def test_gsa_link_status(tmp_path: Path, case: Case, status: LinkStatus, reason: str) -> None:
    (link,) = _gcp_links(_inventory(case.write(tmp_path)))
    assert link.status is status
    assert reason in link.reason
    assert link.principal == API


def test_no_gcp_evidence_is_unchecked_never_clean(tmp_path: Path) -> None:
    root = Case().write(tmp_path)
    for f in sorted((root / "gcp").rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    (link,) = _gcp_links(_inventory(root))
    assert link.status is LinkStatus.UNCHECKED


@pytest.mark.parametrize("missing", ["service-accounts.json", "service-account-iam-policies.json"])
def test_missing_file_is_unchecked(tmp_path: Path, missing: str) -> None:
    root = Case().write(tmp_path)
    (root / "gcp" / PROJECT / missing).unlink()
    (link,) = _gcp_links(_inventory(root))
    assert link.status is LinkStatus.UNCHECKED
    assert missing in link.reason


def test_direct_principal_and_sets(tmp_path: Path) -> None:
    case = Case(
        ksas=[("batch", "exporter", None), ("batch", "other", None), ("web", "front", None)],
        project_policy=[
            binding("roles/storage.objectViewer", principal("batch", "exporter")),
            binding("roles/pubsub.subscriber", principal_set("namespace/batch")),
            binding("roles/logging.logWriter", principal_set("*")),
            binding(
                "roles/pubsub.publisher",
                f"principal://iam.googleapis.com/projects/999/locations/global/"
                f"workloadIdentityPools/{POOL}/subject/ns/batch/sa/exporter",
            ),
        ],
    )
    inv = _inventory(case.write(tmp_path))
    by_sa: dict[str, set[str]] = {}
    for link in _gcp_links(inv, "gke-direct"):
        assert link.status is LinkStatus.RESOLVED
        by_sa.setdefault(f"{link.namespace}/{link.service_account}", set()).update(g.role for g in link.identity.grants)
    assert by_sa == {
        "batch/exporter": {"roles/storage.objectViewer", "roles/pubsub.subscriber", "roles/logging.logWriter"},
        "batch/other": {"roles/pubsub.subscriber", "roles/logging.logWriter"},
        "web/front": {"roles/logging.logWriter"},
    }


def test_grants_keep_conditions_scopes_and_dedupe_asset_copies(tmp_path: Path) -> None:
    cond = {"expression": "request.time < timestamp('2027-01-01T00:00:00Z')", "title": "until 2027"}
    project_binding = binding("roles/pubsub.publisher", f"serviceAccount:{API}", condition=cond)
    case = Case(
        project_policy=[project_binding],
        ancestors={"organizations/300000000003": [binding("roles/browser", f"serviceAccount:{API}")]},
        assets=[
            {"resource": f"//cloudresourcemanager.googleapis.com/projects/{NUMBER}", "policy": policy(project_binding)},
            {
                "resource": "//storage.googleapis.com/b1",
                "assetType": "storage.googleapis.com/Bucket",
                "policy": policy(binding("roles/storage.objectViewer", f"serviceAccount:{API}")),
            },
        ],
    )
    (link,) = _gcp_links(_inventory(case.write(tmp_path)))
    grants = {g.role: g for g in link.identity.grants}
    assert sorted(grants) == ["roles/browser", "roles/pubsub.publisher", "roles/storage.objectViewer"]
    assert grants["roles/pubsub.publisher"].condition == cond["expression"]
    assert grants["roles/pubsub.publisher"].scope == f"projects/{PROJECT}"
    assert grants["roles/browser"].scope_level == "organization"
    assert grants["roles/storage.objectViewer"].scope_level == "resource"
    assert grants["roles/pubsub.publisher"].statements[0].allows("pubsub.topics.publish")


def test_custom_role_permissions_and_unknown_role_is_a_gap_of_the_identity(tmp_path: Path) -> None:
    custom = {"name": f"projects/{PROJECT}/roles/r1", "includedPermissions": ["pubsub.topics.publish"]}
    case = Case(
        custom_roles=[custom],
        project_policy=[
            binding(custom["name"], f"serviceAccount:{API}"),
            binding(f"projects/{PROJECT}/roles/gone", f"serviceAccount:{API}"),
        ],
    )
    inv = _inventory(case.write(tmp_path))
    (link,) = _gcp_links(inv)
    perms = {g.role: g.statements for g in link.identity.grants}
    assert perms[custom["name"]][0].actions == ("pubsub.topics.publish",)
    assert perms[f"projects/{PROJECT}/roles/gone"] == ()
    # Its permissions are unknown, never "none": the identity is audited on the rest and partly checked.
    (gap,) = link.identity.gaps
    assert "roles/gone" in gap.reason and gap.location == f"gcp/{PROJECT}/project-iam-policy.json"


def test_rest_shapes_are_accepted(tmp_path: Path) -> None:
    root = Case(keys={API: []}).write(tmp_path)
    base = root / "gcp" / PROJECT
    for name, key in [("service-accounts.json", "accounts"), ("custom-roles.json", "roles")]:
        path = base / name
        value = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps({key: value}))
    pools = base / "gke" / "us-central1" / CLUSTER / "node-pools.json"
    pools.write_text(json.dumps({"nodePools": json.loads(pools.read_text())}))
    (base / "project.json").write_text(json.dumps({"name": f"projects/{NUMBER}", "projectId": PROJECT}))
    inv = _inventory(root)
    assert _gcp_links(inv)[0].status is LinkStatus.RESOLVED
    assert inv.views["gcp"].project_numbers[PROJECT] == NUMBER
    assert inv.views["gcp"].clusters[CLUSTER].node_pools


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("project-iam-policy.json", [], "top level must be a JSON object"),
        ("project.json", ["acme"], "gcloud projects describe"),
        ("service-accounts.json", {}, "gcloud iam service-accounts list"),
        ("service-accounts.json", {"accounts": {"email": API}}, "field 'accounts' must be a list"),
        ("service-accounts.json", "x", "top level must be a list"),
        ("service-account-iam-policies.json", [], "top level must be a JSON object"),
        ("service-account-keys.json", [], "top level must be a JSON object"),
        ("ancestors-iam-policies.json", "folders/1", "get-ancestors-iam-policy"),
        ("asset-iam-policies.json", {}, "gcloud asset search-all-iam-policies"),
        ("asset-iam-policies.json", {"kind": "x"}, "an object without 'results'"),
        ("custom-roles.json", 5, "top level must be a list"),
    ],
)
def test_a_file_not_the_commands_shape_names_file_and_field(
    tmp_path: Path, file: str, content: object, message: str
) -> None:
    """Exit 2 only for a file that is not the command's output at the top level; anything deeper is
    item-level (tests/gcp/test_item_degradation.py)."""
    root = Case().write(tmp_path)
    (root / "gcp" / PROJECT / file).write_text(json.dumps(content))
    with pytest.raises(InputError) as err:
        _inventory(root)
    assert f"gcp/{PROJECT}/{file}" in str(err.value)
    assert message in str(err.value)


def test_bad_json_and_a_cluster_object_without_name(tmp_path: Path) -> None:
    root = Case().write(tmp_path)
    cluster = root / "gcp" / PROJECT / "gke" / "us-central1" / CLUSTER / "cluster.json"
    doc = json.loads(cluster.read_text())
    cluster.write_text(json.dumps({k: v for k, v in doc.items() if k != "name"}))
    # The folder names the cluster too (gke/LOCATION/NAME).
    assert _inventory(root).views["gcp"].clusters[CLUSTER].name == CLUSTER
    cluster.write_text("[]")
    with pytest.raises(InputError, match=r"cluster\.json: top level must be a JSON object"):
        _inventory(root)
    cluster.write_text("{not json")
    with pytest.raises(InputError, match=r"cluster\.json: not valid JSON"):
        _inventory(root)


def test_reader_imports_no_google_cloud_package(tmp_path: Path) -> None:
    root = Case().write(tmp_path)
    code = (
        "import sys; from kubeiam.pipeline.evidence import Evidence; from kubeiam.pipeline.audit import audit;"
        f"audit(Evidence(__import__('pathlib').Path({str(root)!r})));"
        "bad = sorted(m for m in sys.modules if m.startswith(('google.cloud', 'google.auth', 'grpc')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_node_pool_default_account_resolves_to_compute_default(tmp_path: Path) -> None:
    from gcp_builder import pool

    inv = _inventory(Case(pools=[pool("p1", "default", "GCE_METADATA")]).write(tmp_path))
    (p,) = inv.views["gcp"].clusters[CLUSTER].node_pools
    assert p.service_account == f"{NUMBER}-compute@developer.gserviceaccount.com"
    assert p.metadata_mode == "GCE_METADATA"
    node = inv.nodes[0]
    assert inv.views["gcp"].node_pool(node) == p


def test_files_left_out_are_coverage_errors(tmp_path: Path) -> None:
    root = Case().write(tmp_path)  # no ancestors-iam-policies.json, no asset-iam-policies.json
    keys = root / "gcp" / PROJECT / "service-account-keys.json"
    keys.write_text("{}")
    errors = {(e.location.rsplit("/", 1)[-1], e.subject, e.rules) for e in _inventory(root).errors if e.source == "gcp"}
    grant_rules = ("GCP-001", "GCP-002", "GCP-003", "GCP-004", "GCP-005", "GCP-006", "GCP-011")
    assert errors == {
        ("ancestors-iam-policies.json", CLUSTER, grant_rules),
        ("asset-iam-policies.json", CLUSTER, grant_rules),
        ("service-account-keys.json", f"{CLUSTER}/app/api", ("GCP-008",)),
    }


def _gcp_errors(inv) -> list:
    return [e for e in inv.errors if e.source == "gcp"]


def test_missing_project_file_leaves_ancestors_unchecked_not_clean(tmp_path: Path) -> None:
    root = Case(project_policy=[binding("roles/viewer", f"serviceAccount:{API}")]).write(tmp_path)
    assert not [e for e in _gcp_errors(_inventory(root)) if "folder and organisation" in e.reason]
    (root / "gcp" / PROJECT / "project.json").unlink()
    (error,) = [e for e in _gcp_errors(_inventory(root)) if "folder and organisation" in e.reason]
    assert error.location == f"gcp/{PROJECT}/project.json"


def test_node_pools_missing_from_the_evidence_are_coverage(tmp_path: Path) -> None:
    root = Case().write(tmp_path)
    assert not [e for e in _gcp_errors(_inventory(root)) if "metadata mode" in e.reason]
    gke = root / "gcp" / PROJECT / "gke" / "us-central1" / CLUSTER
    (gke / "node-pools.json").write_text("[]")
    cluster = json.loads((gke / "cluster.json").read_text())
    cluster.pop("nodePools")
    (gke / "cluster.json").write_text(json.dumps(cluster))
    (error,) = [e for e in _gcp_errors(_inventory(root)) if "metadata mode" in e.reason]
    assert "default-pool" in error.reason and error.subject == CLUSTER
    # No cluster object at all: the GKE cluster (known from its issuer) is still not checked.
    for f in gke.iterdir():
        f.unlink()
    (error,) = [e for e in _gcp_errors(_inventory(root)) if "metadata mode" in e.reason]
    assert error.location.endswith(f"/gke/us-central1/{CLUSTER}/cluster.json")


def test_grants_to_a_service_account_uid_member_are_coverage(tmp_path: Path) -> None:
    member = principal_set("kubernetes.serviceaccount.uid/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab")
    root = Case(project_policy=[binding("roles/storage.admin", member)]).write(tmp_path)
    (error,) = [e for e in _gcp_errors(_inventory(root)) if e.subject == member]
    assert error.location == f"gcp/{PROJECT}/project-iam-policy.json"


@pytest.mark.parametrize(
    ("ancestors", "missing"),
    [
        ({"folders/200000000002": [], "organizations/300000000003": []}, None),
        ({"organizations/300000000003": []}, "folders/200000000002"),  # the parent folder's policy not read
        ({"folders/200000000002": []}, "the organisation"),  # a folder always leads up to an organisation
    ],
)
def test_partial_ancestor_policies_are_coverage(tmp_path: Path, ancestors: dict, missing: str | None) -> None:
    errors = [
        e for e in _gcp_errors(_inventory(Case(ancestors=ancestors).write(tmp_path))) if "ancestors" in e.location
    ]
    assert [missing in e.reason for e in errors] == ([True] if missing else [])


def test_gke_cluster_without_its_project_folder_is_coverage(tmp_path: Path) -> None:
    root = Case(ksas=[("batch", "exporter", None)]).write(tmp_path)  # no annotation: direct grants only
    assert not [e for e in _gcp_errors(_inventory(root)) if "granted directly" in e.reason]
    for f in sorted((root / "gcp").rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    (error,) = [e for e in _gcp_errors(_inventory(root)) if "granted directly" in e.reason]
    assert error.location == f"gcp/{PROJECT}/" and error.subject == CLUSTER
