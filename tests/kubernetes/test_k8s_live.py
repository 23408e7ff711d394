"""Live collection with the real `kubernetes` client against the local API server (tests/servers)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
from kubeiam_kubernetes import PROVIDER
from kubeiam_kubernetes.evidence import reader
from kubeiam_kubernetes.live.kubeconfig import cluster_folder, resolve_targets
from servers.kube_api import KubeApiServer, write_kubeconfig

from kubeiam.errors import InputError
from kubeiam.pipeline.collection import collect
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest, declarations_of, load_providers
from kubeiam.vocabulary.model import Inventory

REPO = Path(__file__).resolve().parents[2]
DEMO_EKS = REPO / "fixtures" / "demo" / "kubernetes" / "eks-prod"
KARPENTER = REPO / "fixtures" / "kubernetes" / "live-eks-karpenter"
EKS_ARN = "arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
AWS_AUTH = "/api/v1/namespaces/kube-system/configmaps/aws-auth"


def _served(cluster_dir: Path) -> list[dict]:
    return json.loads((cluster_dir / "resources.json").read_text())["items"]


def _options(kubeconfig: Path | None = None, contexts: list[str] | None = None, cluster_name: str | None = None):
    return argparse.Namespace(
        kubeconfig=str(kubeconfig) if kubeconfig else None, contexts=contexts, cluster_name=cluster_name
    )


def _collect(out: Path, options: argparse.Namespace, **scope) -> list:
    _, _, errors = collect(CollectRequest(options, out, **scope), [PROVIDER])
    return errors


def _read(evidence: Evidence) -> Inventory:
    """Evidence as the Kubernetes reader sees it in a full run (with every provider's declarations)."""
    return reader.read(evidence, Inventory(declarations=declarations_of(load_providers())))


def _keys(items: list[dict], kinds: set[str]) -> set[tuple[str, str | None, str]]:
    return {(i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"]) for i in items if i["kind"] in kinds}


CORE = {"Namespace", "ServiceAccount", "Pod", "Node", "NetworkPolicy", "ReplicaSet", "Job"}


def test_collect_follows_continue_and_writes_kubectl_shaped_list(kube_api, clean_env, tmp_path):
    api: KubeApiServer = kube_api(DEMO_EKS, max_page=2)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod", cluster=EKS_ARN)

    errors = _collect(tmp_path / "ev", _options(kubeconfig))

    assert errors == []
    served = _served(DEMO_EKS)
    pods = sum(i["kind"] == "Pod" for i in served)
    # Paging happened: one request per page of at most 2, each asking limit=500, later ones with `continue`.
    pod_requests = [r for r in api.requests if r.path == "/api/v1/pods"]
    assert len(pod_requests) == math.ceil(pods / 2) > 1
    assert all(r.query.get("limit") == "500" for r in pod_requests)
    assert [bool(r.query.get("continue")) for r in pod_requests] == [False] + [True] * (len(pod_requests) - 1)
    doc = json.loads((tmp_path / "ev/kubernetes/eks-prod/resources.json").read_text())
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    # Every object served came back once, with kind and apiVersion (the server strips them from typed lists).
    assert _keys(doc["items"], CORE) == _keys(served, CORE)
    everything = {(i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"]) for i in doc["items"]}
    assert len(doc["items"]) == len(everything)  # each object once
    assert all(i["apiVersion"] == {"Namespace": "v1"}.get(i["kind"], i["apiVersion"]) for i in doc["items"])
    assert {i["apiVersion"] for i in doc["items"] if i["kind"] == "NetworkPolicy"} == {"networking.k8s.io/v1"}
    oidc = json.loads((tmp_path / "ev/kubernetes/eks-prod/openid-configuration.json").read_text())
    assert oidc == json.loads((DEMO_EKS / "openid-configuration.json").read_text())
    assert not any("secrets" in p for p in api.paths())


def test_collected_evidence_reads_like_the_original(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS, max_page=4)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod", cluster=EKS_ARN)
    _collect(tmp_path / "ev", _options(kubeconfig))

    original = _read(_only_cluster(DEMO_EKS, tmp_path / "orig"))
    collected = _read(Evidence(tmp_path / "ev"))

    # The server lists in key order, the demo file in its own: same objects, any order.
    for field in ("service_accounts", "workloads", "nodes", "egress_blocks", "namespaces"):
        assert sorted(map(repr, getattr(collected, field))) == sorted(map(repr, getattr(original, field))), field
    assert [(c.name, c.cloud, c.issuer) for c in collected.clusters] == [
        (c.name, c.cloud, c.issuer) for c in original.clusters
    ]


def _only_cluster(cluster_dir: Path, root: Path) -> Evidence:
    dest = root / "kubernetes" / cluster_dir.name
    dest.mkdir(parents=True)
    for f in cluster_dir.iterdir():
        (dest / f.name).write_bytes(f.read_bytes())
    return Evidence(root)


def test_crds_absent_are_fine_and_present_are_collected(kube_api, clean_env, tmp_path):
    api = kube_api(KARPENTER, max_page=3)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod", cluster=EKS_ARN)

    errors = _collect(tmp_path / "ev", _options(kubeconfig))

    assert errors == []
    items = json.loads((tmp_path / "ev/kubernetes/eks-prod/resources.json").read_text())["items"]
    kinds = {(i["kind"], i["apiVersion"]) for i in items}
    assert ("CiliumNetworkPolicy", "cilium.io/v2") in kinds
    assert ("CiliumClusterwideNetworkPolicy", "cilium.io/v2") in kinds
    # Karpenter v1 is not installed (404), v1beta1 is: asked in that order, the v1beta1 objects kept.
    assert ("EC2NodeClass", "karpenter.k8s.aws/v1beta1") in kinds
    assert api.count("/apis/karpenter.k8s.aws/v1/ec2nodeclasses") == 1
    assert api.count("/apis/karpenter.k8s.aws/v1beta1/ec2nodeclasses") == 1
    # ReplicaSets and Jobs are kept for their owner references only: no pod template (and its env).
    owners = [i for i in items if i["kind"] in {"ReplicaSet", "Job"}]
    assert owners and all(set(i) == {"apiVersion", "kind", "metadata"} for i in owners)
    assert "Secret" not in {i["kind"] for i in items}
    inv = _read(Evidence(tmp_path / "ev"))
    assert {(b.kind, b.namespace) for b in inv.egress_blocks} == {
        ("CiliumNetworkPolicy", "batch"),
        ("CiliumClusterwideNetworkPolicy", None),
        ("NetworkPolicy", "apps"),
    }
    owners_of = {w.pod: (w.owner_kind, w.owner_name) for w in inv.workloads}
    assert owners_of["web-7d9f8b6c5d-x2k4q"] == ("Deployment", "web")
    assert owners_of["report-29391120-7xk2p"] == ("CronJob", "report")


def test_crds_missing_everywhere_make_no_error(kube_api, clean_env, tmp_path):
    api = kube_api([o for o in _served(DEMO_EKS) if o["kind"] in {"Namespace", "Node"}])
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    assert _collect(tmp_path / "ev", _options(kubeconfig)) == []
    assert api.count("/apis/cilium.io/v2/ciliumnetworkpolicies") == 1


def test_forbidden_list_is_a_coverage_error_not_a_failure(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS, forbidden={"/api/v1/pods", "/.well-known/openid-configuration"})
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod", cluster=EKS_ARN)

    errors = _collect(tmp_path / "ev", _options(kubeconfig))

    assert sorted(e.location for e in errors) == [
        "get /.well-known/openid-configuration (context prod)",
        "list /api/v1/pods (context prod)",
    ]
    assert all(e.source == "kubernetes" and "403" in e.reason and e.subject == "eks-prod" for e in errors)
    items = json.loads((tmp_path / "ev/kubernetes/eks-prod/resources.json").read_text())["items"]
    assert "Pod" not in {i["kind"] for i in items} and "ServiceAccount" in {i["kind"] for i in items}
    assert not (tmp_path / "ev/kubernetes/eks-prod/openid-configuration.json").exists()


def test_check_fetches_only_what_one_service_account_needs(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod", cluster=EKS_ARN)
    served = _served(DEMO_EKS)
    pod = next(i for i in served if i["kind"] == "Pod" and i["spec"].get("serviceAccountName") == "legacy-worker")
    namespace = pod["metadata"]["namespace"]

    errors = _collect(
        tmp_path / "ev", _options(kubeconfig), namespace=namespace, service_account=(namespace, "legacy-worker")
    )

    assert errors == []
    paths = api.paths()
    assert f"/api/v1/namespaces/{namespace}/serviceaccounts/legacy-worker" in paths
    pod_calls = [r for r in api.requests if r.path.endswith("/pods")]
    assert [(r.path, r.query.get("fieldSelector")) for r in pod_calls] == [
        (f"/api/v1/namespaces/{namespace}/pods", "spec.serviceAccountName=legacy-worker")
    ]
    assert f"/api/v1/nodes/{pod['spec']['nodeName']}" in paths
    assert "/api/v1/nodes" not in paths and "/api/v1/serviceaccounts" not in paths
    # Every namespaced request stays in the namespace, but one get of EKS's aws-auth ConfigMap (who is mapped
    # into the cluster from IAM, for K8S-006), and the RBAC beyond it is the cluster-wide roles and bindings.
    namespaced = [p for p in paths if "/namespaces/" in p and p != AWS_AUTH]
    assert namespaced and all(f"/namespaces/{namespace}/" in p for p in namespaced)
    assert api.count(AWS_AUTH) == 1
    assert {p for p in paths if "/rbac.authorization.k8s.io/" in p} == {
        f"{RBAC}/namespaces/{namespace}/roles",
        f"{RBAC}/namespaces/{namespace}/rolebindings",
        f"{RBAC}/clusterroles",
        f"{RBAC}/clusterrolebindings",
    }
    items = json.loads((tmp_path / "ev/kubernetes/eks-prod/resources.json").read_text())["items"]
    assert {(i["kind"], i["metadata"]["name"]) for i in items if i["kind"] in {"ServiceAccount", "Pod", "Node"}} == {
        ("ServiceAccount", "legacy-worker"),
        ("Pod", pod["metadata"]["name"]),
        ("Node", pod["spec"]["nodeName"]),
    }


def test_check_of_a_service_account_without_pods_still_learns_the_platform(kube_api, clean_env, tmp_path):
    api = kube_api(KARPENTER, max_page=1)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    sa_without_pods = ("apps", "web")
    objects = [o for o in _served(KARPENTER) if not (o["kind"] == "Pod" and o["spec"]["serviceAccountName"] == "web")]
    api.objects[:] = objects

    _collect(tmp_path / "ev", _options(kubeconfig), namespace="apps", service_account=sa_without_pods)

    node_calls = [r for r in api.requests if r.path == "/api/v1/nodes"]
    assert len(node_calls) == 1 and node_calls[0].query["limit"] == "1"
    inv = _read(Evidence(tmp_path / "ev"))
    assert inv.clusters[0].cloud is not None and inv.clusters[0].cloud == "aws"


def test_check_of_an_unknown_service_account_is_bad_input(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
    with pytest.raises(InputError, match=r"ServiceAccount payments/nobody not found \(context prod\)"):
        _collect(tmp_path / "ev", _options(kubeconfig), namespace="payments", service_account=("payments", "nobody"))


def test_namespace_narrows_every_namespaced_list(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS, max_page=2)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")

    _collect(tmp_path / "ev", _options(kubeconfig), namespace="payments")

    cluster_wide = {p for p in api.paths() if "/namespaces/" not in p}
    # Only cluster-scoped kinds are listed cluster-wide (v1beta1 EC2NodeClass only if v1 is absent).
    assert cluster_wide - {"/apis/karpenter.k8s.aws/v1beta1/ec2nodeclasses"} == {
        "/api/v1/namespaces",
        "/api/v1/nodes",
        "/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies",
        "/apis/karpenter.k8s.aws/v1/ec2nodeclasses",
        f"{RBAC}/clusterroles",
        f"{RBAC}/clusterrolebindings",
        "/.well-known/openid-configuration",
    }
    namespaced = {p for p in api.paths() if "/namespaces/" in p} - {AWS_AUTH}
    assert namespaced and all("/namespaces/payments/" in p for p in namespaced)
    ns_call = next(r for r in api.requests if r.path == "/api/v1/namespaces")
    assert ns_call.query["fieldSelector"] == "metadata.name=payments"
    items = json.loads((tmp_path / "ev/kubernetes/test-cluster/resources.json").read_text())["items"]
    assert {i["metadata"].get("namespace") for i in items if i["kind"] in {"Pod", "ServiceAccount"}} == {"payments"}


def test_several_contexts_each_get_their_folder(kube_api, clean_env, tmp_path):
    demo = DEMO_EKS.parent
    eks = kube_api(demo / "eks-prod", max_page=5)
    gke = kube_api(demo / "gke-data", max_page=5)
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig",
        {
            "eks": (EKS_ARN, eks.url),
            "gke": ("gke_acme-data-prod_europe-west1_gke-data", gke.url),
            "unused": ("other", "http://127.0.0.1:9"),
        },
        current="unused",
    )

    _collect(tmp_path / "ev", _options(kubeconfig, contexts=["eks", "gke"]))

    assert sorted(p.name for p in (tmp_path / "ev/kubernetes").iterdir()) == ["eks-prod", "gke-data"]
    assert eks.count() > 0 and gke.count() > 0
    inv = _read(Evidence(tmp_path / "ev"))
    assert {c.name: c.cloud for c in inv.clusters if c.cloud} == {"eks-prod": "aws", "gke-data": "gcp"}


def test_lists_and_clusters_are_read_side_by_side_never_more_than_the_limit(kube_api, clean_env, tmp_path):
    from kubeiam_kubernetes.live.clients import CONCURRENCY

    demo = DEMO_EKS.parent
    # Each answer waits, so requests sent together overlap on the server.
    eks = kube_api(demo / "eks-prod", max_page=2, latency=0.05)
    gke = kube_api(demo / "gke-data", max_page=2, latency=0.05)
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig",
        {"eks": (EKS_ARN, eks.url), "gke": ("gke_acme-data-prod_europe-west1_gke-data", gke.url)},
        current="eks",
    )

    assert _collect(tmp_path / "ev", _options(kubeconfig, contexts=["eks", "gke"])) == []

    for api in (eks, gke):
        assert 1 < api.max_in_flight <= CONCURRENCY
    # Side by side, yet each list's pages one after another, and the file in a stable order.
    pods = [bool(r.query.get("continue")) for r in eks.requests if r.path == "/api/v1/pods"]
    assert pods == [False] + [True] * (len(pods) - 1) and len(pods) > 1
    items = json.loads((tmp_path / "ev/kubernetes/eks-prod/resources.json").read_text())["items"]
    kinds = list(dict.fromkeys(i["kind"] for i in items))
    assert kinds[:3] == ["Namespace", "ServiceAccount", "Pod"]


def test_cluster_name_option_overrides_the_folder(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster=EKS_ARN)
    _collect(tmp_path / "ev", _options(kubeconfig, cluster_name="prod-eu"))
    assert [p.name for p in (tmp_path / "ev/kubernetes").iterdir()] == ["prod-eu"]


def test_kubeconfig_from_environment(kube_api, clean_env, tmp_path, monkeypatch):
    api = kube_api(DEMO_EKS)
    kubeconfig = api.write_kubeconfig(tmp_path / "kc", cluster="kind-dev")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{kubeconfig}")
    _collect(tmp_path / "ev", _options())
    assert (tmp_path / "ev/kubernetes/kind-dev/resources.json").is_file()


@pytest.mark.parametrize(
    ("kube_cluster", "folder"),
    [
        ("arn:aws:eks:eu-west-1:111122223333:cluster/prod", "prod"),
        ("arn:aws-us-gov:eks:us-gov-west-1:111122223333:cluster/gov-prod", "gov-prod"),
        ("gke_acme-data-prod_europe-west1_gke-data", "gke-data"),
        ("gke_acme_us-central1-a_my-cluster", "my-cluster"),
        ("aks-apps", "aks-apps"),
        ("prod.eu-west-1.eksctl.io", "prod.eu-west-1.eksctl.io"),
        ("https://10.0.0.1:6443", "https-10.0.0.1-6443"),
        ("kind-kind", "kind-kind"),
    ],
)
def test_cluster_folder_from_kubeconfig_cluster(kube_cluster: str, folder: str) -> None:
    assert cluster_folder(kube_cluster) == folder


def test_in_cluster_config_when_no_kubeconfig(clean_env, tmp_path, monkeypatch):
    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("in-cluster-token")
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")

    [target] = resolve_targets(_options())

    assert (target.cluster, target.context, target.server) == ("in-cluster", None, "https://10.96.0.1:443")
    [named] = resolve_targets(_options(cluster_name="prod"))
    assert named.cluster == "prod"


def test_wrong_token_is_bad_input(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod", token="stale-token")
    with pytest.raises(InputError, match=r"context prod: the API server at http://127\.0\.0\.1:\d+ rejected"):
        _collect(tmp_path / "ev", _options(kubeconfig))


def test_unreachable_server_is_bad_input(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="gone")
    api.stop()
    with pytest.raises(InputError, match=r"context gone: cannot reach the API server at http://127\.0\.0\.1:\d+"):
        _collect(tmp_path / "ev", _options(kubeconfig))


def test_check_of_a_forbidden_service_account_is_a_coverage_error_not_absent(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS, forbidden={"/api/v1/namespaces/payments/serviceaccounts/*"})
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
    errors = _collect(tmp_path / "ev", _options(kubeconfig), namespace="payments", service_account=("payments", "x"))
    assert [e.location for e in errors] == ["get /api/v1/namespaces/payments/serviceaccounts/x (context prod)"]


def test_unknown_namespace_is_bad_input_but_a_forbidden_one_is_not(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
    with pytest.raises(InputError, match=r"^--namespace paymnets: no such namespace \(context prod\)$"):
        _collect(tmp_path / "ev", _options(kubeconfig), namespace="paymnets")
    api.forbidden.add("/api/v1/namespaces")
    errors = _collect(tmp_path / "ev2", _options(kubeconfig), namespace="payments")
    assert [e.location for e in errors] == ["list /api/v1/namespaces (context prod)"]


@pytest.mark.parametrize(
    ("contexts", "current", "cluster_name", "message"),
    [
        (None, "", None, r"no current-context; pass --context \(available: a, b\)"),
        (["a", "b"], "a", None, "contexts a and b both name cluster 'prod': collect them separately"),
        (["a", "b"], "a", "prod", "--cluster-name names one cluster: give a single --context with it"),
        (["a"], "a", "../escape", "--cluster-name '../escape': use letters"),
    ],
)
def test_context_selection_errors(clean_env, tmp_path, contexts, current, cluster_name, message):
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig",
        {"a": ("arn:aws:eks:eu-west-1:1:cluster/prod", "http://127.0.0.1:9"), "b": ("prod", "http://127.0.0.1:9")},
        current=current or "a",
    )
    if not current:
        kubeconfig.write_text(kubeconfig.read_text().replace("current-context: a", "current-context: ''"))
    with pytest.raises(InputError, match=message):
        resolve_targets(_options(kubeconfig, contexts=contexts, cluster_name=cluster_name))


def test_an_expired_continue_token_restarts_the_list(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS, max_page=4, expire_continue={"/api/v1/pods"})
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")

    assert _collect(tmp_path / "ev", _options(kubeconfig)) == []

    pod_calls = [bool(r.query.get("continue")) for r in api.requests if r.path == "/api/v1/pods"]
    assert pod_calls[:3] == [False, True, False]  # first page, 410 on continue, fresh start
    items = json.loads((tmp_path / "ev/kubernetes/test-cluster/resources.json").read_text())["items"]
    assert _keys(items, {"Pod"}) == _keys(_served(DEMO_EKS), {"Pod"})
    assert len([i for i in items if i["kind"] == "Pod"]) == len(_keys(items, {"Pod"}))  # no duplicates
