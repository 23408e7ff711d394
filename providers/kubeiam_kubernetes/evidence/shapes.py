"""The types the reader expects of the fields it reads, per kind, and a check that names each mismatch.

Why check before reading: `kubectl get -o json` always prints these types, but evidence made by hand,
converted or damaged may not. A field of the wrong type is named (its path in the item), read as absent,
and whatever it decides is reported unchecked: never a crash, never the safe value taken silently.
Only fields the reader (or a rule) uses are listed, so unrelated oddities stay out of the report.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final


class _StrMap:
    """A map whose values are all strings (labels, annotations)."""


STR_MAP: Final = _StrMap()


@dataclass(frozen=True, slots=True)
class Required:
    """A field the API server never leaves out, and without which the reader would misread its object (a
    volume without a name backs no mount): missing or null, it is a mismatch like a wrong type."""

    shape: type


Shape = type | _StrMap | Required | Mapping[str, Any] | Sequence[Any]
"""`str`, `bool`, `dict` (any object), `STR_MAP`, `{field: Shape}` (an object, those fields checked) or
`[Shape]` (a list of them). `null` always passes: it reads as absent, as kubectl's omitted fields do."""

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Mismatch:
    path: Path
    """Where in the item (`("spec", "containers")`)."""
    found: str
    expected: str


def mismatches(value: Any, shape: Shape, path: Path = ()) -> list[Mismatch]:
    """Every place where `value` is not `shape`; the check does not descend into a mismatched value."""
    if _fits(shape)(value):
        return []  # the common case, without building a path per field
    out: list[Mismatch] = []
    _check(value, shape, path, out)
    return out


Fits = Callable[[Any], bool]
_COMPILED: dict[int, tuple[Shape, Fits]] = {}


def _fits(shape: Shape) -> Fits:
    """`shape` as a yes/no test, compiled once per shape object: 50,000 items are read, nearly all fine."""
    hit = _COMPILED.get(id(shape))
    if hit is None or hit[0] is not shape:
        hit = _COMPILED[id(shape)] = (shape, _compile(shape))  # the shape is kept, so its id stays its own
    return hit[1]


def _compile(shape: Shape) -> Fits:
    """True exactly when `_check` would find nothing (None passes unless Required, as there)."""
    if isinstance(shape, Required):
        inner = _compile(shape.shape)
        return lambda v: v is not None and inner(v)
    if isinstance(shape, type):
        t = shape
        return lambda v: v is None or isinstance(v, t)
    if isinstance(shape, _StrMap):
        return _fits_str_map
    if isinstance(shape, Mapping):
        fields = tuple((key, _compile(inner)) for key, inner in shape.items())

        def fits_map(v: Any) -> bool:
            if v is None:
                return True
            if not isinstance(v, dict):
                return False
            # Loops, not all(...): this runs for every field of every item.
            for key, fits in fields:  # noqa: SIM110
                if not fits(v.get(key)):
                    return False
            return True

        return fits_map
    each = _compile(shape[0])

    def fits_list(v: Any) -> bool:
        if v is None:
            return True
        if not isinstance(v, list):
            return False
        for x in v:  # noqa: SIM110
            if x is None or not each(x):
                return False
        return True

    return fits_list


def _fits_str_map(v: Any) -> bool:
    if v is None:
        return True
    if not isinstance(v, dict):
        return False
    for x in v.values():  # noqa: SIM110
        if not isinstance(x, str):
            return False
    return True


def _check(value: Any, shape: Shape, path: Path, out: list[Mismatch]) -> None:
    if isinstance(shape, Required):
        if value is None:
            out.append(Mismatch(path, "missing", expected(shape.shape)))
            return
        shape = shape.shape
    if value is None:
        return
    if isinstance(shape, type):
        # bool is an int in Python, never the other way round: `True` is no string, `1` no boolean.
        if not isinstance(value, shape):
            out.append(Mismatch(path, describe(value), expected(shape)))
    elif isinstance(shape, _StrMap):
        if not isinstance(value, dict):
            out.append(Mismatch(path, describe(value), expected(shape)))
            return
        for key, item in value.items():
            if not isinstance(item, str):
                out.append(Mismatch((*path, key), describe(item), "a string"))
    elif isinstance(shape, Mapping):
        if not isinstance(value, dict):
            out.append(Mismatch(path, describe(value), expected(shape)))
            return
        for key, inner in shape.items():
            field = value.get(key)
            if field is not None or isinstance(inner, Required):
                _check(field, inner, (*path, key), out)
    else:
        if not isinstance(value, list):
            out.append(Mismatch(path, describe(value), expected(shape)))
            return
        inner = shape[0]
        for i, item in enumerate(value):
            if item is None:  # a null field is absent; a null in a list is no element
                out.append(Mismatch((*path, i), "null", expected(inner)))
            else:
                _check(item, inner, (*path, i), out)


def expected(shape: Shape) -> str:
    if isinstance(shape, Required):
        shape = shape.shape
    if isinstance(shape, type):
        return _EXPECTED.get(shape, shape.__name__)
    if isinstance(shape, _StrMap):
        return "a map of strings"
    return "a map" if isinstance(shape, Mapping) else "a list"


_EXPECTED: Mapping[type, str] = {str: "a string", bool: "true or false", dict: "a map", list: "a list"}


def describe(value: Any) -> str:
    """What a value is, in the words of the report (never the value: it may be a secret)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return "a non-finite number"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "missing"
    return _FOUND.get(type(value), type(value).__name__)


_FOUND: Mapping[type, str] = {dict: "a map", list: "a list", str: "a string"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def render(path: Path) -> str:
    """`items[12].metadata.annotations["example.com/key"]`: how a person (or jq) finds the field."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _NAME.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def prune(item: dict[str, Any], found: Sequence[Mismatch]) -> None:
    """Remove each mismatched value from `item`, so the reader sees it absent (the report names it).

    Deepest and last first: removing a list element does not shift one still to be removed."""
    for m in sorted(found, key=lambda m: [(isinstance(p, str), p) for p in m.path], reverse=True):
        parent: Any = item
        for part in m.path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict):
            parent.pop(m.path[-1], None)  # a Required field may be missing already
        else:
            del parent[m.path[-1]]


# -- what the reader reads, per kind ---------------------------------------------------------------

_OWNER_REFERENCES = [{"kind": str, "name": str, "controller": bool}]
_CONTAINERS = [
    {
        "name": str,
        "env": [
            {
                "name": Required(str),
                "value": str,
                "valueFrom": {"secretKeyRef": {"name": str, "key": str}, "configMapKeyRef": {"name": str, "key": str}},
            }
        ],
        "envFrom": [{"secretRef": {"name": str}}],
        "volumeMounts": [{"mountPath": Required(str), "name": Required(str)}],
    }
]
_CIDR_SET = [{"cidr": str, "except": [str]}]
_CILIUM_SPEC = {
    "endpointSelector": dict,
    "egressDeny": [{"toCIDR": [str], "toCIDRSet": _CIDR_SET}],
    "egress": [{"toEntities": [str], "toCIDR": [str], "toCIDRSet": _CIDR_SET}],
}

METADATA: Final = {"name": str, "namespace": str}
"""Every object's: checked when the file is loaded; an object without them is not read at all."""

SHAPES: Final[Mapping[str, Shape]] = {
    "Namespace": {"metadata": {"labels": STR_MAP}},
    "ServiceAccount": {
        "metadata": {"labels": STR_MAP, "annotations": STR_MAP},
        "automountServiceAccountToken": bool,
    },
    "Pod": {
        "metadata": {"labels": STR_MAP, "ownerReferences": _OWNER_REFERENCES},
        "spec": {
            "serviceAccountName": str,
            "serviceAccount": str,
            "nodeName": str,
            "hostNetwork": bool,
            "volumes": [{"name": Required(str), "secret": {"secretName": str}}],
            "initContainers": _CONTAINERS,
            "containers": _CONTAINERS,
            "ephemeralContainers": _CONTAINERS,
        },
    },
    "Node": {"metadata": {"labels": STR_MAP}, "spec": {"providerID": str}},
    "Secret": {"data": dict, "stringData": dict},
    "NetworkPolicy": {
        "spec": {
            "podSelector": dict,
            "policyTypes": [str],
            "egress": [{"to": [{"ipBlock": {"cidr": str, "except": [str]}}]}],
        }
    },
    "CiliumNetworkPolicy": {"spec": _CILIUM_SPEC, "specs": [_CILIUM_SPEC]},
    "CiliumClusterwideNetworkPolicy": {"spec": _CILIUM_SPEC, "specs": [_CILIUM_SPEC]},
}
"""Kinds the reader reads beyond their metadata (owners: `shape_of`)."""

OWNER_KINDS: Final = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"})
"""What a pod's `ownerReferences` lead to: the workload findings name (its top owner)."""


def shape_of(kind: str) -> Shape:
    """What the reader reads of a `kind`: owners for their references, other kinds (kept for cloud readers
    in the Kubernetes view) nothing beyond their metadata."""
    if kind in OWNER_KINDS:
        return _OWNER_SHAPE
    return SHAPES.get(kind, _NOTHING)


# One object each, so `_fits` compiles them once.
_OWNER_SHAPE: Final[Shape] = {"metadata": {"labels": STR_MAP, "ownerReferences": _OWNER_REFERENCES}}
_NOTHING: Final[Shape] = {}
