"""Loading an evidence file as JSON and checking its shape; a malformed file is an `InputError`
naming the file and the field. Shared by the parsers of this package."""

from __future__ import annotations

from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence


def fail(file: str, what: str) -> InputError:
    return InputError(f"{file}: {what}")


def load_list(evidence: Evidence, file: str, *keys: str) -> list[Any] | None:
    """A bare list, or the list under the first of `keys` an object carries (REST pages merged)."""
    value = evidence.load(file)
    if value is None:
        return None
    if isinstance(value, dict):
        key = next((k for k in keys if k in value), None)
        if key is None:
            if not value:  # `{}`: an empty REST response
                return []
            raise fail(file, f"expected a list or an object with '{keys[0]}'")
        value = value[key]
        if value is None:
            return []
    if not isinstance(value, list):
        raise fail(file, "expected a JSON list")
    return value


def load_object(evidence: Evidence, file: str) -> dict[str, Any] | None:
    value = evidence.load(file)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail(file, "expected a JSON object")
    return value


def require_str(obj: Any, key: str, file: str, where: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        raise fail(file, f"field '{where}.{key}' missing or not a string")
    return value
