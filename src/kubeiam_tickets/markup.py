"""Ticket text in GitHub markdown and Jira wiki markup, with kubeiam's markers.

Everything taken from a report (names, evidence, suppression reasons) is data, not markup: evidence
goes into code blocks, every other value is escaped, so a ServiceAccount named `@team` or a policy
with `[link](...)` neither pings anyone nor renders. kubeiam's own machine-readable marks:

- GitHub: a hidden last line `<!-- kubeiam:ticket key=<fingerprint> digest=<hash> -->` in the body
  (the label `kubeiam:<fingerprint>` is how tickets are found; the marker backs it up and carries
  the digest);
- comments end with a marker `kubeiam:<kind> run=<generated_at> key=<key>` (hidden on GitHub), so
  a re-run finds a comment it already wrote instead of writing it twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubeiam_tickets.model import Action, Content, Kind, Section

_MARKER = re.compile(r"<!-- kubeiam:ticket key=(\S+) digest=([0-9a-f]+) -->\s*\Z")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~@&:=])")
_JIRA_SPECIAL = re.compile(r"([\\*_?\-+^~|!#\[\]{}()])")
# Body size limits: GitHub takes 65,536 characters, Jira's description 32,767. A ServiceAccount with
# very many findings lists what fits and says how many more the report holds.
GITHUB_BODY_MAX = 60_000
JIRA_BODY_MAX = 30_000
FOOTER = (
    "Filed by kubeiam from its JSON report. kubeiam finds this ticket by its fingerprint label, updates it "
    "when the finding changes, closes it when the evidence shows it fixed and reopens it if it comes back."
)


@dataclass(frozen=True)
class Comment:
    marker: str
    """Unique per (kind, run, key): present in a ticket's comments means this comment was already made."""
    text: str


# --- GitHub markdown ------------------------------------------------------------------------------


def md_text(text: str) -> str:
    """Plain text: every markdown punctuation escaped (CommonMark allows escaping any of them)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code_span(text: str) -> str:
    flat = " ".join(text.split())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def md_code_block(text: str) -> str:
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


def markdown_body(c: Content, limit: int = GITHUB_BODY_MAX) -> str:
    head = [f"- **{md_text(name)}:** {md_code_span(value)}" for name, value in c.facts]
    parts = ["\n".join(["", *_md_section(s, heading=len(c.sections) > 1)]) for s in c.sections]
    tail = ["", f"<sub>{md_text(FOOTER)}</sub>", "", f"<!-- kubeiam:ticket key={c.key} digest={c.digest} -->"]
    return _fit(head, parts, tail, limit)


def _fit(head: list[str], parts: list[str], tail: list[str], limit: int) -> str:
    """Head, as many sections as fit within `limit`, a count of the rest, tail (the marker stays last)."""
    body, budget = ["\n".join(head)], limit - len("\n".join(head)) - len("\n".join(tail)) - 200
    for i, part in enumerate(parts):
        if len(part) + 1 > budget:
            body.append(f"\n({len(parts) - i} more findings not shown here: the report lists them all)")
            break
        body.append(part)
        budget -= len(part) + 1
    return "\n".join([*body, *tail])


def _md_section(s: Section, *, heading: bool) -> list[str]:
    out = []
    if heading:
        state = " (accepted risk)" if s.status == "suppressed" else ""
        out += [f"### {md_text(s.severity)} {md_text(s.rule_id)}: {md_text(s.title)}{state}", ""]
        out += [f"Fingerprint {md_code_span(s.fingerprint)}", ""]
        if s.suppression:
            out += [f"Suppressed: {md_text(s.suppression)}", ""]
    out += ["#### Evidence" if heading else "### Evidence", md_code_block(s.evidence), ""]
    out += ["#### Remediation" if heading else "### Remediation", md_text(s.remediation)]
    return out


def parse_marker(body: str | None) -> tuple[str, str] | None:
    """(key, digest) from the body's last line, or None (a person removed it, or not kubeiam's)."""
    m = _MARKER.search(body or "")
    return (m.group(1), m.group(2)) if m else None


def markdown_comment(c: Comment) -> str:
    return f"{md_text(c.text)}\n\n<!-- {c.marker} -->"


# --- Jira wiki markup -----------------------------------------------------------------------------


def jira_text(text: str) -> str:
    return _JIRA_SPECIAL.sub(r"\\\1", text)


def jira_noformat(text: str) -> str:
    # The only thing that ends a {noformat} block is its own tag: break it up inside the evidence.
    return "{noformat}\n" + text.replace("{noformat}", "{ noformat }") + "\n{noformat}"


def jira_body(c: Content, limit: int = JIRA_BODY_MAX) -> str:
    head = [f"* *{jira_text(name)}:* {jira_text(value)}" for name, value in c.facts]
    parts = []
    for s in c.sections:
        lines = []
        if len(c.sections) > 1:
            state = " (accepted risk)" if s.status == "suppressed" else ""
            lines += ["", f"h3. {jira_text(f'{s.severity} {s.rule_id}: {s.title}{state}')}"]
            lines += [f"Fingerprint: {jira_text(s.fingerprint)}"]
            if s.suppression:
                lines += [f"Suppressed: {jira_text(s.suppression)}"]
        lines += ["", "h4. Evidence", jira_noformat(s.evidence), "", "h4. Remediation", jira_text(s.remediation)]
        parts.append("\n".join(lines))
    return _fit(head, parts, ["", "----", jira_text(FOOTER)], limit)


def jira_comment(c: Comment) -> str:
    return f"{jira_text(c.text)}\n\n{c.marker}"


# --- what each action says ------------------------------------------------------------------------


def comment_for(action: Action, run: str) -> Comment | None:
    """The comment an action leaves (None: the action speaks through the ticket's content alone)."""
    texts = {
        Kind.CLOSE_DUPLICATE: (
            "duplicate",
            f"Duplicate of {action.detail}: the same kubeiam fingerprint ({action.key}). Closing this one; "
            f"{action.detail} is kept.",
        ),
        Kind.REOPEN: (
            "reopen",
            f"Reopened: kubeiam's run of {run} finds this again after it had been closed (a regression, "
            "or an accepted risk whose suppression ended).",
        ),
        Kind.COMMENT: (
            "not-rechecked",
            f"kubeiam's run of {run} could not re-check this finding: its evidence could not be read (the "
            "report's coverage names what). It is neither confirmed nor fixed, so the ticket is left as it is.",
        ),
    }
    if action.kind is Kind.CLOSE:
        if action.reason == "suppressed":
            texts[Kind.CLOSE] = ("close", f"Closed as an accepted risk, {action.detail}.")
        else:
            texts[Kind.CLOSE] = (
                "close",
                f"Resolved: kubeiam's run of {run} read the evidence again and the finding is gone. Closing.",
            )
    if action.kind not in texts:
        return None
    kind, text = texts[action.kind]
    return Comment(marker=f"kubeiam:{kind} run={run} key={action.key}", text=text)
