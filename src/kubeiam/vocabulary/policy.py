"""Policy semantics shared by every cloud: statements, wildcard matching, explicit Deny over Allow.

AWS documents map here directly. GCP roles and Azure role definitions map to one Allow statement
each (Azure's `notActions` become `not_actions` of the same statement, which is exactly Azure's
"actions minus notActions"). Rules ask questions of these types; nobody re-parses raw JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition clause: `{"StringEquals": {"key": ["v1", "v2"]}}` becomes one per key."""

    operator: str
    """As written, including any `ForAnyValue:`/`ForAllValues:` prefix and `IfExists` suffix."""
    key: str
    values: tuple[str, ...]

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


class PolicyFormatError(ValueError):
    """A policy document that is not of the documented shape."""


_SEQUENCES = (list, tuple)
_SCALARS = (str, int, float, bool)


def _as_tuple(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    # Tuples of types, not `list | tuple`: a union is built anew on every call, and this runs per field.
    if isinstance(value, _SEQUENCES) and all(isinstance(v, _SCALARS) for v in value):
        return tuple(str(v) for v in value)
    raise PolicyFormatError(f"{what} must be a string or a list of strings")


def _principals(value: Any) -> tuple[Principal, ...]:
    if value is None:
        return ()
    if value == "*":
        return (Principal("*", "*"),)
    if not isinstance(value, Mapping):
        raise PolicyFormatError("Principal must be '*' or an object")
    return tuple(Principal(str(kind), v) for kind, vals in value.items() for v in _as_tuple(vals, "Principal"))


def _conditions(value: Any) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise PolicyFormatError("Condition must be an object")
    out = []
    for operator, clause in value.items():
        if not isinstance(clause, Mapping):
            raise PolicyFormatError(f"Condition {operator} must map keys to values")
        for key, vals in clause.items():
            out.append(Condition(str(operator), str(key), _as_tuple(vals, f"Condition {key}")))
    return tuple(out)


def parse_statement(raw: Mapping[str, Any]) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyFormatError("a Statement must be an object")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyFormatError(f"Effect must be Allow or Deny, not {effect!r}")
    has_resource = "Resource" in raw or "NotResource" in raw
    return Statement(
        effect=Effect(effect),
        actions=_as_tuple(raw.get("Action"), "Action"),
        not_actions=_as_tuple(raw.get("NotAction"), "NotAction"),
        # Trust policies carry no Resource; treat them as applying to the role itself ("*").
        resources=_as_tuple(raw.get("Resource"), "Resource") if has_resource else ("*",),
        not_resources=_as_tuple(raw.get("NotResource"), "NotResource"),
        conditions=_conditions(raw.get("Condition")),
        principals=_principals(raw.get("Principal")),
        not_principals=_principals(raw.get("NotPrincipal")),
        sid=raw.get("Sid") or None,
        raw=raw,
    )


def parse_document(document: Any) -> tuple[Statement, ...]:
    """Normalise an IAM-style policy document (dict, or its JSON / URL-encoded JSON string)."""
    if isinstance(document, str):
        import json
        from urllib.parse import unquote

        text = document if document.lstrip().startswith("{") else unquote(document)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyFormatError(f"policy document is not JSON: {exc.msg}") from None
    if not isinstance(document, Mapping):
        raise PolicyFormatError("a policy document must be an object")
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyFormatError("Statement must be an object or a list")
    return tuple(parse_statement(s) for s in statements)


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
