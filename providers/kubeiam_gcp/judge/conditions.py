"""IAM conditions (CEL) judged where they are decidable from the evidence and the audit's clock.

Decidable: `request.time` compared with a `timestamp("...")` (an expiry, a start), `resource.name`
compared or tested with `startsWith` / `endsWith`, `resource.type` / `resource.service` compared, `true`,
`false`, and `!`, `&&`, `||` over them. Anything else (tags, `request.time.getHours()`, API attributes,
arithmetic, `in`, ternaries) is unknown, and CEL's own rule decides the rest: `false && x` is false,
`true || x` true whatever `x` is. Three values: True, False, None (unknown).

Why not a CEL library (cel-python): it evaluates a whole expression with every attribute bound; an
audit must decide what a condition allows with the resource unknown, and must not read a time-of-day
test at the audit's minute as "never true". The subset here is what decides a grant's reach.

A grant's condition is, at the audit's time: `inactive` (false now and for ever after: an expired grant
is gone), `always` (true whatever the resource and for ever: it scopes nothing), `temporary` (true now,
not for ever: it ends), `later` (false now, may be true later), `scoped` (depends on the resource or on
what cannot be decided: it narrows, as an unknown condition always did).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

INACTIVE, ALWAYS, TEMPORARY, LATER, SCOPED = "inactive", "always", "temporary", "later", "scoped"
NONE = "none"
"""No condition."""
FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<num>\d+(?:\.\d+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|(?P<op>&&|\|\||==|!=|<=|>=|[<>!().,\[\]{}?:+\-*/%]))"""
)


class _Unparsable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str
    """`bool`, `str`, `time`, `attr`, `call`, `not`, `and`, `or`, `rel`, `opaque`."""
    value: Any = None
    args: tuple[_Node, ...] = ()


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _Unparsable(text[pos:])
        out.append(m.group(m.lastgroup or "op"))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.t, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise _Unparsable(f"expected {expected}")
        self.i += 1
        return tok

    def expr(self) -> _Node:
        node = self.disjunction()
        if self.peek() == "?":  # a ternary: not decided
            self.take("?")
            self.expr()
            self.take(":")
            self.expr()
            return _Node("opaque")
        return node

    def disjunction(self) -> _Node:
        parts = [self.conjunction()]
        while self.peek() == "||":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else _Node("or", args=tuple(parts))

    def conjunction(self) -> _Node:
        parts = [self.unary()]
        while self.peek() == "&&":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _Node("and", args=tuple(parts))

    def unary(self) -> _Node:
        if self.peek() == "!":
            self.take()
            return _Node("not", args=(self.unary(),))
        left = self.arithmetic()
        if self.peek() in ("==", "!=", "<", "<=", ">", ">=", "in"):
            op = self.take()
            return _Node("rel", op, (left, self.arithmetic()))
        return left

    def arithmetic(self) -> _Node:
        node = self.operand()
        while self.peek() in ("+", "-", "*", "/", "%"):
            self.take()
            self.operand()
            node = _Node("opaque")
        return node

    def operand(self) -> _Node:
        tok = self.take()
        if tok == "(":
            node = self.expr()
            self.take(")")
        elif tok in ("[", "{"):
            self._skip_until("]" if tok == "[" else "}")
            node = _Node("opaque")
        elif tok == "-":
            self.operand()
            node = _Node("opaque")
        elif tok[0] in "\"'":
            node = _Node("str", _unquote(tok))
        elif tok in ("true", "false"):
            node = _Node("bool", tok == "true")
        elif tok[0].isdigit():
            node = _Node("opaque")
        elif tok[0].isalpha() or tok[0] == "_":
            node = self._call_or_attr(tok)
        else:
            raise _Unparsable(tok)
        return self._selectors(node)

    def _call_or_attr(self, name: str) -> _Node:
        if self.peek() == "(":
            args = self._args()
            if name == "timestamp" and len(args) == 1 and args[0].kind == "str":
                return _Node("time", _timestamp(args[0].value))
            return _Node("opaque")
        return _Node("attr", name)

    def _selectors(self, node: _Node) -> _Node:
        while self.peek() in (".", "["):
            if self.take() == "[":
                self.expr()
                self.take("]")
                node = _Node("opaque")
                continue
            name = self.take()
            if self.peek() == "(":
                node = _Node("call", name, (node, *self._args()))
            else:
                node = _Node("attr", f"{node.value}.{name}") if node.kind == "attr" else _Node("opaque")
        return node

    def _args(self) -> tuple[_Node, ...]:
        self.take("(")
        args: list[_Node] = []
        while self.peek() != ")":
            args.append(self.expr())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return tuple(args)

    def _skip_until(self, closer: str) -> None:
        depth = 1
        while depth:
            tok = self.take()
            depth += tok in ("[", "{", "(")
            depth -= tok in ("]", "}", ")")
        if self.t[self.i - 1] != closer:
            raise _Unparsable(closer)


def _unquote(tok: str) -> str:
    return re.sub(r"\\(.)", r"\1", tok[1:-1])


def _timestamp(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@lru_cache(maxsize=4096)
def _parse(expression: str) -> _Node:
    try:
        parser = _Parser(_tokens(expression))
        node = parser.expr()
        if parser.peek() is not None:
            raise _Unparsable(parser.peek() or "")
        return node
    except (_Unparsable, IndexError):
        return _Node("opaque")


Resource = Mapping[str, str]
"""`name`, `type`, `service` of the resource asked about (any may be absent: unknown)."""


def evaluate(expression: str, now: datetime | None, resource: Resource | None = None) -> bool | None:
    """The condition's value at `now` on `resource`; None when the evidence cannot decide it."""
    return _value(_parse(expression), now, resource)


def _value(node: _Node, now: datetime | None, resource: Resource | None) -> bool | None:
    kind = node.kind
    if kind == "bool":
        return bool(node.value)
    if kind == "not":
        inner = _value(node.args[0], now, resource)
        return None if inner is None else not inner
    if kind in ("and", "or"):
        values = [_value(a, now, resource) for a in node.args]
        decisive = kind == "or"  # True decides an `or`, False an `and`
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    if kind == "rel":
        return _relation(node, now, resource)
    if kind == "call":
        return _call(node, resource)
    return None


def _relation(node: _Node, now: datetime | None, resource: Resource | None) -> bool | None:
    left, right = node.args
    op: str = node.value
    if {left.kind, right.kind} == {"attr", "time"}:
        attr, moment = (left, right) if left.kind == "attr" else (right, left)
        if attr.value != "request.time" or moment.value is None or now is None:
            return None
        if attr is right:  # timestamp(...) OP request.time: turn it round
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        return _compare(now, op, moment.value)
    if {left.kind, right.kind} == {"attr", "str"} and op in ("==", "!="):
        attr, text = (left, right) if left.kind == "attr" else (right, left)
        value = _attribute(attr.value, resource)
        if value is None:
            return None
        return bool(value == text.value) == (op == "==")
    return None


def _compare(a: datetime, op: str, b: datetime) -> bool | None:
    table = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}
    return table.get(op)


def _call(node: _Node, resource: Resource | None) -> bool | None:
    target, *args = node.args
    if node.value not in ("startsWith", "endsWith") or target.kind != "attr" or len(args) != 1:
        return None
    if args[0].kind != "str":
        return None
    if args[0].value == "":
        return True  # every string starts and ends with ""
    value = _attribute(target.value, resource)
    if value is None:
        return None
    return value.startswith(args[0].value) if node.value == "startsWith" else value.endswith(args[0].value)


def _attribute(name: str, resource: Resource | None) -> str | None:
    if not name.startswith("resource.") or resource is None:
        return None
    return resource.get(name[len("resource.") :])


@lru_cache(maxsize=4096)
def effect(expression: str | None, now: datetime | None) -> str:
    """What a condition does to its grant at the audit's time `now` (see the module's words)."""
    if not expression:
        return NONE
    at_now = evaluate(expression, now)
    at_end = evaluate(expression, FAR_FUTURE)
    if at_now is False:
        return INACTIVE if at_end is False else LATER
    if at_now is True:
        return ALWAYS if at_end is True else TEMPORARY
    return SCOPED


def expression_of(condition: Mapping[str, Any] | None) -> str | None:
    """The CEL text of a binding's condition (`{"expression", "title"}`), None without one."""
    if not condition:
        return None
    value = condition.get("expression")
    return value if isinstance(value, str) and value.strip() else None


def narrows(effect_name: str) -> bool:
    """Whether a condition with this effect limits what the grant reaches (the resources, or when it
    starts): a time limit still ending later reaches everything now."""
    return effect_name in (SCOPED, LATER)


def conditioned(effect_name: str) -> bool:
    """Whether the grant carries a condition that limits it at all (a resource scope or a time limit)."""
    return effect_name not in (NONE, ALWAYS)
