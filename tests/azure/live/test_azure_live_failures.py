"""Live Azure keeps the offline promises: a cloud that cannot be reached, or whose credentials are refused,
is one `whole` coverage error with a one-line cause (the run cannot pass as clean); every coverage entry
names its subject; error bodies are summarised, an HTML page never pasted."""

from __future__ import annotations

import pytest
from azure_arm_server import Fault
from azure_live_helpers import SUB_A, SUB_B, FakeCredential, make_request
from kubeiam_azure.live import collect
from kubeiam_azure.live.clients import Settings

HTML = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n<body><h1>Not Found</h1>"
    + ("<p>The requested URL was not found on this server.</p>\n" * 20)
    + "</body></html>\n"
)


@pytest.fixture(autouse=True)
def no_catalogue(monkeypatch):
    monkeypatch.setattr("kubeiam_azure.live.roles.builtin_role_guids", lambda: frozenset())


def _collect(tmp_path, k8s_inventory, credential, settings):
    return collect(
        make_request(tmp_path / "evidence", subscriptions=[SUB_A, SUB_B]),
        k8s_inventory,
        credential=credential,
        settings=settings,
    )


def _one_line(reason: str) -> None:
    assert "\n" not in reason and len(reason) < 600 and "<" not in reason, reason


def test_an_unreachable_cloud_is_one_whole_error(tmp_path, k8s_inventory, ca_bundle):
    settings = Settings(endpoint="https://127.0.0.1:9", ca_bundle=ca_bundle, concurrency=4)
    (error,) = _collect(tmp_path, k8s_inventory, FakeCredential("t"), settings)
    assert (error.source, error.whole, error.subject) == ("azure", True, None)
    assert "nothing could be read" in error.reason and "Connection refused" in error.reason
    assert "127.0.0.1:9" in error.location
    _one_line(error.reason)


def test_refused_credentials_are_one_whole_error(tmp_path, k8s_inventory, settings, arm):
    (error,) = _collect(tmp_path, k8s_inventory, FakeCredential("a-token-arm-refuses"), settings)
    assert (error.whole, error.subject) == (True, None)
    assert "401 AuthenticationFailed" in error.reason
    _one_line(error.reason)
    assert not (tmp_path / "evidence" / "azure").exists()


def test_every_call_denied_is_one_whole_error(tmp_path, k8s_inventory, credential, settings, arm):
    arm.faults.append(Fault(r"^/subscriptions/", 403, None, {}, "AuthorizationFailed", "no access"))
    (error,) = _collect(tmp_path, k8s_inventory, credential, settings)
    assert error.whole and error.reason.endswith("403 AuthorizationFailed: no access")


@pytest.mark.parametrize("status", [404, 502])
def test_an_html_error_page_is_summarised_never_pasted(tmp_path, k8s_inventory, credential, settings, arm, status):
    arm.faults.append(Fault(r"/userAssignedIdentities\?", status, None, html=HTML))
    errors = _collect(tmp_path, k8s_inventory, credential, settings)
    assert not any(e.whole for e in errors)  # the rest was read
    listing = [e for e in errors if "identities.json" in e.location]
    assert len(listing) == 2  # one per subscription
    for error in listing:
        assert error.reason.startswith(f"HTTP {status} ") and "an HTML page" in error.reason
        assert error.subject in (SUB_A, SUB_B)
        _one_line(error.reason)


def test_an_html_page_with_status_200_is_summarised(tmp_path, k8s_inventory, credential, settings, arm):
    """A captive portal or proxy answering 200 with its own page: a malformed answer, one line."""
    arm.faults.append(Fault(r"/managedClusters\?", 200, None, html=HTML))
    errors = _collect(tmp_path, k8s_inventory, credential, settings)
    clusters = [e for e in errors if "managedClusters" in e.location]
    assert clusters and all(e.subject == "aks-apps" for e in clusters)
    for error in clusters:
        assert error.reason.startswith("the answer is not JSON")
        _one_line(error.reason)


def test_every_coverage_entry_names_a_subject(tmp_path, k8s_inventory, credential, settings, arm):
    arm.faults += [
        Fault(rf"/subscriptions/{SUB_B}/providers/Microsoft.ManagedIdentity/userAssignedIdentities\?", 403, None),
        Fault(rf"/subscriptions/{SUB_A}/providers/Microsoft.ContainerService/managedClusters\?", 403, None),
        Fault(r"/roleAssignments\?", 403, 1),
        Fault(r"/roleDefinitions/", 404, None, {}, "RoleDefinitionDoesNotExist"),
        Fault(r"id-orders-worker/federatedIdentityCredentials", 403, None),
    ]
    errors = _collect(tmp_path, k8s_inventory, credential, settings)
    assert len(errors) >= 4 and not any(e.whole for e in errors)
    for error in errors:
        assert error.subject, error
        _one_line(error.reason)
