"""Small readers the AWS evidence parsers share: typed field access that never raises on a wrong type
inside an item, and the one check for an output that holds a single page of a paged command."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeiam.vocabulary.model import CoverageError

_TOKENS = ("NextToken", "nextToken", "Marker")


def text(value: Any) -> str | None:
    """A non-empty string, or None (a list, an object, a number where a name belongs is not one)."""
    return value if isinstance(value, str) and value else None


def mapping(value: Any) -> Mapping[str, Any]:
    """An object, or an empty one for anything else (the caller decides whether that is a problem)."""
    return value if isinstance(value, Mapping) else {}


def kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def one_page(
    relative: str, data: Any, command: str, subject: str | None, rules: tuple[str, ...] = ()
) -> CoverageError | None:
    """A coverage error when `data` is one page of `command` (`IsTruncated`, `Marker`, `NextToken`, `nextToken`).

    Why: the CLI merges pages by itself; a file holding one page (`--max-items`, `--no-paginate`, a
    hand-made call) would make everything on the other pages look absent: "does not exist", or clean."""
    if not isinstance(data, Mapping):
        return None
    token = next((k for k in _TOKENS if data.get(k)), None)
    if token is None and data.get("IsTruncated") is not True:
        return None
    marker = f"{token} set" if token else "IsTruncated"
    return CoverageError(
        "aws",
        relative,
        f"holds one page of {command} ({marker}): what is on the pages after it was not read "
        "(run the command without --max-items / --no-paginate so the CLI merges every page)",
        subject=subject,
        rules=rules,
    )
