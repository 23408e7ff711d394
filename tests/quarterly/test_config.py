"""kubeiam.toml: found in the working directory or given with --config; the command line wins."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from quarterly_helpers import audit_json

from kubeiam import cli
from kubeiam.quarterly.config import Config, find_config
from kubeiam.vocabulary.findings import Severity


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_config_in_working_directory_sets_fail_on_and_cli_wins(tmp_path, run_cli, evidence, monkeypatch) -> None:
    _, plain = audit_json(run_cli, "-e", evidence)
    worst = max(Severity(f["severity"]).rank for f in plain["findings"] if f["status"] == "open")
    above = next(s for s in Severity if s.rank == worst + 1)  # one step above the worst open finding
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "kubeiam.toml", f'fail_on = "{above.value}"\n')
    assert run_cli("audit", "-e", evidence, "-q", "-f", "json")[0] == 0
    assert run_cli("audit", "-e", evidence, "-q", "-f", "json", "--fail-on", "low")[0] == 1


def test_config_severity_overrides_owner_labels_and_suppressions(tmp_path, run_cli, evidence) -> None:
    _, plain = audit_json(run_cli, "-e", evidence)
    k3 = next(f for f in plain["findings"] if f["rule_id"] == "K8S-003")
    assert k3["severity"] == "medium"
    (tmp_path / "conf").mkdir()
    _write(
        tmp_path / "conf" / "s.yaml",
        f"suppressions:\n  - fingerprint: '{k3['fingerprint']}'\n"
        "    reason: r\n    owner: o\n    expires: 2999-01-01\n",
    )
    config = _write(
        tmp_path / "conf" / "kubeiam.toml",
        'owner_labels = ["owner"]\nsuppressions = "s.yaml"\n\n[severity_overrides]\n"K8S-002" = "high"\n',
    )
    _, report = audit_json(run_cli, "-e", evidence, "--config", config)
    by_rule = {f["rule_id"]: f for f in report["findings"]}
    assert by_rule["K8S-002"]["severity"] == "high"
    assert by_rule["K8S-003"]["status"] == "suppressed"  # the path is relative to the config file
    owners = {f["namespace"]: f["owner"] for f in report["findings"]}
    assert owners["monitoring"] == "sre" and owners["payments"] is None  # only the `owner` label counts now


def test_default_owner_labels(run_cli, evidence) -> None:
    _, report = audit_json(run_cli, "-e", evidence)
    owners = {f["namespace"]: f["owner"] for f in report["findings"]}
    assert owners == {"payments": "payments", "ml": "ml", "monitoring": "sre", "data": None}
    assert all("owner" in f for f in report["findings"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('failon = "high"\n', "unknown key"),
        ('fail_on = "severe"\n', "not a severity"),
        ('clouds = ["aws", "ibm"]\n', "unknown cloud"),
        ("contexts = 3\n", "list of strings"),
        ("[severity_overrides]\n'K8S-001' = 'urgent'\n", "not a severity"),
        # K8S-001 is a static credential: its category's floor is high (FINDINGS.md).
        ("[severity_overrides]\n'K8S-001' = 'low'\n", "is below high, the floor of its category static-credential"),
        ("fail_on = \n", "not valid TOML"),
        # A provider's table (the Kubernetes provider's [takeover]) is checked by that provider.
        ("[takeover]\nexpectd = []\n", "only `expected` and `not_expected`"),
        ("[takeover]\nnot_expected = ['group:nobody']\n", "names no entry of the documented table"),
        ("[takovr]\nexpected = []\n", "unknown key(s) takovr"),
    ],
)
def test_bad_config_is_one_line_exit_2(text, message, tmp_path, run_cli, evidence) -> None:
    path = _write(tmp_path / "kubeiam.toml", text)
    code, out, err = run_cli("audit", "-e", evidence, "--config", path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and "kubeiam.toml" in err


def test_missing_explicit_config(tmp_path, run_cli, evidence) -> None:
    code, _, err = run_cli("audit", "-e", evidence, "--config", tmp_path / "nope.toml")
    assert code == 2 and "nope.toml" in err


def test_no_config_file_gives_defaults(tmp_path) -> None:
    assert find_config(None, cwd=tmp_path) == Config()


def test_contexts_and_clouds_reach_live_collection(tmp_path) -> None:
    """Config contexts fill the kubernetes provider's --context; `clouds` limits which providers collect."""
    from kubeiam.pipeline.providers import load_providers

    providers = load_providers()
    args = argparse.Namespace(contexts=None, clouds=None, quiet=True)
    config = Config(contexts=("prod-eu",), clouds=("gcp",))
    request = cli._collect_request(args, config, tmp_path)
    assert [p.name for p in providers if request.collects(p)] == ["kubernetes", "gcp"]
    assert request.options.contexts == ["prod-eu"]
    assert request.progress is not None and hasattr(request.progress, "task")
    args = argparse.Namespace(contexts=["cli"], clouds=["aws"], quiet=True)
    request = cli._collect_request(args, config, tmp_path)
    assert [p.name for p in providers if request.collects(p)] == ["kubernetes", "aws"]
    assert request.options.contexts == ["cli"]
    everything = cli._collect_request(argparse.Namespace(contexts=None, clouds=None, quiet=True), Config(), tmp_path)
    assert [p.name for p in providers if everything.collects(p)] == [p.name for p in providers]


def test_a_provider_table_reaches_its_rules(tmp_path, run_cli) -> None:
    """[takeover] expected: a subject the team expects is not a finding (the Kubernetes provider parses it)."""
    from kubeiam.pipeline.audit import demo_dir

    def takeovers(*extra: str) -> set[str]:
        _, out, _ = run_cli("check", "data/etl", "--evidence", demo_dir(), "-f", "json", *extra)
        return {
            f["evidence"].get("subject", f["title"]) for f in json.loads(out)["findings"] if f["rule_id"] == "K8S-006"
        }

    assert takeovers()
    path = _write(
        tmp_path / "kubeiam.toml",
        '[takeover]\nexpected = [{ principal = "group:data-engineers", why = "the data team runs these jobs" }]\n',
    )
    assert takeovers("--config", path) == set()
