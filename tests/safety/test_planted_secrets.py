"""Every command that writes, run on the planted-secrets corpus: no planted value in any byte written.

fixtures/secrets/evidence is the demo with fake secrets planted in every place evidence can carry one
(planted.json lists them): env literals, also under innocent names, container args and command,
annotations and labels, JSON and base64 inside strings, Secret data, URLs with a password, EC2 and
launch-template tags, user data, GKE and AKS credentials, key files, JWTs, federated-credential
descriptions, and two identity annotations whose value a finding quotes.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from safety_helpers import EVIDENCE, Run, Written, leaks, planted

from kubeiam.render import GROUPED, Format
from kubeiam.safety.redaction import REDACTED


def assert_clean(*written: Written) -> None:
    for w in written:
        for where, data in w.every_byte():
            found = leaks(data)
            assert not found, f"`kubeiam {' '.join(w.command)}` wrote to {where}: {found}"


def test_the_corpus_plants_every_kind_of_secret() -> None:
    kinds = {p["kind"] for p in planted()}
    assert {
        "aws-key-id", "aws-secret-key", "google-key-json", "google-key-json-base64", "azure-client-secret", "jwt",
        "pem", "url-userinfo", "flag=value", "flag value", "key=value", "key: value", "secret-named-tag",
        "secret-named-label", "secret-named-annotation", "json-embedded", "secret-data", "user-data", "named-env",
    } <= kinds  # fmt: skip
    text = "".join(p.read_text() for p in EVIDENCE.rglob("*.json"))
    for p in planted():  # each value really is there, as written or base64-encoded
        if p["kind"] not in ("google-key-json", "pem"):  # those sit inside JSON text, escaped
            assert p["value"] in text or base64.b64encode(p["value"].encode()).decode() in text, p
    wheres = " ".join(p["where"] for p in planted())
    for place in (
        "innocent name",
        "args",
        "command",
        "annotation",
        "EC2 instance tag",
        "launch-template tag",
        "K8S-003",
    ):
        assert place in wheres


def test_the_leak_check_finds_what_it_looks_for() -> None:
    value = next(p["value"] for p in planted() if p["kind"] == "secret-data")
    assert leaks(f"x {value} y") and leaks(base64.b64encode(value.encode()).decode())
    assert leaks("... KubeIamFake ...")  # the marker in any case
    assert not leaks("nothing here")


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus, copied (tests below add files to it)."""
    target = tmp_path_factory.mktemp("corpus") / "evidence"
    shutil.copytree(EVIDENCE, target)
    return target


def test_audit_in_every_format_writes_no_planted_value(run: Run, copy: Path, tmp_path: Path) -> None:
    written = []
    for fmt in Format:
        written.append(run("audit", "-e", copy, "-f", fmt.value))
        out = tmp_path / f"report.{fmt.value}"
        written.append(run("audit", "-e", copy, "-f", fmt.value, "--output", out, watch=[out]))
    for fmt in GROUPED:
        written.append(run("audit", "-e", copy, "-f", fmt.value, "--group-by", "service-account"))
    for w in written:
        assert w.code == 1, (w.command, w.err)  # findings: the corpus was audited, not refused
    assert_clean(*written)
    report = json.loads(written[2].out)  # --format json
    found = {(f["rule_id"], f.get("service_account")) for f in report["findings"]}
    # The planted literals are judged (named, never shown), and the values findings quote are blanked.
    assert ("K8S-001", "api") in found
    quoted = [f for f in report["findings"] if f["rule_id"] == "K8S-003" and f["service_account"] == "planted-dsn"]
    assert quoted and REDACTED in quoted[0]["evidence"]["value"]
    assert quoted[0]["evidence"]["value"].startswith("postgres://app:")  # the shape stays readable


def test_report_dir_check_and_diff_write_no_planted_value(run: Run, copy: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = run("audit", "-e", copy, "-f", "table", "--report-dir", runs, watch=[runs])
    second = run("audit", "-e", copy, "-f", "json", "--report-dir", runs, watch=[runs])  # baseline + trend
    assert first.code == second.code == 1, second.err
    folders = sorted(p for p in runs.iterdir() if p.is_dir())
    assert len(folders) == 2
    for folder in folders:
        assert {"findings.json", "report.html", "summary.md", "evidence"} <= {p.name for p in folder.iterdir()}
    old, new = (f / "findings.json" for f in folders)
    written = [
        first,
        second,
        run("check", "payments/api", "-e", copy, "-f", "json"),
        run("check", "eks-prod/payments/api", "-e", copy, "-f", "table"),
        run("check", "payments/planted-dsn", "-e", copy, "-f", "markdown"),
        run("diff", old, new),
        run("diff", old, new, "--format", "json", "--output", tmp_path / "diff.json", watch=[tmp_path / "diff.json"]),
        # A target naming a secret: the error on stderr quotes it, blanked.
        run("check", "payments/postgres://app:KUBEIAMFAKE-on-the-command-line@db"),
    ]
    assert written[-1].code == 2 and "postgres://app:" in written[-1].err and REDACTED in written[-1].err
    assert_clean(*written)
    copied = (folders[0] / "evidence" / "kubernetes" / "eks-prod" / "resources.json").read_text()
    assert REDACTED in copied  # blanked, not dropped


def test_the_copy_audits_to_the_same_findings(run: Run, copy: Path, tmp_path: Path) -> None:
    before = run("audit", "-e", copy, "-f", "json", "--report-dir", tmp_path / "runs")
    [folder] = (tmp_path / "runs").iterdir()
    after = run("audit", "-e", folder / "evidence", "-f", "json")

    def seen(w: Written) -> list[tuple[str, ...]]:
        doc = json.loads(w.out)
        return sorted((f["fingerprint"], f["rule_id"], f["severity"], f["title"]) for f in doc["findings"])

    assert seen(before) and seen(before) == seen(after)
    coverage = [json.loads(w.out)["coverage"] for w in (before, after)]
    assert coverage[0] == coverage[1]


def test_live_collection_writes_no_planted_value(run: Run, kube_api, tmp_path: Path) -> None:
    api = kube_api(EVIDENCE / "kubernetes" / "eks-prod")
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="eks-prod")
    out, runs = tmp_path / "collected", tmp_path / "runs"
    collected = run("collect", "--kubeconfig", kubeconfig, "-o", out, watch=[out], kubernetes_only=True)
    audited = run(
        "audit", "--kubeconfig", kubeconfig, "-f", "html", "--report-dir", runs, watch=[runs], kubernetes_only=True
    )
    assert collected.code == 0, collected.err
    assert audited.code == 1, audited.err
    assert_clean(collected, audited)
    resources = next(out.rglob("resources.json")).read_text()
    assert REDACTED in resources and "--aws-secret-access-key" in resources  # the flag stays, its value goes
    assert "/var/secrets/google/key.json" in resources  # a path to a key file is no secret
