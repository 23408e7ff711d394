"""kubeiam audits its own chart: the rendered objects, and the pod the CronJob starts, as a cluster's
evidence (`kubectl get ... -o json`), audited by the kubeiam CLI. Nothing above low, per cloud; and
the same audit does report a problem put into the chart or into the identity it runs as."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("helm_python", reason="helm-python-sdk has no wheel for this platform (Intel macOS)")

from helm_render import REPO, objects, pod_spec, render

sys.path.insert(0, str(REPO / "tests" / "kubernetes"))
from takeover_evidence import default_items  # the real bootstrap policy (fixtures/kubernetes/rbac)

ACCOUNT = "111122223333"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
HOST = ISSUER.removeprefix("https://")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/kubeiam-reader"
READ_ONLY_POLICY = REPO / "providers" / "kubeiam_aws" / "data" / "kubeiam-readonly-policy.json"
ABOVE_LOW = {"critical", "high", "medium"}
CLUSTER = "prod"


def _job_and_pod(cronjob: dict[str, Any]) -> list[dict[str, Any]]:
    """What the CronJob controller creates: a Job owned by the CronJob, and its Pod owned by the Job."""
    ns, name = cronjob["metadata"]["namespace"], cronjob["metadata"]["name"]
    job_name = f"{name}-29400000"
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"]["spec"]["template"])
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name,
            "namespace": ns,
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": name, "uid": "c-1", "controller": True}
            ],
        },
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job_name}-x7k2p",
            "namespace": ns,
            "labels": {**template["metadata"]["labels"], "batch.kubernetes.io/job-name": job_name},
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": job_name, "uid": "j-1", "controller": True}
            ],
        },
        "spec": template["spec"],
        "status": {"phase": "Running"},
    }
    return [job, pod]


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def chart_evidence(root: Path, values: dict[str, Any]) -> Path:
    """The chart rendered with these values, installed in namespace kubeiam, as kubeiam's evidence."""
    rendered = objects(render(values))
    cronjob = next(o for o in rendered if o["kind"] == "CronJob")
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "kubeiam",
            "labels": {"kubernetes.io/metadata.name": "kubeiam", "pod-security.kubernetes.io/enforce": "restricted"},
        },
    }
    rbac_kinds = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
    items = [namespace, *(o for o in rendered if o["kind"] not in rbac_kinds), *_job_and_pod(cronjob)]
    base = root / "kubernetes" / CLUSTER
    _write(
        base / "resources.json",
        {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items},
    )
    # The cluster's RBAC: the bootstrap policy every cluster has, plus the chart's own ClusterRole and binding.
    rbac = [*default_items(), *(o for o in rendered if o["kind"] in rbac_kinds)]
    _write(base / "rbac.json", {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": rbac})
    _write(base / "openid-configuration.json", {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/keys"})
    return root


def aws_identity(root: Path, policy: dict[str, Any]) -> None:
    """The IAM role the chart's IRSA annotation names, trusting exactly the chart's ServiceAccount."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{HOST}:aud": "sts.amazonaws.com",
                        f"{HOST}:sub": "system:serviceaccount:kubeiam:kubeiam",
                    }
                },
            }
        ],
    }
    role = {
        "Path": "/",
        "RoleName": "kubeiam-reader",
        "RoleId": "AROAKUBEIAMREADER0001",
        "Arn": ROLE_ARN,
        "CreateDate": "2024-05-02T10:00:00+00:00",
        "AssumeRolePolicyDocument": trust,
        "InstanceProfileList": [],
        "RolePolicyList": [{"PolicyName": "kubeiam-readonly", "PolicyDocument": policy}],
        "AttachedManagedPolicies": [],
        "Tags": [],
        "RoleLastUsed": {},
    }
    _write(
        root / "aws" / ACCOUNT / "iam.json",
        {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [role], "Policies": []},
    )
    _write(
        root / "aws" / ACCOUNT / "oidc-providers.json",
        {
            "OpenIDConnectProviderList": [
                {
                    "Arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}",
                    "Url": HOST,
                    "ClientIDList": ["sts.amazonaws.com"],
                    "ThumbprintList": [],
                }
            ]
        },
    )


def audit(evidence: Path) -> dict[str, Any]:
    kubeiam = Path(sys.executable).with_name("kubeiam")
    done = subprocess.run(
        [str(kubeiam), "audit", "--evidence", str(evidence), "--format", "json", "--quiet", "--fail-on", "critical"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _above_low(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["rule_id"], f["severity"], f["title"]) for f in report["findings"] if f["severity"] in ABOVE_LOW]


def test_the_chart_on_aws_with_the_documented_policy_is_nothing_above_low(tmp_path):
    evidence = chart_evidence(tmp_path, {"workloadIdentity": {"aws": {"roleArn": ROLE_ARN}}})
    aws_identity(evidence, json.loads(READ_ONLY_POLICY.read_text()))
    report = audit(evidence)
    # kubeiam saw the chart's ServiceAccount, its pod (owned by the CronJob) and followed IRSA to the role.
    (cluster,) = report["coverage"]["clusters"]
    assert (cluster["service_accounts"], cluster["workloads"]) == (1, 1)
    assert report["coverage"]["identities"]["aws"]["resolved"] == 1
    assert _above_low(report) == []


def test_the_same_audit_reports_the_role_given_one_broad_grant_more(tmp_path):
    policy = json.loads(READ_ONLY_POLICY.read_text())
    policy["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    evidence = chart_evidence(tmp_path, {"workloadIdentity": {"aws": {"roleArn": ROLE_ARN}}})
    aws_identity(evidence, policy)
    found = {(f["rule_id"], f["namespace"], f["service_account"]) for f in audit(evidence)["findings"]}
    assert ("AWS-015", "kubeiam", "kubeiam") in found


@pytest.mark.parametrize(
    ("values", "cloud"),
    [
        ({"workloadIdentity": {"gcp": {"serviceAccount": "kubeiam-reader@acme-data.iam.gserviceaccount.com"}}}, "gcp"),
        ({"workloadIdentity": {"azure": {"clientId": "6f1f2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"}}}, "azure"),
        ({}, None),
    ],
)
def test_the_chart_alone_is_nothing_above_low_on_every_cloud(tmp_path, values, cloud):
    report = audit(chart_evidence(tmp_path, values))
    assert _above_low(report) == []
    assert report["coverage"]["service_accounts"]["with_cloud_identity"] == (1 if cloud else 0)
    if cloud:
        # Without that cloud's files the identity is unchecked: listed, never counted clean.
        assert report["coverage"]["identities"][cloud]["unchecked"] == 1


def test_the_charts_own_rbac_lets_nobody_unexpected_become_its_service_account(tmp_path):
    evidence = chart_evidence(tmp_path, {"workloadIdentity": {"aws": {"roleArn": ROLE_ARN}}})
    aws_identity(evidence, json.loads(READ_ONLY_POLICY.read_text()))
    report = audit(evidence)
    rendered = json.loads((evidence / "kubernetes" / CLUSTER / "rbac.json").read_text())["items"]
    assert {"ClusterRole", "ClusterRoleBinding"} <= {o["kind"] for o in rendered}  # the chart's RBAC was audited
    assert not [e for e in report["coverage"]["errors"] if "K8S-006" in (e.get("rules") or [])]
    assert [f for f in report["findings"] if f["rule_id"] == "K8S-006"] == []


def test_the_same_audit_reports_an_edit_binding_in_the_charts_namespace(tmp_path):
    evidence = chart_evidence(tmp_path, {"workloadIdentity": {"aws": {"roleArn": ROLE_ARN}}})
    aws_identity(evidence, json.loads(READ_ONLY_POLICY.read_text()))
    path = evidence / "kubernetes" / CLUSTER / "rbac.json"
    doc = json.loads(path.read_text())
    doc["items"].append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "dev-edit", "namespace": "kubeiam"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dev@example.com"}],
        }
    )
    _write(path, doc)
    found = {(f["rule_id"], f["service_account"], f["evidence"].get("subject")) for f in audit(evidence)["findings"]}
    assert ("K8S-006", "kubeiam", "user:dev@example.com") in found


def test_the_same_audit_reports_a_misspelled_annotation_in_the_chart(tmp_path):
    values = {"serviceAccount": {"annotations": {"eks.amazonaws.com/role_arn": ROLE_ARN}}}
    found = {(f["rule_id"], f["service_account"]) for f in audit(chart_evidence(tmp_path, values))["findings"]}
    assert ("K8S-002", "kubeiam") in found


def test_the_pod_in_the_evidence_is_the_charts_own(tmp_path):
    resources = json.loads((chart_evidence(tmp_path, {}) / "kubernetes" / CLUSTER / "resources.json").read_text())
    pods = [o for o in resources["items"] if o["kind"] == "Pod"]
    cronjob = next(o for o in resources["items"] if o["kind"] == "CronJob")
    assert [p["spec"] for p in pods] == [pod_spec(cronjob)]
