"""Suppressions: file (YAML / TOML) by fingerprint or rule + subject glob, expiry, annotation, errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from quarterly_helpers import audit_json

from kubeiam.errors import InputError
from kubeiam.quarterly.suppressions import Suppression, apply_suppressions, load_suppressions
from kubeiam.vocabulary.findings import Category, Finding, Severity


def _finding(**kw) -> Finding:
    base = dict(
        fingerprint="v1:" + "0" * 32,
        rule_id="K8S-001",
        category=Category.STATIC_CREDENTIAL,
        severity=Severity.HIGH,
        title="t",
        cluster="prod",
        namespace="payments",
        service_account="api",
        node=None,
        cloud="aws",
        principal=None,
        evidence={},
        remediation="r",
        cluster_id="arn:aws:eks:eu-west-1:111122223333:cluster/prod",
    )
    return Finding(**{**base, **kw})


@pytest.mark.parametrize(
    ("subject", "hit"),
    [
        ("payments/*", True),
        ("payments/api", True),
        ("pay*/a?i", True),
        ("payments/worker", False),
        ("*/*", True),
        ("prod:payments/*", True),
        ("staging:payments/*", False),
        ("arn:aws:eks:*:cluster/prod:payments/api", True),
    ],
)
def test_subject_glob(subject: str, hit: bool) -> None:
    s = Suppression(reason="r", owner="o", expires=date(2030, 1, 1), rule="K8S-001", subject=subject)
    assert s.matches(_finding()) is hit
    assert s.matches(_finding(rule_id="K8S-002")) is False


def test_node_findings_match_node_globs() -> None:
    s = Suppression(reason="r", owner="o", expires=None, rule="K8S-001", subject="node/ip-10-*")
    assert s.matches(_finding(namespace=None, service_account=None, node="ip-10-0-1-1"))
    assert not s.matches(_finding())


def test_expiry_is_inclusive_and_uses_the_clock_passed_in() -> None:
    s = Suppression(reason="r", owner="o", expires=date(2026, 3, 31), fingerprint="v1:" + "0" * 32)
    on_the_day = apply_suppressions([_finding()], [s], datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    assert on_the_day.findings[0].status == "suppressed" and on_the_day.expired == ()
    after = apply_suppressions([_finding()], [s], datetime(2026, 4, 1, 0, 0, tzinfo=UTC))
    assert after.findings[0].status == "open"
    assert after.expired[0]["matches"] == ["v1:" + "0" * 32] and after.expired[0]["expires"] == "2026-03-31"


def _fingerprint(report: dict, rule: str, sa: str) -> str:
    return next(f["fingerprint"] for f in report["findings"] if f["rule_id"] == rule and f["service_account"] == sa)


@pytest.mark.parametrize("kind", ["yaml", "toml"])
def test_suppressions_file_mutes_until_expiry(kind, tmp_path, run_cli, clock, evidence) -> None:
    code, plain = audit_json(run_cli, "-e", evidence)
    assert code == 1  # the static keys (high) fail the default --fail-on high
    high = _fingerprint(plain, "K8S-001", "legacy-worker")
    today = clock.current.date()
    entries = [
        {
            "fingerprint": high,
            "reason": "keys rotate weekly until the migration",
            "owner": "team-payments",
            "expires": date(today.year + 1, 3, 31),
        },
        {
            "rule": "K8S-002",
            "subject": "onprem:ml/*",
            "reason": "old accepted risk",
            "owner": "ml",
            "expires": date(today.year - 1, 1, 31),
        },
    ]
    path = tmp_path / f"suppressions.{kind}"
    if kind == "yaml":
        import yaml

        path.write_text(yaml.safe_dump({"suppressions": entries}))
    else:
        lines = []
        for e in entries:
            lines.append("[[suppressions]]")
            lines += [f"{k} = {json.dumps(v) if isinstance(v, str) else v.isoformat()}" for k, v in e.items()]
        path.write_text("\n".join(lines) + "\n")

    code, report = audit_json(run_cli, "-e", evidence, "--suppressions", path)
    by_fp = {f["fingerprint"]: f for f in report["findings"]}
    muted = by_fp[high]
    assert muted["status"] == "suppressed"
    assert muted["suppression"]["reason"] == "keys rotate weekly until the migration"
    assert muted["suppression"]["owner"] == "team-payments"
    assert muted["suppression"]["expires"] == f"{today.year + 1}-03-31"
    assert code == 0, "a suppressed finding must not count for --fail-on"
    # The expired entry mutes nothing and is listed, with what it would still match.
    trainer = _fingerprint(report, "K8S-002", "trainer")
    assert by_fp[trainer]["status"] == "open"
    [expired] = report["expired_suppressions"]
    assert expired["rule"] == "K8S-002" and expired["matches"] == [trainer]
    assert report["summary"]["suppressed"] == sum(f["status"] == "suppressed" for f in report["findings"])


@pytest.mark.parametrize("missing", ["reason", "owner", "expires"])
def test_an_entry_without_reason_owner_or_expiry_is_an_input_error(missing, tmp_path, run_cli, evidence) -> None:
    entry = {"rule": "K8S-002", "subject": "ml/*", "reason": "r", "owner": "o", "expires": "2030-01-01"}
    del entry[missing]
    import yaml

    path = tmp_path / "s.yaml"
    ok = {"fingerprint": "v1:" + "1" * 32, "reason": "r", "owner": "o", "expires": "2030-01-01"}
    path.write_text(yaml.safe_dump({"suppressions": [ok, entry]}))
    code, out, err = run_cli("audit", "-e", evidence, "--suppressions", path)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "s.yaml" in lines[0] and "suppressions[1]" in lines[0] and f"'{missing}'" in lines[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("suppressions: {}", "top-level 'suppressions' list"),
        ("suppressions:\n  - reason: r\n    owner: o\n    expires: 2030-01-01\n", "needs 'fingerprint'"),
        (
            "suppressions:\n  - {rule: K8S-001, subject: payments, reason: r, owner: o, expires: 2030-01-01}\n",
            "NAMESPACE/NAME",
        ),
        ("suppressions:\n  - {fingerprint: x, reason: r, owner: o, expires: soon}\n", "must be a date"),
        ("suppressions: [\n", "not valid YAML"),
    ],
)
def test_malformed_files(text, message, tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_suppressions(path)


def test_service_account_annotation_suppresses_without_expiry(run_cli, evidence) -> None:
    _, report = audit_json(run_cli, "-e", evidence)
    [f] = [f for f in report["findings"] if f["service_account"] == "node-exporter"]
    assert f["rule_id"] == "K8S-004" and f["status"] == "suppressed"
    assert f["suppression"]["reason"].startswith("node-exporter needs the host network")
    assert f["suppression"]["owner"] == "sre" and f["suppression"]["expires"] is None
    assert "annotation" in f["suppression"]["source"]


def test_malformed_annotation_is_reported_not_fatal(tmp_path, run_cli, evidence) -> None:
    path = evidence / "kubernetes" / "onprem" / "resources.json"
    doc = json.loads(path.read_text())
    for item in doc["items"]:
        if item["kind"] == "ServiceAccount" and item["metadata"]["name"] == "node-exporter":
            item["metadata"]["annotations"]["kubeiam.io/suppress"] = "K8S-004"
    path.write_text(json.dumps(doc))
    _, report = audit_json(run_cli, "-e", evidence)
    [f] = [f for f in report["findings"] if f["service_account"] == "node-exporter"]
    assert f["status"] == "open"
    assert report["invalid_suppressions"][0]["service_account"] == "onprem/monitoring/node-exporter"


def test_entries_that_match_nothing_are_listed_and_expiry_is_warned(tmp_path, run_cli, clock, evidence) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "suppressions:\n"
        "  - {rule: K8S-999, subject: '*/*', reason: typo in the rule id, owner: o, expires: 2999-01-01}\n"
        "  - {rule: K8S-002, subject: 'ml/*', reason: lapsed, owner: o, expires: 2000-01-01}\n"
    )
    code, out, err = run_cli("audit", "-e", evidence, "-f", "json", "--suppressions", path)
    doc = json.loads(out)
    assert [e["rule"] for e in doc["unused_suppressions"]] == ["K8S-999"]
    assert "1 suppression(s) expired" in err
    assert code == 1
