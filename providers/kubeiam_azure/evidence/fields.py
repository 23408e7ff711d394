"""What every Azure evidence parser shares: the two JSON shapes of one object, checked fields, pages.

The az CLI flattens what the REST API nests under `properties` (and renames a few fields:
`roleType` is REST's `properties.type`). Every parser accepts both and checks the fields a rule
depends on. A file that is not the command's shape at the top level is an `InputError` (exit 2);
anything deeper (one assignment, one credential, one field of a role) is `Unreadable`: the reader
names it in coverage and audits the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam.errors import InputError

_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


class Unreadable(Exception):
    """One item (or one field of an item) that cannot be understood: a wrong type, a missing field, an
    unknown value. Never exit 2: the caller turns it into a `Gap` or a `CoverageError`."""

    def __init__(self, item: str, reason: str) -> None:
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Page:
    """A listing as found: a bare list (az CLI), or a REST page `{"value": [...], "nextLink": ...}`."""

    items: list[Any]
    prefix: str
    """How an item's path starts: `[3]` for a bare list, `value[3]` for a REST page."""
    next_link: str | None = None
    """Set when the file holds one page of several: the pages after it are not in the evidence."""

    def path(self, i: int) -> str:
        return f"{self.prefix}[{i}]"

    def missing_pages(self) -> str:
        """One line naming what is missing (the nextLink, shortened: it is a URL with a skip token)."""
        link = self.next_link or ""
        shown = link if len(link) <= 400 else f"{link[:397]}..."
        return f"first page only: the pages after it (nextLink {shown}) are not in the evidence"


def kind(value: Any) -> str:
    """What a value is, for a reason line (never the value itself: it may be long, or a secret)."""
    if value is None or value == "":
        return "null" if value is None else "an empty string"
    return _KINDS.get(type(value), type(value).__name__)


def flat(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """REST objects nest under `properties`; merge them up so one lookup serves both shapes.

    An az CLI object is already flat: returned as is (read, never changed), not copied."""
    props = obj.get("properties")
    return {**obj, **props} if isinstance(props, Mapping) else obj


def page_of(doc: Any, where: str) -> Page:
    """A bare list or a REST page; anything else at the top level is not the command's output."""
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        link = doc.get("nextLink")
        return Page(doc["value"], "value", link if isinstance(link, str) and link else None)
    if isinstance(doc, list):
        return Page(doc, "")
    raise InputError(f"{where}: expected a JSON list (or a REST page with 'value'), found {kind(doc)}")


def obj_of(raw: Any, item: str, what: str) -> Mapping[str, Any]:
    """One item of a listing, flattened; `Unreadable` when it is not an object."""
    if not isinstance(raw, dict):
        raise Unreadable(item, f"{what} must be an object, found {kind(raw)}")
    return flat(raw)


def text(obj: Mapping[str, Any], key: str, item: str, *, required: bool = True) -> str | None:
    """A non-empty string field; None only when absent (or null) and not `required`."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if value is None:
        raise Unreadable(f"{item}.{key}", "missing field")
    if not isinstance(value, str) or not value:
        raise Unreadable(f"{item}.{key}", f"must be a non-empty string, found {kind(value)}")
    return value


def strings(obj: Mapping[str, Any], key: str, item: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Unreadable(f"{item}.{key}", f"must be a list of strings, found {kind(value)}")
    return tuple(value)


def optional_text(value: Any) -> str | None:
    """A non-empty string, else None (optional fields the rules only compare)."""
    return value if isinstance(value, str) and value else None


def last_segment(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1].lower()
