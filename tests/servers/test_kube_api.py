"""The fake Kubernetes API server itself: paging, selectors, errors, discovery (plain HTTP, no client)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from servers.kube_api import DEFAULT_TOKEN, KubeApiServer

EKS = Path(__file__).resolve().parents[2] / "fixtures" / "kubernetes" / "live-eks-karpenter"


def get(api: KubeApiServer, path: str, token: str | None = DEFAULT_TOKEN) -> tuple[int, Any]:
    request = urllib.request.Request(api.url + path, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("max_page", [None, 1, 2, 5])
def test_paging_returns_every_item_once(kube_api, max_page):
    api = kube_api(EKS, max_page=max_page)
    names, token, pages = [], "", 0
    while True:
        status, page = get(api, f"/api/v1/pods?limit=500{'&continue=' + token if token else ''}")
        assert status == 200 and page["kind"] == "PodList"
        assert all("kind" not in i and "apiVersion" not in i for i in page["items"])  # as a real typed list
        names += [i["metadata"]["name"] for i in page["items"]]
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
    expected = sorted(o["metadata"]["name"] for o in json.loads((EKS / "resources.json").read_text())["items"]
                      if o["kind"] == "Pod")  # fmt: skip
    assert sorted(names) == expected and len(names) == len(set(names))
    assert pages == (1 if max_page is None else -(-len(expected) // max_page))


def test_selectors_get_and_namespaces(kube_api):
    api = kube_api(EKS)
    _, pods = get(api, "/api/v1/namespaces/batch/pods?fieldSelector=spec.serviceAccountName%3Dreporter")
    assert [p["metadata"]["name"] for p in pods["items"]] == ["report-29391120-7xk2p"]
    _, none = get(api, "/api/v1/namespaces/apps/pods?fieldSelector=spec.serviceAccountName%3Dreporter")
    assert none["items"] == []
    _, labelled = get(api, "/api/v1/pods?labelSelector=app%3Dweb")
    assert [p["metadata"]["name"] for p in labelled["items"]] == ["web-7d9f8b6c5d-x2k4q"]
    status, sa = get(api, "/api/v1/namespaces/apps/serviceaccounts/web")
    assert status == 200 and (sa["kind"], sa["apiVersion"], sa["metadata"]["name"]) == ("ServiceAccount", "v1", "web")
    status, missing = get(api, "/api/v1/namespaces/apps/serviceaccounts/nobody")
    assert status == 404 and missing["kind"] == "Status" and missing["reason"] == "NotFound"
    _, ns = get(api, "/api/v1/namespaces?fieldSelector=metadata.name%3Dbatch")
    assert [n["metadata"]["name"] for n in ns["items"]] == ["batch"]
    _, cnp = get(api, "/apis/cilium.io/v2/ciliumnetworkpolicies")
    assert [(i["kind"], i["apiVersion"]) for i in cnp["items"]] == [("CiliumNetworkPolicy", "cilium.io/v2")]


def test_errors(kube_api):
    api = kube_api(EKS, forbidden={"/api/v1/nodes", "/apis/apps/*"})
    assert get(api, "/apis/karpenter.k8s.aws/v1/ec2nodeclasses")[0] == 404  # CRD version not installed
    assert get(api, "/apis/karpenter.k8s.aws/v1beta1/ec2nodeclasses")[0] == 200
    assert get(api, "/apis/networking.k8s.io/v1/networkpolicies")[0] == 200  # built-in: always served
    status, body = get(api, "/api/v1/nodes")
    assert status == 403 and body["reason"] == "Forbidden"
    assert get(api, "/apis/apps/v1/namespaces/apps/replicasets")[0] == 403
    assert get(api, "/api/v1/pods", token="wrong")[0] == 401
    assert get(api, "/api/v1/pods", token=None)[0] == 401
    assert get(api, "/api/v1/pods?continue=garbage")[0] == 400
    assert api.count("/api/v1/nodes") == 1 and api.count() == 8


def test_openid_configuration_and_discovery(kube_api):
    api = kube_api(EKS)
    assert get(api, "/.well-known/openid-configuration")[1] == json.loads(
        (EKS / "openid-configuration.json").read_text()
    )
    groups = {g["name"]: g for g in get(api, "/apis")[1]["groups"]}
    assert {"cilium.io", "karpenter.k8s.aws", "apps", "networking.k8s.io"} <= set(groups)
    assert [v["version"] for v in groups["karpenter.k8s.aws"]["versions"]] == ["v1beta1"]
    core = {r["name"]: r for r in get(api, "/api/v1")[1]["resources"]}
    assert core["pods"]["namespaced"] and not core["nodes"]["namespaced"]
    bare = kube_api([])
    assert get(bare, "/.well-known/openid-configuration")[0] == 404


def test_latency_is_added_to_every_answer_and_reset_forgets_requests(kube_api):
    import time

    api = kube_api(EKS, latency=0.05)
    start = time.perf_counter()
    assert get(api, "/api/v1/nodes?limit=500")[0] == 200
    assert get(api, "/api/v1/nodes/nope")[0] == 404
    assert time.perf_counter() - start >= 0.1
    assert api.count() == 2
    api.reset()
    assert api.count() == 0
