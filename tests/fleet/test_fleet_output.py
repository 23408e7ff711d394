"""The fleet report's three formats and its command line: every evidence string escaped, the JSON
document whole, exit codes as documented."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import ACCOUNTS, finding, publish, report
from test_fleet_three_clouds import fleet_args

from kubeiam.quarterly.fleet import FleetSettings, build_fleet
from kubeiam.quarterly.fleet_cli import run_fleet
from kubeiam.quarterly.stores import LocalStore
from kubeiam.render.fleet_html import render_fleet_html
from kubeiam.render.fleet_markdown import md, render_fleet_markdown

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>|`[x](javascript:alert(3))\n# h1\x1b[31m"


@pytest.fixture
def hostile(tmp_path: Path) -> LocalStore:
    """Two clusters sharing an identity, every string a run carries hostile."""
    store = LocalStore(tmp_path / "r")
    principal = f"arn:aws:iam::111122223333:role/{EVIL}"
    for cluster in ("c1", "c2"):
        f = finding(cluster, f"ns{EVIL}", f"sa{EVIL}", principal=principal, owner=f"o{EVIL}", title=f"t{EVIL}")
        publish(store.child(cluster), report([cluster], [f]), tmp_path)
    return LocalStore(tmp_path / "r")


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def test_html_escapes_every_evidence_string_and_fetches_nothing(hostile: LocalStore) -> None:
    fleet = build_fleet([hostile], FleetSettings(now=NOW, accounts=ACCOUNTS))
    page = render_fleet_html(fleet)
    parser = _Collect()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not any(name.startswith("on") for name, _ in parser.attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "default-src 'none'" in page and not re.search(r"""(src|href)=["']?https?:""", page)
    assert "Identities shared by several clusters" in page and page.count("2 ServiceAccount(s)") == 1


def test_markdown_cells_stay_text(hostile: LocalStore) -> None:
    fleet = build_fleet([hostile], FleetSettings(now=NOW, accounts=ACCOUNTS))
    text = render_fleet_markdown(fleet)
    assert "<script" not in text and "<img" not in text and "\x1b" not in text
    assert "[x](javascript" not in text and "\\[x\\]\\(javascript" in text
    # Every row of every table has its header's number of cells: no value broke out of its cell.
    tables: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            if not tables or not tables[-1]:
                tables.append([])
            tables[-1].append(line)
        elif tables and tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert len(tables) >= 5
    for table in tables:
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table if not row.startswith("|---")}
        assert len(widths) == 1, table
    assert any("sa&lt;script" in row for table in tables for row in table), "the ServiceAccount is listed"
    assert md("a|b\nc") == "a\\|b\\\\nc"  # renders as a|b\nc: one line, one cell


def test_json_is_one_document_with_every_finding(hostile: LocalStore, tmp_path: Path) -> None:
    out = io.BytesIO()
    code = run_fleet(fleet_args("x", "-f", "json", "-q"), stores=[hostile], accounts=ACCOUNTS, now=NOW, out=out)
    doc = json.loads(out.getvalue())
    assert code == 0
    assert list(doc)[:5] == ["schema_version", "tool", "generated_at", "stale_after_days", "findings"]
    assert len(doc["findings"]) == doc["summary"]["total"] == 2
    assert doc["findings"][0]["title"] == f"t{EVIL}"  # JSON keeps the text as it was, escaped by JSON itself
    assert {"clusters", "accounts", "namespaces", "owners", "shared_identities", "sources", "problems"} <= set(doc)


def test_output_dir_gets_all_three(hostile: LocalStore, tmp_path: Path) -> None:
    target = tmp_path / "out"
    code = run_fleet(fleet_args("x", "--output-dir", str(target), "-q"), stores=[hostile], accounts=ACCOUNTS, now=NOW)
    assert code == 0 and sorted(p.name for p in target.iterdir()) == ["fleet.html", "fleet.json", "summary.md"]
    assert json.loads((target / "fleet.json").read_text())["summary"]["open"] == 2
    assert "kubeiam fleet" in (target / "summary.md").read_text()


def _store_with(tmp_path: Path, *docs: dict[str, Any]) -> LocalStore:
    store = LocalStore(tmp_path / "s")
    for doc in docs:
        publish(store, doc, tmp_path)
    return LocalStore(tmp_path / "s")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), 0),
        (("--fail-on", "high"), 1),
        (("--fail-on", "critical"), 0),
        (("--strict",), 3),  # the cluster is stale
    ],
)
def test_exit_codes(tmp_path: Path, argv: tuple[str, ...], expected: int) -> None:
    store = _store_with(tmp_path, report(["a"], [finding("a", "n", "s")], "2026-01-01T00:00:00Z"))
    code = run_fleet(fleet_args("x", "-q", *argv), stores=[store], accounts=ACCOUNTS, now=NOW, out=io.BytesIO())
    assert code == expected


def test_nothing_readable_is_exit_2_and_a_problem_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.BytesIO()
    assert run_fleet(fleet_args("x"), stores=[LocalStore(tmp_path / "none")], accounts=(), now=NOW, out=out) == 2
    assert "no published run" in capsys.readouterr().err
    good = _store_with(tmp_path, report(["a"], [], "2026-11-19T00:00:00Z"))
    code = run_fleet(fleet_args("x"), stores=[good, LocalStore(tmp_path / "none")], accounts=(), now=NOW, out=out)
    assert code == 3


def test_stale_after_takes_days_or_hours(capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet_args("x", "--stale-after", "36h").stale_after.total_seconds() == 36 * 3600
    assert fleet_args("x", "--stale-after", "7").stale_after.days == 7
    with pytest.raises(SystemExit) as err:
        fleet_args("x", "--stale-after", "quarterly")
    assert err.value.code == 2 and "not a number of days" in capsys.readouterr().err


def test_sources_are_opened_from_their_urls(tmp_path: Path) -> None:
    """Without injected stores, each SOURCE goes through store_for (a path here)."""
    _store_with(tmp_path, report(["a"], [finding("a", "n", "s")], "2026-11-19T00:00:00Z"))
    out = io.BytesIO()
    assert run_fleet(fleet_args(str(tmp_path / "s"), "-q"), accounts=ACCOUNTS, now=NOW, out=out) == 0
    assert json.loads(out.getvalue())["sources"][0]["source"] == str(tmp_path / "s")


def test_the_command_loads_the_fleet_only_when_it_runs() -> None:
    """`kubeiam fleet` is registered with every kubeiam command: registering it loads neither ijson nor the
    fleet's modules, and its default matches the fleet's."""
    import subprocess
    import sys

    code = (
        "import sys\nimport kubeiam.quarterly.fleet_cli\n"
        "print(sorted(m for m in sys.modules if m.startswith(('ijson', 'kubeiam.quarterly.fleet_plan', "
        "'kubeiam.quarterly.fleet_rollup', 'kubeiam.quarterly.store')) or m == 'kubeiam.quarterly.fleet'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    from kubeiam.quarterly import fleet, fleet_cli

    assert fleet_cli.DEFAULT_STALE_AFTER == fleet.DEFAULT_STALE_AFTER
