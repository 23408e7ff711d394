"""A first page never passes for the whole list: `metadata.continue` or `remainingItemCount` is a coverage error.

What prints one page: `kubectl get --raw '/api/v1/pods?limit=500'`, any API client without its `continue`
loop, a script that stopped early. Before, the objects on later pages were simply not there.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubeiam_kubernetes.evidence import reader

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import declarations_of, load_providers
from kubeiam.vocabulary.model import Inventory

REPO = Path(__file__).resolve().parents[2]
EKS = REPO / "fixtures" / "demo" / "kubernetes" / "eks-prod"


def read(tmp_path: Path, doc: Any) -> Inventory:
    folder = tmp_path / "kubernetes" / "prod"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "resources.json").write_text(json.dumps(doc))
    return reader.read(Evidence(tmp_path), Inventory(declarations=declarations_of(load_providers())))


SA = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "apps"}}


@pytest.mark.parametrize(
    ("metadata", "field", "count"),
    [
        ({"resourceVersion": "1", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", "remainingItemCount": 1498},
         "metadata.continue", "1498 more item(s)"),
        ({"continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"}, "metadata.continue", "more items"),
        ({"remainingItemCount": 3}, "metadata.remainingItemCount", "3 more item(s)"),
    ],
)  # fmt: skip
def test_one_page_is_a_coverage_error_naming_the_missing_pages(tmp_path, metadata, field, count):
    inv = read(tmp_path, {"apiVersion": "v1", "kind": "List", "metadata": metadata, "items": [SA]})
    [error] = inv.errors
    assert (error.source, error.subject, error.location) == (
        "kubernetes",
        "prod",
        f"kubernetes/prod/resources.json: {field}",
    )
    assert f"the pages after it ({count}) were not read" in error.reason
    assert [s.name for s in inv.service_accounts] == ["web"]  # the page itself is read


@pytest.mark.parametrize("metadata", [{"resourceVersion": ""}, {"continue": "", "remainingItemCount": 0}, None])
def test_a_whole_list_is_no_page(tmp_path, metadata):
    doc = {"apiVersion": "v1", "kind": "List", "items": [SA], **({"metadata": metadata} if metadata else {})}
    assert read(tmp_path, doc).errors == ()


def test_a_raw_api_page_is_read_and_its_missing_pages_named(kube_api, tmp_path):
    """What `kubectl get --raw '/api/v1/pods?limit=2'` prints: a typed PodList whose items carry no kind."""
    api = kube_api(EKS)
    with urllib.request.urlopen(
        urllib.request.Request(f"{api.url}/api/v1/pods?limit=2", headers={"Authorization": "Bearer kubeiam-test-token"})
    ) as response:
        page = json.loads(response.read())
    assert page["kind"] == "PodList" and "kind" not in page["items"][0]

    inv = read(tmp_path, page)

    assert len(inv.workloads) == 2  # read as pods: the list's kind names its items'
    [error] = inv.errors
    pods = sum(1 for i in json.loads((EKS / "resources.json").read_text())["items"] if i["kind"] == "Pod")
    assert error.location == "kubernetes/prod/resources.json: metadata.continue"
    assert f"({pods - 2} more item(s))" in error.reason


def test_a_page_leaves_the_previous_findings_not_rechecked(kubeiam_cli, tmp_path):
    root = tmp_path / "ev"
    shutil.copytree(EKS, root / "kubernetes" / "eks-prod")
    before = kubeiam_cli("audit", "--evidence", str(root), "--format", "json")
    previous = tmp_path / "previous.json"
    previous.write_text(before.out)
    path = root / "kubernetes" / "eks-prod" / "resources.json"
    doc = json.loads(path.read_text())
    kept = doc["items"][:20]  # namespaces and a few ServiceAccounts: no pod
    path.write_text(json.dumps({**doc, "items": kept, "metadata": {"continue": "abc", "remainingItemCount": 26}}))

    after = kubeiam_cli("audit", "--evidence", str(root), "--format", "json", "--baseline", str(previous),
                        "--strict", "--fail-on", "critical")  # fmt: skip

    report = after.json()
    assert report["resolved"] == []
    assert {f["fingerprint"] for f in report["not_rechecked"]} == before.fingerprints() - after.fingerprints()
    assert report["not_rechecked"]
    assert after.code == 3
