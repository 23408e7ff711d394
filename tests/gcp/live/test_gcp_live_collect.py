"""Live GCP collection with the real google-cloud clients against the local REST and gRPC servers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from gcp_live_servers import FakeGcp, make_request
from kubeiam_gcp.live import collect

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import Inventory

DATA, SHARED = "gcp/acme-data", "gcp/acme-shared"
NUM = "415104041262"
BQ = "bq-loader@acme-data.iam.gserviceaccount.com"
NOTEBOOK = "notebook@acme-data.iam.gserviceaccount.com"
COMPUTE = f"{NUM}-compute@developer.gserviceaccount.com"
FRONTEND = "frontend@acme-shared.iam.gserviceaccount.com"


def run(gcp: FakeGcp, inventory: Inventory, out: Path, **kwargs: object) -> list:
    return collect(make_request(out, **kwargs), inventory, settings=gcp.settings)


def test_audit_writes_every_gcp_file_in_the_evidence_shapes(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    errors = run(gcp, inventory, tmp_path)
    assert errors == []
    ev = Evidence(tmp_path)

    project = ev.load_object(f"{DATA}/project.json", "projectId", "projectNumber")
    assert project["projectNumber"] == NUM
    assert project["parent"] == {"type": "folder", "id": "1001"}
    assert project["lifecycleState"] == "ACTIVE"

    policy = ev.load_object(f"{DATA}/project-iam-policy.json", "bindings", "etag", "version")
    assert policy["version"] == 3
    conditional = [b for b in policy["bindings"] if "condition" in b]
    assert conditional[0]["condition"]["title"] == "loader-secrets"

    # Two folders and the organisation above them, keyed by resource name.
    ancestors = ev.load_object(f"{DATA}/ancestors-iam-policies.json")
    assert sorted(ancestors) == ["folders/1000", "folders/1001", "organizations/2002"]
    assert all("bindings" in p for p in ancestors.values())
    assert ev.load_object(f"{SHARED}/ancestors-iam-policies.json") == ancestors

    # Both asset search pages, as gcloud prints them (a list of IamPolicySearchResult).
    assets = ev.load_list(f"{DATA}/asset-iam-policies.json")
    assert [a["assetType"] for a in assets] == [
        "cloudresourcemanager.googleapis.com/Project",
        "storage.googleapis.com/Bucket",
        "iam.googleapis.com/ServiceAccount",
        "secretmanager.googleapis.com/Secret",
    ]
    assert assets[1]["policy"]["bindings"][0]["members"][0].startswith("principal://iam.googleapis.com/")

    accounts = ev.load_list(f"{DATA}/service-accounts.json")
    assert {a["email"] for a in accounts} >= {BQ, NOTEBOOK, COMPUTE}
    assert all(a["name"] == f"projects/acme-data/serviceAccounts/{a['email']}" for a in accounts)

    # Policies and keys of the annotated accounts that exist (ghost@ does not; ci-deployer is not annotated).
    sa_policies = ev.load_object(f"{DATA}/service-account-iam-policies.json")
    assert sorted(sa_policies) == sorted([BQ, NOTEBOOK, COMPUTE])
    wi = sa_policies[BQ]["bindings"][0]
    assert wi == {
        "role": "roles/iam.workloadIdentityUser",
        "members": ["serviceAccount:acme-data.svc.id.goog[analytics/bq-loader]"],
    }
    keys = ev.load_object(f"{DATA}/service-account-keys.json")
    assert [k["keyType"] for k in keys[BQ]] == ["USER_MANAGED"]
    assert keys[NOTEBOOK] == []
    assert ev.load_object(f"{SHARED}/service-account-iam-policies.json").keys() == {FRONTEND}

    roles = {r["name"]: r for r in ev.load_list(f"{DATA}/custom-roles.json")}
    assert sorted(roles) == [
        "organizations/2002/roles/auditReader",
        "projects/acme-data/roles/bucketLister",
        "projects/acme-data/roles/dataExporter",
        "projects/acme-data/roles/logWriter",
    ]
    assert roles["projects/acme-data/roles/logWriter"]["stage"] == "BETA"
    assert roles["projects/acme-data/roles/dataExporter"]["includedPermissions"] == [
        "bigquery.tables.export",
        "storage.objects.create",
    ]
    # acme-shared sits under the same folder: the folder's org role is its business too.
    shared_roles = [r["name"] for r in ev.load_list(f"{SHARED}/custom-roles.json")]
    assert shared_roles == ["organizations/2002/roles/auditReader", "projects/acme-shared/roles/topicPublisher"]

    cluster = ev.load_object(f"{DATA}/gke/europe-west1/gke-data/cluster.json", "name", "nodePools")
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "acme-data.svc.id.goog"}
    pools = ev.load_list(f"{DATA}/gke/europe-west1/gke-data/node-pools.json")
    assert {p["name"]: p["config"].get("workloadMetadataConfig", {}).get("mode") for p in pools} == {
        "default-pool": "GKE_METADATA",
        "batch-pool": "GCE_METADATA",
    }
    # The cluster known only by its nodes was found through clusters.list and node names.
    legacy = ev.load_object(f"{DATA}/gke/europe-west1/gke-legacy/cluster.json", "name")
    assert "workloadIdentityConfig" not in legacy


def test_no_key_material_reaches_the_evidence(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    run(gcp, inventory, tmp_path)
    text = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert BQ in text
    assert "privateKeyData" not in text
    assert "c2VjcmV0LWtleS1tYXRlcmlhbC1tdXN0LW5ldmVyLWxlYWs=" not in text


def test_each_object_is_fetched_once(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    run(gcp, inventory, tmp_path)
    rest, iam = gcp.rest.requests, gcp.iam.requests
    # Two pages of one search; everything else once, including folders shared by both projects.
    assert rest.pop("GET /v1/projects/acme-data:searchAllIamPolicies") == 2
    assert set(rest.values()) == {1}
    assert rest["GET /v3/folders/1001"] == 1 and rest["POST /v3/organizations/2002:getIamPolicy"] == 1
    assert set(iam.values()) == {1}
    assert ("ListServiceAccounts", "projects/acme-data") in iam
    assert not [k for k in iam if k[0] == "GetServiceAccount"]  # the list already has them
    # ghost@ is not in the list: no call is spent on it.
    assert not [k for k in iam if "ghost@" in k[1]]
    # Three of acme-data's own roles bound: one list; one bound in acme-shared and one org role: gets.
    assert ("ListRoles", "projects/acme-data") in iam
    assert {k[1] for k in iam if k[0] == "GetRole"} == {
        "projects/acme-shared/roles/topicPublisher",
        "organizations/2002/roles/auditReader",
    }


def test_permission_denied_becomes_coverage_and_the_rest_is_collected(
    gcp: FakeGcp, inventory: Inventory, tmp_path: Path
):
    gcp.rest.fail("POST /v3/projects/acme-data:getIamPolicy", 403)
    gcp.iam.fail(("GetIamPolicy", f"projects/acme-data/serviceAccounts/{NOTEBOOK}"), grpc.StatusCode.PERMISSION_DENIED)
    errors = run(gcp, inventory, tmp_path)

    assert sorted((e.location, e.subject) for e in errors) == [
        ("cloudresourcemanager projects.getIamPolicy projects/acme-data", "projects/acme-data"),
        (f"iam projects.serviceAccounts.getIamPolicy projects/acme-data/serviceAccounts/{NOTEBOOK}", NOTEBOOK),
    ]
    assert all(e.source == "gcp" and e.reason.startswith("permission denied") for e in errors)
    ev = Evidence(tmp_path)
    # What was denied is absent (unchecked), never an empty policy (clean).
    assert not ev.exists(f"{DATA}/project-iam-policy.json")
    assert sorted(ev.load_object(f"{DATA}/service-account-iam-policies.json")) == sorted([BQ, COMPUTE])
    assert ev.exists(f"{DATA}/project.json") and ev.exists(f"{SHARED}/project-iam-policy.json")
    assert ev.exists(f"{DATA}/gke/europe-west1/gke-data/cluster.json")


def test_denied_folder_stops_the_walk_with_coverage(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail("GET /v3/folders/1001", 403)
    errors = run(gcp, inventory, tmp_path)
    assert [(e.location, e.subject) for e in errors] == [
        ("cloudresourcemanager folders.get folders/1001", "folders/1001")
    ]
    # The folder's own policy is still read; what lies above it is unknown and said so.
    assert sorted(Evidence(tmp_path).load_object(f"{DATA}/ancestors-iam-policies.json")) == ["folders/1001"]
    assert gcp.rest.requests["GET /v3/folders/1001"] == 1  # denied once, not asked again per project


def test_quota_errors_are_retried_with_back_off(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail("GET /v3/projects/acme-data", 429, times=2)
    gcp.iam.fail(("ListServiceAccounts", "projects/acme-data"), grpc.StatusCode.RESOURCE_EXHAUSTED, times=1)
    errors = run(gcp, inventory, tmp_path)
    assert errors == []
    assert gcp.rest.requests["GET /v3/projects/acme-data"] == 3
    assert gcp.iam.requests["ListServiceAccounts", "projects/acme-data"] == 2
    assert Evidence(tmp_path).load_object(f"{DATA}/project.json")["projectNumber"] == NUM
    assert Evidence(tmp_path).load_list(f"{DATA}/service-accounts.json")


def test_endless_quota_errors_end_as_coverage(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail("GET /v1/projects/acme-shared:searchAllIamPolicies", 429)
    settings = replace(gcp.settings, retry_deadline=0.3)
    errors = collect(make_request(tmp_path), inventory, settings=settings)
    assert [e.location for e in errors] == ["cloudasset searchAllIamPolicies projects/acme-shared"]
    assert "quota" in errors[0].reason
    assert gcp.rest.requests["GET /v1/projects/acme-shared:searchAllIamPolicies"] > 1
    assert not Evidence(tmp_path).exists(f"{SHARED}/asset-iam-policies.json")


def test_check_fetches_only_what_one_service_account_needs(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    errors = run(gcp, inventory, tmp_path, service_account=("analytics", "bq-loader"))
    assert errors == []
    iam = set(gcp.iam.requests)
    account = f"projects/acme-data/serviceAccounts/{BQ}"
    assert iam == {
        ("GetServiceAccount", account),
        ("GetIamPolicy", account),
        ("ListServiceAccountKeys", account),
        ("ListRoles", "projects/acme-data"),
        ("GetRole", "organizations/2002/roles/auditReader"),
    }
    rest = set(gcp.rest.requests)
    assert not [k for k in rest if "acme-shared" in k]  # frontend's project is not needed
    assert "GET /v1/projects/acme-data/locations/-/clusters" not in rest  # nor the other cluster
    assert "GET /v1/projects/acme-data/locations/europe-west1/clusters/gke-data" in rest
    ev = Evidence(tmp_path)
    assert [a["email"] for a in ev.load_list(f"{DATA}/service-accounts.json")] == [BQ]
    assert list(ev.load_object(f"{DATA}/service-account-iam-policies.json")) == [BQ]
    assert not ev.exists(f"{SHARED}/project.json")


def test_check_of_a_missing_account_spends_one_call(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    errors = run(gcp, inventory, tmp_path, service_account=("web", "ghost"))
    assert errors == []
    ghost = "projects/acme-data/serviceAccounts/ghost@acme-data.iam.gserviceaccount.com"
    assert [k for k in gcp.iam.requests if k[1] == ghost] == [("GetServiceAccount", ghost)]
    # Written as "not there", which is what the reader needs for binding-broken.
    assert Evidence(tmp_path).load_list(f"{DATA}/service-accounts.json") == []


def test_check_with_a_failed_get_writes_no_account_list(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    account = f"projects/acme-data/serviceAccounts/{BQ}"
    gcp.iam.fail(("GetServiceAccount", account), grpc.StatusCode.PERMISSION_DENIED)
    errors = run(gcp, inventory, tmp_path, service_account=("analytics", "bq-loader"))
    assert [e.subject for e in errors] == [BQ]
    # An empty list would read as "the account does not exist": leave it out instead.
    assert not Evidence(tmp_path).exists(f"{DATA}/service-accounts.json")


def test_gcp_project_option_limits_the_reach(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    errors = run(gcp, inventory, tmp_path, projects=["acme-shared"])
    assert sorted((e.location, e.reason) for e in errors) == [
        # the default compute account names its project by number only: unplaced, and said so
        (COMPUTE, f"project number {NUM} is not among the projects read"),
        ("projects/acme-data", "project not among --gcp-project: not collected"),
    ]
    assert not [k for k in gcp.rest.requests if "acme-data" in k]
    assert json.loads((tmp_path / SHARED / "project.json").read_text())["projectId"] == "acme-shared"


@pytest.mark.parametrize("namespace", ["analytics"])
def test_namespace_reads_only_that_namespace_accounts(
    gcp: FakeGcp, inventory: Inventory, tmp_path: Path, namespace: str
):
    run(gcp, inventory, tmp_path, namespace=namespace)
    policies = Evidence(tmp_path).load_object(f"{DATA}/service-account-iam-policies.json")
    assert sorted(policies) == sorted([BQ, NOTEBOOK])
    assert not [k for k in gcp.iam.requests if "acme-shared/serviceAccounts" in k[1]]


class _Recorder:
    """A kubeiam.pipeline.progress.Progress that remembers what it was told."""

    def __init__(self) -> None:
        self.tasks: dict[str, list[int]] = {}  # description -> [total, advanced, done]

    def task(self, description: str, total: int | None = None):
        state = self.tasks.setdefault(description, [total or 0, 0, 0])

        class Task:
            def advance(self, amount: int = 1) -> None:
                state[1] += amount

            def done(self) -> None:
                state[2] += 1

        return Task()


def test_progress_is_reported_per_phase(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    progress = _Recorder()
    run(gcp, inventory, tmp_path, progress=progress)
    assert set(progress.tasks) == {
        "gcp: projects and clusters",
        "gcp: service accounts",
        "gcp: ancestors' IAM policies",
        "gcp: custom roles",
        "gcp: usage data",
    }
    assert all(total == advanced and done == 1 for total, advanced, done in progress.tasks.values())
    assert progress.tasks["gcp: ancestors' IAM policies"][0] == 3


def test_cluster_known_only_by_unmatched_nodes_is_coverage(gcp: FakeGcp, tmp_path: Path):
    from kubeiam_gcp.declarations import GCP

    from kubeiam.vocabulary.model import Cluster, Node

    inventory = Inventory(
        clusters=(Cluster("mystery", GCP),),
        nodes=(
            Node(
                "mystery",
                "gke-mystery-pool-0a0a0a0a-zz11",
                "gce://acme-data/europe-west1-b/gke-mystery-pool-0a0a0a0a-zz11",
            ),
        ),
    )
    errors = run(gcp, inventory, tmp_path)
    assert [(e.location, e.subject) for e in errors] == [
        ("container projects.locations.clusters.list projects/acme-data/locations/-", "mystery")
    ]
    assert not (tmp_path / DATA / "gke").exists()
    assert (tmp_path / DATA / "project.json").exists()


def test_audit_takes_gsa_policies_from_the_asset_search_and_reads_the_others(
    gcp: FakeGcp, inventory: Inventory, tmp_path: Path
):
    assert run(gcp, inventory, tmp_path) == []
    account = "projects/acme-data/serviceAccounts/{}"
    # bq-loader's policy came in the asset search (named by unique id): no second read of it.
    assert ("GetIamPolicy", account.format(BQ)) not in gcp.iam.requests
    # notebook's did not: absence may be index lag, so it is read directly.
    assert gcp.iam.requests["GetIamPolicy", account.format(NOTEBOOK)] == 1
    assert gcp.iam.requests["ListServiceAccountKeys", account.format(BQ)] == 1
    policies = Evidence(tmp_path).load_object(f"{DATA}/service-account-iam-policies.json")
    assert sorted(policies) == sorted([BQ, NOTEBOOK, COMPUTE])
    member = "serviceAccount:acme-data.svc.id.goog[analytics/bq-loader]"
    wi = {"role": "roles/iam.workloadIdentityUser", "members": [member]}
    assert policies[BQ]["bindings"] == [wi]


def test_without_the_asset_search_every_gsa_policy_is_read_directly(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail("GET /v1/projects/acme-data:searchAllIamPolicies", 403)
    errors = run(gcp, inventory, tmp_path)
    assert [e.location for e in errors] == ["cloudasset searchAllIamPolicies projects/acme-data"]
    assert gcp.iam.requests["GetIamPolicy", f"projects/acme-data/serviceAccounts/{BQ}"] == 1
    policies = Evidence(tmp_path).load_object(f"{DATA}/service-account-iam-policies.json")
    assert sorted(policies) == sorted([BQ, NOTEBOOK, COMPUTE])


def test_two_bound_custom_roles_of_a_project_are_read_with_one_list(
    gcp: FakeGcp, inventory: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A project holds at most 300 custom roles, so its list is one page: cheaper than two gets."""
    roles = ["projects/acme-data/roles/dataExporter", "projects/acme-data/roles/logWriter"]
    policy = {
        "bindings": [{"role": r, "members": [f"serviceAccount:{BQ}"]} for r in roles],
        "etag": "BwY=",
        "version": 3,
    }
    monkeypatch.setitem(gcp.rest.routes, "/v3/projects/acme-data:getIamPolicy", policy)
    monkeypatch.setitem(gcp.rest.routes, "/v1/projects/acme-data:searchAllIamPolicies", {"results": []})
    errors = run(gcp, inventory, tmp_path, projects=["acme-data"])
    assert [e.location for e in errors] == ["projects/acme-shared"]  # outside --gcp-project, and said so
    iam = gcp.iam.requests
    assert iam["ListRoles", "projects/acme-data"] == 1
    assert not [k for k in iam if k[0] == "GetRole" and k[1].startswith("projects/acme-data/")]
    written = [r["name"] for r in Evidence(tmp_path).load_list(f"{DATA}/custom-roles.json")]
    assert written == ["organizations/2002/roles/auditReader", *roles]
