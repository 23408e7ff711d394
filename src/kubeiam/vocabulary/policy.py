"""Policy semantics shared by every cloud: statements, wildcard matching, explicit Deny over Allow.

AWS documents map here directly. GCP roles and Azure role definitions map to one Allow statement
each (Azure's `notActions` become `not_actions` of the same statement, which is exactly Azure's
"actions minus notActions"). Rules ask questions of these types; nobody re-parses raw JSON.

The IAM JSON grammar is read in full (IAM JSON policy reference): `Version` 2012-10-17, 2008-10-17 or
absent; `Statement` an object or a list; `Action`/`NotAction`/`Resource`/`NotResource` a string or a
list; every `Principal` form; condition values of any JSON scalar type, scalar or list; operators with
`IfExists` and `ForAllValues:`/`ForAnyValue:`; policy variables kept as written. `read_document` never
raises: a statement it cannot understand is left out and named in `problems`, so one bad statement
leaves the rest of the document judged (and its identity listed as partly checked by the reader).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import unquote


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


SUBSTITUTING_VERSION = "2012-10-17"
"""The policy language version in which IAM substitutes `${...}` variables (in 2008-10-17, or with no
`Version`, `${aws:username}` is literal text)."""
VERSIONS = frozenset({SUBSTITUTING_VERSION, "2008-10-17"})
_VARIABLE = re.compile(r"\$\{[^}]*\}")


def has_variable(value: str) -> bool:
    """`${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`...: a part of the value IAM fills in per request."""
    return "${" in value and _VARIABLE.search(value) is not None


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition clause: `{"StringEquals": {"key": ["v1", "v2"]}}` becomes one per key."""

    operator: str
    """As written, including any `ForAnyValue:`/`ForAllValues:` prefix and `IfExists` suffix."""
    key: str
    values: tuple[str, ...]
    """As written; booleans as `true`/`false`, numbers in their JSON spelling."""
    variables: bool = False
    """A value holds a policy variable IAM substitutes per request (2012-10-17): what it compares with is
    not known here, so the condition must never be decided by comparing its text."""

    @property
    def base_operator(self) -> str:
        op = self.operator.split(":", 1)[-1]
        return op[: -len("IfExists")] if op.endswith("IfExists") else op

    @property
    def key_lower(self) -> str:
        return self.key.lower()


@dataclass(frozen=True, slots=True)
class Principal:
    type: str
    """`AWS`, `Federated`, `Service`, `CanonicalUser` or `*`."""
    value: str
    """As written: `*`, an account id, an ARN, a service or provider name, a canonical user id."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One normalised statement. Exactly one of actions / not_actions is set for AWS; Azure may
    set both (allowed = actions minus not_actions)."""

    effect: Effect
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ("*",)
    not_resources: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    principals: tuple[Principal, ...] = ()
    not_principals: tuple[Principal, ...] = ()
    sid: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """The statement as found, for evidence only."""
    version: str | None = None
    """The document's `Version` (AWS): whether `${...}` in resources and condition values is a variable."""
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        # Worked out once: statements key memos and caches, and an action list may hold thousands of entries
        # (ReadOnlyAccess), which a tuple's hash would walk again on every look-up.
        h = self._hash
        if not h:
            fields = (self.effect, self.actions, self.not_actions, self.resources, self.not_resources)
            h = hash((*fields, self.conditions, self.principals, self.not_principals, self.sid, self.version))
            object.__setattr__(self, "_hash", h or 1)
        return h or 1

    @property
    def is_allow(self) -> bool:
        return self.effect is Effect.ALLOW

    def allows(self, action: str) -> bool:
        """Whether this statement's action part covers `action` (ignores resources, conditions)."""
        if self.actions and not any_match(self.actions, action):
            return False
        if not self.actions and not self.not_actions:
            return False
        return not (self.not_actions and any_match(self.not_actions, action))

    @property
    def all_resources(self) -> bool:
        """Applies to every resource: `Resource: "*"`, or a NotResource (everything but a few)."""
        return "*" in self.resources or bool(self.not_resources)

    def condition(self, key: str) -> tuple[Condition, ...]:
        k = key.lower()
        return tuple(c for c in self.conditions if c.key_lower == k)

    def variable(self, value: str) -> bool:
        """Whether IAM fills in part of `value` (a resource of this statement) per request."""
        return self.version == SUBSTITUTING_VERSION and has_variable(value)


class PolicyFormatError(ValueError):
    """A policy document that is not of the documented shape."""


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """A part of a document that is not IAM's grammar: where in the document, and why."""

    item: str
    """A path inside the document: `Statement[2].Condition.Bool.aws:SecureTransport`, `Version`, `` (all of it)."""
    reason: str


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    """The statements understood, in document order."""
    problems: tuple[PolicyProblem, ...] = ()
    """What was not understood (those statements are not in `statements`)."""
    version: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """The document as an object (decoded when it was a JSON or URL-encoded string)."""


class _Bad(Exception):
    """One element of a statement that is not the grammar (caught per statement)."""

    def __init__(self, item: str, reason: str) -> None:
        super().__init__(reason)
        self.item = item
        self.reason = reason


_ELEMENTS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
PRINCIPAL_TYPES = frozenset({"AWS", "Federated", "Service", "CanonicalUser"})
_OPERATORS = frozenset(
    {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
        "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
        "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
        "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
    }
)  # fmt: skip


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _strings(value: Any, item: str, key: str) -> tuple[str, ...]:
    """`Action`, `Resource` and their Not- forms: a string or a list of strings, nothing else."""
    # Exact type checks, and the item path built only for an error: this runs for every element of every
    # statement of an estate (5,000 roles with 3 real managed policies each: 40,000 statements).
    if type(value) is str:
        return (value,)
    if type(value) is list and all(type(v) is str for v in value):
        return tuple(value)
    raise _Bad(f"{item}.{key}", f"must be a string or a list of strings, not {_kind(value)}")


def _scalar(value: Any) -> str | None:
    """A condition value as text: IAM accepts any JSON scalar (`true`, `1`, `"x"`)."""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def _values(value: Any, item: str) -> tuple[str, ...]:
    if type(value) is str:
        return (value,)
    if type(value) is list and all(type(v) is str for v in value):
        return tuple(value)
    one = _scalar(value)
    if one is not None:
        return (one,)
    if isinstance(value, list):
        out = tuple(_scalar(v) for v in value)
        if all(v is not None for v in out):
            return out  # type: ignore[return-value]
    raise _Bad(item, f"must be a string, number or boolean, or a list of them, not {_kind(value)}")


def _principals(value: Any, item: str) -> tuple[Principal, ...]:
    if value == "*":
        return (Principal("*", "*"),)
    if not isinstance(value, Mapping) or not value:
        raise _Bad(item, f'must be "*" or an object of principal types, not {_kind(value)}')
    out = []
    for kind, vals in value.items():
        if kind not in PRINCIPAL_TYPES:
            raise _Bad(f"{item}.{kind}", "is not a principal type (AWS, Service, Federated, CanonicalUser)")
        for v in vals if isinstance(vals, list) else [vals]:
            if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**12:
                v = str(v).zfill(12)  # an account id written as a JSON number: IAM keeps its 12 digits
            if type(v) is not str:
                raise _Bad(f"{item}.{kind}", f"must be a string or a list of strings, not {_kind(v)}")
            out.append(Principal(kind, v))
    return tuple(out)


@lru_cache(maxsize=1024)
def _operator(operator: str) -> bool:
    """`StringEquals`, `ForAnyValue:StringLikeIfExists`...: an IAM condition operator."""
    prefix, _, base = operator.rpartition(":")
    base = base[: -len("IfExists")] if base.endswith("IfExists") else base
    return prefix in ("", "ForAllValues", "ForAnyValue") and base in _OPERATORS


def _conditions(value: Any, item: str, substitutes: bool) -> tuple[Condition, ...]:
    if not isinstance(value, Mapping):
        raise _Bad(item, f"must be an object, not {_kind(value)}")
    out = []
    for operator, clause in value.items():
        if not _operator(str(operator)):
            raise _Bad(f"{item}.{operator}", "is not a condition operator")
        if not isinstance(clause, Mapping):
            raise _Bad(f"{item}.{operator}", f"must map condition keys to values, not {_kind(clause)}")
        for key, vals in clause.items():
            values = _values(vals, f"{item}.{operator}.{key}")
            variables = substitutes and any("${" in v and has_variable(v) for v in values)
            out.append(Condition(str(operator), str(key), values, variables))
    return tuple(out)


_EFFECTS = {"Allow": Effect.ALLOW, "Deny": Effect.DENY}
_EXCLUSIVE = (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal"))


def _statement(raw: Any, item: str, version: str | None) -> Statement:
    if not isinstance(raw, Mapping):
        raise _Bad(item, f"must be an object, not {_kind(raw)}")
    if not _ELEMENTS.issuperset(raw):
        unknown = sorted(str(k) for k in raw if k not in _ELEMENTS)
        raise _Bad(f"{item}.{unknown[0]}", "is not a policy element")
    written = raw.get("Effect")
    effect = _EFFECTS.get(written) if isinstance(written, str) else None
    if effect is None:
        raise _Bad(f"{item}.Effect", f"must be Allow or Deny, not {json.dumps(written)[:40]}")
    for a, b in _EXCLUSIVE:
        if a in raw and b in raw:
            raise _Bad(item, f"has both {a} and {b}")
    if "Action" not in raw and "NotAction" not in raw:  # IAM refuses it: read as "no action", it would clear findings
        raise _Bad(item, "has neither Action nor NotAction")
    if effect is Effect.ALLOW and "NotPrincipal" in raw:
        raise _Bad(f"{item}.NotPrincipal", "is not supported with Allow")
    sid = raw.get("Sid")
    return Statement(
        effect=effect,
        actions=_strings(raw["Action"], item, "Action") if "Action" in raw else (),
        not_actions=_strings(raw["NotAction"], item, "NotAction") if "NotAction" in raw else (),
        # Trust policies carry no Resource; treat them as applying to the role itself ("*").
        resources=_strings(raw["Resource"], item, "Resource")
        if "Resource" in raw
        else ()
        if "NotResource" in raw
        else ("*",),
        not_resources=_strings(raw["NotResource"], item, "NotResource") if "NotResource" in raw else (),
        conditions=_conditions(raw["Condition"], f"{item}.Condition", version == SUBSTITUTING_VERSION)
        if "Condition" in raw
        else (),
        principals=_principals(raw["Principal"], f"{item}.Principal") if "Principal" in raw else (),
        not_principals=_principals(raw["NotPrincipal"], f"{item}.NotPrincipal") if "NotPrincipal" in raw else (),
        sid=str(sid) if sid not in (None, "") else None,
        raw=raw,
        version=version,
    )


def parse_statement(raw: Mapping[str, Any], version: str | None = None) -> Statement:
    try:
        return _statement(raw, "Statement", version)
    except _Bad as bad:
        raise PolicyFormatError(f"{bad.item}: {bad.reason}") from None


def read_document(document: Any) -> PolicyDocument:
    """An IAM-style policy document (an object, or its JSON / URL-encoded JSON text), read statement by
    statement: what is not the grammar is named in `problems`, never raised."""
    if isinstance(document, str):
        text = document if document.lstrip().startswith("{") else unquote(document)
        try:
            document = json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "unreadable"
            return PolicyDocument((), (PolicyProblem("", f"policy document is not JSON: {reason}"),))
    if not isinstance(document, Mapping):
        return PolicyDocument((), (PolicyProblem("", f"a policy document must be an object, not {_kind(document)}"),))
    problems: list[PolicyProblem] = []
    version = document.get("Version")
    if version is not None and not (isinstance(version, str) and version in VERSIONS):
        # Judged as 2012-10-17 (variables unknown, never literal), and named: IAM itself refuses it.
        problems.append(PolicyProblem("Version", f"{json.dumps(version)[:40]} is not a policy language version"))
        version = SUBSTITUTING_VERSION
    if "Statement" not in document:
        return PolicyDocument((), (*problems, PolicyProblem("Statement", "missing")), version, document)
    raw = document["Statement"]
    if isinstance(raw, Mapping):
        items: list[tuple[str, Any]] = [("Statement", raw)]
    elif isinstance(raw, list):
        items = [(f"Statement[{i}]", s) for i, s in enumerate(raw)]
    else:
        return PolicyDocument(
            (),
            (*problems, PolicyProblem("Statement", f"must be an object or a list, not {_kind(raw)}")),
            version,
            document,
        )
    statements = []
    for item, s in items:
        try:
            statements.append(_statement(s, item, version))
        except _Bad as bad:
            problems.append(PolicyProblem(bad.item, bad.reason))
    return PolicyDocument(tuple(statements), tuple(problems), version, document)


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def parse_document(document: Any) -> tuple[Statement, ...]:
    """Normalise an IAM-style policy document, or raise PolicyFormatError at its first problem."""
    doc = read_document(document)
    if doc.problems:
        first = doc.problems[0]
        raise PolicyFormatError(f"{first.item}: {first.reason}" if first.item else first.reason)
    return doc.statements


@lru_cache(maxsize=65536)
def _pattern(glob: str) -> re.Pattern[str]:
    # IAM globs: `*` any run, `?` one character; matching is case-insensitive for actions.
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob),
        re.IGNORECASE | re.DOTALL,
    )


def matches(glob: str, value: str) -> bool:
    if glob == "*":
        return True
    if "*" not in glob and "?" not in glob:
        return glob.lower() == value.lower()
    return _pattern(glob).fullmatch(value) is not None


def any_match(globs: Iterable[str], value: str) -> bool:
    return any(matches(g, value) for g in globs)


class ActionCatalog(Protocol):
    """The known actions of a cloud, with access levels. Providers supply one."""

    def actions(self) -> Sequence[str]:
        """Every known action, e.g. `s3:GetObject`."""
        ...

    def access_level(self, action: str) -> str | None:
        """`List`, `Read`, `Write`, `Permissions management`, `Tagging` or None if unknown."""
        ...


def denied_everywhere(statements: Iterable[Statement], action: str) -> bool:
    """An unconditional Deny of `action` on every resource: nothing can allow it (Deny wins)."""
    return any(
        not s.is_allow and not s.conditions and s.all_resources and not s.not_resources and s.allows(action)
        for s in statements
    )


class _CatalogIndex:
    """A catalogue indexed once: actions per service prefix and by lower-cased name, and every
    pattern's expansion memoised. Why: a policy's `s3:Get*` then scans s3's few hundred actions once,
    not the whole catalogue (about 18,000 AWS actions) for every statement of every role."""

    def __init__(self, catalog: Sequence[str]) -> None:
        self.catalog = catalog
        self.by_service: dict[str, list[str]] = {}
        for action in catalog:
            self.by_service.setdefault(action.split(":", 1)[0].lower(), []).append(action)
        self.lowered = {a.lower(): a for a in catalog}
        self.memo: dict[str, tuple[str, ...]] = {}

    def expand(self, pattern: str) -> tuple[str, ...]:
        found = self.memo.get(pattern)
        if found is None:
            found = self.memo[pattern] = self._expand(pattern)
        return found

    def _expand(self, pattern: str) -> tuple[str, ...]:
        if pattern == "*":
            return tuple(self.catalog)
        if "*" not in pattern and "?" not in pattern:
            return (self.lowered.get(pattern.lower(), pattern),)  # a literal not in the catalogue is kept
        service, _, rest = pattern.partition(":")
        wild_service = "*" in service or "?" in service or not rest
        pool = self.catalog if wild_service else self.by_service.get(service.lower(), ())
        rx = _pattern(pattern)
        return tuple(a for a in pool if rx.fullmatch(a))


_INDEXES: dict[int, _CatalogIndex] = {}


def _index(catalog: Sequence[str]) -> _CatalogIndex:
    index = _INDEXES.get(id(catalog))
    if index is None or index.catalog is not catalog:  # the id of a collected catalogue may be reused
        index = _INDEXES[id(catalog)] = _CatalogIndex(catalog)
    return index


def expand_one(pattern: str, catalog: Sequence[str]) -> tuple[str, ...]:
    """The catalogue actions one pattern covers (case-insensitive IAM glob), memoised per catalogue."""
    return _index(catalog).expand(pattern)


def expand(patterns: Iterable[str], catalog: Sequence[str]) -> tuple[str, ...]:
    """The catalogue actions a list of patterns covers (a literal not in the catalogue is kept)."""
    index = _index(catalog)
    out: dict[str, None] = {}
    for p in patterns:
        out.update(dict.fromkeys(index.expand(p)))
    return tuple(out)
