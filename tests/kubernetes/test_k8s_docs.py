"""docs/kubernetes.md stays true: its ClusterRole grants exactly what collection calls, and its
kubectl + jq recipe gives the same evidence as `kubeiam collect` (when kubectl and jq are installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from kubeiam_kubernetes.live.plan import requested_resources

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "kubernetes.md").read_text()
KARPENTER = REPO / "fixtures" / "kubernetes" / "live-eks-karpenter"
DEMO_EKS = REPO / "fixtures" / "demo" / "kubernetes" / "eks-prod"


def cluster_role() -> dict:
    block = re.search(r"```yaml\n(.*?)```", DOC, re.S)
    assert block, "docs/kubernetes.md has no yaml block"
    docs = list(yaml.safe_load_all(block.group(1)))
    return next(d for d in docs if d["kind"] == "ClusterRole")


def granted() -> tuple[set[tuple[str, str]], set[str]]:
    resources, urls = set(), set()
    for rule in cluster_role()["rules"]:
        assert set(rule["verbs"]) <= {"get", "list"}, rule  # read-only
        for group in rule.get("apiGroups", []):
            resources |= {(group, r) for r in rule["resources"]}
        urls |= set(rule.get("nonResourceURLs", []))
    return resources, urls


def test_cluster_role_is_exactly_what_the_code_may_request():
    resources, urls = granted()
    assert resources == set(requested_resources())
    assert urls == {"/.well-known/openid-configuration"}
    assert not any(r == "secrets" for _, r in resources)


def _resource_of(path: str) -> tuple[str, str] | None:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    return group, rest[0]


@pytest.mark.parametrize(
    "scope", [{}, {"namespace": "apps"}, {"namespace": "apps", "service_account": ("apps", "web")}]
)
def test_every_request_is_allowed_by_the_cluster_role(kube_api, clean_env, tmp_path, scope):
    import argparse

    from kubeiam_kubernetes import PROVIDER

    from kubeiam.pipeline.collection import collect
    from kubeiam.pipeline.providers import CollectRequest

    api = kube_api(KARPENTER, max_page=2)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    options = argparse.Namespace(kubeconfig=str(kubeconfig), contexts=None, cluster_name=None)
    collect(CollectRequest(options, tmp_path / "ev", **scope), [PROVIDER])

    resources, urls = granted()
    assert {r.method for r in api.requests} == {"GET"}
    for path in api.paths():
        assert path in urls or _resource_of(path) in resources, path


def _recipe() -> tuple[str, str]:
    kinds = re.search(r"kubectl get (\S+) -A -o json > raw\.json", DOC)
    program = re.search(r"jq '(.*?)' raw\.json > resources\.json", DOC)
    assert kinds and program
    return kinds.group(1), program.group(1)


@pytest.mark.skipif(not (shutil.which("kubectl") and shutil.which("jq")), reason="needs kubectl and jq")
@pytest.mark.parametrize("source", [KARPENTER, DEMO_EKS], ids=["karpenter-cilium", "demo-eks"])
def test_the_documented_kubectl_recipe_gives_the_collected_evidence(kube_api, kubeiam_cli, tmp_path, source):
    # kubectl does not send a bearer token over plain http: this server takes anonymous requests.
    api = kube_api(source, max_page=3, token=None)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="prod")
    kinds, program = _recipe()
    extra = {"CiliumNetworkPolicy": "ciliumnetworkpolicies", "CiliumClusterwideNetworkPolicy":
             "ciliumclusterwidenetworkpolicies", "EC2NodeClass": "ec2nodeclasses"}  # fmt: skip
    present = {json.loads(line)["kind"] for line in _kinds_of(source)}
    kinds = ",".join([kinds, *(plural for kind, plural in extra.items() if kind in present)])
    env = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    raw = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "get", kinds, "-A", "-o", "json"],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )  # fmt: skip
    by_hand = subprocess.run(["jq", program], input=raw.stdout, capture_output=True, text=True, check=True)
    oidc = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "get", "--raw", "/.well-known/openid-configuration"],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )  # fmt: skip

    assert kubeiam_cli("collect", "-o", str(tmp_path / "ev"), "--kubeconfig", str(kubeconfig)).code == 0

    collected = json.loads((tmp_path / "ev/kubernetes/prod/resources.json").read_text())
    manual = json.loads(by_hand.stdout)
    assert manual["kind"] == collected["kind"] == "List"
    assert _canonical(manual["items"]) == _canonical(collected["items"])
    assert json.loads(oidc.stdout) == json.loads(
        (tmp_path / "ev/kubernetes/prod/openid-configuration.json").read_text()
    )


@pytest.mark.skipif(not (shutil.which("kubectl") and shutil.which("jq")), reason="needs kubectl and jq")
def test_the_documented_kubeconfig_recipe_names_the_cluster_as_collection_does(kube_api, kubeiam_cli, tmp_path):
    from kubeiam_kubernetes.evidence.kubeconfig import load_kubeconfig_name

    from kubeiam.pipeline.evidence import Evidence

    api = kube_api(DEMO_EKS, token="a-token-the-evidence-must-not-hold")
    arn = "arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod"
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster=arn)
    recipe = re.search(r"kubectl (config view .*?) \| jq '(.*?)' > kubeconfig\.json", DOC)
    assert recipe
    env = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    view = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *recipe.group(1).split()],
                          capture_output=True, text=True, env=env, check=True, timeout=60)  # fmt: skip
    by_hand = subprocess.run(["jq", recipe.group(2)], input=view.stdout, capture_output=True, text=True, check=True)
    manual = tmp_path / "manual" / "kubeconfig.json"
    manual.parent.mkdir()
    manual.write_text(by_hand.stdout)

    assert kubeiam_cli("collect", "-o", str(tmp_path / "ev"), "--kubeconfig", str(kubeconfig)).code == 0

    collected = "kubernetes/eks-prod/kubeconfig.json"
    assert load_kubeconfig_name(Evidence(tmp_path / "ev"), collected, "eks-prod") == (arn, [])
    assert load_kubeconfig_name(Evidence(tmp_path), "manual/kubeconfig.json", "eks-prod") == (arn, [])
    for text in (by_hand.stdout, (tmp_path / "ev" / collected).read_text()):
        assert "a-token-the-evidence-must-not-hold" not in text and '"users"' not in text


def _kinds_of(cluster_dir: Path) -> list[str]:
    return [json.dumps({"kind": i["kind"]}) for i in json.loads((cluster_dir / "resources.json").read_text())["items"]]


def _canonical(items: list[dict]) -> list[str]:
    return sorted(json.dumps(i, sort_keys=True) for i in items if i["kind"] != "Secret")


@pytest.mark.skipif(not (shutil.which("kubectl") and shutil.which("jq")), reason="needs kubectl and jq")
def test_the_documented_token_secrets_recipe_lists_names_and_owners_only(kube_api, tmp_path):
    from kubeiam_kubernetes.evidence.token_secrets import load_token_secrets

    from kubeiam.pipeline.evidence import Evidence

    recipe = re.search(r"kubectl (get secrets .*?) \| jq '(.*?)' > token-secrets\.json", DOC)
    assert recipe

    def secret(name: str, owner: str | None, kind: str = "kubernetes.io/service-account-token") -> dict:
        annotations = {"kubectl.kubernetes.io/last-applied-configuration": '{"stringData": {"token": "s3cr3t"}}'}
        annotations |= {"kubernetes.io/service-account.name": owner} if owner else {}
        meta = {"name": name, "namespace": "team-a", "annotations": annotations}
        return {"apiVersion": "v1", "kind": "Secret", "type": kind, "metadata": meta, "data": {"token": "czNjcjN0"}}

    served = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
        secret("app-token-x7k2p", "app"),
        secret("db-password", None, "Opaque"),
    ]
    api = kube_api(served, token=None)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    env = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    listed = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *recipe.group(1).split()],
                            capture_output=True, text=True, env=env, check=True, timeout=60)  # fmt: skip
    by_hand = subprocess.run(["jq", recipe.group(2)], input=listed.stdout, capture_output=True, text=True, check=True)
    folder = tmp_path / "ev" / "kubernetes" / "prod"
    folder.mkdir(parents=True)
    (folder / "token-secrets.json").write_text(by_hand.stdout)

    assert "s3cr3t" not in by_hand.stdout and "czNjcjN0" not in by_hand.stdout and "db-password" not in by_hand.stdout
    found = load_token_secrets(Evidence(tmp_path / "ev"), "kubernetes/prod/token-secrets.json", "prod")
    assert found is not None and found.whole and found.errors == []
    assert found.tokens == {("prod", "team-a", "app"): ("app-token-x7k2p",)}
