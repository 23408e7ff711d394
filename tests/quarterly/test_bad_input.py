"""Every bad input of the quarterly workflow: exit 2, nothing on stdout, one `kubeiam: error:` line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPORT = {"generated_at": "2026-01-01T00:00:00Z", "findings": []}
FINDING = {"fingerprint": "v1:a", "rule_id": "K8S-001", "severity": "high"}

# name -> (file name, content, which option takes it, a phrase the error line must carry)
CASES: dict[str, tuple[str, str | bytes, str, str]] = {
    "yaml syntax": ("s.yaml", "suppressions: [\n", "--suppressions", "not valid YAML"),
    "yaml impossible date": (
        "s.yaml",
        "suppressions:\n  - {fingerprint: x, reason: r, owner: o, expires: 2027-02-30}\n",
        "--suppressions",
        "day is out of range",
    ),
    "yaml not utf-8": ("s.yaml", b"\xff\xfesuppressions: []\n", "--suppressions", "not UTF-8"),
    "yaml unknown top-level key": (
        "s.yaml",
        "suppressions: []\nsupressions:\n  - {fingerprint: x, reason: r, owner: o, expires: 2030-01-01}\n",
        "--suppressions",
        "only a top-level 'suppressions' list",
    ),
    "yaml unknown entry key": (
        "s.yaml",
        "suppressions:\n  - {fingerprint: x, reason: r, owner: o, expires: 2030-01-01, until: 2031-01-01}\n",
        "--suppressions",
        "unknown key(s) until",
    ),
    "yaml reason not text": (
        "s.yaml",
        "suppressions:\n  - {fingerprint: x, reason: [a, b], owner: o, expires: 2030-01-01}\n",
        "--suppressions",
        "'reason' must be text",
    ),
    "yaml bad date": (
        "s.yaml",
        "suppressions:\n  - {fingerprint: x, reason: r, owner: o, expires: end of Q1}\n",
        "--suppressions",
        "must be a date",
    ),
    "toml syntax": ("s.toml", "[[suppressions]\n", "--suppressions", "not valid TOML"),
    "toml missing owner": (
        "s.toml",
        '[[suppressions]]\nfingerprint = "x"\nreason = "r"\nexpires = 2030-01-01\n',
        "--suppressions",
        "missing required 'owner'",
    ),
    "suppressions is a directory": ("dir", "", "--suppressions", "cannot read"),
    "config not utf-8": ("kubeiam.toml", b'fail_on = "\xff"\n', "--config", "not UTF-8"),
    "config unknown rule id": (
        "kubeiam.toml",
        '[severity_overrides]\n"K8S-901" = "critical"\n',
        "--config",
        "unknown rule id(s) K8S-901",
    ),
    "baseline missing": ("missing.json", "", "--baseline", "cannot read baseline"),
    "baseline not json": ("b.json", "{", "--baseline", "not valid JSON"),
    "baseline not a report": ("b.json", '{"Roles": []}', "--baseline", "not a kubeiam JSON report"),
    "baseline time not rfc 3339": (
        "b.json",
        json.dumps({**REPORT, "generated_at": "last quarter"}),
        "--baseline",
        "RFC 3339",
    ),
    "baseline coverage damaged": (
        "b.json",
        json.dumps({**REPORT, "coverage": {"clusters": 3}}),
        "--baseline",
        "coverage",
    ),
    "baseline severity unknown": (
        "b.json",
        json.dumps({**REPORT, "findings": [{**FINDING, "severity": "urgent"}]}),
        "--baseline",
        "no valid severity",
    ),
}


def _place(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if name == "dir":
        path.mkdir()
    elif name != "missing.json":
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _one_error_line(code: int, out: str, err: str, *phrases: str) -> None:
    assert code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kubeiam: error: "), err  # not an "internal error"
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2(case, tmp_path, run_cli, evidence) -> None:
    name, content, option, phrase = CASES[case]
    path = _place(tmp_path, name, content)
    code, out, err = run_cli("audit", "-e", evidence, "-f", "json", option, path, "--report-dir", tmp_path / "runs")
    _one_error_line(code, out, err, phrase, path.name)
    assert not any((tmp_path / "runs").glob("*/*")), "a failed run leaves no files behind"


@pytest.mark.parametrize(
    ("old", "new", "phrase"),
    [
        (REPORT, {"Roles": []}, "not a kubeiam JSON report"),  # e.g. an evidence file by mistake
        ({"items": []}, REPORT, "not a kubeiam JSON report"),
        (REPORT, {**REPORT, "findings": [{"severity": "high"}]}, "has no fingerprint"),
        (REPORT, {**REPORT, "findings": [{**FINDING, "first_seen": "Q1"}]}, "RFC 3339"),
    ],
)
def test_diff_rejects_what_is_not_a_report(old, new, phrase, tmp_path, run_cli) -> None:
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    _one_error_line(*run_cli("diff", tmp_path / "old.json", tmp_path / "new.json"), phrase)


def test_diff_of_a_missing_or_binary_file(tmp_path, run_cli) -> None:
    (tmp_path / "old.json").write_text(json.dumps(REPORT))
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    _one_error_line(*run_cli("diff", tmp_path / "old.json", tmp_path / "nope.json"), "nope.json", "cannot read")
    _one_error_line(*run_cli("diff", tmp_path / "old.json", tmp_path / "bin.json"), "bin.json", "not valid JSON")
