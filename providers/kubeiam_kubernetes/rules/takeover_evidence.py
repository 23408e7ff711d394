"""What a K8S-006 finding says: the techniques, bindings and grants (file and item), the cloud path, the
identity's power and the severity it gives, and the binding to narrow.

Built once per (subject, takeovers, identity): takeover objects are shared by every ServiceAccount of a
namespace the same bindings reach, so their evidence is too (the engine never changes evidence).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeiam.vocabulary.findings import Severity
from kubeiam.vocabulary.model import IdentityLink, IdentityPower, Inventory
from kubeiam_kubernetes.judge.rbac_model import Subject
from kubeiam_kubernetes.judge.takeover_atoms import TECHNIQUES
from kubeiam_kubernetes.judge.takeover_model import Takeover
from kubeiam_kubernetes.rules.takeover_index import CloudPrincipal, ClusterTakeover

_RANK = {name: i for i, name in enumerate(TECHNIQUES)}
GRANTS_SHOWN = 20
"""At most this many grants in a finding's evidence (the count says how many there are)."""

# What the identity can do -> the finding's severity (raised one step for a broad subject).
_BY_POWER = {
    "admin": Severity.CRITICAL,
    "escalation": Severity.HIGH,
    "unknown": Severity.HIGH,  # unknown is not safe
    "data": Severity.MEDIUM,
    "write": Severity.MEDIUM,
    "read": Severity.MEDIUM,
    "none": Severity.MEDIUM,
}
_RAISED = {Severity.MEDIUM: Severity.HIGH, Severity.HIGH: Severity.CRITICAL, Severity.CRITICAL: Severity.CRITICAL}
# A takeover that rests only on a token Secret not known to exist: one step lower than if it were known.
_LOWERED = {
    Severity.CRITICAL: Severity.HIGH,
    Severity.HIGH: Severity.MEDIUM,
    Severity.MEDIUM: Severity.LOW,
    Severity.LOW: Severity.LOW,
    Severity.INFO: Severity.INFO,
}
UNKNOWN_SECRET = (
    "unknown: kubeiam never reads Secrets; a legacy token Secret of this ServiceAccount, if one exists, gives its token"
)
"""The evidence's `legacy_token_secret_exists` when a technique goes through a token Secret not known to exist."""


@dataclass(frozen=True)
class Spec:
    """A finding's parts that do not depend on which ServiceAccount it is about."""

    item: str
    detail: str
    severity: Severity
    remediation: str
    evidence: Mapping[str, Any]


def power_of(inv: Inventory, link: IdentityLink) -> IdentityPower:
    """The identity's power as its cloud's provider judges it (`Declarations.powers`), once per identity."""
    memo: dict[int, tuple[object, IdentityPower]] = inv.whole.memo("kubernetes_takeover_power", lambda _: {})
    key = id(link.identity)
    hit = memo.get(key)
    if hit is not None and hit[0] is link.identity:
        return hit[1]
    judge = inv.declarations.powers.get(link.cloud)
    if link.identity is None:
        power = IdentityPower("unknown", ("the identity's grants are not in the evidence",))
    elif judge is None:
        power = IdentityPower("unknown", (f"no judgement of {link.cloud} identities is declared",))
    else:
        found = judge(inv.whole, link.identity)
        power = found if isinstance(found, IdentityPower) else IdentityPower("unknown")
    memo[key] = (link.identity, power)
    return power


def severity_of(power: IdentityPower, broad: bool, secret_unknown: bool = False) -> Severity:
    """`secret_unknown`: the subject's every technique goes through a token Secret that may not exist."""
    base = _BY_POWER.get(power.level, Severity.HIGH)
    found = _RAISED[base] if broad and power.level != "none" else base
    return _LOWERED[found] if secret_unknown else found


def ordered(takeovers: Sequence[Takeover]) -> tuple[Takeover, ...]:
    """Strongest technique first (the order of TECHNIQUES), then by binding: stable across runs. What rests on
    a token Secret not known to exist comes after the rest, so the binding named first is a sure one."""
    return tuple(
        sorted(takeovers, key=lambda t: (t.secret_unknown, _RANK.get(t.technique, len(_RANK)), t.bindings, t.detail))
    )


def spec(
    ct: ClusterTakeover,
    subject: Subject,
    takeovers: Sequence[Takeover],
    link: IdentityLink,
    power: IdentityPower,
    service_account: str | None,
    expected_by_default: str | None = None,
) -> Spec:
    """The finding for one subject. What depends on the takeovers (techniques, bindings, grants) is built once
    per takeovers; the evidence is shared by every ServiceAccount the same takeovers reach whose identity has
    the same power (the identity itself is the finding's principal), so a report of 20,000 ServiceAccounts
    encodes it once per namespace. A subject a cloud principal stands behind gets a path naming
    `service_account` and the identity's power: that evidence is the ServiceAccount's own."""
    base = _base(ct, subject, takeovers)
    clouds = ct.cloud.get(subject.principal, ())
    if clouds:
        evidence = {**base.public, "power": power.level, "power_summary": list(power.summary)}
        evidence["cloud_principals"] = [_cloud(c) for c in clouds]
        target = service_account or "the ServiceAccount"
        evidence["path"] = [_path(c, base.first, target, link, power) for c in clouds]
        notes = sorted({c.note for c in clouds if c.note})
        if notes:
            evidence["approximated"] = notes
        if expected_by_default:
            evidence["expected_by_default"] = expected_by_default
    else:
        # Nothing here is the ServiceAccount's own: one Spec (and evidence) per power and default reason.
        key = (power.level, expected_by_default)
        shared = base.by_power.get(key)
        if shared is None:
            evidence = {**base.public, "power": power.level}
            if expected_by_default:
                evidence["expected_by_default"] = expected_by_default
            shared = base.by_power[key] = Spec(
                item=subject.principal,
                detail=base.detail,
                severity=severity_of(power, subject.broad, base.secret_unknown),
                remediation=base.remediation,
                evidence=evidence,
            )
        return shared
    return Spec(
        item=subject.principal,
        detail=base.detail,
        severity=severity_of(power, subject.broad, base.secret_unknown),
        remediation=base.remediation,
        evidence=evidence,
    )


@dataclass
class _Base:
    public: dict[str, Any]
    first: Takeover
    detail: str
    remediation: str
    by_power: dict[tuple[str, str | None], Spec]
    """The finding of a subject without a cloud principal behind it, by (power, why expected by default)."""
    secret_unknown: bool
    """Every technique goes through a token Secret not known to exist."""


def _base(ct: ClusterTakeover, subject: Subject, takeovers: Sequence[Takeover]) -> _Base:
    # By the takeover objects, not the tuple: a ServiceAccount that a named grant singles out has tuples of
    # its own, but the takeovers of each other subject are the shared ones, and so is their evidence.
    key = (subject.principal, *map(id, takeovers))
    hit = ct.evidence.get(key)
    if hit is not None and len(hit[0]) == len(takeovers) and all(map(operator.is_, hit[0], takeovers)):
        found: _Base = hit[1]
        return found
    ts = ordered(takeovers)
    first = ts[0]
    techniques = list(dict.fromkeys(t.technique for t in ts))
    bindings = list(dict.fromkeys(b for t in ts for b in t.bindings))
    grants = [_grant(ct, t, g) for t in ts for g in t.grants]
    public: dict[str, Any] = {
        "subject": subject.principal,
        "subject_kind": subject.kind,
        "broad": subject.broad,
        "techniques": techniques,
        "technique_meanings": [{"technique": t, "meaning": TECHNIQUES[t]} for t in techniques if t in TECHNIQUES],
        "binding": first.grants[0].binding.ref,
        "bindings": bindings,
        "roles": list(dict.fromkeys(r for t in ts for r in t.roles)),
        "grants": grants[:GRANTS_SHOWN],
    }
    if len(grants) > GRANTS_SHOWN:
        public["grants_total"] = len(grants)
    if any(t.secret_unknown for t in ts):
        public["legacy_token_secret_exists"] = UNKNOWN_SECRET
    only_if = all(t.secret_unknown for t in ts)
    more = f" (+{len(techniques) - 3} more)" if len(techniques) > 3 else ""
    maybe = " (if it has a legacy token Secret)" if only_if else ""
    base = _Base(
        public,
        first,
        f"{subject}: {', '.join(techniques[:3])}{more}{maybe}",
        _remediation(ct, subject, first, len(bindings)),
        {},
        only_if,
    )
    ct.evidence[key] = (takeovers, base)
    return base


def _grant(ct: ClusterTakeover, t: Takeover, g: Any) -> dict[str, Any]:
    b = g.binding
    out = {
        "technique": t.technique,
        "how": t.detail,
        "grant": str(g),
        "file": b.source,
        "item": ct.items.get((b.source, b.ref)) or b.path,
    }
    if t.secret_unknown:
        out["if"] = "the ServiceAccount has a legacy token Secret (unknown)"
    return out


def _cloud(c: CloudPrincipal) -> dict[str, str]:
    out = {"principal": c.principal, "file": c.source}
    if c.note:
        out["note"] = c.note
    return out


def _path(c: CloudPrincipal, t: Takeover, target: str, link: IdentityLink, power: IdentityPower) -> str:
    what = power.level + (f" ({', '.join(power.summary[:3])})" if power.summary else "")
    return f"{c.principal} -> {t.technique} ({t.detail}) -> {target} -> {link.principal} -> {what}"


def _remediation(ct: ClusterTakeover, subject: Subject, t: Takeover, count: int) -> str:
    binding = t.grants[0].binding
    hint = ct.hints.get((binding.source, binding.ref))
    others = (
        f"; {count - 1} other binding(s) give it this ServiceAccount too (see evidence.bindings)" if count > 1 else ""
    )
    if hint:
        return f"{hint}{others}."
    where = f" in {binding.source}" if binding.source else ""
    return (
        f"Narrow {binding.ref}{where}: remove {subject} from its subjects, or take `{t.detail}` out of the role it "
        f"binds; give the workload a ServiceAccount of its own in a namespace {subject} cannot reach{others}."
    )
