"""Issue 15, item 12 (Azure part): the Azure credential variables K8S-001 looks for.

Before: only AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PASSWORD; a service principal's certificate
mounted from a Secret (AZURE_CLIENT_CERTIFICATE_PATH), a user's password (AZURE_PASSWORD), a storage account
key and Terraform's ARM_* variables were not seen.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure_builder import Scenario

CERT_DIR = "/var/run/secrets/azure"


def _pod(env: list[dict[str, Any]], *, secret_volume: bool = True, env_from: str | None = None) -> Scenario:
    s = Scenario().managed_cluster()
    s.objects.append(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "legacy", "namespace": "tools"}}
    )
    container: dict[str, Any] = {"name": "app", "image": "example/app:1", "env": env}
    spec: dict[str, Any] = {"serviceAccountName": "legacy", "nodeName": s.nodes[0], "containers": [container]}
    if secret_volume:
        container["volumeMounts"] = [{"name": "sp-cert", "mountPath": CERT_DIR, "readOnly": True}]
        spec["volumes"] = [{"name": "sp-cert", "secret": {"secretName": "sp-cert"}}]
    if env_from:
        container["envFrom"] = [{"secretRef": {"name": env_from}}]
        s.objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": env_from, "namespace": "tools"},
                "data": {"ARM_CLIENT_SECRET": "", "ARM_CLIENT_ID": ""},
            }
        )
    s.objects.append(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "legacy-0", "namespace": "tools"}, "spec": spec}
    )
    return s


def _k8s001(report):
    return [f for f in report.findings if f.rule_id == "K8S-001"]


def test_a_certificate_path_into_a_secret_volume_is_a_static_credential(audit_of):
    env = [
        {"name": "AZURE_CLIENT_ID", "value": "10000000-0000-4000-8000-000000000009"},
        {"name": "AZURE_CLIENT_CERTIFICATE_PATH", "value": f"{CERT_DIR}/cert.pem"},
    ]
    (finding,) = _k8s001(audit_of(_pod(env)))
    assert finding.cloud == "azure"
    (var,) = finding.evidence["variables"]
    assert var["name"] == "AZURE_CLIENT_CERTIFICATE_PATH" and var["source"] == "mounted-file"
    assert var["reference"].startswith("secret/sp-cert")


def test_a_certificate_path_without_a_secret_is_a_path_not_a_credential(audit_of):
    env = [{"name": "AZURE_CLIENT_CERTIFICATE_PATH", "value": "/etc/ssl/cert.pem"}]
    assert _k8s001(audit_of(_pod(env, secret_volume=False))) == []


@pytest.mark.parametrize("variable", ["AZURE_PASSWORD", "AZURE_STORAGE_KEY", "ARM_CLIENT_SECRET", "ARM_ACCESS_KEY"])
def test_secret_valued_variables(audit_of, variable):
    env = [{"name": variable, "valueFrom": {"secretKeyRef": {"name": "creds", "key": "value"}}}]
    (finding,) = _k8s001(audit_of(_pod(env, secret_volume=False)))
    assert finding.cloud == "azure" and finding.evidence["variables"][0]["name"] == variable


def test_a_whole_secret_loaded_with_env_from(audit_of):
    (finding,) = _k8s001(audit_of(_pod([], secret_volume=False, env_from="terraform-sp")))
    assert [v["name"] for v in finding.evidence["variables"]] == ["ARM_CLIENT_SECRET"]
