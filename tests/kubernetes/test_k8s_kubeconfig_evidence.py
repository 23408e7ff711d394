"""`kubernetes/<cluster>/kubeconfig.json`: the kubeconfig's name for the cluster, recorded without credentials.

Why: the kubeconfig's cluster entry is an id that survives a renamed evidence folder (an EKS ARN, GKE's
`gke_PROJECT_LOCATION_NAME`): cloud readers derive the stable cluster id from it when their own cluster
file is absent (denied `eks:DescribeCluster`), so fingerprints do not depend on an optional file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml
from kubeiam_kubernetes import PROVIDER
from kubeiam_kubernetes.evidence import reader
from kubeiam_kubernetes.live.kubeconfig import minified

from kubeiam.errors import InputError
from kubeiam.pipeline.collection import collect
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest, declarations_of, load_providers
from kubeiam.vocabulary.model import Inventory

REPO = Path(__file__).resolve().parents[2]
DEMO_EKS = REPO / "fixtures" / "demo" / "kubernetes" / "eks-prod"
EKS_ARN = "arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod"


def _collect(out: Path, kubeconfig: Path, cluster_name: str | None = None) -> None:
    options = argparse.Namespace(kubeconfig=str(kubeconfig), contexts=None, cluster_name=cluster_name)
    collect(CollectRequest(options, out), [PROVIDER])


def _read(root: Path) -> Inventory:
    return reader.read(Evidence(root), Inventory(declarations=declarations_of(load_providers())))


def test_live_collection_records_the_cluster_entry_and_no_credentials(kube_api, clean_env, tmp_path):
    api = kube_api(DEMO_EKS)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod", cluster=EKS_ARN)
    # What a real kubeconfig carries besides: CA data, a user with a token, client key and exec plugin.
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = "Q0EtREFUQQ=="
    doc["users"][0]["user"].update({"client-key-data": "S0VZLURBVEE=", "exec": None})
    kubeconfig.write_text(yaml.safe_dump(doc))

    _collect(tmp_path / "ev", kubeconfig, cluster_name="renamed")

    written = tmp_path / "ev" / "kubernetes" / "renamed" / "kubeconfig.json"
    assert json.loads(written.read_text()) == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": EKS_ARN, "cluster": {"server": api.url}}],
        "contexts": [{"name": "prod", "context": {"cluster": EKS_ARN}}],
        "current-context": "prod",
    }
    text = written.read_text()
    for secret in ("kubeiam-test-token", "S0VZLURBVEE=", "Q0EtREFUQQ==", "users"):
        assert secret not in text
    [cluster] = _read(tmp_path / "ev").clusters
    assert (cluster.name, cluster.kubeconfig_name) == ("renamed", EKS_ARN)  # whatever the folder is called


def test_minified_keeps_the_server_without_userinfo_and_nothing_else_of_the_cluster():
    entry = {"name": "ctx", "context": {"cluster": "c", "user": "alice@example.com", "namespace": "apps"}}
    server = "https://admin:hunter2@10.0.0.1:6443/k8s"
    cluster = {
        "name": "c",
        "cluster": {"server": server, "proxy-url": "http://u:p@proxy:3128", "insecure-skip-tls-verify": True},
    }
    doc = minified("ctx", entry, cluster)
    assert doc["clusters"] == [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443/k8s"}}]
    assert doc["contexts"] == [{"name": "ctx", "context": {"cluster": "c", "namespace": "apps"}}]
    assert "hunter2" not in json.dumps(doc) and "alice" not in json.dumps(doc)


# What `kubectl config view --minify --output json | jq 'del(.users)'` prints (kubectl 1.31, a GKE context).
KUBECTL_MINIFY = {
    "kind": "Config",
    "apiVersion": "v1",
    "preferences": {},
    "clusters": [
        {
            "name": "gke_acme-data-prod_europe-west1_gke-data",
            "cluster": {"server": "https://34.76.0.1", "certificate-authority-data": "DATA+OMITTED"},
        }
    ],
    "contexts": [
        {
            "name": "gke_acme-data-prod_europe-west1_gke-data",
            "context": {
                "cluster": "gke_acme-data-prod_europe-west1_gke-data",
                "user": "gke_acme-data-prod_europe-west1_gke-data",
            },
        }
    ],
    "current-context": "gke_acme-data-prod_europe-west1_gke-data",
}


def _folder(tmp_path: Path, kubeconfig: object) -> Path:
    folder = tmp_path / "kubernetes" / "gke-data"
    folder.mkdir(parents=True)
    for name in ("resources.json", "rbac.json"):
        (folder / name).write_text((DEMO_EKS.parent / "gke-data" / name).read_text())
    (folder / "kubeconfig.json").write_text(json.dumps(kubeconfig))
    return tmp_path


def test_kubectls_own_output_is_read(tmp_path):
    [cluster] = _read(_folder(tmp_path, KUBECTL_MINIFY)).clusters
    assert cluster.kubeconfig_name == "gke_acme-data-prod_europe-west1_gke-data"


def test_a_kubeconfig_naming_no_single_cluster_is_a_coverage_error(tmp_path):
    two = {**KUBECTL_MINIFY, "clusters": [{"name": "a"}, {"name": "b"}], "current-context": "missing"}
    inv = _read(_folder(tmp_path, two))
    assert inv.clusters[0].kubeconfig_name is None
    [error] = inv.errors
    assert (error.location, error.subject) == ("kubernetes/gke-data/kubeconfig.json: clusters", "gke-data")


@pytest.mark.parametrize("doc", [[], {"kind": "Config"}, {"clusters": {"name": "a"}}])
def test_a_file_that_is_no_kubeconfig_is_bad_input(tmp_path, doc):
    with pytest.raises(InputError, match=r"^kubernetes/gke-data/kubeconfig.json: not a kubeconfig"):
        _read(_folder(tmp_path, doc))
