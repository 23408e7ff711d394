"""A central audit: `--gcp-folder` / `--gcp-organization` read every ACTIVE project under them, sub-folders
included, with the real Resource Manager client (`folders.list`, `projects.list`, paged) against the local
servers; one project's failure is coverage naming it, never the end of the run."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gcp_live_servers import FIXTURES, FakeGcp, IamServer, RestServer
from kubeiam_gcp.live import collect
from kubeiam_gcp.live.hierarchy import active

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.model import CoverageError, Inventory

# The test estate under folder 3000 (beside the fixtures' folder 1000, in organisation 2002):
#   folders/3000 "central"       -> acme-central-denied (ACTIVE, every call refused), folders/3001
#   folders/3001 "central-apps"  -> acme-central-apps (ACTIVE, readable), acme-central-old (DELETE_REQUESTED)
FOLDER, SUB_FOLDER = "folders/3000", "folders/3001"
APPS, DENIED, OLD = "acme-central-apps", "acme-central-denied", "acme-central-old"
# ops/gcs-sync of gke-data, granted Editor directly (no GSA) in a project no annotation names: only a
# central audit reads that project's policy.
GCS_SYNC = (
    "principal://iam.googleapis.com/projects/415104041262/locations/global/workloadIdentityPools/"
    "acme-data.svc.id.goog/subject/ns/ops/sa/gcs-sync"
)


COMPUTE = "415104041262-compute@developer.gserviceaccount.com"


def _project(project_id: str, number: str, parent: str, state: str = "ACTIVE") -> dict[str, Any]:
    return {
        "name": f"projects/{number}", "parent": parent, "projectId": project_id, "state": state,
        "displayName": project_id, "createTime": "2025-01-01T00:00:00Z", "etag": "W/\"c0\"",
    }  # fmt: skip


def _folder(name: str, parent: str, display: str) -> dict[str, Any]:
    return {"name": name, "parent": parent, "displayName": display, "state": "ACTIVE", "etag": 'W/"f0"'}


ROUTES: dict[str, Any] = {
    f"/v3/{FOLDER}": _folder(FOLDER, "organizations/2002", "central"),
    f"/v3/{SUB_FOLDER}": _folder(SUB_FOLDER, FOLDER, "central-apps"),
    f"/v3/projects/{DENIED}": _project(DENIED, "730000000010", FOLDER),
    f"/v3/projects/{APPS}": _project(APPS, "730000000011", SUB_FOLDER),
    f"/v3/projects/{OLD}": _project(OLD, "730000000012", SUB_FOLDER, state="DELETE_REQUESTED"),
    f"/v3/projects/{APPS}:getIamPolicy": {"version": 3, "bindings": [{"role": "roles/editor", "members": [GCS_SYNC]}]},
    f"/v3/{FOLDER}:getIamPolicy": {"version": 1, "etag": "BwA="},
    f"/v3/{SUB_FOLDER}:getIamPolicy": {"version": 1, "etag": "BwB="},
    f"/v1/projects/{APPS}:searchAllIamPolicies": {},
    f"/v1/projects/{APPS}/locations/global/insightTypes/google.iam.policy.Insight/insights": {},
    f"/v1/projects/{APPS}/locations/global/recommenders/google.iam.policy.Recommender/recommendations": {},
}


@pytest.fixture(scope="module")
def estate() -> Iterator[tuple[RestServer, IamServer]]:
    rest, iam = RestServer(routes=ROUTES, list_page=1).start(), IamServer().start()
    yield rest, iam
    rest.stop()
    iam.stop()


@pytest.fixture
def central(gcp: FakeGcp, estate: tuple[RestServer, IamServer]) -> FakeGcp:
    """The `gcp` fixture's settings, pointed at the servers of the test estate (one page a listing)."""
    rest, iam = estate
    rest.reset()
    iam.reset()
    rest.deny(f"projects/{DENIED}")
    iam.deny(f"projects/{DENIED}")
    settings = replace(gcp.settings, rest_endpoint=rest.url, iam_grpc_endpoint=iam.target)
    return FakeGcp(rest, iam, settings)


def _request(out: Path, *, folders=(), organizations=(), projects=None, **kwargs: Any) -> CollectRequest:
    options = argparse.Namespace(
        gcp_projects=projects, gcp_folders=list(folders) or None, gcp_organizations=list(organizations) or None
    )
    return CollectRequest(options=options, output=out, **kwargs)


def _listed(server: RestServer) -> list[tuple[str, str, str]]:
    """(folders|projects, parent, page token) of every listing request, sorted."""
    return sorted((path.rpartition("/")[2], q["parent"][0], q.get("pageToken", [""])[0]) for path, q in server.listings)


def _audit(out: Path):
    shutil.copytree(FIXTURES / "evidence" / "kubernetes", out / "kubernetes", dirs_exist_ok=True)
    return audit(Evidence(out))


def test_a_folder_reads_its_active_projects_and_a_refused_one_is_coverage(
    central: FakeGcp, inventory: Inventory, tmp_path: Path
):
    errors = collect(_request(tmp_path, folders=[FOLDER]), inventory, settings=central.settings)

    # Both folders listed (the sub-folder found by the walk), every page: one project a page here.
    assert _listed(central.rest) == [
        ("folders", FOLDER, ""),
        ("folders", SUB_FOLDER, ""),
        ("projects", FOLDER, ""),
        ("projects", SUB_FOLDER, ""),
    ]
    # Deleted projects are not asked for (the API then returns ACTIVE ones only), nor read.
    assert all("showDeleted" not in q for _, q in central.rest.listings)
    assert not [k for k in central.rest.requests if OLD in k]
    assert not [k for k in central.iam.requests if OLD in k[1]]

    # The readable project is read as if given with --gcp-project (its listing stood in for projects.get).
    ev = Evidence(tmp_path)
    assert ev.load_object(f"gcp/{APPS}/project.json")["parent"] == {"type": "folder", "id": "3001"}
    assert ev.load_object(f"gcp/{APPS}/project-iam-policy.json")["bindings"][0]["members"] == [GCS_SYNC]
    assert sorted(ev.load_object(f"gcp/{APPS}/ancestors-iam-policies.json")) == [
        FOLDER, SUB_FOLDER, "organizations/2002"
    ]  # fmt: skip
    assert f"GET /v3/projects/{APPS}" not in central.rest.requests
    assert f"GET /v3/{SUB_FOLDER}" not in central.rest.requests  # its parent came with the listing
    assert central.rest.requests[f"GET /v3/{FOLDER}"] == 1  # the given folder's parent is asked once

    # The refused project: coverage naming it, each call of it; nothing of it written.
    refused = [e for e in errors if e.subject == f"projects/{DENIED}"]
    assert refused and all(e.reason.startswith("permission denied: ") and not e.whole for e in refused)
    assert {e.location.split()[1] for e in refused} == {
        "projects.getIamPolicy", "searchAllIamPolicies", "projects.serviceAccounts.list"
    }  # fmt: skip
    # What was read of it is written (its listing, its ancestors' policies); what was refused is absent.
    written = sorted(f.name for f in (tmp_path / "gcp" / DENIED).iterdir())
    assert written == ["ancestors-iam-policies.json", "custom-roles.json", "project.json"]
    # The projects the annotations name lie outside the folder: said so, not collected.
    outside = [e for e in errors if e.subject != f"projects/{DENIED}"]
    assert [(e.location, e.reason) for e in outside] == [
        *((f"projects/{p}", "project not among the projects of --gcp-project, --gcp-folder and --gcp-organization: "
           "not collected") for p in ("acme-data", "acme-shared")),
        (COMPUTE, "project number 415104041262 is not among the projects read"),
    ]  # fmt: skip

    # The direct grant in the project no annotation names is a finding of the ServiceAccount it names.
    report = _audit(tmp_path)
    found = [f for f in report.findings if f.service_account == "gcs-sync" and APPS in str(f.evidence)]
    assert {f.rule_id for f in found} >= {"GCP-001"}


def test_an_unlistable_folder_is_coverage_naming_it_and_the_rest_is_read(
    central: FakeGcp, inventory: Inventory, tmp_path: Path
):
    central.rest.deny(SUB_FOLDER)  # the sub-folder can be seen, not listed
    errors = collect(_request(tmp_path, folders=[FOLDER], projects=["acme-data"]), inventory, settings=central.settings)
    mine = [e for e in errors if e.subject == SUB_FOLDER]
    assert sorted(e.location for e in mine) == [
        f"cloudresourcemanager folders.list {SUB_FOLDER}", f"cloudresourcemanager projects.list {SUB_FOLDER}"
    ]  # fmt: skip
    assert all(e.reason.startswith("permission denied: HTTP 403") and not e.whole for e in mine)
    # What lies beside it is still read, and so is the project given by name.
    assert not (tmp_path / "gcp" / APPS).exists()
    assert (tmp_path / "gcp" / "acme-data" / "project-iam-policy.json").is_file()
    assert [e.subject for e in errors if "not collected" in e.reason] == ["projects/acme-shared"]


def test_nothing_listable_is_one_whole_entry(central: FakeGcp, inventory: Inventory, tmp_path: Path):
    central.rest.deny(FOLDER)
    *outside, error = collect(_request(tmp_path, folders=[FOLDER]), inventory, settings=central.settings)
    assert [e.subject for e in outside] == ["projects/acme-data", "projects/acme-shared"]  # "not collected"
    assert error.whole and "nothing could be read: permission denied" in error.reason
    assert FOLDER in error.reason  # the first failed call, the folder's listing, is named
    assert not (tmp_path / "gcp").exists()


def test_an_organisation_is_walked_to_the_same_evidence_as_its_projects_by_name(
    gcp: FakeGcp, inventory: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(gcp.rest, "list_page", 1)  # every listing of more than one child pages
    named = _request(tmp_path / "named", projects=["acme-data", "acme-shared"])
    by_name = collect(named, inventory, settings=gcp.settings)
    named_calls = {**gcp.rest.requests}
    gcp.rest.reset()
    org = _request(tmp_path / "org", organizations=["organizations/2002"])
    central = collect(org, inventory, settings=gcp.settings)
    assert by_name == central == []
    files = sorted(p.relative_to(tmp_path / "named") for p in (tmp_path / "named").rglob("*.json"))
    assert files == sorted(p.relative_to(tmp_path / "org") for p in (tmp_path / "org").rglob("*.json"))
    assert all((tmp_path / "named" / f).read_bytes() == (tmp_path / "org" / f).read_bytes() for f in files)
    # organisation -> folders/1000 -> folders/1001 -> two projects on two pages.
    assert _listed(gcp.rest) == [
        ("folders", "folders/1000", ""),
        ("folders", "folders/1001", ""),
        ("folders", "organizations/2002", ""),
        ("projects", "folders/1000", ""),
        ("projects", "folders/1001", ""),
        ("projects", "folders/1001", "1"),
        ("projects", "organizations/2002", ""),
    ]
    # The listings stand in for projects.get and folders.get: 2 + 2 calls fewer, 7 listing pages more.
    gets = [k for k in named_calls if k.startswith(("GET /v3/projects/", "GET /v3/folders/")) and ":" not in k]
    assert len(gets) == 4 and not [k for k in gcp.rest.requests if k in gets]


def test_live_audit_of_a_folder_reports_the_grant_and_the_refused_project(
    central: FakeGcp, kube_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    """Through the CLI: `audit --gcp-folder 3000` (with the annotations' projects by name) reads the folder's
    projects too, and the report's coverage names the project that could not be read."""
    from kubeiam_gcp import PROVIDER as GCP
    from kubeiam_gcp.live.clients import IAM_GRPC_ENDPOINT_VAR, REST_ENDPOINT_VAR
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    import kubeiam.cli as cli

    monkeypatch.setattr(cli, "load_providers", lambda: (KUBERNETES, GCP))
    monkeypatch.setenv(REST_ENDPOINT_VAR, central.rest.url)
    monkeypatch.setenv(IAM_GRPC_ENDPOINT_VAR, central.iam.target)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    kubeconfig = kube_api(FIXTURES / "evidence" / "kubernetes" / "gke-data").write_kubeconfig(tmp_path / "kubeconfig")
    argv = ["audit", "--format", "json", "--quiet", "--kubeconfig", str(kubeconfig), "--cluster-name", "gke-data"]
    argv += ["--gcp-folder", "3000", "--gcp-project", "acme-data", "--gcp-project", "acme-shared"]
    capsys.readouterr()
    code = cli.main(argv)
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # critical findings
    direct = [f for f in report["findings"] if f["service_account"] == "gcs-sync" and APPS in json.dumps(f)]
    assert {f["rule_id"] for f in direct} >= {"GCP-001"}
    refused = [e for e in report["coverage"]["errors"] if e.get("subject") == f"projects/{DENIED}"]
    assert refused and all("permission denied" in e["reason"] for e in refused)
    assert report["coverage"]["unreadable"] == []
    # The projects by name are read as well (their findings are there), and nothing is "not collected".
    assert {"GCP-006", "GCP-008"} <= {f["rule_id"] for f in report["findings"]}
    assert not [e for e in report["coverage"]["errors"] if "not collected" in e["reason"]]


def test_check_with_a_folder_reads_its_projects_too(central: FakeGcp, inventory: Inventory, tmp_path: Path):
    """`check` of one ServiceAccount with --gcp-folder: its direct grants may sit in any project under it."""
    request = _request(tmp_path, folders=[FOLDER], service_account=("ops", "gcs-sync"))
    collect(request, inventory, settings=central.settings)
    assert (tmp_path / "gcp" / APPS / "project-iam-policy.json").is_file()


def test_only_active_projects_and_folders_count():
    from google.cloud import resourcemanager_v3 as rm

    items = [
        rm.Project(project_id="a", state=rm.Project.State.ACTIVE),
        rm.Project(project_id="b", state=rm.Project.State.DELETE_REQUESTED),
        rm.Project(project_id="c"),  # STATE_UNSPECIFIED
        rm.Folder(name="folders/1", state=rm.Folder.State.ACTIVE),
        rm.Folder(name="folders/2", state=rm.Folder.State.DELETE_REQUESTED),
    ]
    assert [getattr(i, "project_id", None) or i.name for i in active(items)] == ["a", "folders/1"]


def test_cli_options_name_folders_and_organisations_by_number():
    from kubeiam_gcp import PROVIDER

    parser = argparse.ArgumentParser()
    PROVIDER.add_arguments(parser.add_argument_group("gcp"))
    args = parser.parse_args(["--gcp-folder", "3000", "--gcp-folder", "folders/3001", "--gcp-organization", "2002"])
    assert (args.gcp_folders, args.gcp_organizations) == (["folders/3000", "folders/3001"], ["organizations/2002"])
    assert parser.parse_args([]).gcp_folders is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--gcp-folder", "central"])


def test_without_the_new_options_no_listing_is_made(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    errors: list[CoverageError] = collect(_request(tmp_path), inventory, settings=gcp.settings)
    assert errors == [] and gcp.rest.listings == []
    assert "GET /v3/projects/acme-data" in gcp.rest.requests  # read with projects.get, as before
