"""The one redaction: credential shapes blanked wherever they appear, names and shapes kept, and nothing a
reader needs (ARNs, e-mails, GUIDs, annotation keys, key-file paths, policy names and conditions) touched."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from safety_helpers import DEMO, REPO

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.quarterly.stages import Stages
from kubeiam.render.redacted import redacted_report
from kubeiam.safety.redaction import REDACTED, is_secret_name, redact_text, redacted

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YTpiIn0.c2lnbmF0dXJlLXBhcnQtb25l"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc=\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("key AKIAIOSFODNN7EXAMPLE in use", "IOSFODNN7EXAMPLE", "AKIA"),
        ("ASIAXYZXYZXYZXYZ1234", "XYZXYZXYZXYZ1234", "ASIA"),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI", ""),
        (f"Authorization: Bearer {JWT}", "eyJhbGci", "Bearer"),
        (PEM, "MIIEowIBAAKCAQEA7", "-----BEGIN RSA PRIVATE KEY-----"),
        ('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEv"}', "MIIEv", "private_key"),
        ('{\\"client_secret\\": \\"s3cr3t-value\\"}', "s3cr3t-value", "client_secret"),
        ("postgres://admin:hunter2@db.internal:5432/app", "hunter2", "postgres://admin:"),
        ("https://user:p%40ss@example.com/x", "p%40ss", "@example.com/x"),
        ("--db-password=hunter2", "hunter2", "--db-password="),
        ("app --aws-secret-access-key hunter2 --region eu-west-1", "hunter2", "--region eu-west-1"),
        ("rotated; password=hunter2 user=app", "hunter2", "user=app"),
        ("Server=db;User Id=app;Password=hunter2;", "hunter2", "User Id=app"),
        ("https://x.blob.core.windows.net/c?sv=2020&sig=abcDEF123%2F&se=1", "abcDEF123", "sv=2020"),
        ("password: hunter2", "hunter2", "password:"),
        ("api_key='hunter2'", "hunter2", "api_key='"),
        ("Ab18Q~abcdefghijklmnopqrstuvwxyz0123456", "abcdefghijk", ""),
        ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "SyA1234567890", ""),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnop", ""),
        ("ya29.a0AfH6SMBx1234567890abcdefghij", "a0AfH6SMBx", ""),
    ],
)  # fmt: skip
def test_credential_shapes_are_blanked(text: str, gone: str, kept: str) -> None:
    out = redact_text(text)
    assert gone not in out and REDACTED in out
    assert kept in out
    assert redact_text(out) == out  # blanking twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "arn:aws:iam::111122223333:role/payments-api",
        "arn:aws:iam::aws:policy/AmazonEBSCSIDriverEKSClusterScopedPolicy",
        "AWSEC2CapacityReservationFleetRolePolicy",  # 40 characters of policy name, not a secret key
        "bq-loader@acme-data.iam.gserviceaccount.com",
        "serviceAccount:acme-data.svc.id.goog[analytics/bq-loader]",
        "11111111-2222-4333-8444-555555555555",
        "/subscriptions/8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f/resourceGroups/rg/providers/x/y",
        "eks.amazonaws.com/role-arn",
        "azure.workload.identity/service-account-token-expiration=3600",
        "GOOGLE_APPLICATION_CREDENTIALS=/var/secrets/google/key.json",
        "secretsmanager:GetSecretValue",
        "iam:CreateAccessKey on arn:aws:iam::1:user/x",
        "Role binding is broken: the ServiceAccount falls back to other credentials: role does not exist",
        "container.serviceAccounts.createToken = create serviceaccounts/token",
        "ExpiredToken: The security token included in the request is expired",
        "projects/acme-data/serviceAccounts/x@y.iam.gserviceaccount.com/keys/0101010101010101010101010101010101010101",
        "v1:0123456789abcdef0123456789abcdef",
        "2073fa52ac008a45477aa0b1b4580cd99135bf60",
        "https://oidc.eks.eu-west-1.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90",
        "system:serviceaccount:payments:api",
        "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----",
        "AROA0000000000000000F",
    ],
)
def test_what_readers_need_is_kept(text: str) -> None:
    assert redact_text(text) is text


def test_secret_names_end_in_a_secret_term() -> None:
    secret = [
        "DB_PASSWORD",
        "clientSecret",
        "example.com/api-token",
        "--aws-secret-access-key",
        "UserData",
        "privateKeyData",
        "adminPassword",
        "clientKey",
        "AWS_ACCESS_KEY_ID",
        "password",
        "connectionString",
    ]
    named = [
        "secretName",
        "secretKeyRef",
        "eks.amazonaws.com/token-expiration",
        "PasswordLastUsed",
        "NextToken",
        "nextPageToken",
        "privateKeyType",
        "keyAlgorithm",
        "tokenExpirationSeconds",
    ]
    assert [n for n in secret if not is_secret_name(n)] == []
    assert [n for n in named if is_secret_name(n)] == []


def _pod() -> dict:
    key_file = json.dumps({"type": "service_account", "private_key": PEM})
    return {
        "kind": "Pod",
        "metadata": {
            "name": "api",
            "labels": {"app": "api", "api-token": "tok-1"},
            "annotations": {
                "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r",
                "eks.amazonaws.com/token-expiration": "86400",
                "example.com/notes": "password=hunter2",
                "example.com/config": json.dumps({"db": {"password": "hunter3"}}),
            },
        },
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "args": ["--db-password=hunter4", "--api-token", "hunter5", "--verbose", "--level", "debug"],
                    "command": ["sh", "-c", "app --password hunter6"],
                    "env": [
                        {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/var/secrets/google/key.json"},
                        {"name": "APP_MODE", "value": "AKIAIOSFODNN7EXAMPLE"},
                        {"name": "APP_KEY", "value": base64.b64encode(key_file.encode()).decode()},
                        {"name": "LOG_LEVEL", "value": "debug"},
                        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
                    ],
                }
            ],
            "volumes": [{"name": "v", "secret": {"secretName": "google-key"}}],
        },
    }


def test_structures_keep_their_names_keys_and_shape() -> None:
    pod = _pod()
    before = copy.deepcopy(pod)
    out = redacted(pod)
    assert pod == before  # the input is never changed
    text = json.dumps(out)
    for value in ("tok-1", "hunter2", "hunter3", "hunter4", "hunter5", "hunter6", "IOSFODNN7EXAMPLE", "MIIEow"):
        assert value not in text, value
    container = out["spec"]["containers"][0]
    assert container["args"] == ["--db-password=" + REDACTED, "--api-token", REDACTED, "--verbose", "--level", "debug"]
    env = {e["name"]: e for e in container["env"]}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"]["value"] == "/var/secrets/google/key.json"
    assert env["APP_KEY"]["value"] == REDACTED  # base64 of a key file
    assert env["LOG_LEVEL"]["value"] == "debug"
    assert env["TOKEN"] == before["spec"]["containers"][0]["env"][4]
    annotations = out["metadata"]["annotations"]
    assert set(annotations) == set(before["metadata"]["annotations"])
    assert annotations["eks.amazonaws.com/role-arn"] == "arn:aws:iam::1:role/r"
    assert annotations["eks.amazonaws.com/token-expiration"] == "86400"
    assert json.loads(annotations["example.com/config"]) == {"db": {"password": REDACTED}}  # still JSON
    assert out["spec"]["volumes"] == before["spec"]["volumes"]
    assert redacted(out) is out  # nothing left to blank: the same object back


def test_tags_secrets_and_conditions() -> None:
    doc = {
        "Tags": [{"Key": "password", "Value": "hunter2"}, {"Key": "team", "Value": "payments"}],
        "tags": {"client-secret": "hunter3", "env": "prod"},
        "secret": {"kind": "Secret", "data": {"a": "aHVudGVy"}, "stringData": {"b": "hunter4"}},
        "Statement": [{"Condition": {"StringEquals": {"aws:ResourceTag/token": "prod", "kms:Context:secret": "x"}}}],
        "keys": [{"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE", "privateKeyData": "ZXhhbXBsZQ=="}],
        "NextToken": "AQICAHh...==",
    }  # fmt: skip
    doc["secret"] = {"kind": "Secret", "data": {"a": "aHVudGVy"}, "stringData": {"b": "hunter4"}}
    out = redacted(doc)
    assert out["Tags"] == [{"Key": "password", "Value": REDACTED}, {"Key": "team", "Value": "payments"}]
    assert out["tags"] == {"client-secret": REDACTED, "env": "prod"}
    assert out["secret"]["data"] == {"a": ""} and out["secret"]["stringData"] == {"b": ""}
    assert out["Statement"] is doc["Statement"]  # a policy keeps its conditions
    assert out["keys"][0] == {"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE", "privateKeyData": REDACTED}
    assert out["NextToken"] == doc["NextToken"]  # a paging cursor: readers need it


def test_nothing_in_the_demo_or_a_rule_fixture_is_taken_for_a_secret_but_its_planted_key() -> None:
    """Every evidence file of the repository redacts to itself, except the literal credentials planted on
    purpose (static-credential rules and live-collection fixtures): no false positive on real-looking data."""
    planted_on_purpose = ("K8S-001", "live-eks-karpenter", "fixtures/secrets", "fixtures/aws/live", "fixtures/gcp/live")
    # AWS's documented example key id (AKIAIOSFODNN7EXAMPLE) in an Access Analyzer unused-key finding sample.
    planted_on_purpose += ("fixtures/aws/usage/accessanalyzer-get-finding-v2.unused",)
    changed = []
    for path in sorted((REPO / "fixtures").rglob("*.json")):
        if any(part in path.as_posix() for part in planted_on_purpose):
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            continue
        if redacted(doc) is not doc:
            changed.append(path.relative_to(REPO).as_posix())
    assert changed == ["fixtures/demo/kubernetes/eks-prod/resources.json"]  # its AKIA... under an innocent name


def test_a_report_without_secrets_is_left_as_it_is() -> None:
    report = audit(Evidence(DEMO), providers=load_providers(), stages=Stages(now=datetime.now(UTC)))
    assert report.findings
    assert redacted_report(report) is report


def test_a_report_quoting_a_secret_is_blanked_everywhere(tmp_path: Path) -> None:
    report = audit(Evidence(DEMO), providers=load_providers(), stages=Stages(now=datetime.now(UTC)))
    from dataclasses import replace

    first = report.findings[0]
    leaky = replace(first, title=first.title + " password=hunter2", evidence={**first.evidence, "note": JWT})
    coverage = {**report.coverage, "errors": [{"source": "aws", "location": "x", "reason": "postgres://a:hunter3@h"}]}
    clean = redacted_report(replace(report, findings=(leaky, *report.findings[1:]), coverage=coverage))
    text = json.dumps(clean.to_dict())
    assert "hunter2" not in text and "hunter3" not in text and JWT not in text
    assert clean.findings[1:] == report.findings[1:] and clean.findings[1] is report.findings[1]
    assert clean.findings[0].fingerprint == first.fingerprint
