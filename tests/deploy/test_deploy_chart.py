"""The Helm chart, rendered by Helm's own engine: valid Kubernetes objects, the documented read-only
RBAC, the restricted pod security profile, workload identity per cloud, a NetworkPolicy that keeps the
pod off instance metadata, and arguments the kubeiam CLI accepts."""

from __future__ import annotations

import copy
import ipaddress
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk has no wheel for this platform (Intel macOS)")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

from helm_render import CHART, REPO, by_kind, objects, pod_spec, render  # noqa: E402

ROLE_ARN = "arn:aws:iam::111122223333:role/kubeiam-reader"
GSA = "kubeiam-reader@acme-data.iam.gserviceaccount.com"
CLIENT_ID = "6f1f2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

# Value sets that exercise every branch of the templates.
VALUES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "aws-irsa": {"workloadIdentity": {"aws": {"roleArn": ROLE_ARN}}, "clusterName": "eks-prod"},
    "aws-pod-identity": {"workloadIdentity": {"aws": {"podIdentity": True}}},
    "gcp-gsa": {"workloadIdentity": {"gcp": {"serviceAccount": GSA}}},
    "gcp-federation": {"workloadIdentity": {"gcp": {"federation": True}}},
    "azure": {"workloadIdentity": {"azure": {"clientId": CLIENT_ID, "tenantId": TENANT_ID}}},
    "everything": {
        "image": {"repository": "registry.example.com/sec/kubeiam", "digest": "sha256:" + "ab" * 32},
        "imagePullSecrets": [{"name": "registry"}],
        "clusterName": "prod-eu",
        "schedule": "30 2 * * 1",
        "timeZone": "Europe/Paris",
        "audit": {
            "failOn": "critical",
            "logFormat": "markdown",
            "strict": True,
            "clouds": ["aws"],
            "suppressions": [
                {
                    "rule": "K8S-004",
                    "subject": "monitoring/*",
                    "reason": "node-exporter needs the host network",
                    "owner": "sre",
                    "expires": "2027-01-31",
                }
            ],
            "extraArgs": ["--aws-region", "eu-west-1"],
        },
        "workloadIdentity": {"aws": {"roleArn": ROLE_ARN, "podIdentity": True}},
        "serviceAccount": {"annotations": {"team": "security"}},
        "reports": {"persistence": {"storageClassName": "gp3", "size": "10Gi"}},
        "podLabels": {"team": "security"},
        "podAnnotations": {"example.com/owner": "security"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "tools", "effect": "NoSchedule"}],
        "priorityClassName": "low",
        "networkPolicy": {
            "apiServer": {"cidrs": ["10.0.0.10/32"]},
            "extraEgress": [
                {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 8443}]}
            ],
        },
    },
    "existing-claim": {"reports": {"persistence": {"existingClaim": "audit-reports"}}},
    "no-persistence-no-policy-no-rbac": {
        "reports": {"persistence": {"enabled": False}},
        "networkPolicy": {"enabled": False},
        "rbac": {"create": False},
        "serviceAccount": {"create": False, "name": "auditor"},
    },
}

# The oldest API the chart supports (Chart.yaml kubeVersion) and the newest schema bundled.
KUBE_VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {name: render(values) for name, values in VALUES.items()}


def _documented_cluster_role() -> dict[str, Any]:
    block = re.search(r"```yaml\n(.*?)```", (REPO / "docs" / "kubernetes.md").read_text(), re.S)
    assert block, "docs/kubernetes.md has no yaml block"
    return next(d for d in yaml.safe_load_all(block.group(1)) if d["kind"] == "ClusterRole")


def _container(manifest: str) -> dict[str, Any]:
    (container,) = pod_spec(by_kind(manifest)["CronJob"])["containers"]
    return container


# --- valid objects -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", sorted(VALUES))
def test_every_rendered_object_is_valid_against_the_kubernetes_openapi_schema(rendered, case, version):
    docs = objects(rendered[case])
    assert docs
    for obj in docs:
        # strict: an unknown or misspelled field is an error, not silently dropped by the API server.
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_validation_catches_a_misspelled_field(rendered):
    cronjob = copy.deepcopy(by_kind(rendered["defaults"])["CronJob"])
    pod_spec(cronjob)["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, KUBE_VERSIONS[-1], strict=True)


def test_helm_lint_strict_has_no_warning():
    report = helm_python.lint(str(CHART), strict=True)
    assert report["errors"] == []
    # Severity 1 is information ("icon is recommended"); 2 and 3 are warnings and errors.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


# --- RBAC -----------------------------------------------------------------------------------------


def test_cluster_role_is_exactly_the_documented_read_only_role(rendered):
    role = by_kind(rendered["defaults"])["ClusterRole"]
    # docs/kubernetes.md's ClusterRole is itself checked against what the collector requests.
    assert role["rules"] == _documented_cluster_role()["rules"]
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list"}
        assert "secrets" not in rule.get("resources", []) and "*" not in rule.get("resources", [])


def test_cluster_role_is_bound_to_the_charts_service_account_only(rendered):
    objs = by_kind(render({}, release="audit", namespace="security"))
    binding, sa = objs["ClusterRoleBinding"], objs["ServiceAccount"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": objs["ClusterRole"]["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "security"}]
    assert pod_spec(objs["CronJob"])["serviceAccountName"] == sa["metadata"]["name"]
    assert {"ClusterRole", "ClusterRoleBinding"}.isdisjoint(by_kind(rendered["no-persistence-no-policy-no-rbac"]))


# --- pod security ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(VALUES))
def test_the_pod_meets_the_restricted_pod_security_standard(rendered, case):
    objs = by_kind(rendered[case])
    spec = pod_spec(objs["CronJob"])
    pod_sc, (container,) = spec["securityContext"], spec["containers"]
    sc = container["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and sc["runAsNonRoot"] is True
    assert isinstance(pod_sc["runAsUser"], int) and pod_sc["runAsUser"] > 0
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"} == sc["seccompProfile"]
    assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert spec["enableServiceLinks"] is False
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert not any("hostPath" in v for v in spec["volumes"])
    assert spec["restartPolicy"] == "Never"
    # The token is mounted for kubeiam's pods only; the ServiceAccount does not hand it to others.
    assert spec["automountServiceAccountToken"] is True
    if "ServiceAccount" in objs:
        assert objs["ServiceAccount"]["automountServiceAccountToken"] is False
    # Writable: /tmp (an emptyDir with a size limit), and the report folder.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts["/tmp"]]["emptyDir"]["sizeLimit"]
    assert {"HOME": "/tmp"}.items() <= {e["name"]: e.get("value") for e in container["env"]}.items()
    resources = container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"} and "memory" in resources["limits"]


def test_the_schema_refuses_values_that_break_the_security_profile():
    for values, field in [
        ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
        ({"securityContext": {"allowPrivilegeEscalation": True}}, "allowPrivilegeEscalation"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        ({"podSecurityContext": {"runAsUser": 0}}, "runAsUser"),
    ]:
        with pytest.raises(helm_python.HelmError, match=field):
            render(values)


# --- the CronJob ----------------------------------------------------------------------------------


def test_cronjob_runs_quarterly_one_at_a_time_by_default(rendered):
    spec = by_kind(rendered["defaults"])["CronJob"]["spec"]
    assert spec["schedule"] == "0 6 1 */3 *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    every = by_kind(rendered["everything"])["CronJob"]["spec"]
    assert every["schedule"] == "30 2 * * 1" and every["timeZone"] == "Europe/Paris"
    assert every["concurrencyPolicy"] == "Forbid"


def test_a_run_with_findings_fails_the_job_without_a_retry(rendered):
    rules = by_kind(rendered["defaults"])["CronJob"]["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    fail = [r for r in rules if r["action"] == "FailJob"]
    assert fail == [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "kubeiam", "operator": "In", "values": [1, 3]},
            "onPodConditions": [],
        }
    ]
    assert _container(rendered["defaults"])["name"] == "kubeiam"


def test_default_arguments_write_a_run_folder_on_the_reports_volume(rendered):
    container = _container(rendered["defaults"])
    assert container["args"] == ["audit", "--report-dir", "/reports", "--format", "table", "--fail-on", "high"]
    spec = pod_spec(by_kind(rendered["defaults"])["CronJob"])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volume = next(v for v in spec["volumes"] if v["name"] == mounts["/reports"])
    pvc = by_kind(rendered["defaults"])["PersistentVolumeClaim"]
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_an_existing_claim_or_no_persistence(rendered):
    existing = by_kind(rendered["existing-claim"])
    assert "PersistentVolumeClaim" not in existing
    volumes = {v["name"]: v for v in pod_spec(existing["CronJob"])["volumes"]}
    assert volumes["reports"]["persistentVolumeClaim"]["claimName"] == "audit-reports"
    plain = by_kind(rendered["no-persistence-no-policy-no-rbac"])
    assert {"PersistentVolumeClaim", "NetworkPolicy", "ServiceAccount"}.isdisjoint(plain)
    assert {v["name"]: v for v in pod_spec(plain["CronJob"])["volumes"]}["reports"] == {
        "name": "reports",
        "emptyDir": {},
    }
    assert pod_spec(plain["CronJob"])["serviceAccountName"] == "auditor"


def test_image_by_digest_wins_over_the_tag(rendered):
    assert _container(rendered["defaults"])["image"] == "kubeiam:0.1.0"  # the chart's appVersion
    assert _container(rendered["everything"])["image"] == "registry.example.com/sec/kubeiam@sha256:" + "ab" * 32


def test_the_cli_accepts_every_argument_the_chart_passes(rendered, tmp_path):
    """The CronJob's arguments, run offline against the demo evidence instead of the live cluster."""
    objs = by_kind(rendered["everything"])
    args = _container(rendered["everything"])["args"]
    suppressions = tmp_path / "suppressions.yaml"
    suppressions.write_text(objs["ConfigMap"]["data"]["suppressions.yaml"])
    assert yaml.safe_load(suppressions.read_text())["suppressions"][0]["rule"] == "K8S-004"
    args = [
        str(tmp_path / "reports") if a == "/reports" else str(suppressions) if a.endswith("suppressions.yaml") else a
        for a in args
    ]
    args = [("eks-prod" if a == "prod-eu" else a) for a in args]  # the demo's cluster, selected by name
    kubeiam = Path(sys.executable).with_name("kubeiam")
    done = subprocess.run(
        [str(kubeiam), *args, "--evidence", str(REPO / "fixtures" / "demo"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 1: the demo has critical findings (failOn critical), which is what ends the Job.
    assert done.returncode == 1, done.stderr
    (run,) = (tmp_path / "reports").iterdir()
    assert {p.name for p in run.iterdir()} >= {"evidence", "findings.json", "report.html", "summary.md"}
    assert done.stdout.startswith("#")  # --format markdown in the pod log


# --- workload identity ----------------------------------------------------------------------------

IDENTITY_CASES = {
    "defaults": ({}, {}, []),
    "aws-irsa": ({"eks.amazonaws.com/role-arn": ROLE_ARN}, {}, ["aws"]),
    "aws-pod-identity": ({}, {}, ["aws"]),
    "gcp-gsa": ({"iam.gke.io/gcp-service-account": GSA}, {}, ["gcp"]),
    "gcp-federation": ({}, {}, ["gcp"]),
    "azure": (
        {"azure.workload.identity/client-id": CLIENT_ID, "azure.workload.identity/tenant-id": TENANT_ID},
        {"azure.workload.identity/use": "true"},
        ["azure"],
    ),
}


@pytest.mark.parametrize("case", sorted(IDENTITY_CASES))
def test_workload_identity_per_cloud(rendered, case):
    annotations, pod_labels, clouds = IDENTITY_CASES[case]
    objs = by_kind(rendered[case])
    assert objs["ServiceAccount"]["metadata"].get("annotations", {}) == annotations
    labels = objs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if not k.startswith("app.kubernetes.io/")} == pod_labels
    args = _container(rendered[case])["args"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--cloud"] == clouds


def test_explicit_clouds_and_extra_annotations(rendered):
    objs = by_kind(rendered["everything"])
    assert objs["ServiceAccount"]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": ROLE_ARN,
        "team": "security",
    }
    args = _container(rendered["everything"])["args"]
    assert args[args.index("--cluster-name") + 1] == "prod-eu"
    assert args[-2:] == ["--aws-region", "eu-west-1"] and "--strict" in args


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"workloadIdentity": {"aws": {"roleArn": "kubeiam-reader"}}}, "roleArn"),
        ({"workloadIdentity": {"aws": {"roleArn": "arn:aws:iam::111122223333:user/me"}}}, "roleArn"),
        (
            {"workloadIdentity": {"gcp": {"serviceAccount": "NAME@PROJECT_ID.iam.gserviceaccount.com"}}},
            "serviceAccount",
        ),
        ({"workloadIdentity": {"azure": {"clientId": "<client-id>"}}}, "clientId"),
        ({"audit": {"reportDir": "reports"}}, "reportDir"),
        ({"audit": {"failOn": "severe"}}, "failOn"),
        ({"clusterName": "../etc"}, "clusterName"),
        ({"image": {"digest": "latest"}}, "digest"),
    ],
)
def test_the_schema_refuses_identities_that_would_bind_nothing(values, field):
    # The patterns are those kubeiam's K8S-003 applies: a value the chart accepts is well-formed there.
    with pytest.raises(helm_python.HelmError, match=field):
        render(values)


@pytest.mark.parametrize(
    "values",
    [
        {"workloadIdentity": {"aws": {"roleArn": "arn:aws-us-gov:iam::111122223333:role/path/kubeiam"}}},
        {"workloadIdentity": {"gcp": {"serviceAccount": "kubeiam@my-proj.example.com.iam.gserviceaccount.com"}}},
        {"workloadIdentity": {"gcp": {"serviceAccount": "418274159822-compute@developer.gserviceaccount.com"}}},
    ],
)
def test_the_schema_accepts_every_well_formed_identity(values):
    assert by_kind(render(values))["ServiceAccount"]["metadata"]["annotations"]


# --- network policy -------------------------------------------------------------------------------

IMDS = ipaddress.ip_address("169.254.169.254")


def _egress_to_imds(policy: dict[str, Any]) -> list[tuple[str, list[int]]]:
    """(cidr, ports) of every egress rule that lets the pod reach 169.254.169.254."""
    out = []
    for rule in policy["spec"]["egress"]:
        ports = [p["port"] for p in rule.get("ports", [])]
        peers = rule.get("to")
        assert peers, f"an egress rule to every address: {rule}"
        for peer in peers:
            block = peer.get("ipBlock")
            if not block:
                continue
            net = ipaddress.ip_network(block["cidr"])
            if IMDS in net and not any(IMDS in ipaddress.ip_network(e) for e in block.get("except", [])):
                out.append((block["cidr"], ports))
    return out


def test_default_policy_denies_ingress_and_allows_only_dns_and_https(rendered):
    policy = by_kind(rendered["defaults"])["NetworkPolicy"]
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in spec
    pod_labels = by_kind(rendered["defaults"])["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels["labels"].items()
    dns, https = spec["egress"]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    assert _egress_to_imds(policy) == []


@pytest.mark.parametrize(
    ("case", "opened"),
    [
        ("aws-irsa", []),
        ("azure", []),
        ("aws-pod-identity", []),  # 169.254.170.23 is the Pod Identity Agent, not IMDS
        ("gcp-gsa", [("169.254.169.254/32", [80])]),  # the GKE metadata server serves the GSA's tokens
        ("gcp-federation", [("169.254.169.254/32", [80])]),
    ],
)
def test_only_gke_opens_the_metadata_address(rendered, case, opened):
    policy = by_kind(rendered[case])["NetworkPolicy"]
    assert _egress_to_imds(policy) == opened
    cidrs = {p["ipBlock"]["cidr"] for r in policy["spec"]["egress"] for p in r["to"] if "ipBlock" in p}
    agent = {"169.254.170.23/32", "fd00:ec2::23/128"} & cidrs
    assert len(agent) == (2 if case == "aws-pod-identity" else 0)


def test_api_server_addresses_and_extra_rules(rendered):
    egress = by_kind(rendered["everything"])["NetworkPolicy"]["spec"]["egress"]
    api = next(r for r in egress if r["to"] == [{"ipBlock": {"cidr": "10.0.0.10/32"}}])
    assert [p["port"] for p in api["ports"]] == [443, 6443]
    assert egress[-1] == VALUES["everything"]["networkPolicy"]["extraEgress"][0]
