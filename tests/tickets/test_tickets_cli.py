"""The command line of `kubeiam tickets`: which report, dry run or apply, the journal, the output, the boundaries."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from servers.fake_jira import FakeJira
from tickets_helpers import Quarters, open_keys, tickets

from kubeiam.errors import InputError
from kubeiam_tickets.report import latest_run

Server = Callable[..., FakeJira]
JIRA = ("--to", "jira", "--jira-project", "SEC")
PACKAGE = Path(__file__).resolve().parents[2] / "src" / "kubeiam_tickets"


def report_dir(root: Path, quarters: Quarters) -> Path:
    """A quarterly folder: two runs, an interrupted one (no findings.json) and a narrowed `check` run."""
    for name, source in (("2026-01-15T090000Z", quarters.q1), ("2026-04-15T090000Z", quarters.q2)):
        (root / name).mkdir(parents=True)
        shutil.copy(source, root / name / "findings.json")
    (root / "2026-07-15T090000Z").mkdir()  # interrupted
    narrowed = quarters.doc(quarters.q3) | {"scope": {"namespace": "ml", "service_account": None}}
    (root / "2026-07-16T090000Z").mkdir()
    (root / "2026-07-16T090000Z" / "findings.json").write_text(json.dumps(narrowed))
    return root


def test_report_dir_uses_the_latest_complete_full_run(jira_server: Server, quarters: Quarters, tmp_path: Path) -> None:
    folder = report_dir(tmp_path / "audits", quarters)
    assert latest_run(folder) == folder / "2026-04-15T090000Z" / "findings.json"
    jira_server()
    code, out = tickets("--report-dir", folder, *JIRA, "--dry-run", "--format", "json")
    plan = json.loads(out)
    assert code == 0 and plan["report"] == str(folder / "2026-04-15T090000Z" / "findings.json")
    q2_open = len(open_keys(quarters.doc(quarters.q2)))  # Q2's open findings, nothing filed yet
    assert plan["mode"] == "dry-run" and plan["counts"]["create"] == q2_open


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "give either REPORT.json or --report-dir DIR"),
        (("REPORT", "--report-dir", "."), "give either REPORT.json or --report-dir DIR"),
        (("--report-dir", "/nonexistent"), "not a directory"),
    ],
)
def test_exactly_one_report(quarters: Quarters, argv: tuple[str, ...], message: str) -> None:
    argv = tuple(str(quarters.q1) if a == "REPORT" else a for a in argv)
    with pytest.raises(InputError, match=message):
        tickets(*argv, *JIRA, "--dry-run")


def test_off_a_terminal_apply_or_dry_run_must_be_said(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server()
    with pytest.raises(InputError, match="not a terminal: pass --apply"):
        tickets(quarters.q1, *JIRA)
    code, out = tickets(quarters.q1, *JIRA, tty=True)  # on a terminal: the plan, nothing else
    created = len(open_keys(quarters.doc(quarters.q1)))
    assert code == 0 and "dry run" in out and f" {created} create" in out and not jira.issues


def test_the_journal_sits_next_to_the_report_and_only_apply_writes_it(
    jira_server: Server, quarters: Quarters, tmp_path: Path
) -> None:
    jira_server()
    report = tmp_path / "findings.json"
    shutil.copy(quarters.q1, report)
    tickets(report, *JIRA, "--dry-run")
    assert not (tmp_path / "tickets-jira.journal.json").exists()
    assert tickets(report, *JIRA, "--apply")[0] == 0
    journal = json.loads((tmp_path / "tickets-jira.journal.json").read_text())
    filed = len(quarters.doc(quarters.q1)["findings"])
    assert len(journal["tickets"]) == filed and journal["target"].startswith("jira http://127.0.0.1")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(InputError, match=r"--journal .*cannot write here"):
        tickets(report, *JIRA, "--apply", "--journal", blocked / "journal.json")


def test_titles_reach_the_terminal_without_control_characters(
    jira_server: Server, quarters: Quarters, tmp_path: Path
) -> None:
    jira_server()
    doc = quarters.doc(quarters.q1)
    doc["findings"][0]["title"] = "evil \x1b[2J\x1b]0;pwned\x07 title\nsecond line"
    report = tmp_path / "r.json"
    report.write_text(json.dumps(doc))
    code, out = tickets(report, *JIRA, tty=True)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "evil [2J ]0;pwned title second line" in out


def test_json_plan_lists_every_action(jira_server: Server, quarters: Quarters) -> None:
    jira_server()
    tickets(quarters.q1, *JIRA, "--apply")
    code, out = tickets(quarters.q2, *JIRA, "--apply", "--format", "json")
    doc = json.loads(out)
    assert (
        code == 0
        and doc["mode"] == "apply"
        and doc["result"]
        == {"done": len([a for a in doc["actions"] if a["action"] != "skip"]), "failed": None, "not_attempted": 0}
    )
    q2 = quarters.doc(quarters.q2)
    tracked = {f["fingerprint"] for f in q2["findings"]} | {f["fingerprint"] for f in q2["resolved"]}
    assert len(doc["actions"]) == len(tracked) and {a["key"] for a in doc["actions"]} == tracked  # one per ticket
    assert {a["action"] for a in doc["actions"]} == {"update", "close", "skip"}


# --- boundaries -------------------------------------------------------------------------------------

ALLOWED_ROOTS = {"jira", "github", "urllib3", "boto3", "botocore"}  # the clients, and urllib3's Retry for PyGithub


def _imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


MODULES = sorted(p.name for p in PACKAGE.glob("*.py"))


def test_the_package_is_where_the_boundary_test_looks() -> None:
    assert "cli.py" in MODULES and "__init__.py" in MODULES  # an empty list would check nothing


@pytest.mark.parametrize("module", MODULES)
def test_the_package_imports_only_the_stdlib_its_clients_and_kubeiam_errors(module: str) -> None:
    for name in _imports((PACKAGE / module).read_text()):
        root = name.split(".")[0]
        if root == "kubeiam":
            assert name == "kubeiam.errors", f"{module} imports {name}"
        elif root != "kubeiam_tickets":  # its own modules
            assert root in sys.stdlib_module_names or root in ALLOWED_ROOTS, f"{module} imports {name}"


def test_the_parser_loads_no_client_library() -> None:
    # The lead adds `tickets` to the main parser: that must not load jira, PyGithub, boto3 or requests.
    code = "import sys, kubeiam_tickets.cli; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "kubeiam" in loaded and not loaded & {"jira", "github", "boto3", "botocore", "requests", "urllib3"}
