"""Completeness: kubeiam's findings beside cloudsplaining's risk categories, role by role.

cloudsplaining reports, per policy, the actions it puts in six categories (on unconstrained
resources); a role carries the union over its inline and attached policies. kubeiam reports
findings per ServiceAccount with the role as `principal`. We compare per role: for each
cloudsplaining category, how many roles it flags, and how many of those kubeiam flags with a
finding of a corresponding category (`MAPPING`), and the other way round.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

CATEGORIES = (
    "PrivilegeEscalation",
    "DataExfiltration",
    "ResourceExposure",
    "CredentialsExposure",
    "InfrastructureModification",
    "ServiceWildcard",
)
# Which kubeiam categories answer each cloudsplaining category. A judgement: kubeiam's
# `admin-access` subsumes everything; `wildcard-resource` (writes and permissions management on
# `*`) is kubeiam's name for infrastructure modification and resource exposure.
MAPPING: dict[str, frozenset[str]] = {
    "PrivilegeEscalation": frozenset({"privilege-escalation", "admin-access"}),
    "DataExfiltration": frozenset({"data-access", "admin-access"}),
    "ResourceExposure": frozenset({"wildcard-resource", "privilege-escalation", "admin-access"}),
    "CredentialsExposure": frozenset({"data-access", "privilege-escalation", "admin-access", "wildcard-resource"}),
    "InfrastructureModification": frozenset({"wildcard-resource", "privilege-escalation", "admin-access"}),
    "ServiceWildcard": frozenset({"wildcard-action", "admin-access"}),
}

PERMISSIONS = frozenset(
    {"admin-access", "privilege-escalation", "wildcard-action", "wildcard-resource", "data-access", "missing-condition"}
)
ONE_TO_ONE = frozenset({"PrivilegeEscalation", "DataExfiltration", "ServiceWildcard"})


def cloudsplaining_roles(results: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """role ARN -> category -> actions, from cloudsplaining's `iam-results-*.json`."""
    policies: dict[str, dict[str, Any]] = {}
    for kind in ("customer_managed_policies", "aws_managed_policies", "inline_policies"):
        for pid, p in results.get(kind, {}).items():
            policies[pid] = p
    out: dict[str, dict[str, set[str]]] = {}
    for role in results.get("roles", {}).values():
        cats: dict[str, set[str]] = defaultdict(set)
        ids = [*role.get("inline_policies", {}), *role.get("customer_managed_policies", {})]
        ids += list(role.get("aws_managed_policies", {}))
        for pid in ids:
            p = policies.get(pid, {})
            for c in CATEGORIES:
                found = (p.get(c) or {}).get("findings") or []
                cats[c].update(_action(f) for f in found)
        out[role["arn"]] = {c: a for c, a in cats.items() if a}
    return out


def kubeiam_roles(report: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """role ARN -> kubeiam category -> actions named in the evidence (or the rule id)."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for f in report["findings"]:
        principal = f.get("principal") or (f.get("evidence") or {}).get("node_role")
        if not principal or ":role/" not in principal:
            continue
        ev = f.get("evidence") or {}
        actions = [a for a in ev.get("actions") or [ev.get("action") or f["rule_id"]] if not a.startswith("... and")]
        if f["category"] == "privilege-escalation" and ev.get("path"):  # one escalation path = one combination
            actions = [{"actions": actions}]
        out[principal][f["category"]].update(_action(a) for a in actions)
    return out


def _action(finding: Any) -> str:
    """An action, lower-cased; an escalation combination (a dict with `actions`) as `a+b` sorted."""
    if isinstance(finding, dict):
        return "+".join(sorted(str(a).lower() for a in finding.get("actions", [])))
    return str(finding).lower()


def compare(results_file: Path, report_file: Path) -> dict[str, Any]:
    cs = cloudsplaining_roles(json.loads(results_file.read_text()))
    ki = kubeiam_roles(json.loads(report_file.read_text()))
    rows = []
    for c in CATEGORIES:
        flagged = {r for r, cats in cs.items() if c in cats}
        both = {r for r in flagged if MAPPING[c] & set(ki.get(r, {}))}
        any_ = {r for r in flagged if PERMISSIONS & set(ki.get(r, {}))}
        # kubeiam-only is meaningful where the mapping is one to one, not for the catch-all categories.
        ki_only = {r for r, cats in ki.items() if MAPPING[c] & set(cats) and r not in flagged}
        rows.append(
            {
                "category": c,
                "cloudsplaining_roles": len(flagged),
                "also_kubeiam": len(both),
                "missed_examples": {r: sorted(cs[r][c]) for r in sorted(flagged - both)[:3]},
                "missed_count": len(flagged - both),
                "also_kubeiam_any": len(any_),
                "kubeiam_only": len(ki_only) if c in ONE_TO_ONE else None,
            }
        )
    exfil = _action_overlap(cs, ki, "DataExfiltration", "data-access")
    escalation = _action_overlap(cs, ki, "PrivilegeEscalation", "privilege-escalation")
    return {
        "roles": {"cloudsplaining": len(cs), "kubeiam": len(ki)},
        "rows": rows,
        "actions": {"DataExfiltration": exfil, "PrivilegeEscalation": escalation},
        "kubeiam_categories": _count_categories(ki),
    }


def _action_overlap(cs: dict, ki: dict, cs_cat: str, ki_cat: str) -> dict[str, Any]:
    """(role, action) pairs cloudsplaining lists in `cs_cat`, and how many kubeiam names in `ki_cat`."""
    pairs = {(r, a) for r, cats in cs.items() for a in cats.get(cs_cat, ())}
    theirs = {(r, a) for r, cats in ki.items() for a in cats.get(ki_cat, ())}
    admin = {r for r, cats in ki.items() if "admin-access" in cats}
    covered = {(r, a) for r, a in pairs if (r, a) in theirs or r in admin}
    missed: dict[str, int] = defaultdict(int)
    for _, a in pairs - covered:
        missed[a] += 1
    extra: dict[str, int] = defaultdict(int)
    for _, a in theirs - pairs:
        extra[a] += 1
    return {
        "pairs": len(pairs),
        "covered": len(covered),
        "missed_actions": dict(sorted(missed.items(), key=lambda kv: -kv[1])[:10]),
        "kubeiam_only_actions": dict(sorted(extra.items(), key=lambda kv: -kv[1])[:10]),
    }


def _count_categories(ki: dict[str, dict[str, set[str]]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for cats in ki.values():
        for c in cats:
            counts[c] += 1
    return dict(sorted(counts.items()))


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"roles analysed: cloudsplaining {result['roles']['cloudsplaining']}, kubeiam {result['roles']['kubeiam']}"
        " (kubeiam analyses only roles reached by a ServiceAccount or a node)",
        "",
        "| cloudsplaining category | roles it flags | kubeiam: same kind | kubeiam: any permission finding"
        " | kubeiam-only roles |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        only = "n/a" if r["kubeiam_only"] is None else r["kubeiam_only"]
        lines.append(
            f"| {r['category']} | {r['cloudsplaining_roles']} | {r['also_kubeiam']}"
            f" | {r['also_kubeiam_any']} | {only} |"
        )
    for r in result["rows"]:
        if r["missed_examples"]:
            lines.append(f"- {r['category']} missed by kubeiam, e.g. {r['missed_examples']}")
    for name, a in result["actions"].items():
        lines.append("")
        lines.append(
            f"{name}, (role, action) pairs: cloudsplaining {a['pairs']}, named by kubeiam {a['covered']}; "
            f"missed by kubeiam: {a['missed_actions'] or 'none'}; kubeiam only: {a['kubeiam_only_actions'] or 'none'}"
        )
    lines.append("")
    lines.append(f"roles per kubeiam category: {result['kubeiam_categories']}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(markdown(compare(Path(sys.argv[1]), Path(sys.argv[2]))))
