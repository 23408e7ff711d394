"""The right-sized grant of a role (AWS-024): one IAM policy document, ready to apply, never granting more.

Built statement by statement from the role's permission policies: every Allow keeps its Resource, NotResource
and Condition exactly as written and loses only the actions the usage data shows unused (a service not used in
the window, a tracked action of a used service not used); every Deny is kept as written. An `Allow NotAction`
becomes the Action list of what it reaches, less the unused. Patterns are expanded only where something is
dropped, into the catalogue's actions (so nothing the pattern did not cover can appear), then folded back into
`service:Verb*` where every action of that verb is kept and the original pattern covers the fold. The document
replaces the role's inline and managed policies; the permissions boundary stays as it is.

What is not understood is not rewritten: a role with a permission policy not in the evidence, or a statement the
reader could not parse, gets no document (its Denies may be what the unread part holds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam.vocabulary.policy import SUBSTITUTING_VERSION, Statement, matches, parse_statement
from kubeiam_aws.judge.catalogue import aws_catalog
from kubeiam_aws.judge.usage import UNUSED, RoleUse, ServiceUse, services_of
from kubeiam_aws.view import Role

FORMAT = "aws-iam-policy"
MANAGED_POLICY_CHARS = 6144
"""A managed policy's limit, in characters not counting whitespace."""
NOTHING_USED = {"Sid": "KubeiamNothingUsed", "Effect": "Deny", "Action": "*", "Resource": "*"}
"""The document of a role that used nothing: IAM wants at least one statement, and this one grants nothing."""
_SID = re.compile(r"^[A-Za-z0-9]+$")
_VERB = re.compile(r"^[A-Z][a-z]+")


@dataclass(frozen=True)
class RightSized:
    document: dict[str, Any]
    statements: tuple[Statement, ...]
    """The document's statements as kubeiam reads them (for judging what it drops)."""
    replaces: tuple[str, ...]
    """The policies it stands for (inline policy names and managed policy ARNs)."""
    changed: bool
    """Something is dropped."""
    notes: tuple[str, ...] = ()


def not_rewritable(role: Role) -> str | None:
    """Why no right-sized document is written for the role, or None."""
    if role.missing_policies:
        return f"policy not in the evidence: {role.missing_policies[0]}"
    policy_gaps = [g for g in role.gaps if ".AssumeRolePolicyDocument" not in g.item]
    if policy_gaps:
        return f"part of a policy not understood ({policy_gaps[0].item})"
    return None


def right_size(role: Role, use: RoleUse) -> RightSized:
    sizer = _Sizer(use)
    statements: list[dict[str, Any]] = []
    for grant in role.grants:
        for s in grant.statements:
            if not s.is_allow:
                statements.append(_literal(dict(s.raw), s.version))
                continue
            if use.idle:
                continue  # nothing used: no Allow survives (below), so none is sized
            kept = sizer.actions_of(s)
            if kept is None:
                statements.append(_literal(dict(s.raw), s.version))
            elif kept:
                statements.append(_literal(_with_actions(s, kept), s.version))
    if use.idle or not any(st.get("Effect") == "Allow" for st in statements):
        # Nothing used: only the Denies remain; one Deny of everything when there is none (IAM wants a statement).
        sizer.changed = sizer.changed or any(s.is_allow for g in role.grants for s in g.statements)
        statements = [st for st in statements if st.get("Effect") != "Allow"] or [dict(NOTHING_USED)]
    statements = _unique_sids(statements)
    document = {"Version": SUBSTITUTING_VERSION, "Statement": statements}
    parsed = tuple(parse_statement(st, SUBSTITUTING_VERSION) for st in statements)
    notes: tuple[str, ...] = ()
    size = _chars(document)
    if size > MANAGED_POLICY_CHARS:
        notes = (f"the document has {size} characters (managed policies take {MANAGED_POLICY_CHARS}): split it",)
    replaces = tuple(g.source.rsplit(":inline/", 1)[-1] if g.kind == "inline-policy" else g.source for g in role.grants)
    return RightSized(document, parsed, replaces, sizer.changed, notes)


class _Sizer:
    def __init__(self, use: RoleUse) -> None:
        self.use = use
        self.changed = False

    def actions_of(self, s: Statement) -> list[str] | None:
        """The statement's kept action patterns; None when it stays exactly as written."""
        if not s.actions:
            return self._not_action(s.not_actions)
        out: list[str] = []
        same = True
        for p in s.actions:
            kept = self._pattern(p)
            same = same and kept == [p]
            out += [k for k in kept if k not in out]
        if same:
            return None
        self.changed = True
        return out

    def _service(self, name: str, glob: bool) -> ServiceUse | bool | None:
        """The service's use; False when it is dropped whole; None when it is kept whole (no data)."""
        su = self.use.services.get(name)
        if su is None:
            if glob and self.use.complete:  # a wildcard reaches it, but AWS's full report does not list it
                return False
            return None
        if su.state == UNUSED:
            return False
        return su

    def _pattern(self, p: str) -> list[str]:
        services, glob = services_of(p)
        action = p.partition(":")[2] or "*"
        out: list[str] = []
        whole = True
        for name in services:
            su = self._service(name, glob)
            if su is False:
                whole = False
                continue
            kept = self._in_service(name, action, su if isinstance(su, ServiceUse) else None, p)
            whole = whole and kept == [f"{name}:{action}"]
            out += kept
        return [p] if whole and (glob or out) else out

    def _in_service(self, name: str, action: str, su: ServiceUse | None, original: str) -> list[str]:
        # Remembered: thousands of roles hold the same pattern with the same tracked actions unused and used.
        key = (name, action, original, su.unused_actions if su else None, su.used_actions if su else None)
        catalogue = _catalogue(name)
        cached = _IN_SERVICE.get(key)
        if cached is None or cached[0] is not catalogue:
            if len(_IN_SERVICE) > 100_000:
                _IN_SERVICE.clear()  # bounded: a long-lived process audits many estates
            cached = _IN_SERVICE[key] = (catalogue, tuple(_in_service(name, action, su, original)))
        return list(cached[1])

    def _not_action(self, not_actions: tuple[str, ...]) -> list[str] | None:
        """`Allow NotAction [...]` as the list of what it reaches and was used (None: nothing dropped)."""
        touched = [p.split(":", 1)[0] for p in not_actions]
        out: list[str] = []
        whole = True
        for name in _reached(not_actions):
            su = self._service(name, True)
            if su is False:
                whole = False
                continue
            service_use = su if isinstance(su, ServiceUse) else None
            unused = {a.lower() for a in service_use.unused_actions} if service_use else set()
            if unused:
                whole = False
            if not unused and not any(matches(t, name) for t in touched):
                out.append(f"{name}:*")
                continue
            # Partly excluded, or some actions unused: the catalogue's actions it reaches, less the unused.
            out += [
                a
                for a in _catalogue(name)
                if not any(matches(p, a) for p in not_actions) and a.split(":", 1)[1].lower() not in unused
            ]
        if whole:
            return None
        self.changed = True
        return out


_IN_SERVICE: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
"""(service, action, pattern, unused, used) -> (the service's catalogue, what `_in_service` keeps)."""


def _in_service(name: str, action: str, su: ServiceUse | None, original: str) -> list[str]:
    """What of `original` is kept within one service (`name:action` of it), the use of that service given."""
    pattern = f"{name}:{action}"
    unused = _covered(su.unused_actions if su else frozenset(), name, action)
    if not unused:
        return [pattern if services_of(original)[1] else original]
    if "*" not in action and "?" not in action:
        return []  # the one action it names is unused
    return _fold(name, action, _kept_actions(name, pattern, su), su)


def _reached(not_actions: tuple[str, ...]) -> tuple[str, ...]:
    from kubeiam_aws.judge.usage import catalogue_services

    whole = [p for p in not_actions if p == "*" or p.endswith(":*")]
    return tuple(s for s in catalogue_services() if not any(matches(p.split(":", 1)[0], s) for p in whole))


def _covered(unused: frozenset[str], name: str, action: str) -> frozenset[str]:
    if not unused:
        return unused
    if action == "*":
        return unused
    pattern = f"{name}:{action}"
    return frozenset(a for a in unused if matches(pattern, f"{name}:{a}"))


def _catalogue(name: str) -> tuple[str, ...]:
    return aws_catalog().by_service.get(name, ())


def _kept_actions(name: str, pattern: str, su: ServiceUse | None) -> list[str]:
    """The catalogue's actions `pattern` covers that are not unused, and the used actions AWS names that the
    catalogue lacks (they are covered by the pattern too, so nothing more is granted)."""
    unused = {a.lower() for a in su.unused_actions} if su else set()
    kept = dict.fromkeys(_covered_by(name, pattern))
    lowered = {k.lower() for k in kept}
    for a in sorted(su.used_actions if su else ()):
        if a.lower() not in lowered and matches(pattern, f"{name}:{a}"):
            kept[a] = None
    return [f"{name}:{a}" for a in kept if a.lower() not in unused]


_COVERED: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
"""(service, pattern) -> (the catalogue's actions of the service, the names of those the pattern covers)."""


def _covered_by(name: str, pattern: str) -> tuple[str, ...]:
    """The names (after `service:`) of the catalogue's actions `pattern` covers, in catalogue order. Remembered:
    thousands of roles hold the same patterns, and a service has hundreds of actions to match each against."""
    catalogue = _catalogue(name)
    cached = _COVERED.get((name, pattern))
    if cached is None or cached[0] is not catalogue:
        cached = _COVERED[(name, pattern)] = (
            catalogue,
            tuple(a.split(":", 1)[1] for a in catalogue if matches(pattern, a)),
        )
    return cached[1]


def _fold(name: str, action: str, kept: list[str], su: ServiceUse | None) -> list[str]:
    """`svc:Verb*` for each verb none of whose actions is unused, when the original pattern covers it."""
    unused = [a.lower() for a in su.unused_actions] if su else []
    prefix = action[:-1] if action.endswith("*") and "*" not in action[:-1] and "?" not in action else None
    by_verb: dict[str, list[str]] = {}
    for a in kept:
        m = _VERB.match(a.split(":", 1)[1])
        by_verb.setdefault(m.group(0) if m else "", []).append(a)
    out: list[str] = []
    for verb, actions in by_verb.items():
        foldable = (
            verb
            and prefix is not None
            and verb.lower().startswith(prefix.lower())
            and len(actions) > 1
            and not any(a.startswith(verb.lower()) for a in unused)
        )
        out += [f"{name}:{verb}*"] if foldable else actions
    return sorted(out, key=str.lower)


def _with_actions(s: Statement, actions: list[str]) -> dict[str, Any]:
    raw = dict(s.raw)
    raw.pop("NotAction", None)
    out: dict[str, Any] = {}
    if s.sid:
        out["Sid"] = s.sid
    out["Effect"] = "Allow"
    out["Action"] = actions[0] if len(actions) == 1 else actions
    for key in ("Resource", "NotResource", "Condition"):
        if key in raw:
            out[key] = raw[key]
    if "Resource" not in out and "NotResource" not in out:
        out["Resource"] = "*"  # what kubeiam read the statement as (IAM requires one of them)
    return out


def _literal(statement: dict[str, Any], version: str | None) -> dict[str, Any]:
    """A statement of a 2008-10-17 (or unversioned) policy, where `${...}` is text, made to mean the same in a
    2012-10-17 document: `${$}` is IAM's escape for `$`."""
    if version == SUBSTITUTING_VERSION:
        return statement
    out = dict(statement)
    for key in ("Resource", "NotResource", "Condition"):
        if key in out:
            out[key] = _escape(out[key])
    return out


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("${", "${$}{")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _unique_sids(statements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """IAM wants a policy's Sids unique and alphanumeric: keep the first of each, drop the rest (Sid is optional)."""
    seen: set[str] = set()
    out = []
    for st in statements:
        sid = st.get("Sid")
        if sid is not None and (not isinstance(sid, str) or not _SID.match(sid) or sid in seen):
            st = {k: v for k, v in st.items() if k != "Sid"}
        elif isinstance(sid, str):
            seen.add(sid)
        out.append(st)
    return out


def _chars(document: Mapping[str, Any]) -> int:
    import json

    return len(re.sub(r"\s", "", json.dumps(document, separators=(",", ":"))))
