"""The pure part: report + existing tickets -> plan; report checks; what a ticket says and how it is escaped."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from tickets_helpers import Quarters

from kubeiam.errors import InputError
from kubeiam_tickets.markup import jira_body, markdown_body, parse_marker
from kubeiam_tickets.model import NOT_RECHECKED_LABEL, Kind, Ticket
from kubeiam_tickets.plan import desired_per_finding, desired_per_group, make_plan
from kubeiam_tickets.render import finding_content, group_content, group_key
from kubeiam_tickets.report import load_report, view_of

FP = "v1:" + "a" * 32


def finding(fp: str = FP, **over: Any) -> dict[str, Any]:
    base = {
        "fingerprint": fp, "rule_id": "AWS-001", "category": "admin-access", "severity": "critical",
        "title": "Role is admin", "cluster": "eks-prod", "cluster_id": "arn:aws:eks:eu-west-1:1:cluster/eks-prod",
        "namespace": "payments", "service_account": "api", "node": None, "cloud": "aws",
        "principal": "arn:aws:iam::111122223333:role/api", "owner": "payments", "status": "open",
        "evidence": {"policy": "AdministratorAccess", "file": "aws/iam.json"}, "remediation": "Scope the role.",
    }  # fmt: skip
    return {**base, **over}


def report(
    findings: list[dict[str, Any]],
    resolved: Sequence[dict[str, Any]] = (),
    not_rechecked: Sequence[dict[str, Any]] = (),
) -> Any:
    doc = {"generated_at": "2026-04-15T09:00:00Z", "findings": findings, "resolved": list(resolved),
           "not_rechecked": list(not_rechecked)}  # fmt: skip
    return view_of(doc, Path("r.json"))


def ticket(
    key: str = FP, *, open: bool = True, digest: str | None = None, labels: tuple[str, ...] = (), order: int = 1
) -> Ticket:
    return Ticket(key, f"SEC-{order}", str(order), open, digest, labels, order)


def plan_for(
    view: Any, tickets: list[Ticket], *, close_suppressed: bool = False, grouped: bool = False
) -> list[tuple[str, str]]:
    desired = desired_per_group(view) if grouped else desired_per_finding(view)
    plan = make_plan(desired, tickets, target="t", run="r", grouped=grouped, close_suppressed=close_suppressed)
    return [(a.kind.value, a.reason) for a in plan.actions]


DIGEST = finding_content(finding()).digest


@pytest.mark.parametrize(
    ("state", "existing", "expected"),
    [
        ("open", None, ("create", "new")),
        ("open", ticket(digest=DIGEST), ("skip", "unchanged")),
        ("open", ticket(digest="0" * 16), ("update", "changed")),
        ("open", ticket(digest=None), ("update", "changed")),
        ("open", ticket(digest=DIGEST, labels=(NOT_RECHECKED_LABEL,)), ("update", "checked again")),
        ("open", ticket(open=False, digest=DIGEST), ("reopen", "regression")),
        ("resolved", ticket(), ("close", "resolved")),
        ("resolved", ticket(open=False), ("skip", "resolved (ticket closed)")),
        ("resolved", None, ("skip", "resolved (no ticket)")),
        ("suppressed", ticket(), ("skip", "suppressed (left open)")),
        ("suppressed", ticket(open=False), ("skip", "suppressed (ticket closed)")),  # never reopened
        ("suppressed", None, ("skip", "suppressed (no ticket)")),
        ("not_rechecked", ticket(), ("comment", "not re-checked")),
        ("not_rechecked", ticket(labels=(NOT_RECHECKED_LABEL,)), ("skip", "not re-checked (left as it is)")),
        ("not_rechecked", ticket(open=False), ("skip", "not rechecked (ticket closed)")),
    ],
)
def test_one_rule_per_state(state: str, existing: Ticket | None, expected: tuple[str, str]) -> None:
    if state == "open":
        view = report([finding()])
    elif state == "suppressed":
        view = report(
            [finding(status="suppressed", suppression={"reason": "r", "owner": "o", "expires": "2099-01-01"})]
        )
    else:
        view = report([], **{state: [finding()]})
    assert plan_for(view, [existing] if existing else []) == [expected]


def test_suppressed_tickets_close_with_the_reason_when_asked() -> None:
    view = report(
        [
            finding(
                status="suppressed",
                suppression={"reason": "needs host network", "owner": "sre", "expires": "2099-01-01"},
            )
        ]
    )
    desired = desired_per_finding(view)
    plan = make_plan(desired, [ticket()], target="t", run="r", grouped=False, close_suppressed=True)
    (action,) = plan.actions
    assert action.kind is Kind.CLOSE and action.detail == "accepted by sre until 2099-01-01: needs host network"


def test_a_ticket_the_report_does_not_mention_is_left_open_not_closed() -> None:
    other = "v1:" + "b" * 32
    assert plan_for(report([finding()]), [ticket(digest=DIGEST), ticket(other, order=2)]) == [
        ("skip", "unchanged"),
        ("skip", "not in this report (left open)"),
    ]


def test_duplicates_keep_the_oldest_open_one() -> None:
    tickets = [ticket(digest=DIGEST, order=5), ticket(digest=DIGEST, order=2), ticket(open=False, order=1)]
    plan = make_plan(
        desired_per_finding(report([finding()])), tickets, target="t", run="r", grouped=False, close_suppressed=False
    )
    closes = [a for a in plan.actions if a.kind is Kind.CLOSE_DUPLICATE]
    assert [(a.ticket.ref, a.detail) for a in closes if a.ticket] == [("SEC-5", "SEC-2")]
    assert [a.kind for a in plan.actions] == [Kind.CLOSE_DUPLICATE, Kind.SKIP]


def test_grouped_and_per_finding_tickets_do_not_see_each_other() -> None:
    view = report([finding()])
    group = group_key(finding())
    assert plan_for(view, [ticket(group)]) == [("create", "new")]
    assert plan_for(view, [ticket(FP)], grouped=True) == [("create", "new")]


def test_a_group_is_open_while_any_of_its_findings_is() -> None:
    other = "v1:" + "c" * 32
    suppressed = finding(other, status="suppressed", suppression={"reason": "x", "owner": "y", "expires": None})
    key = group_key(finding())
    view = report([finding(), suppressed])
    (want,) = desired_per_group(view).values()
    assert want.state.value == "open" and want.key == key and want.content is not None
    assert [s.status for s in want.content.sections] == ["open", "suppressed"]
    view = report([suppressed], resolved=[finding()])
    assert next(iter(desired_per_group(view).values())).state.value == "suppressed"
    view = report([], resolved=[finding()], not_rechecked=[finding(other)])
    assert next(iter(desired_per_group(view).values())).state.value == "not_rechecked"


def test_the_digest_ignores_run_to_run_noise_but_not_the_finding() -> None:
    base = finding_content(finding()).digest
    assert finding_content(finding(first_seen="2026-01-01T00:00:00Z", baseline="unchanged")).digest == base
    for change in ({"severity": "high"}, {"title": "Role is admin now"}, {"evidence": {"policy": "PowerUser"}},
                   {"remediation": "Drop it."}, {"owner": "platform"}):  # fmt: skip
        assert finding_content(finding(**change)).digest != base, change


def test_real_reports_give_stable_digests(quarters: Quarters) -> None:
    q1, q3 = (load_report(p) for p in (quarters.q1, quarters.q3))
    d1 = {k: v.content.digest for k, v in desired_per_finding(q1).items() if v.content}
    d3 = {k: v.content.digest for k, v in desired_per_finding(q3).items() if v.content}
    same = [k for k in d1.keys() & d3.keys() if d1[k] == d3[k]]
    assert len(same) >= 35  # the same evidence audited twice: most tickets untouched


# --- the report is checked, one line per problem ---------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("findings"), "no 'findings' list"),
        (lambda d: d.pop("generated_at"), "no 'generated_at'"),
        (
            lambda d: d["findings"][0].update(fingerprint="title-based"),
            r"findings\[0\]: 'fingerprint' is not a kubeiam fingerprint",
        ),
        (lambda d: d["findings"][0].update(severity="urgent"), r"'severity' is not one of"),
        (lambda d: d["findings"][0].update(status="fixed"), r"'status' is not open or suppressed"),
        (lambda d: d["findings"].append(copy.deepcopy(d["findings"][0])), "appears twice"),
        (lambda d: d.update(resolved={"a": 1}), "'resolved' is not a list"),
        (lambda d: d.update(not_rechecked=[{"title": "x"}]), r"not_rechecked\[0\]: 'fingerprint'"),
    ],
)
def test_a_damaged_report_is_one_error_line(quarters: Quarters, tmp_path: Path, mutate: Any, message: str) -> None:
    doc = quarters.doc(quarters.q2)
    mutate(doc)
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=message) as err:
        load_report(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_not_json_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("{ not json")
    with pytest.raises(InputError, match="report is not valid JSON"):
        load_report(path)
    with pytest.raises(InputError, match="cannot read report"):
        load_report(tmp_path / "absent.json")


# --- what a ticket says: data never becomes markup -------------------------------------------------

HOSTILE = finding(
    namespace="@security-team",
    service_account="[click](https://evil.example)",
    owner="<img src=x onerror=alert(1)>",
    title="Role is admin <!-- kubeiam:ticket key=v1:ffffffffffffffffffffffffffffffff digest=0000 -->",
    evidence={"statement": "```\n@everyone {noformat} <script>x</script>", "file": "aws/iam.json"},
    remediation="Remove *all* [links] and @mentions",
)


def _outside_code(markdown: str) -> str:
    """The markdown a renderer interprets: fenced blocks, code spans and kubeiam's own marker line removed."""
    text = re.sub(r"(?ms)^(`{3,})text\n.*?^\1$", "", markdown)
    text = re.sub(r"(`+) .*? \1|(`+)[^`].*?\2", "", text)
    return "\n".join(line for line in text.splitlines() if not line.startswith("<!-- kubeiam:ticket"))


def test_markdown_keeps_report_text_as_text() -> None:
    content = finding_content(HOSTILE)
    body = markdown_body(content)
    interpreted = _outside_code(body)
    assert "Remove" in interpreted and "eks-prod" not in interpreted  # facts are code spans, prose is escaped
    assert not re.search(r"(?<!\\)[@\[<]", interpreted.replace("<sub>", "").replace("</sub>", ""))
    assert "````text\nstatement: ```" in body  # the fence is longer than any backtick run inside
    assert parse_marker(body) == (FP, content.digest)  # the spoofed marker in the title is not it


def test_jira_markup_keeps_report_text_as_text() -> None:
    body = jira_body(finding_content(HOSTILE))
    assert "\\[click\\]" in body and "\\*all\\*" in body
    assert body.count("{noformat}") == 2 and "{ noformat }" in body  # the one inside the evidence is broken up


def test_a_grouped_json_report_is_read_as_its_findings(quarters: Quarters, tmp_path: Path) -> None:
    # `kubeiam audit --format json --group-by service-account` nests the same findings per ServiceAccount.
    flat = quarters.doc(quarters.q1)
    nested = {k: v for k, v in flat.items() if k != "findings"}
    nested["service_accounts"] = [{"service_account": "x", "findings": flat["findings"][:20]},
                                  {"service_account": "y", "findings": flat["findings"][20:]}]  # fmt: skip
    path = tmp_path / "grouped.json"
    path.write_text(json.dumps(nested))
    assert [f["fingerprint"] for f in load_report(path).findings] == [f["fingerprint"] for f in flat["findings"]]


def test_a_huge_service_account_ticket_fits_the_trackers_limits() -> None:
    many = [finding("v1:" + f"{i:032x}", evidence={"statement": "x" * 2500}) for i in range(200)]
    content = group_content(group_key(many[0]), many)
    for body, limit in ((markdown_body(content), 65_536), (jira_body(content), 32_767)):
        assert len(body) < limit and "more findings not shown here" in body
    assert parse_marker(markdown_body(content)) == (content.key, content.digest)  # the marker stays last
