"""What the evidence fuzz (tests/fuzz) found in the core's evidence reading, kept as regression tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kubeiam.pipeline.evidence import Evidence

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def test_a_lone_surrogate_escape_is_read_as_the_replacement_character(tmp_path):
    """`"\\ud800"` is valid JSON but no character: kept, it made every report writer fail ("internal error")."""
    (tmp_path / "f.json").write_text(
        '{"a\\ud800": ["x\\udc00y", {"k": "\\ud83d\\ude00 \\uD800"}], "n": [[["\\ud800"]]]}'
    )

    value = Evidence(tmp_path).load("f.json")

    assert value == {"a\ufffd": ["x\ufffdy", {"k": "\U0001f600 \ufffd"}], "n": [[["\ufffd"]]]}


@pytest.mark.parametrize("fmt", ["json", "table", "csv", "html"])
def test_a_lone_surrogate_in_evidence_is_no_internal_error(run_cli, tmp_path, fmt):
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    entries = root / "aws/111122223333/eu-west-1/eks/eks-prod/access-entries.json"
    doc = json.loads(entries.read_text())
    doc["accessEntries"][1]["username"] = "ci-\ud800-deployer"  # in K8S-006's title, in every format
    entries.write_text(json.dumps(doc))  # ensure_ascii: the surrogate is written as the escape \ud800
    config = tmp_path / "kubeiam.toml"
    config.write_text("")
    out = tmp_path / f"report.{fmt}"

    code, _, err = run_cli("audit", "--evidence", root, "--format", fmt, "--output", out, "--config", config)

    assert code == 1, err
    assert "internal error" not in err
    assert "ci-\ufffd-deployer" in out.read_text(encoding="utf-8")
