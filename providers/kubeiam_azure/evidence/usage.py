"""Optional usage evidence of Azure identities, per subscription folder:

- `activity-log.json`: the Activity Log (control-plane writes, deletes and actions, 90 days), either
  `{"<principal object id>": <az monitor activity-log list --caller <id> --offset 90d --output json>, ...}`
  or one subscription-wide listing (`az monitor activity-log list --offset 90d`: every caller);
- `managed-identity-sign-ins.json`: Microsoft Graph managed-identity sign-ins, either the tenant-wide page
  `GET /beta/auditLogs/signIns?$filter=signInEventTypes/any(t: t eq 'managedIdentity')` or an object of
  such pages (filtered on `servicePrincipalId`) by principal object id.

Azure keeps no per-permission usage: these say which control-plane operations a principal performed and
when it last got a token, nothing about reads or data-plane use (`judge.usage` keeps those as granted).
Absent is not empty: an identity whose subscription's log was not read, or not for it, is a coverage note
naming it and AZ-012, never "unused". A log that cannot be trusted whole (a page of several, az's default
`--max-events` cut, an event without an operation) leaves its principal unjudged there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CloudIdentity, CoverageError, IdentityLink, LinkStatus
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.evidence.fields import kind, page_of
from kubeiam_azure.view import ManagedIdentity, SignIns, UsageView, UsedOperation

ACTIVITY_LOG = "activity-log.json"
SIGN_INS = "managed-identity-sign-ins.json"
UNUSED_RULES = ("AZ-012",)
AZ_MAX_EVENTS = 50
"""What `az monitor activity-log list` returns at most unless `--max-events` says otherwise."""
_MAX_EVENTS = (
    f"exactly {AZ_MAX_EVENTS} events: az monitor activity-log list stops at --max-events (default "
    f"{AZ_MAX_EVENTS}), so later events may be missing; re-run it with --max-events 100000"
)
_OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
# The statuses whose identities hold grants a ServiceAccount may use (as the grant rules read them).
_GRANTED = (LinkStatus.RESOLVED, LinkStatus.UNCHECKED, LinkStatus.MISSING)


class _Bad(Exception):
    """One event that cannot be understood (its operation unknown)."""


@dataclass
class _Usage:
    """What is being read, merged over subscriptions; `view()` freezes it."""

    ops: dict[tuple[str, str], dict[tuple[str, str | None], UsedOperation]] = field(default_factory=dict)
    whole: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)
    unreadable: dict[tuple[str, str], str] = field(default_factory=dict)
    sign_ins: dict[str, SignIns] = field(default_factory=dict)
    sign_ins_whole: bool = False
    sign_ins_read: bool = False
    end: datetime | None = None

    def asked(self, sub: str, principal: str) -> dict[tuple[str, str | None], UsedOperation]:
        return self.ops.setdefault((sub, principal), {})

    def add(self, sub: str, principal: str, op: UsedOperation) -> None:
        found = self.asked(sub, principal)
        key = (op.action.lower(), op.scope)
        old = found.get(key)
        if old is None or _newer(op.last, old.last):
            found[key] = op if old is None else UsedOperation(old.action, old.scope, op.last)
        self.later(op.last)

    def later(self, when: datetime | None) -> None:
        if when is not None and (self.end is None or when > self.end):
            self.end = when

    def bad(self, sub: str, principal: str, reason: str) -> None:
        self.unreadable.setdefault((sub, principal), reason)

    def view(self) -> UsageView:
        return UsageView(
            operations={
                k: tuple(sorted(v.values(), key=lambda o: (o.action.lower(), o.scope or "")))
                for k, v in self.ops.items()
            },
            whole=frozenset(self.whole),
            read=frozenset(self.read),
            unreadable=dict(self.unreadable),
            sign_ins=dict(self.sign_ins),
            sign_ins_whole=self.sign_ins_whole,
            sign_ins_read=self.sign_ins_read,
            end=self.end,
        )


def _newer(a: datetime | None, b: datetime | None) -> bool:
    """Whether `a` is later than `b`; an unknown time counts as the latest (it may be recent)."""
    if a is None:
        return b is not None
    return b is not None and a > b


def load_usage(evidence: Evidence) -> UsageView | None:
    """The usage files of every subscription folder; None when there is none at all."""
    acc = _Usage()
    found = False
    for sub in evidence.children("azure"):
        low = sub.lower()
        found |= _activity(evidence, f"azure/{sub}/{ACTIVITY_LOG}", low, acc)
        found |= _sign_ins(evidence, f"azure/{sub}/{SIGN_INS}", acc)
    return acc.view() if found else None


# -- the Activity Log ------------------------------------------------------------------------------------


def _activity(evidence: Evidence, path: str, sub: str, acc: _Usage) -> bool:
    doc = evidence.load(path)
    if doc is None:
        return False
    acc.read.add(sub)
    if isinstance(doc, list) or (isinstance(doc, dict) and isinstance(doc.get("value"), list)):
        # Every caller of the subscription: a principal absent from it did nothing there.
        acc.whole.add(sub)
        _events(doc, path, sub, None, acc)
    elif isinstance(doc, dict):
        for key, value in doc.items():
            principal = key.strip().lower()
            acc.asked(sub, principal)
            if isinstance(value, list) or (isinstance(value, dict) and isinstance(value.get("value"), list)):
                _events(value, path, sub, principal, acc, f"[{key!r}]")
            else:
                acc.bad(sub, principal, f"[{key!r}]: must be a list of events, found {kind(value)}")
    else:
        raise InputError(
            f"{path}: expected the events of az monitor activity-log list (a JSON list), or an object of them "
            f"by principal object id, found {kind(doc)}"
        )
    return True


def _events(doc: Any, path: str, sub: str, principal: str | None, acc: _Usage, where: str = "") -> None:
    """One listing: for `principal`, or (None) for every caller of the subscription."""
    page = page_of(doc, path)
    whom = principal or "*"
    if page.next_link:
        acc.bad(sub, whom, f"{where}nextLink: {page.missing_pages()}")
    elif not page.prefix and len(page.items) == AZ_MAX_EVENTS:
        acc.bad(sub, whom, f"{where}: {_MAX_EVENTS}" if where else _MAX_EVENTS)
    for i, raw in enumerate(page.items):
        item = f"{where}{page.path(i)}"
        caller = principal or _caller(raw)
        try:
            op = _operation(raw, item)
        except _Bad as exc:
            # An operation not known may be any of the grants: its principal is not judged there.
            acc.bad(sub, caller or "*", str(exc))
            continue
        if caller:
            acc.add(sub, caller, op)


def _operation(raw: Any, item: str) -> UsedOperation:
    if not isinstance(raw, dict):
        raise _Bad(f"{item}: an event must be an object, found {kind(raw)}")
    found = raw.get("authorization")
    auth: dict[str, Any] = found if isinstance(found, dict) else {}
    action = auth.get("action")
    if not isinstance(action, str) or not action:
        name = raw.get("operationName")
        action = name.get("value") if isinstance(name, dict) else name
    if not isinstance(action, str) or not action.strip():
        raise _Bad(f"{item}.authorization.action: missing, and no operationName.value: the operation is unknown")
    scope = auth.get("scope") or raw.get("resourceId")
    return UsedOperation(
        action.strip(),
        scope.strip().rstrip("/").lower() if isinstance(scope, str) and scope.strip() else None,
        _time(raw.get("eventTimestamp")),
    )


def _caller(raw: Any) -> str | None:
    """The principal of an event in a subscription-wide listing: `caller` (an object id for service
    principals and managed identities), else the object id claim."""
    if not isinstance(raw, dict):
        return None
    caller = raw.get("caller")
    if isinstance(caller, str) and caller.strip():
        return caller.strip().lower()
    claims = raw.get("claims")
    oid = claims.get(_OID_CLAIM) if isinstance(claims, dict) else None
    return oid.strip().lower() if isinstance(oid, str) and oid.strip() else None


def _time(value: Any) -> datetime | None:
    """RFC 3339 as ARM and Graph print it (`2026-01-09T08:15:00.0000000Z`); None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# -- Microsoft Graph sign-ins ----------------------------------------------------------------------------


def _sign_ins(evidence: Evidence, path: str, acc: _Usage) -> bool:
    doc = evidence.load(path)
    if doc is None:
        return False
    if not isinstance(doc, dict):
        raise InputError(
            f'{path}: expected a Microsoft Graph page ({{"value": [...]}}) or an object of them by principal '
            f"object id, found {kind(doc)}"
        )
    acc.sign_ins_read = True
    if isinstance(doc.get("value"), list):
        items, more = _graph_page(doc)
        acc.sign_ins_whole = acc.sign_ins_whole or not more  # a cut tenant-wide listing says nothing of absence
        grouped: dict[str, list[Any]] = {}
        for raw in items:
            sp = raw.get("servicePrincipalId") if isinstance(raw, dict) else None
            if isinstance(sp, str) and sp and _managed(raw):
                grouped.setdefault(sp.strip().lower(), []).append(raw)
        for principal, mine in grouped.items():
            _merge_sign_ins(acc, principal, mine, complete=not more)
        return True
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(value.get("value"), list):
            items, more = _graph_page(value)
        elif isinstance(value, list):
            items, more = value, False
        else:
            items, more = [], True  # not readable: what it held is not known
        _merge_sign_ins(acc, key.strip().lower(), [i for i in items if _managed(i)], complete=not more)
    return True


def _graph_page(doc: Mapping[str, Any]) -> tuple[list[Any], bool]:
    link = doc.get("@odata.nextLink")
    return doc["value"], isinstance(link, str) and bool(link)


def _managed(raw: Any) -> bool:
    types = raw.get("signInEventTypes") if isinstance(raw, dict) else None
    return not isinstance(types, list) or "managedIdentity" in types


def _merge_sign_ins(acc: _Usage, principal: str, items: Iterable[Any], *, complete: bool) -> None:
    last, resources = None, set()
    for raw in items:
        if not isinstance(raw, dict):
            complete = False
            continue
        status = raw.get("status")
        code = status.get("errorCode") if isinstance(status, dict) else 0
        if code not in (0, None):
            continue  # a refused token is not a use
        when = _time(raw.get("createdDateTime"))
        if when is None:
            complete = False
            continue
        last = when if last is None or when > last else last
        name = raw.get("resourceDisplayName")
        if isinstance(name, str) and name:
            resources.add(name)
    old = acc.sign_ins.get(principal)
    if old is not None:
        last = old.last if last is None or (old.last is not None and old.last > last) else last
        resources |= set(old.resources)
        complete = complete and old.complete
    acc.sign_ins[principal] = SignIns(last, tuple(sorted(resources)), complete)
    acc.later(last)


# -- what is not checked ----------------------------------------------------------------------------------


def subscription_of(scope: str | None) -> str | None:
    """The subscription of a scope (lower-cased); None above one (management group, tenant root)."""
    m = _SUBSCRIPTION.match(scope or "")
    return m[1].lower() if m else None


def usage_gaps(
    links: Iterable[IdentityLink],
    identities: Mapping[str, ManagedIdentity],
    usage: UsageView | None,
    reported: set[str],
) -> list[CoverageError]:
    """Identities with grants whose usage could not be read where they hold them: a coverage note each
    (subject the identity, rule AZ-012), never "unused". No usage file at all: one note for all."""
    seen: set[str] = set()
    errors: list[CoverageError] = []
    granted = False
    for link in links:
        identity = link.identity
        mi = identities.get(link.principal)
        if link.status not in _GRANTED or identity is None or mi is None or mi.id in seen or not identity.grants:
            continue
        seen.add(mi.id)
        granted = True
        if usage is not None and mi.id not in reported:
            errors += _gaps(identity, mi, usage)
    if usage is None and granted:
        return [
            CoverageError(
                AZURE,
                f"azure/<subscription-id>/{ACTIVITY_LOG}",
                "no usage data in the evidence (Activity Log): unused control-plane access was not checked",
                rules=UNUSED_RULES,
            )
        ]
    return errors


def _gaps(identity: CloudIdentity, mi: ManagedIdentity, usage: UsageView) -> list[CoverageError]:
    out = []
    oid = mi.principal_id
    for sub in sorted({s for g in identity.grants if (s := subscription_of(g.scope))}):
        path = f"azure/{sub}/{ACTIVITY_LOG}"
        if sub not in usage.read:
            why = f"not in the evidence: the control-plane operations of {mi.name} in subscription {sub} were not read"
        elif (sub, oid) not in usage.operations and sub not in usage.whole:
            why = f"no entry for {mi.name} ({oid}): its control-plane operations in subscription {sub} were not read"
        elif cut := usage.unreadable.get((sub, oid)) or usage.unreadable.get((sub, "*")):
            why = f"the Activity Log of {mi.name} in subscription {sub} is not whole: {cut}"
        else:
            continue
        out.append(CoverageError(AZURE, path, f"{why}: its unused access there was not checked", mi.id, UNUSED_RULES))
    return out
