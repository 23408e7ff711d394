"""What every Azure evidence parser shares: the two JSON shapes of one object, and checked fields.

The az CLI flattens what the REST API nests under `properties` (and renames a few fields:
`roleType` is REST's `properties.type`). Every parser accepts both, checks the fields a rule
depends on, and raises `InputError("<file>: <where>: <what>")` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeiam.errors import InputError


def flat(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """REST objects nest under `properties`; merge them up so one lookup serves both shapes.

    An az CLI object is already flat: returned as is (read, never changed), not copied."""
    props = obj.get("properties")
    return {**obj, **props} if isinstance(props, Mapping) else obj


def items_of(doc: Any, where: str) -> list[Any]:
    """A bare list (az CLI) or a REST page `{"value": [...]}`."""
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        items: list[Any] = doc["value"]
        return items
    if isinstance(doc, list):
        return doc
    raise InputError(f"{where}: expected a JSON list (or a REST page with 'value')")


def text(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    """A non-empty string field; None only when absent and not `required`."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: missing field '{key}'" if value is None else f"{where}: '{key}' must be a string")
    return value


def strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def optional_text(value: Any) -> str | None:
    """A non-empty string, else None (optional fields the rules only compare)."""
    return value if isinstance(value, str) and value else None


def last_segment(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1].lower()
