"""Issue 15, item 12 (AWS part): the SDK's other ways to a static key count for K8S-001: a shared credentials or
config file from a Secret, a session token, the legacy variable names the Java SDK still reads."""

from __future__ import annotations

from typing import Any

import pytest
from aws_evidence import cluster, service_account

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers


def _pod(env: list[dict[str, Any]], *, mounted: bool = True) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "app:1", "env": env}
    spec: dict[str, Any] = {"serviceAccountName": "app", "containers": [container]}
    if mounted:
        container["volumeMounts"] = [{"name": "aws", "mountPath": "/var/run/aws", "readOnly": True}]
        spec["volumes"] = [{"name": "aws", "secret": {"secretName": "aws-credentials"}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app-1", "namespace": "apps"}, "spec": spec}


def _k8s001(tmp_path, pod: dict[str, Any]) -> list:
    cluster(tmp_path, [service_account("apps", "app"), pod])
    return [f for f in audit(Evidence(tmp_path), providers=load_providers()).findings if f.rule_id == "K8S-001"]


@pytest.mark.parametrize("variable", ["AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"])
def test_a_credentials_file_from_a_secret_is_a_static_key(tmp_path, variable):
    (finding,) = _k8s001(tmp_path, _pod([{"name": variable, "value": "/var/run/aws/credentials"}]))
    assert finding.cloud == "aws"
    (var,) = finding.evidence["variables"]
    assert (var["name"], var["source"]) == (variable, "mounted-file")
    assert var["reference"] == "secret/aws-credentials at /var/run/aws/credentials"


def test_a_credentials_file_path_without_a_secret_behind_it_is_not(tmp_path):
    assert _k8s001(tmp_path, _pod([{"name": "AWS_CONFIG_FILE", "value": "/etc/aws/config"}], mounted=False)) == []


@pytest.mark.parametrize("variable", ["AWS_SESSION_TOKEN", "AWS_SECRET_KEY", "AWS_ACCESS_KEY"])
def test_the_other_key_variables_are_static_keys(tmp_path, variable):
    ref = {"name": variable, "valueFrom": {"secretKeyRef": {"name": "aws-keys", "key": "k"}}}
    (finding,) = _k8s001(tmp_path, _pod([ref], mounted=False))
    assert finding.cloud == "aws" and finding.evidence["variables"][0]["name"] == variable
