"""`kubeiam tickets --to github` against a local GitHub REST API, through PyGithub."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servers.fake_github import PRIMARY as PRIMARY_MESSAGE
from servers.fake_github import FakeGitHub
from tickets_helpers import Quarters, absent_cluster_keys, changed, open_keys, tickets

from kubeiam.errors import InputError
from kubeiam_tickets import github
from kubeiam_tickets.markup import parse_marker

Server = Callable[..., FakeGitHub]
KEY = "kubeiam:"
ISSUES = r"/repos/acme/security/issues"


def keys_of(gh: FakeGitHub, *, only_open: bool = False) -> Counter[str]:
    found: Counter[str] = Counter()
    for issue in gh.issues.values():
        if only_open and issue["state"] != "open":
            continue
        for label in issue["labels"]:
            if label["name"].startswith(KEY) and label["name"] != "kubeiam:not-rechecked":
                found[label["name"][len(KEY) :]] += 1
    return found


def keys_of_issue(issue: dict[str, Any]) -> str:
    return next(
        x["name"][len(KEY) :]
        for x in issue["labels"]
        if x["name"].startswith(KEY) and x["name"] != "kubeiam:not-rechecked"
    )


def writes(gh: FakeGitHub) -> int:
    return sum(1 for method, _, _ in gh.requests if method in ("POST", "PATCH"))


def apply(report: Path, *extra: str) -> tuple[int, str]:
    """In-process, with PyGithub's one-second spacing of writes turned off (it is on for real runs)."""
    tracker = github.from_environment(_env(), None, throttle=False)
    return tickets(report, "--to", "github", "--apply", *extra, tracker=tracker)


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def issue_with(gh: FakeGitHub, fingerprint: str) -> dict[str, Any]:
    return next(i for i in gh.issues.values() if any(x["name"] == KEY + fingerprint for x in i["labels"]))


def test_three_quarters_leave_exactly_the_right_issues_open(github_server: Server, quarters: Quarters) -> None:
    gh = github_server(max_per_page=10)  # one issue per finding: several pages per listing
    q1, q2, q3 = (quarters.doc(p) for p in (quarters.q1, quarters.q2, quarters.q3))
    filed = len(q1["findings"])
    assert filed > 10  # more than one page
    assert apply(quarters.q1)[0] == 0
    assert keys_of(gh, only_open=True) == Counter(open_keys(q1)) and len(gh.issues) == filed

    assert apply(quarters.q2)[0] == 0
    assert keys_of(gh, only_open=True) == Counter(open_keys(q2)) and len(gh.issues) == filed
    fixed = issue_with(gh, q2["resolved"][0]["fingerprint"])
    assert fixed["state"] == "closed" and fixed["state_reason"] == "completed"
    assert "Resolved" in gh.comments[fixed["number"]][-1]["body"]

    assert apply(quarters.q3, "--close-suppressed")[0] == 0
    assert keys_of(gh, only_open=True) == Counter(open_keys(q3))
    assert keys_of(gh) == Counter(open_keys(q3, with_suppressed=True))  # one issue per fingerprint, ever
    assert fixed["state"] == "open" and fixed["state_reason"] == "reopened"  # the same issue, reopened
    accepted = issue_with(gh, quarters.suppressed)
    assert accepted["state"] == "closed" and accepted["state_reason"] == "not_planned"
    assert "node-exporter needs the host network" in gh.comments[accepted["number"]][-1]["body"].replace("\\", "")


def test_the_fingerprint_is_a_label_and_a_hidden_marker(github_server: Server, quarters: Quarters) -> None:
    gh = github_server()
    apply(quarters.q1)
    findings = quarters.doc(quarters.q1)["findings"]
    finding = next(f for f in findings if f["owner"])
    issue = issue_with(gh, finding["fingerprint"])
    marker = parse_marker(issue["body"])
    assert marker is not None and marker[0] == finding["fingerprint"]
    assert {"kubeiam", f"severity:{finding['severity']}", f"owner:{finding['owner']}"} <= {
        x["name"] for x in issue["labels"]
    }
    assert issue["body"].rstrip().endswith("-->") and "<!--" not in issue["body"].rstrip().splitlines()[-2]
    ownerless = issue_with(gh, next(f for f in findings if not f["owner"])["fingerprint"])  # a node's finding
    assert not [x["name"] for x in ownerless["labels"] if x["name"].startswith("owner:")]


def test_a_rerun_with_the_same_report_writes_nothing(github_server: Server, quarters: Quarters) -> None:
    gh = github_server()
    assert apply(quarters.q1)[0] == 0
    before = writes(gh)
    code, out = apply(quarters.q1)
    filed = len(quarters.doc(quarters.q1)["findings"])
    assert code == 0 and writes(gh) == before and f" {filed} unchanged" in out


def test_a_failed_create_is_not_retried_and_the_rerun_converges(github_server: Server, quarters: Quarters) -> None:
    gh = github_server()
    gh.fault("POST", ISSUES + "$", 502, times=100, after=3)
    code, _ = apply(quarters.q1)
    assert code == 3 and len(gh.issues) == 3
    assert gh.count("POST", ISSUES) == 4  # a 5xx on POST may hide a made issue: no blind retry
    gh.faults.clear()
    assert apply(quarters.q1)[0] == 0
    assert keys_of(gh) == Counter(open_keys(quarters.doc(quarters.q1)))


def test_a_stop_between_comment_and_close_does_not_repeat_the_comment(
    github_server: Server, quarters: Quarters, recorded_sleeps: list[float]
) -> None:
    gh = github_server()
    apply(quarters.q1)
    q1, q2 = quarters.doc(quarters.q1), quarters.doc(quarters.q2)
    updates = len(changed(q1, q2))  # updates come before closes in a plan: let them through, fail the close
    gh.fault("PATCH", ISSUES + r"/\d+$", 500, times=100, after=updates)
    assert apply(quarters.q2)[0] == 3
    fixed = issue_with(gh, q2["resolved"][0]["fingerprint"])
    assert fixed["state"] == "open" and len(gh.comments[fixed["number"]]) == 1  # commented, not closed
    gh.faults.clear()
    assert apply(quarters.q2)[0] == 0
    assert fixed["state"] == "closed"
    assert [c["body"].startswith("Resolved") for c in gh.comments[fixed["number"]]] == [True]


def test_a_persons_labels_survive_updates(github_server: Server, quarters: Quarters) -> None:
    gh = github_server()
    apply(quarters.q1)
    raised = next(f for f in quarters.doc(quarters.q2)["findings"] if f["rule_id"] == "AWS-015")
    issue = issue_with(gh, raised["fingerprint"])
    issue["labels"].append(gh._label("team-triaged"))
    apply(quarters.q2)
    names = {x["name"] for x in issue["labels"]}
    assert {"team-triaged", "severity:high"} <= names and "severity:medium" not in names


def test_pull_requests_and_foreign_issues_are_ignored(github_server: Server, quarters: Quarters) -> None:
    gh = github_server()
    pr = gh.add_issue("a pull request", ["kubeiam"])
    pr["html_url"] = pr["html_url"].replace("/issues/", "/pull/")
    gh.add_issue("a person's issue", ["kubeiam"])  # tool label, but no fingerprint: not ours to manage
    code, out = apply(quarters.q1)
    filed = len(open_keys(quarters.doc(quarters.q1)))
    assert code == 0 and f" {filed} create" in out and len(gh.open_issues()) == filed + 2


@pytest.mark.parametrize(
    "limit",
    ["primary-403", "primary-429", "secondary-403", "secondary-429"],
)
def test_rate_limits_are_waited_out(
    github_server: Server, quarters: Quarters, recorded_sleeps: list[float], limit: str
) -> None:
    gh = github_server(max_per_page=10)
    kind, status = limit.split("-")
    if kind == "primary":
        gh.primary_rate_limit("GET", ISSUES + "$", status=int(status), reset_in=30)
        gh.primary_rate_limit("POST", ISSUES + "$", status=int(status), reset_in=30)
    else:
        gh.secondary_rate_limit("GET", ISSUES + "$", status=int(status), retry_after=7)
        gh.secondary_rate_limit("POST", ISSUES + "$", status=int(status), retry_after=7)
    assert apply(quarters.q1)[0] == 0
    assert len(gh.issues) == len(quarters.doc(quarters.q1)["findings"])  # the refused create: not lost, not doubled
    waits = [s for s in recorded_sleeps if s >= 1]
    if kind == "primary":
        assert len(waits) == 2 and all(20 <= w <= 32 for w in waits)  # until x-ratelimit-reset (30 s ahead)
    else:
        assert waits == [7.0, 7.0]  # retry-after


def test_a_rate_limited_edit_is_retried(
    github_server: Server, quarters: Quarters, recorded_sleeps: list[float]
) -> None:
    gh = github_server()
    apply(quarters.q1)
    gh.secondary_rate_limit("PATCH", ISSUES + r"/\d+$", retry_after=5)
    assert apply(quarters.q2)[0] == 0
    assert issue_with(gh, quarters.doc(quarters.q2)["resolved"][0]["fingerprint"])["state"] == "closed"
    assert 5.0 in recorded_sleeps


def test_rate_limited_for_good_is_exit_3_not_a_credentials_error(
    github_server: Server, quarters: Quarters, recorded_sleeps: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    gh = github_server()
    gh.fault(
        "GET",
        ISSUES + "$",
        403,
        times=100,
        message=PRIMARY_MESSAGE,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"},
    )
    assert apply(quarters.q1)[0] == 3
    err = capsys.readouterr().err
    assert "HTTP 403 after every retry; still rate limited?" in err and "127.0.0.1" not in err and not gh.issues


def test_dry_run_changes_nothing(github_server: Server, quarters: Quarters) -> None:
    gh = github_server()
    apply(quarters.q1)
    before = writes(gh)
    tracker = github.from_environment(_env(), None, throttle=False)
    code, out = tickets(quarters.q2, "--to", "github", "--dry-run", tracker=tracker)
    assert code == 0 and writes(gh) == before and "dry run" in out and ", 1 close," in out


def test_not_rechecked_issues_get_one_comment(github_server: Server, quarters: Quarters) -> None:
    gh = github_server()
    apply(quarters.q1)
    apply(quarters.not_rechecked)
    apply(quarters.not_rechecked)
    noted = [i for i in gh.issues.values() if any(x["name"] == "kubeiam:not-rechecked" for x in i["labels"])]
    skipped = absent_cluster_keys(quarters.doc(quarters.q1))
    assert skipped and Counter(keys_of_issue(i) for i in noted) == Counter(skipped)
    assert all(i["state"] == "open" for i in noted)
    assert all(len(gh.comments[i["number"]]) == 1 for i in noted)


def test_group_by_service_account(github_server: Server, quarters: Quarters) -> None:
    gh = github_server()
    apply(quarters.q1, "--group-by", "service-account")
    subjects = {
        (f["cluster"], f["namespace"], f["service_account"], f["node"]) for f in quarters.doc(quarters.q1)["findings"]
    }
    assert len(gh.issues) == len(subjects) and all(n == 1 for n in keys_of(gh).values())
    apply(quarters.q3, "--group-by", "service-account")  # another run, another report: no new issue
    assert len(gh.issues) == len(subjects)


def test_github_app_credentials(
    github_server: Server, quarters: Quarters, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    gh = github_server()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    app = gh.install_app("424242", 77, public)
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GITHUB_APP_ID", "424242")
    monkeypatch.setenv("GITHUB_APP_INSTALLATION_ID", "77")
    (tmp_path / "app.pem").write_bytes(pem)
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY_FILE", str(tmp_path / "app.pem"))
    assert apply(quarters.q1)[0] == 0
    assert len(gh.issues) == len(quarters.doc(quarters.q1)["findings"]) and app.tokens  # a token was minted and used


def test_credentials_come_from_the_environment(
    github_server: Server, quarters: Quarters, monkeypatch: pytest.MonkeyPatch
) -> None:
    github_server()
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    with pytest.raises(InputError, match=r"refused \(HTTP 401\): Bad credentials"):
        apply(quarters.q1)
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(InputError, match="GITHUB_TOKEN"):
        apply(quarters.q1)
    monkeypatch.delenv("GITHUB_REPOSITORY")
    with pytest.raises(InputError, match="--github-repo"):
        apply(quarters.q1)
