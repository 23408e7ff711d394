"""Pure: a report and the tickets that exist -> what to create, update, close, reopen or comment on.

One rule per state of the report, one ticket per key (the finding's fingerprint, or the
ServiceAccount's key with `--group-by service-account`):

| report says | no ticket | open ticket | closed ticket |
|---|---|---|---|
| open | create | update if its digest changed (or it carries the not-re-checked flag) | reopen (regression) |
| resolved (fixed, evidence re-read) | - | close | - |
| suppressed (accepted risk) | - | close with the reason if `--close-suppressed` | - (never reopened) |
| not re-checked (evidence unreadable) | - | one comment, once (flag label) | - |
| absent from the report | | left open, listed | |

Absent is not resolved: a ticket whose key this report does not mention at all (for example a finding
that was not re-checked last quarter and so is in neither list now) stays open and is listed, never
closed. Two open tickets with one key (a lost journal, a person copying one) converge: the oldest is
kept and the others are closed as duplicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubeiam_tickets.model import SEVERITY_RANK, Action, Desired, Kind, Plan, State, Ticket
from kubeiam_tickets.render import GROUP_PREFIX, finding_content, group_content, group_key, one_line, suppression_text
from kubeiam_tickets.report import ReportView

_ORDER = {k: i for i, k in enumerate(Kind)}


def desired_per_finding(report: ReportView) -> dict[str, Desired]:
    out: dict[str, Desired] = {}
    for state, entries in ((State.RESOLVED, report.resolved), (State.NOT_RECHECKED, report.not_rechecked)):
        for f in entries:
            out[f["fingerprint"]] = _previous(f["fingerprint"], state, f)
    for f in report.findings:  # a finding of this run wins over a stale entry about the previous one
        if f.get("status", "open") == "suppressed":
            reason = suppression_text(f.get("suppression"))
            out[f["fingerprint"]] = Desired(
                f["fingerprint"], State.SUPPRESSED, f["severity"], one_line(f["title"]), reason=reason
            )
        else:
            content = finding_content(f)
            out[f["fingerprint"]] = Desired(f["fingerprint"], State.OPEN, f["severity"], content.title, content)
    return out


def desired_per_group(report: ReportView) -> dict[str, Desired]:
    """One key per ServiceAccount: open while any finding of it is open."""
    groups: dict[str, dict[State, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    current = {f["fingerprint"] for f in report.findings}
    for state, entries in ((State.RESOLVED, report.resolved), (State.NOT_RECHECKED, report.not_rechecked)):
        for f in entries:
            if f["fingerprint"] not in current:
                groups[group_key(f)][state].append(f)
    for f in report.findings:
        state = State.SUPPRESSED if f.get("status") == "suppressed" else State.OPEN
        groups[group_key(f)][state].append(f)
    out = {}
    for key, by_state in groups.items():
        if by_state[State.OPEN]:
            content = group_content(key, by_state[State.OPEN] + by_state[State.SUPPRESSED])
            out[key] = Desired(key, State.OPEN, content.severity, content.title, content)
            continue
        state = next(s for s in (State.NOT_RECHECKED, State.SUPPRESSED, State.RESOLVED) if by_state[s])
        members = by_state[state]
        worst = max(members, key=lambda f: SEVERITY_RANK.get(str(f.get("severity")), 0))
        reason = "; ".join(suppression_text(f.get("suppression")) for f in members) if state is State.SUPPRESSED else ""
        out[key] = _previous(key, state, worst, reason)
    return out


def _previous(key: str, state: State, f: Mapping[str, Any], reason: str = "") -> Desired:
    severity = f.get("severity") if f.get("severity") in SEVERITY_RANK else "info"
    return Desired(key, state, str(severity), one_line(f.get("title") or key), reason=reason)


def make_plan(
    desired: Mapping[str, Desired],
    tickets: Iterable[Ticket],
    *,
    target: str,
    run: str,
    grouped: bool,
    close_suppressed: bool,
    comments: bool = True,
) -> Plan:
    """`comments`: the tracker takes comments (Security Hub does not: a not-re-checked finding is just left)."""
    by_key: dict[str, list[Ticket]] = defaultdict(list)
    for t in tickets:
        if t.key.startswith(GROUP_PREFIX) == grouped:  # the other mode's tickets are not this run's business
            by_key[t.key].append(t)
    actions: list[Action] = []
    kept: dict[str, Ticket] = {}
    for key, found in by_key.items():
        keep, duplicates = _keep_one(found)
        kept[key] = keep
        sample = desired.get(key)
        for dup in duplicates:
            title = sample.title if sample else key
            severity = sample.severity if sample else "info"
            actions.append(Action(Kind.CLOSE_DUPLICATE, key, severity, title, dup, reason="duplicate", detail=keep.ref))
    for key, want in desired.items():
        actions.append(_decide(want, kept.get(key), close_suppressed=close_suppressed, comments=comments))
    for key, t in kept.items():
        if key not in desired and t.open:
            actions.append(Action(Kind.SKIP, key, "info", key, t, reason="not in this report (left open)"))
    actions.sort(key=lambda a: (_ORDER[a.kind], -SEVERITY_RANK.get(a.severity, 0), a.key))
    return Plan(target=target, run=run, actions=tuple(actions))


def _keep_one(found: Sequence[Ticket]) -> tuple[Ticket, list[Ticket]]:
    """The oldest open ticket is kept (else the oldest); the other open ones are duplicates to close."""
    ordered = sorted(found, key=lambda t: (not t.open, t.order, t.ident))
    keep = ordered[0]
    return keep, [t for t in ordered[1:] if t.open]


def _decide(want: Desired, t: Ticket | None, *, close_suppressed: bool, comments: bool) -> Action:
    def act(kind: Kind, reason: str, detail: str = "") -> Action:
        return Action(kind, want.key, want.severity, want.title, t, want.content, reason, detail)

    if want.state is State.OPEN:
        assert want.content is not None
        if t is None:
            return act(Kind.CREATE, "new")
        if not t.open:
            return act(Kind.REOPEN, "regression")
        if t.digest != want.content.digest:
            return act(Kind.UPDATE, "changed")
        if t.noted_not_rechecked:
            return act(Kind.UPDATE, "checked again")
        return act(Kind.SKIP, "unchanged")
    if t is None:
        return act(Kind.SKIP, f"{want.state.value.replace('_', ' ')} (no ticket)")
    if not t.open:
        return act(Kind.SKIP, f"{want.state.value.replace('_', ' ')} (ticket closed)")
    if want.state is State.RESOLVED:
        return act(Kind.CLOSE, "resolved")
    if want.state is State.SUPPRESSED:
        return (
            act(Kind.CLOSE, "suppressed", want.reason) if close_suppressed else act(Kind.SKIP, "suppressed (left open)")
        )
    if comments and not t.noted_not_rechecked:
        return act(Kind.COMMENT, "not re-checked")
    return act(Kind.SKIP, "not re-checked (left as it is)")
