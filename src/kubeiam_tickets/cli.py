"""`kubeiam tickets REPORT.json --to jira|github|securityhub`: the command line.

Exit status: 0 the plan was printed (dry run) or carried out; 2 bad usage, an unreadable report or
refused credentials (raised as InputError: one line); 3 the tracker failed part-way: what was done is
listed, and running the same command again finishes the job without duplicating anything.

This module imports no client library: the tracker module is imported when the command runs, so
adding the parser to the main CLI loads nothing more than the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from kubeiam.errors import InputError
from kubeiam_tickets.execute import Journal, Outcome, Tracker, TrackerError, execute
from kubeiam_tickets.model import Action, Kind, Plan
from kubeiam_tickets.plan import desired_per_finding, desired_per_group, make_plan
from kubeiam_tickets.render import one_line
from kubeiam_tickets.report import ReportView, latest_run, load_report

EXIT_OK, EXIT_INPUT, EXIT_INCOMPLETE = 0, 2, 3
TARGETS = ("jira", "github", "securityhub")


def add_tickets_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `tickets` to the main parser's subcommands (`parser.add_subparsers(...)`)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "tickets",
        help="file, update and close tickets from a JSON report (Jira, GitHub issues, Security Hub)",
        description="Keep one ticket per finding (or per ServiceAccount) in step with a kubeiam JSON report: "
        "create, update, close when resolved, reopen on regression. Tickets are found by fingerprint, so "
        "running it again changes nothing. Credentials come from the environment (docs/tickets.md).",
    )
    p.add_argument("report", nargs="?", type=Path, metavar="REPORT.json", help="a kubeiam JSON report")
    p.add_argument("--report-dir", type=Path, metavar="DIR", help="use the latest full run of this report folder")
    p.add_argument("--to", required=True, choices=TARGETS, help="where the tickets go")
    p.add_argument("--group-by", choices=["service-account"], help="one ticket per ServiceAccount (jira, github)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the plan, change nothing (default on a terminal)")
    mode.add_argument("--apply", action="store_true", help="carry the plan out")
    p.add_argument(
        "--close-suppressed", action="store_true", help="close the tickets of suppressed findings, quoting the reason"
    )
    p.add_argument("--format", choices=["text", "json"], default="text", help="how the plan is printed")
    p.add_argument(
        "--journal", type=Path, metavar="FILE", help="ids of the tickets written (default: next to the report)"
    )
    jira = p.add_argument_group("jira (JIRA_SERVER, JIRA_EMAIL, JIRA_API_TOKEN)")
    jira.add_argument("--jira-project", metavar="KEY", help="project key (default: JIRA_PROJECT)")
    jira.add_argument("--jira-issue-type", default="Task", metavar="NAME", help="issue type of new tickets (Task)")
    jira.add_argument("--jira-close-transition", metavar="NAME", help="transition that closes (default: any to Done)")
    jira.add_argument("--jira-reopen-transition", metavar="NAME", help="transition that reopens (default: to To Do)")
    jira.add_argument("--jira-resolution", metavar="NAME", help="resolution set when closing, if the workflow asks")
    github = p.add_argument_group("github (GITHUB_TOKEN, or a GitHub App's GITHUB_APP_*)")
    github.add_argument("--github-repo", metavar="OWNER/NAME", help="repository (default: GITHUB_REPOSITORY)")
    aws = p.add_argument_group("securityhub (the AWS credential chain)")
    aws.add_argument("--region", help="Security Hub region (default: AWS_REGION)")
    return p


def run_tickets(args: argparse.Namespace, *, tracker: Tracker | None = None, out: TextIO | None = None) -> int:
    """Run `kubeiam tickets`. `tracker`: an already built tracker (tests); else built from the environment."""
    out = out or sys.stdout
    apply = _mode(args, out)
    report = _report(args)
    if args.group_by and args.to == "securityhub":
        raise InputError("tickets: --group-by applies to jira and github (Security Hub keeps one finding per finding)")
    try:
        tracker = tracker or _tracker(args)
        journal = Journal(_journal_path(args, report, tracker), tracker.target)
        if apply:
            journal.check_writable()
        tickets = tracker.list_tickets(journal.ids.values())
    except TrackerError as exc:
        print(f"kubeiam: error: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    desired = desired_per_group(report) if args.group_by else desired_per_finding(report)
    plan = make_plan(
        desired,
        tickets,
        target=tracker.target,
        run=report.generated_at,
        grouped=bool(args.group_by),
        close_suppressed=args.close_suppressed,
        comments=tracker.comments,
    )
    if not apply:
        _print(plan, report, None, args.format, out)
        return EXIT_OK
    outcome = execute(plan, tracker, journal)
    _print(plan, report, outcome, args.format, out)
    if outcome.failed is not None:
        made = len(outcome.done)
        print(
            f"kubeiam: error: {outcome.error} ({made} of {len(plan.changes)} changes made; "
            "run the same command again to finish: it converges)",
            file=sys.stderr,
        )
        return EXIT_INCOMPLETE
    return EXIT_OK


def _mode(args: argparse.Namespace, out: TextIO) -> bool:
    """True to apply. Off a terminal one of the two must be said: a CI job that silently only planned
    would leave tickets unfiled and look green."""
    if args.apply:
        return True
    if args.dry_run or out.isatty():
        return False
    raise InputError("tickets: not a terminal: pass --apply to change tickets, or --dry-run to print the plan")


def _report(args: argparse.Namespace) -> ReportView:
    if (args.report is None) == (args.report_dir is None):
        raise InputError("tickets: give either REPORT.json or --report-dir DIR")
    return load_report(args.report if args.report is not None else latest_run(args.report_dir))


def _tracker(args: argparse.Namespace) -> Tracker:
    env = dict(os.environ)
    if args.to == "jira":
        from kubeiam_tickets import jira

        return jira.from_environment(
            env,
            args.jira_project,
            issue_type=args.jira_issue_type,
            close_transition=args.jira_close_transition,
            reopen_transition=args.jira_reopen_transition,
            resolution=args.jira_resolution,
        )
    if args.to == "github":
        from kubeiam_tickets import github

        return github.from_environment(env, args.github_repo)
    from kubeiam_tickets import securityhub

    return securityhub.from_environment(args.region)


def _journal_path(args: argparse.Namespace, report: ReportView, tracker: Tracker) -> Path | None:
    if tracker.journal_name is None:
        return None
    return args.journal or report.path.parent / tracker.journal_name


# --- printing ---------------------------------------------------------------------------------------


def _print(plan: Plan, report: ReportView, outcome: Outcome | None, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump(_as_json(plan, report, outcome), out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    what = "dry run: nothing changed; --apply does it" if outcome is None else "applied"
    lines = [
        f"kubeiam tickets -> {one_line(plan.target)} ({what})",
        f"report: {report.path} (run {one_line(report.generated_at)})",
    ]
    counts = plan.counts()
    changes = [f"{n} {k}" for k, n in counts.items() if not k.startswith("skip") and (n or k in _MAIN)]
    lines.append("  " + ", ".join(changes))
    skipped = [f"{n} {k.removeprefix('skip: ')}" for k, n in counts.items() if k.startswith("skip")]
    if skipped:
        lines.append("  left alone: " + ", ".join(skipped))
    done = set(map(id, outcome.done)) if outcome else set()
    for a in plan.actions:
        if a.kind is Kind.SKIP and not a.reason.startswith("not in this report"):
            continue
        mark = ""
        if outcome is not None and a.kind is not Kind.SKIP:
            mark = "done  " if id(a) in done else "FAILED" if a is outcome.failed else "to do "
        lines.append(_line(a, mark))
    out.write("\n".join(lines) + "\n")


_MAIN = ("create", "update", "close", "reopen", "comment")


def _line(a: Action, mark: str) -> str:
    ref = a.ticket.ref if a.ticket else "-"
    label = "left open" if a.kind is Kind.SKIP else a.kind.value
    prefix = f"{mark} " if mark else ""
    title = one_line(a.title, 100)
    return f"{prefix}{label:<15} {a.severity:<8} {one_line(ref, 40):<12} {a.key}  {title}  ({a.reason})"


def _as_json(plan: Plan, report: ReportView, outcome: Outcome | None) -> dict[str, Any]:
    def entry(a: Action) -> dict[str, Any]:
        return {
            "action": a.kind.value,
            "key": a.key,
            "ticket": a.ticket.ref if a.ticket else None,
            "severity": a.severity,
            "title": a.title,
            "reason": a.reason,
        }

    doc: dict[str, Any] = {
        "target": plan.target,
        "report": str(report.path),
        "run": report.generated_at,
        "mode": "dry-run" if outcome is None else "apply",
        "counts": plan.counts(),
        "actions": [entry(a) for a in plan.actions],
    }
    if outcome is not None:
        doc["result"] = {
            "done": len(outcome.done),
            "failed": entry(outcome.failed) | {"error": outcome.error} if outcome.failed else None,
            "not_attempted": len(outcome.not_attempted),
        }
    return doc


class TicketsCommand:
    """`kubeiam tickets`, plugged into the command line through the `kubeiam.commands` entry points."""

    name = "tickets"

    def add_parser(self, subparsers: Any) -> argparse.ArgumentParser:
        return add_tickets_parser(subparsers)

    def run(self, args: argparse.Namespace) -> int:
        return run_tickets(args)


COMMAND = TicketsCommand()
