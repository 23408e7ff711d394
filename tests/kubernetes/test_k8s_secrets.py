"""Static-credential findings never carry the secret: planted values appear in no output and no evidence."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from kubeiam_kubernetes.live.sanitize import as_kubectl_item

from kubeiam.safety.redaction import REDACTED, is_secret_variable

REPO = Path(__file__).resolve().parents[2]
KARPENTER = REPO / "fixtures" / "kubernetes" / "live-eks-karpenter"


def _planted() -> list[str]:
    """Every distinctive value planted in the fixture (env literals, last-applied manifest, Secret data)."""
    text = (KARPENTER / "resources.json").read_text()
    values = set(re.findall(r"PLANTED-[A-Za-z0-9/+-]+|AKIAPLANTED\w+", text))
    doc = json.loads(text)
    values |= {v for i in doc["items"] if i["kind"] == "Secret" for v in i["data"].values()}
    assert len(values) >= 5, values  # the fixture really plants them
    return sorted(values)


def _assert_absent(text: str, where: str) -> None:
    leaked = [v for v in _planted() if v in text or v.split("/")[0] in text]
    assert not leaked, f"{where} leaks {leaked}"


def test_no_output_format_contains_planted_values(kubeiam_cli, tmp_path):
    from kubeiam.render import Format  # every format the CLI offers, today and later

    shutil.copytree(KARPENTER, tmp_path / "ev" / "kubernetes" / "prod")
    formats = [f.value for f in Format]
    assert {"json", "table", "graph"} <= set(formats)
    report = kubeiam_cli("audit", "--evidence", str(tmp_path / "ev"), "--format", "json").json()
    holders = {(f["namespace"], f["service_account"]) for f in report["findings"] if f["rule_id"] == "K8S-001"}
    assert holders
    for fmt in formats:
        out = tmp_path / f"report.{fmt}"
        result = kubeiam_cli("audit", "--evidence", str(tmp_path / "ev"), "--format", fmt, "--output", str(out))
        assert result.code == 1, (fmt, result.err)
        text = out.read_text()
        if fmt == "graph":
            # The identity graph holds no rules, only the ServiceAccounts of the findings: the holders are there.
            assert all(f"serviceaccount:{ns}/{name}" in text for ns, name in holders), fmt
        else:
            assert "K8S-001" in text or "Static cloud credentials" in text, fmt  # the credentials were found...
        _assert_absent(text + result.out + result.err, f"--format {fmt}")  # ...and their values not shown


def test_static_credential_finding_names_the_variables_not_the_values(kubeiam_cli, tmp_path):
    shutil.copytree(KARPENTER, tmp_path / "ev" / "kubernetes" / "prod")
    report = kubeiam_cli("audit", "--evidence", str(tmp_path / "ev"), "--format", "json").json()
    creds = [f for f in report["findings"] if f["rule_id"] == "K8S-001"]
    by_workload = {f["evidence"]["workload"]: f for f in creds}
    assert set(by_workload) == {"Deployment/web", "Pod/debug", "CronJob/report"}
    web = by_workload["Deployment/web"]["evidence"]["variables"]
    assert {(v["name"], v["source"], v["reference"]) for v in web} == {
        ("AWS_ACCESS_KEY_ID", "literal", None),
        ("AWS_SECRET_ACCESS_KEY", "literal", None),
    }
    report_refs = {v["reference"] for v in by_workload["CronJob/report"]["evidence"]["variables"]}
    assert report_refs == {"secret/reporter-aws:secret", "secret/reporter-aws:id"}


def test_live_collection_writes_no_planted_value(kube_api, kubeiam_cli, tmp_path):
    api = kube_api(KARPENTER)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="prod")

    result = kubeiam_cli("audit", "--kubeconfig", str(kubeconfig), "--format", "json", "--keep-evidence",
                         str(tmp_path / "ev"))  # fmt: skip

    assert result.code == 1, result.err
    evidence = "".join(p.read_text() for p in sorted((tmp_path / "ev").rglob("*")) if p.is_file())
    _assert_absent(evidence, "collected evidence")
    _assert_absent(result.out + result.err, "live report")
    assert REDACTED in evidence  # redacted, not dropped: the reader still sees a literal credential
    assert not any("secret" in p.lower() for p in api.paths())  # Secrets are never even requested
    found = {f["evidence"]["workload"] for f in result.json()["findings"] if f["rule_id"] == "K8S-001"}
    assert found == {"Deployment/web", "Pod/debug", "CronJob/report"}


def test_sanitize_keeps_what_the_reader_needs():
    pod = {
        "metadata": {"name": "p", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{..}", "a": "b"},
                     "managedFields": [{"manager": "x"}]},
        "spec": {"containers": [{"name": "c", "env": [
            {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/var/secrets/google/key.json"},
            {"name": "AWS_SESSION_TOKEN", "value": "tok"},
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "AZURE_CLIENT_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ]}]},
    }  # fmt: skip
    item = as_kubectl_item(pod, "Pod", "v1")
    env = {e["name"]: e for e in item["spec"]["containers"][0]["env"]}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"]["value"] == "/var/secrets/google/key.json"  # a path, kept
    assert env["AWS_SESSION_TOKEN"]["value"] == REDACTED
    assert env["LOG_LEVEL"]["value"] == "debug"
    assert env["AZURE_CLIENT_SECRET"] == pod["spec"]["containers"][0]["env"][3]
    assert item["metadata"] == {"name": "p", "annotations": {"a": "b"}}
    assert list(item)[:2] == ["apiVersion", "kind"]
    assert pod["spec"]["containers"][0]["env"][1]["value"] == "tok"  # the input is not mutated


INLINE_KEY = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----..."}'


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [("AWS_SECRET_ACCESS_KEY", "wJalr", True), ("AWS_ACCESS_KEY_ID", "AKIA", True), ("AZURE_CLIENT_SECRET", "s", True),
     ("DB_PASSWORD", "p", True), ("GITHUB_TOKEN", "ghp", True),
     ("GOOGLE_APPLICATION_CREDENTIALS", "/var/secrets/google/key.json", False),  # a path to a key file: kept
     ("GOOGLE_APPLICATION_CREDENTIALS", INLINE_KEY, True),  # the key itself, pasted inline: redacted
     ("AWS_SHARED_CREDENTIALS_FILE", "/home/app/.aws/credentials", False),
     ("AWS_SECRET_ACCESS_KEY", "/looks/like/a/path", True),  # only a variable naming a file may hold a path
     ("AWS_REGION", "eu-west-1", False), ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000", False)],
)  # fmt: skip
def test_which_variables_are_redacted(name, value, secret):
    assert is_secret_variable(name, value) is secret


def test_an_inline_key_in_a_file_variable_is_redacted_by_collection():
    env = [{"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": INLINE_KEY}]
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "env": env}]}}
    item = as_kubectl_item(pod, "Pod", "v1")
    assert item["spec"]["containers"][0]["env"] == [{"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": REDACTED}]


def test_collection_blanks_args_command_annotations_and_innocent_names():
    pod = {
        "metadata": {"name": "p", "labels": {"app": "p", "api-token": "PLANTED-label"},
                     "annotations": {"example.com/notes": "password=PLANTED-note",
                                     "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/r"}},
        "spec": {"containers": [{
            "name": "c",
            "args": ["--db-password=PLANTED-arg", "--aws-secret-access-key", "PLANTED-next", "--region", "eu-west-1"],
            "command": ["sh", "-c", "run --token PLANTED-cmd"],
            "env": [{"name": "APP_MODE", "value": "AKIAPLANTEDXXXX00001"},
                    {"name": "DATABASE_URL", "value": "postgres://admin:PLANTED-url@db:5432/x"}],
        }]},
    }  # fmt: skip
    before = json.dumps(pod)
    item = as_kubectl_item(pod, "Pod", "v1")
    text = json.dumps(item)
    assert "PLANTED" not in text
    assert json.dumps(pod) == before  # the API object is not changed
    container = item["spec"]["containers"][0]
    assert container["args"] == [
        "--db-password=" + REDACTED,
        "--aws-secret-access-key",
        REDACTED,
        "--region",
        "eu-west-1",
    ]
    assert item["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == "arn:aws:iam::111122223333:role/r"
    assert item["metadata"]["labels"] == {"app": "p", "api-token": REDACTED}
    assert container["env"][1]["value"].startswith("postgres://admin:")


def test_metadata_only_kinds_keep_no_template_and_blank_their_metadata():
    env = [{"name": "X_TOKEN", "value": "PLANTED"}]
    rs = {"metadata": {"name": "rs", "annotations": {"example.com/db-password": "PLANTED"}},
          "spec": {"template": {"spec": {"containers": [{"env": env}]}}}}  # fmt: skip
    item = as_kubectl_item(rs, "ReplicaSet", "apps/v1")
    assert set(item) == {"apiVersion", "kind", "metadata"}
    assert item["metadata"]["annotations"] == {"example.com/db-password": REDACTED}
