"""`kubeiam tickets --to jira` against a local Jira REST API, through the real `jira` client library."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from servers.fake_jira import FakeJira
from tickets_helpers import FIXED_SA, RAISED_RULE, Quarters, absent_cluster_keys, changed, open_keys, tickets

from kubeiam.errors import InputError

Server = Callable[..., FakeJira]
KEY = "kubeiam:"


def keys_of(jira: FakeJira, *, only_open: bool = False) -> Counter[str]:
    """How many tickets carry each fingerprint label (open ones only, if asked)."""
    found: Counter[str] = Counter()
    for issue in jira.issues.values():
        if only_open and issue["status"] == "Done":
            continue
        for label in issue["labels"]:
            if label.startswith(KEY) and label != "kubeiam:not-rechecked":
                found[label[len(KEY) :]] += 1
    return found


def acted(out: str, kind: str) -> set[str]:
    """Fingerprints of the printed plan's lines of one kind."""
    return {line.split()[4] for line in out.splitlines() if line.startswith(f"done   {kind} ")}


def plain(wiki: str) -> str:
    """Jira wiki text as Jira shows it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", wiki)


def writes(jira: FakeJira) -> int:
    return sum(1 for method, _ in jira.requests if method in ("POST", "PUT"))


def apply(report: Path, *extra: str | Path) -> tuple[int, str]:
    return tickets(report, "--to", "jira", "--jira-project", "SEC", "--apply", *extra)


def test_three_quarters_leave_exactly_the_right_tickets_open(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server(page_size=7)  # one ticket per finding: several pages per search
    q1, q2, q3 = (quarters.doc(p) for p in (quarters.q1, quarters.q2, quarters.q3))

    code, out = apply(quarters.q1)
    assert code == 0, out
    assert keys_of(jira, only_open=True) == Counter(open_keys(q1))
    filed = len(q1["findings"])
    assert len(jira.issues) == filed > 7

    # Q2: one ServiceAccount removed (its finding resolved), one rule's severity raised.
    fixed = {f["fingerprint"] for f in q2["resolved"]}
    raised = {f["fingerprint"] for f in q2["findings"] if f["rule_id"] == RAISED_RULE}
    assert len(fixed) == 1 and len(raised) == 1 and raised <= changed(q1, q2)
    code, out = apply(quarters.q2)
    assert code == 0, out
    assert keys_of(jira, only_open=True) == Counter(open_keys(q2))
    assert len(jira.issues) == filed  # nothing created
    closed = next(i for i in jira.issues.values() if f"{KEY}{next(iter(fixed))}" in i["labels"])
    assert closed["status"] == "Done" and "Resolved" in closed["comments"][-1]["body"]
    updated = next(i for i in jira.issues.values() if f"{KEY}{next(iter(raised))}" in i["labels"])
    assert "severity:high" in updated["labels"] and "severity:medium" not in updated["labels"]
    assert acted(out, "update") == changed(q1, q2) and acted(out, "close") == fixed and not acted(out, "create")

    # Q3: the removed ServiceAccount is back (regression), one finding suppressed and closed as accepted.
    code, out = apply(quarters.q3, "--close-suppressed")
    assert code == 0, out
    assert keys_of(jira, only_open=True) == Counter(open_keys(q3))
    assert keys_of(jira) == Counter(open_keys(q3, with_suppressed=True))  # every key once: no duplicate
    assert closed["status"] == "To Do" and "Reopened" in closed["comments"][-1]["body"]  # the same ticket
    accepted = next(i for i in jira.issues.values() if f"{KEY}{quarters.suppressed}" in i["labels"])
    assert accepted["status"] == "Done" and "node-exporter needs the host network" in plain(
        accepted["comments"][-1]["body"]
    )


def test_a_rerun_with_the_same_report_writes_nothing(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server()
    assert apply(quarters.q1)[0] == 0
    before = writes(jira)
    code, out = apply(quarters.q1)
    assert code == 0 and writes(jira) == before
    assert f" {len(quarters.doc(quarters.q1)['findings'])} unchanged" in out


def test_a_run_stopped_half_way_converges_when_run_again(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server()
    jira.fault("POST", r"/issue$", 500, times=100, after=3)  # the server fails after three creates
    code, out = apply(quarters.q1)
    assert code == 3
    assert len(jira.issues) == 3 and out.count("done  ") == 3 and "FAILED" in out
    jira.faults.clear()
    assert apply(quarters.q1)[0] == 0
    assert keys_of(jira) == Counter(open_keys(quarters.doc(quarters.q1)))  # each ticket exactly once


def test_a_stop_between_create_and_digest_is_finished_by_the_rerun(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server()
    jira.fault("PUT", r"/properties/kubeiam$", 500, times=1, after=2)  # third ticket made, its digest not stored
    assert apply(quarters.q1)[0] == 3
    assert apply(quarters.q1)[0] == 0
    assert keys_of(jira) == Counter(open_keys(quarters.doc(quarters.q1)))
    assert all(i["properties"]["kubeiam"]["digest"] for i in jira.issues.values())


def test_a_ticket_made_before_a_failure_is_journalled(jira_server: Server, quarters: Quarters, tmp_path: Path) -> None:
    jira = jira_server(index_lag=True)
    journal = tmp_path / "journal.json"
    jira.fault("PUT", r"/properties/kubeiam$", 500, times=1, after=2)  # the third issue is made, its digest not
    assert apply(quarters.q1, "--journal", journal)[0] == 3
    assert len(jira.issues) == 3 and len(json.loads(journal.read_text())["tickets"]) == 3
    assert apply(quarters.q1, "--journal", journal)[0] == 0  # search still lags: the journal alone prevents a twin
    assert keys_of(jira) == Counter(open_keys(quarters.doc(quarters.q1)))


def test_the_journal_bridges_an_eventually_consistent_search(
    jira_server: Server, quarters: Quarters, tmp_path: Path
) -> None:
    jira = jira_server(index_lag=True)  # searches see nothing made since the last reindex
    journal = tmp_path / "journal.json"
    jira.fault("POST", r"/issue$", 500, times=100, after=5)
    assert apply(quarters.q1, "--journal", journal)[0] == 3
    jira.faults.clear()
    assert len(json.loads(journal.read_text())["tickets"]) == 5
    assert apply(quarters.q1, "--journal", journal)[0] == 0  # the five are read directly, not made again
    assert keys_of(jira) == Counter(open_keys(quarters.doc(quarters.q1)))


def test_without_the_journal_duplicates_converge_to_one(
    jira_server: Server, quarters: Quarters, tmp_path: Path
) -> None:
    jira = jira_server(index_lag=True)
    jira.fault("POST", r"/issue$", 500, times=100, after=5)
    assert apply(quarters.q1, "--journal", tmp_path / "lost.json")[0] == 3
    jira.faults.clear()
    assert apply(quarters.q1, "--journal", tmp_path / "other.json")[0] == 0  # a lagging search, no journal
    assert len(jira.issues) == len(quarters.doc(quarters.q1)["findings"]) + 5  # the five were made twice
    jira.reindex()
    code, out = apply(quarters.q1, "--journal", tmp_path / "third.json")
    assert code == 0 and "5 close-duplicate" in out
    assert keys_of(jira, only_open=True) == Counter(open_keys(quarters.doc(quarters.q1)))
    kept = {i["key"] for i in jira.issues.values() if i["status"] != "Done"}
    assert {f"SEC-{n}" for n in range(1, 6)} <= kept  # the oldest of each pair is the one kept


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud-nextPageToken", "datacenter-startAt"])
def test_every_page_of_the_search_is_read(jira_server: Server, quarters: Quarters, cloud: bool) -> None:
    jira = jira_server(cloud=cloud, page_size=4)
    assert apply(quarters.q1)[0] == 0
    searched = [p for m, p in jira.requests if m == "GET" and p.startswith("/rest/api/2/search")]
    before = len(searched)
    code, out = apply(quarters.q1)
    filed = len(quarters.doc(quarters.q1)["findings"])
    assert code == 0 and f" {filed} unchanged" in out and " 0 create" in out
    searched = [p for m, p in jira.requests if m == "GET" and p.startswith("/rest/api/2/search")]
    assert len(searched) - before == math.ceil(filed / 4) > 1  # one search per page of four
    assert all(p == ("/rest/api/2/search/jql" if cloud else "/rest/api/2/search") for p in searched)


def test_rate_limits_are_waited_out(jira_server: Server, quarters: Quarters, recorded_sleeps: list[float]) -> None:
    jira = jira_server()
    jira.fault("GET", r"/search/jql$", 429, times=1, Retry_After="13")
    jira.fault("POST", r"/issue$", 429, times=2, after=10, Retry_After="2")
    assert apply(quarters.q1)[0] == 0
    assert len(jira.issues) == len(quarters.doc(quarters.q1)["findings"])  # the refused creates: not lost nor doubled
    waits = [s for s in recorded_sleeps if s >= 1]
    assert len(waits) == 3
    assert 13 <= waits[0] <= 26 and all(2 <= w <= 4 for w in waits[1:])  # at least Retry-After (jira: x1-2)


def test_dry_run_changes_nothing_and_shows_the_plan(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server()
    assert apply(quarters.q1)[0] == 0
    before = writes(jira)
    code, out = tickets(quarters.q2, "--to", "jira", "--jira-project", "SEC", tty=True)  # a terminal: dry run
    assert code == 0 and writes(jira) == before
    updates = len(changed(quarters.doc(quarters.q1), quarters.doc(quarters.q2)))
    assert "dry run" in out and f"{updates} update, 1 close" in out
    resolved = quarters.doc(quarters.q2)["resolved"][0]
    assert any(line.startswith("close ") and resolved["fingerprint"] in line for line in out.splitlines())


def test_not_rechecked_tickets_get_one_comment_then_are_left_alone(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server()
    assert apply(quarters.q1)[0] == 0
    skipped = {f["fingerprint"] for f in quarters.doc(quarters.not_rechecked)["not_rechecked"]}
    assert skipped and skipped == absent_cluster_keys(quarters.doc(quarters.q1))
    for _ in range(2):  # the second run must not comment again
        code, out = apply(quarters.not_rechecked)
        assert code == 0, out
    noted = [i for i in jira.issues.values() if "kubeiam:not-rechecked" in i["labels"]]
    assert {keys_of_issue(i) for i in noted} == skipped
    assert all(len(i["comments"]) == 1 and i["status"] == "To Do" for i in noted)
    # Read again in full: the flag goes, the comment stays, nothing else changes.
    code, out = apply(quarters.q1)
    assert code == 0 and f" {len(skipped)} update" in out
    assert not any("kubeiam:not-rechecked" in i["labels"] for i in jira.issues.values())


def keys_of_issue(issue: dict[str, object]) -> str:
    labels = issue["labels"]
    assert isinstance(labels, list)
    return next(str(x)[len(KEY) :] for x in labels if str(x).startswith(KEY) and x != "kubeiam:not-rechecked")


def test_group_by_service_account_three_quarters(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server()
    for report, extra in ((quarters.q1, ()), (quarters.q2, ()), (quarters.q3, ("--close-suppressed",))):
        assert apply(report, "--group-by", "service-account", *extra)[0] == 0
        subjects = _subjects(quarters.doc(report))
        assert len(keys_of(jira, only_open=True)) == len(subjects["open"])
    assert all(n == 1 for n in keys_of(jira).values())
    assert len(jira.issues) == len(_subjects(quarters.doc(quarters.q1))["open"])  # Q3's regression reopened


def _subjects(doc: dict[str, object]) -> dict[str, set[tuple[object, ...]]]:
    findings = doc["findings"]
    assert isinstance(findings, list)
    subject = lambda f: (f["cluster"], f["namespace"], f["service_account"], f["node"])  # noqa: E731
    return {"open": {subject(f) for f in findings if f.get("status", "open") == "open"}}


def test_a_removed_service_account_closes_its_grouped_ticket(jira_server: Server, quarters: Quarters) -> None:
    jira = jira_server()
    apply(quarters.q1, "--group-by", "service-account")
    code, out = apply(quarters.q2, "--group-by", "service-account")
    assert code == 0 and "1 close" in out
    cluster, namespace, name = FIXED_SA
    closed = [i for i in jira.issues.values() if i["status"] == "Done"]
    assert len(closed) == 1 and f"{namespace}/{name} in {cluster}" in closed[0]["summary"]


def test_custom_workflow_transitions_by_name(jira_server: Server, quarters: Quarters) -> None:
    workflow = {"Close Issue": (("To Do",), "Done"), "Reopen Issue": (("Done",), "To Do")}
    jira = jira_server(workflow=workflow)
    flags = ("--jira-close-transition", "close issue", "--jira-reopen-transition", "Reopen Issue")
    apply(quarters.q1, *flags)
    assert apply(quarters.q2, *flags, "--jira-resolution", "Fixed")[0] == 0
    closed = next(i for i in jira.issues.values() if i["status"] == "Done")
    assert closed["resolution"] == "Fixed"
    assert apply(quarters.q3, *flags)[0] == 0 and closed["status"] == "To Do"


def test_a_missing_transition_is_one_line_and_exit_3(
    jira_server: Server, quarters: Quarters, capsys: pytest.CaptureFixture[str]
) -> None:
    jira = jira_server()
    apply(quarters.q1)
    jira.workflow = {"Start progress": (("To Do",), "In Progress")}  # no way to Done
    code, _ = apply(quarters.q2)
    err = capsys.readouterr().err.strip()
    assert code == 3 and len(err.splitlines()) == 1
    assert "no transition to a Done status" in err and "'Start progress'" in err and "--jira-close-transition" in err


def test_credentials_come_from_the_environment(
    jira_server: Server, quarters: Quarters, monkeypatch: pytest.MonkeyPatch
) -> None:
    jira = jira_server()
    monkeypatch.delenv("JIRA_EMAIL")  # a token alone is a Data Center personal access token (bearer)
    assert apply(quarters.q1)[0] == 0 and len(jira.issues) == len(quarters.doc(quarters.q1)["findings"])
    monkeypatch.setenv("JIRA_API_TOKEN", "wrong")
    with pytest.raises(InputError, match=r"refused the credentials \(HTTP 401\)"):
        apply(quarters.q1)
    monkeypatch.delenv("JIRA_API_TOKEN")
    with pytest.raises(InputError, match="JIRA_API_TOKEN"):
        apply(quarters.q1)
