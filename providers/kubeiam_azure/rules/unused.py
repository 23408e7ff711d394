"""AZ-012: control-plane access an Azure identity has not used, and the smaller role it could have instead.

One finding per identity (reported per ServiceAccount), judged once per identity (`judge.usage`). Only
what the Activity Log can show is called unused: the write, delete and action operations of its roles.
Reads and data actions are kept in the smaller role as granted (their use is not recorded), and the
finding's `usage.limits` say what the data cannot see. No usage data for an identity: no finding (the
reader's coverage note says it was not checked).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import CloudIdentity, Inventory, LinkStatus
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.judge.profile import BROAD_LEVELS, scope_label, scope_level
from kubeiam_azure.judge.usage import (
    Replacement,
    Universe,
    UsageVerdict,
    iso,
    judge_usage,
    right_sized,
    subscription_of,
)
from kubeiam_azure.rules.helpers import verdicts, view_of
from kubeiam_azure.view import AzureView

# As the grant rules: the grant is there whether or not the binding could be checked.
_GRANTED = (LinkStatus.RESOLVED, LinkStatus.UNCHECKED, LinkStatus.MISSING)
_SEVERITY = {"admin": Severity.HIGH, "escalation": Severity.HIGH, "sensitive": Severity.MEDIUM}


@rule(
    "AZ-012",
    "Azure identity holds control-plane access it has not used",
    Category.UNUSED_ACCESS,
    Severity.LOW,
    rationale=(
        "Azure keeps no per-permission usage, but its Activity Log records every control-plane write, delete "
        "and action a principal performs for 90 days. Write access a workload has not used in that window is "
        "risk without purpose: what a stolen token could change. An unused admin or escalation grant is at "
        "least high. Reads and data-plane use are not recorded, so they are never called unused."
    ),
    remediation=(
        "Replace the role with the right-sized custom role (evidence `right_sized.document`, for "
        "`az role definition create --role-definition`), assigned where the old one was, then delete the old "
        "assignment (`right_sized.replaces`)."
    ),
    cloud=AZURE,
    references=(
        "https://learn.microsoft.com/azure/azure-monitor/essentials/activity-log",
        "https://learn.microsoft.com/azure/role-based-access-control/custom-roles",
    ),
)
def unused_access(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    if view is None or view.usage is None:
        return
    for group in identity_groups(inv, AZURE, _GRANTED):
        identity = group.link.identity
        found = _judged(inv, view, identity) if identity is not None else None
        if found is None:
            continue
        severity, detail, evidence = found
        for link, sas in group.by_reason:
            yield Match.for_sas(
                link.cluster,
                sas,
                item="unused-access",
                cloud=AZURE,
                principal=link.principal,
                source="activity-log",
                detail=detail,
                evidence={**evidence, "binding": link.reason},
                severity=severity,
            )


def _judged(inv: Inventory, view: AzureView, identity: CloudIdentity) -> tuple[Severity, str, Mapping[str, Any]] | None:
    """(severity, title detail, evidence) of the identity's finding, once per identity; None: none."""
    memo: dict[str, tuple[Severity, str, Mapping[str, Any]] | None] = inv.memo("azure_unused", lambda _: {})
    if identity.principal not in memo:
        universe = inv.memo("azure_usage_universe", lambda _: Universe.of(view))
        verdict = judge_usage(
            view,
            identity,
            verdicts(inv, identity),
            window_days=inv.usage_window_days,
            universe=universe,
            as_of=inv.as_of,
        )
        memo[identity.principal] = _finding(view, identity, verdict) if verdict and verdict.replacements else None
    return memo[identity.principal]


def _finding(view: AzureView, identity: CloudIdentity, v: UsageVerdict) -> tuple[Severity, str, Mapping[str, Any]]:
    mi = view.identities[identity.principal]
    first, *others = v.replacements
    severity = _SEVERITY.get(first.level)
    if severity is None:
        broad = any(scope_level(a.scope) in BROAD_LEVELS for r in v.replacements for a in r.assignments)
        severity = Severity.MEDIUM if broad else Severity.LOW
    smaller = right_sized(mi.name, first, v)
    if others:
        smaller["also"] = [right_sized(mi.name, r, v) for r in others]
    judged_subs = sorted(
        {s for u in v.uses if u.not_judged is None if (s := subscription_of(u.verdict.assignment.scope))}
    )
    source = "Azure Activity Log (" + ", ".join(f"azure/{s}/activity-log.json" for s in judged_subs) + ")"
    if v.sign_ins is not None:
        source += "; Microsoft Graph managed-identity sign-ins"
    evidence: dict[str, Any] = {
        "identity": mi.name,
        "principal_id": mi.principal_id,
        "usage": {
            "granted": v.granted,
            "used": v.used,
            "unit": "operations",
            "window_days": v.window_days,
            "last_used": iso(v.last_used),
            "source": source,
            "limits": list(v.limits),
        },
        "right_sized": smaller,
        # The "before": what the identity holds today (the report shows it beside the smaller role).
        "role_assignments": [
            f"{u.verdict.role_name} on {u.verdict.assignment.scope}"
            + ("" if u.not_judged is None else f" (kept as granted: {u.not_judged})")
            for u in v.uses
        ],
    }
    if v.sign_ins is not None:
        evidence["sign_ins"] = {
            "last": iso(v.sign_ins.last),
            "apis": list(v.sign_ins.resources),
            "complete": v.sign_ins.complete,
        }
    return severity, _detail(v, first), evidence


def _detail(v: UsageVerdict, first: Replacement) -> str:
    if v.used:
        what = f"uses {v.used} of {v.granted:,} control-plane write operations granted in {v.window_days} days"
    elif v.last_used is None or (v.end is not None and (v.end - v.last_used).days > v.window_days):
        signed = v.sign_ins is not None and v.sign_ins.last is None
        what = f"no control-plane write in {v.window_days} days" + (", no sign-in in the sign-in log" if signed else "")
    else:
        what = f"none of {v.granted:,} control-plane write operations granted used in {v.window_days} days"
    return f"{what}; the right-sized role drops {_headline(first)}"


def _headline(r: Replacement) -> str:
    """What the smaller role takes away, short enough for a title (`drops` says it in full)."""
    where = scope_label(r.assignments[0].scope) if len(r.assignments) == 1 else f"{len(r.assignments)} scopes"
    what = {"admin": "admin", "escalation": "escalation paths", "sensitive": "listKeys"}.get(r.level)
    return f"{what} ({r.role.name} on {where})" if what else r.drops[-1]


RULES = (unused_access,)
