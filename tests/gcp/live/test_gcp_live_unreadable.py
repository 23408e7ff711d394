"""A Google Cloud that cannot be read at all never passes as clean; every failure is one line with a subject.

Against the local servers: nothing listening (unreachable), every request refused for its credentials,
an HTML error page where the API's JSON should be.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from gcp_live_servers import FIXTURES, FakeGcp, make_request
from kubeiam_gcp.live import collect
from kubeiam_gcp.live.clients import IAM_GRPC_ENDPOINT_VAR, REST_ENDPOINT_VAR

from kubeiam.vocabulary.model import Inventory

CLUSTER = FIXTURES / "evidence" / "kubernetes" / "gke-data"
NOTEBOOK = "notebook@acme-data.iam.gserviceaccount.com"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nowhere(gcp: FakeGcp, monkeypatch: pytest.MonkeyPatch) -> FakeGcp:
    """Settings (and the environment the CLI reads) pointing at ports nothing listens on."""
    rest, iam = f"http://127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv(REST_ENDPOINT_VAR, rest)
    monkeypatch.setenv(IAM_GRPC_ENDPOINT_VAR, iam)
    return replace(gcp, settings=replace(gcp.settings, rest_endpoint=rest, iam_grpc_endpoint=iam))


def test_an_unreachable_cloud_is_one_whole_entry_with_its_cause(nowhere: FakeGcp, inventory: Inventory, tmp_path: Path):
    start = time.monotonic()
    errors = collect(make_request(tmp_path), inventory, settings=nowhere.settings)
    assert time.monotonic() - start < 20  # a refused connection is not retried as if it were a quota error
    (error,) = errors
    assert error.whole and error.source == "gcp" and error.subject is None
    assert error.reason.startswith("nothing could be read: unreachable: ConnectionError to 127.0.0.1:")
    assert "connection refused" in error.reason and "\n" not in error.reason
    assert len(error.reason) < 400


def test_refused_credentials_are_one_whole_entry(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail_every_request(401)
    gcp.iam.fail_every_request(grpc.StatusCode.UNAUTHENTICATED)
    (error,) = collect(make_request(tmp_path), inventory, settings=gcp.settings)
    # The local servers take anonymous credentials, which cannot be refreshed after a 401: the cause says so.
    assert error.whole and error.reason.startswith("nothing could be read: credentials refused: ")


def test_every_call_denied_is_one_whole_entry(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail_every_request(403)
    gcp.iam.fail_every_request(grpc.StatusCode.PERMISSION_DENIED)
    (error,) = collect(make_request(tmp_path), inventory, settings=gcp.settings)
    assert error.whole and "permission denied" in error.reason


def test_no_credentials_is_one_whole_entry(gcp: FakeGcp, inventory: Inventory, tmp_path: Path, monkeypatch):
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def no_credentials(**_: object):
        raise DefaultCredentialsError(
            "Your default credentials were not found. To set up Application Default Credentials, see\n"
            "https://cloud.google.com/docs/authentication/external/set-up-adc for more information."
        )

    monkeypatch.setattr(google.auth, "default", no_credentials)
    settings = replace(gcp.settings, rest_endpoint=None)  # a real endpoint needs real credentials
    (error,) = collect(make_request(tmp_path), inventory, settings=settings)
    assert error.whole and error.subject is None
    assert error.reason == "no Google credentials (google.auth.default): Your default credentials were not found"


_HTML_404 = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That's an error.</ins>\n  <p>The requested URL was not found on this server.\n</html>\n"
)


def test_an_error_body_is_summarised_never_pasted(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail("GET /v3/projects/acme-data", (404, _HTML_404))
    gcp.rest.fail("GET /v1/projects/acme-data:searchAllIamPolicies", (502, _HTML_404))
    errors = collect(make_request(tmp_path), inventory, settings=gcp.settings)
    reasons = {e.location.split()[1]: e.reason for e in errors if e.location.startswith("cloud")}
    assert reasons == {
        "projects.get": "not found: HTTP 404 (an HTML page, not the API's answer)",
        "searchAllIamPolicies": "HTTP 502 (an HTML page, not the API's answer)",
    }
    assert not any(e.whole for e in errors)


def test_every_coverage_entry_names_a_subject(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail("GET /v3/projects/acme-shared", 403)
    gcp.rest.fail("GET /v1/projects/acme-data/locations/europe-west1/clusters/gke-data", 403)
    gcp.iam.fail(("ListServiceAccounts", "projects/acme-data"), grpc.StatusCode.PERMISSION_DENIED)
    gcp.iam.fail(("ListServiceAccountKeys", f"projects/acme-data/serviceAccounts/{NOTEBOOK}"), grpc.StatusCode.INTERNAL)
    gcp.iam.fail(("ListRoles", "projects/acme-data"), grpc.StatusCode.PERMISSION_DENIED)
    gcp.iam.fail(("GetRole", "organizations/2002/roles/auditor"), grpc.StatusCode.PERMISSION_DENIED)
    errors = collect(make_request(tmp_path), inventory, settings=gcp.settings)
    assert len(errors) >= 4
    assert [e for e in errors if not e.subject] == []
    assert all("\n" not in e.reason and len(e.reason) < 300 for e in errors)


# --- through the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    from kubeiam_gcp import PROVIDER as GCP
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    import kubeiam.cli as cli_module

    monkeypatch.setattr(cli_module, "load_providers", lambda: (KUBERNETES, GCP))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, dict[str, Any], str]:
        capsys.readouterr()
        code = cli_module.main(list(args))
        captured = capsys.readouterr()
        return code, json.loads(captured.out), captured.err

    return run


def test_an_unreachable_cloud_fails_the_run_and_says_so_first(
    nowhere: FakeGcp, run_cli: Callable, kube_api: Callable, tmp_path: Path
):
    kubeconfig = kube_api(CLUSTER).write_kubeconfig(tmp_path / "kubeconfig")
    code, report, err = run_cli(
        "audit", "--kubeconfig", str(kubeconfig), "--cluster-name", "gke-data", "--format", "json"
    )
    assert code != 0, err  # never a pass, even without --strict (3, or 1 when Kubernetes findings fail it)
    (unreadable,) = report["coverage"]["unreadable"]
    assert unreadable["source"] == "gcp" and "unreachable" in unreadable["reason"]
    first = err.strip().splitlines()[0]
    assert first.startswith("kubeiam: gcp could not be read at all: nothing could be read: unreachable")
