"""fixtures/rules/AWS-* are what tests/aws/make_rule_fixtures.py writes: the script and the fixtures never drift."""

from __future__ import annotations

from pathlib import Path

from make_rule_fixtures import ROOT, build_all


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("AWS-*/**/*")) if p.is_file()}


def test_rule_fixtures_match_their_generator(tmp_path):
    build_all(tmp_path)
    written, committed = _tree(tmp_path), _tree(ROOT)
    assert written, "the generator wrote nothing"
    assert sorted(written) == sorted(committed), "run: .venv/bin/python tests/aws/make_rule_fixtures.py"
    changed = [name for name in written if written[name] != committed[name]]
    assert changed == [], "run: .venv/bin/python tests/aws/make_rule_fixtures.py"
