"""Real ServiceAccount snippets from public docs (fixtures/kubernetes/corpus): placeholders are malformed,
real ids are not, and `metadata.annotation:` (singular) is caught as binding nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import declarations_of, load_providers

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "kubernetes" / "corpus" / "service_accounts_from_docs.jsonl"
SNIPPETS = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]

# (source path, values path or "") -> the K8S rules that must fire on that snippet, and only those.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("charts/external-dns/tests/serviceaccount_test.yaml", ".tests[2].set.serviceAccount"): {"K8S-003"},  # 9 digits
    ("docs/tutorials/aws.md", ".serviceAccount"): {"K8S-003"},  # ${ACCOUNT_ID}
    ("docs/tutorials/azure.md", ".serviceAccount"): {"K8S-003"},  # <IDENTITY_CLIENT_ID>
    ("docs/book/src/topics/self-managed-clusters/service-account-key-rotation.md", ""): {"K8S-003"},  # dummy
    ("docs/install.md", ".controller.serviceAccount"): set(),  # a real-looking ARN
    ("docs/guides/ai-setup-guide.md", ""): {"K8S-003"},  # <account-id>
    ("docs/provider/aws-access.md", ""): set(),
    ("docs/snippets/azkv-workload-identity-mounted.yaml", ""): {"K8S-003"},  # xxxx GUIDs
    ("content/v1.15-docs/configuration/acme/dns01/route53.md", ""): {"K8S-002"},  # metadata.annotation:
    ("ai-ml/anthropic-agent-sandbox/deploy/base/dispatcher.yaml", ""): {"K8S-003"},  # PATCHED_BY_OVERLAY
    ("batch/airflow/airflow-sa.yaml", ""): {"K8S-003"},  # NAME@PROJECT_ID.iam...
    ("databases/elasticsearch/manifests/05-rag/service-account.yaml", ""): {"K8S-003"},
    ("databases/gke-stateful-postgres/helm/postgresql-bootstrap/values.yaml", ".postgresql-ha.serviceAccount"): {
        "K8S-003"
    },  # ""
    ("cluster-autoscaler/cloudprovider/aws/CA_with_AWS_IAM_OIDC.md", ""): {"K8S-003"},  # xxxxx
    ("manifests/modules/automation/controlplanes/ack/app/carts-serviceAccount.yaml", ""): {"K8S-003"},
}


def _key(snippet: dict[str, Any]) -> tuple[str, str]:
    return snippet["path"], snippet.get("values_path", "") if snippet.get("form") == "helm-values" else ""


def _service_account(snippet: dict[str, Any], name: str) -> dict[str, Any]:
    """The snippet as the object `kubectl get sa -o json` would show (metadata kept as written)."""
    if snippet.get("form") == "manifest":
        meta = dict(snippet["manifest"]["metadata"])
    else:  # helm values: `serviceAccount.annotations` / `.labels` end up on the object's metadata
        meta = {k: v for k, v in snippet["serviceAccount"].items() if k in ("annotations", "labels")}
    meta.update(name=name, namespace="docs")
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


def test_every_snippet_has_an_expectation():
    assert sorted(_key(s) for s in SNIPPETS) == sorted(EXPECTED)


def test_snippets_give_exactly_the_expected_findings(tmp_path, kubernetes_providers):
    items = [_service_account(s, f"snippet-{i:02d}") for i, s in enumerate(SNIPPETS)]
    # No node: the platform is unknown, so K8S-005 (wrong cloud) stays out of this comparison.
    folder = tmp_path / "kubernetes" / "docs"
    folder.mkdir(parents=True)
    (folder / "resources.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    report = audit(Evidence(tmp_path), providers=kubernetes_providers)

    found: dict[str, set[str]] = {}
    for f in report.findings:
        found.setdefault(f.service_account, set()).add(f.rule_id)
    for i, snippet in enumerate(SNIPPETS):
        assert found.get(f"snippet-{i:02d}", set()) == EXPECTED[_key(snippet)], (i, snippet["path"])


@pytest.mark.parametrize(
    "key",
    [
        "eks.amazonaws.com/sts-regional-endpoints",
        "eks.amazonaws.com/token-expiration",
        "eks.amazonaws.com/audience",
        "azure.workload.identity/service-account-token-expiration",
        "azure.workload.identity/skip-containers",
        "azure.workload.identity/inject-proxy-sidecar",
        "azure.workload.identity/proxy-sidecar-port",
        "azure.workload.identity/use",
        "tags.k8s.io/service",
        "meta.helm.sh/release-name",
    ],
)
def test_documented_neighbours_are_not_near_misses(key):
    assert declarations_of(load_providers()).near_miss(key) is None


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("eks.amazonaws.com/role_arn", "eks.amazonaws.com/role-arn"),
        ("eks.amazonaws.com/rolearn", "eks.amazonaws.com/role-arn"),
        ("eks.amazonaws.com/role-am", "eks.amazonaws.com/role-arn"),
        ("iam.gke.io/gcp-service-acount", "iam.gke.io/gcp-service-account"),
        ("iam.gke.io/gcp-serviceaccount", "iam.gke.io/gcp-service-account"),
        ("azure.workload.identity/client_id", "azure.workload.identity/client-id"),
        ("Azure.Workload.Identity/Client-ID", "azure.workload.identity/client-id"),
    ],
)
def test_near_misses(key, meant):
    declarations = declarations_of(load_providers())
    found = declarations.near_miss(key)
    assert found is not None and found.key == meant
    assert key not in declarations.by_key
