"""Live: a cluster that cannot be read at all never passes as clean, and never sinks the clusters beside it.

With several contexts, one unreachable (or refusing the credentials, or every request) is a coverage entry
with the cluster as subject and `whole`: the others are audited, stderr says so before the findings, and
the run exits 3. When no context at all can be reached there is nothing to report: exit 2, one line per
context. Causes are one line, as kubectl gives them; an error page is summarised, never pasted.
"""

from __future__ import annotations

import argparse
import ssl
from pathlib import Path

import pytest
from kubeiam_kubernetes import PROVIDER
from kubeiam_kubernetes.live.clients import transport_cause
from servers.kube_api import write_kubeconfig
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)

from kubeiam.errors import InputError
from kubeiam.pipeline.collection import collect
from kubeiam.pipeline.providers import CollectRequest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo" / "kubernetes"
EKS_ARN = "arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod"
GKE = "gke_acme-data-prod_europe-west1_gke-data"


def _two(kube_api, tmp_path: Path, **gke_options):
    eks = kube_api(DEMO / "eks-prod")
    gke = kube_api(DEMO / "gke-data", **gke_options)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"eks": (EKS_ARN, eks.url), "gke": (GKE, gke.url)})
    return eks, gke, kubeconfig


def _collect(out: Path, kubeconfig: Path, contexts: list[str], **scope):
    options = argparse.Namespace(kubeconfig=str(kubeconfig), contexts=contexts, cluster_name=None)
    _, _, errors = collect(CollectRequest(options, out, **scope), [PROVIDER])
    return errors


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        ("stop", "cannot reach the API server (connection refused)"),
        ("token", "credentials refused (401 Unauthorized)"),
    ],
)
def test_one_cluster_that_cannot_be_read_does_not_sink_the_other(kube_api, clean_env, tmp_path, break_it, reason):
    _, gke, kubeconfig = _two(kube_api, tmp_path, **({"token": "another"} if break_it == "token" else {}))
    url = gke.url
    if break_it == "stop":
        gke.stop()

    errors = _collect(tmp_path / "ev", kubeconfig, ["eks", "gke"])

    [error] = errors
    assert error.to_dict() == {
        "source": "kubernetes",
        "location": f"{url} (context gke)",
        "reason": reason,
        "subject": "gke-data",
        "whole": True,
    }
    assert (tmp_path / "ev/kubernetes/eks-prod/resources.json").is_file()
    assert not (tmp_path / "ev/kubernetes/gke-data").exists()  # no folder claims a cluster that was read


def test_the_cli_says_so_before_the_findings_and_fails(kube_api, kubeiam_cli, tmp_path):
    _, gke, kubeconfig = _two(kube_api, tmp_path)
    gke.stop()
    args = ["--kubeconfig", str(kubeconfig), "--context", "eks", "--context", "gke", "--fail-on", "critical"]

    live = kubeiam_cli("audit", *args, "--format", "json", "--keep-evidence", str(tmp_path / "kept"))
    offline = kubeiam_cli("audit", "--evidence", str(tmp_path / "kept"), "--format", "json", "--fail-on", "critical")

    for run in (live, offline):
        assert run.code == 3, run.err
        assert (
            "kubernetes (gke-data) could not be read at all: cannot reach the API server (connection refused)"
            in run.err
        )
        report = run.json()
        assert report["coverage"]["unreadable"] == [
            {
                "source": "kubernetes",
                "subject": "gke-data",
                "reason": "cannot reach the API server (connection refused)",
            }
        ]
        assert {f["cluster"] for f in report["findings"]} == {"eks-prod"}
    assert live.fingerprints() == offline.fingerprints()


def test_every_request_refused_is_a_cluster_not_read_at_all(kube_api, clean_env, tmp_path):
    _, _, kubeconfig = _two(kube_api, tmp_path, forbidden={"/*"})

    errors = _collect(tmp_path / "ev", kubeconfig, ["eks", "gke"])

    whole = [e for e in errors if e.whole]
    assert [(e.subject, e.reason) for e in whole] == [
        ("gke-data", "every request was refused: nothing of the cluster was read")
    ]
    assert all(e.subject == "gke-data" and "403" in e.reason for e in errors if not e.whole)


def test_no_context_reachable_is_one_line_per_context(kube_api, clean_env, tmp_path):
    eks, gke, kubeconfig = _two(kube_api, tmp_path)
    eks.stop()
    gke.stop()
    with pytest.raises(InputError) as caught:
        _collect(tmp_path / "ev", kubeconfig, ["eks", "gke"])
    message = str(caught.value)
    assert message.startswith("context eks: cannot reach the API server at http://127.0.0.1:")
    assert "; context gke: cannot reach the API server at" in message and "\n" not in message


def test_check_does_not_call_a_service_account_absent_when_a_cluster_was_not_read(kube_api, clean_env, tmp_path):
    _, gke, kubeconfig = _two(kube_api, tmp_path)
    gke.stop()
    with pytest.raises(
        InputError, match=r"not found \(context eks\) and no pod uses it; context gke could not be read"
    ):
        _collect(tmp_path / "ev", kubeconfig, ["eks", "gke"], namespace="data", service_account=("data", "nobody"))


PROXY_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>" + "x" * 5000 + "</body></html>"
)


def test_error_pages_are_summarised_never_pasted(kube_api, clean_env, tmp_path):
    api = kube_api(
        DEMO / "eks-prod", html_pages={"/api/v1/pods": (502, PROXY_PAGE), "/api/v1/nodes": (200, PROXY_PAGE)}
    )
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod")

    errors = _collect(tmp_path / "ev", kubeconfig, ["prod"])

    assert sorted((e.location, e.reason) for e in errors) == [
        ("list /api/v1/nodes (context prod)", "response is not JSON (an HTML page)"),
        ("list /api/v1/pods (context prod)", "HTTP 502: Bad Gateway"),
    ]
    assert all(e.subject == "test-cluster" for e in errors)


REFUSED = "Failed to establish a new connection: [Errno 111] Connection refused"
UNKNOWN_HOST = OSError("[Errno -2] Name or service not known")


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (MaxRetryError(None, "/api", NewConnectionError(None, REFUSED)), "connection refused"),  # type: ignore[arg-type]
        (MaxRetryError(None, "/api", NameResolutionError("eks.example", None, UNKNOWN_HOST)), "host name not resolved"),  # type: ignore[arg-type]
        (ConnectTimeoutError(None, "Connection to 10.0.0.1 timed out. (connect timeout=10)"), "timed out"),
        (SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed"),
         "TLS: certificate verify failed"),
        (ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
         "connection reset"),
        (HTTPError("something new"), "HTTPError"),
    ],
)  # fmt: skip
def test_transport_causes_are_kubectls_one_line(error, cause):
    assert transport_cause(error) == cause


def test_a_certificate_the_kubeconfig_does_not_trust_is_one_line(kube_api, clean_env, tmp_path):
    import trustme

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)  # a CA the kubeconfig does not name
    _, _, kubeconfig = _two(kube_api, tmp_path, tls=context)

    [error] = _collect(tmp_path / "ev", kubeconfig, ["eks", "gke"])

    assert (error.subject, error.whole) == ("gke-data", True)
    assert error.reason == "cannot reach the API server (TLS: certificate verify failed)"
