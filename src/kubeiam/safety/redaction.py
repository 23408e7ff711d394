"""Blank secret values in JSON before it is written anywhere: evidence collected live, the evidence copy
of a report folder, and (through `redact_text`) every string a report or stderr carries.

EVIDENCE.md: a Secret is recorded by namespace, name, type and key names only, and no credential value
may reach an evidence file or a report. Names, keys and shapes stay (a blanked value is REDACTED, still
a non-empty string; a Secret's values become empty, as EVIDENCE.md records them), so a blanked copy
audits to the same findings. What is blanked:

- a Secret's `data` / `stringData` values;
- the value of a key named as a secret (`password`, `UserData`, `privateKeyData`, `example.com/api-token`),
  of a `{name, value}` / `{Key, Value}` pair so named (env variables, EC2 and launch-template tags), and
  the value after a secret-named flag in an argument list (`["--aws-secret-access-key", VALUE]`);
- credential shapes in any string (secret_text.py: key ids, JWTs, PEM blocks, URL passwords,
  `password=...`), also inside JSON held in a string (`last-applied-configuration`, an inline key file)
  and base64 text that decodes to one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from kubeiam.safety.secret_names import is_secret_name, is_secret_variable, looks_like_permission
from kubeiam.safety.secret_text import REDACTED, redact_text

__all__ = ["REDACTED", "Redactor", "is_secret_name", "is_secret_variable", "redact_text", "redacted"]

_SCALARS = frozenset({bool, int, float})


def _all_in(known: set[str], items: list[Any] | tuple[Any, ...]) -> bool:
    try:
        return known.issuperset(items)  # at C speed
    except TypeError:  # a dict or a list among them
        return False


_PAIRS = (("name", "value"), ("Name", "Value"), ("key", "value"), ("Key", "Value"))
_BASE64 = re.compile(r"[A-Za-z0-9+/]{60,}={0,2}")


def _is_secret_key(key: str) -> bool:
    # A policy keeps its conditions: `aws:ResourceTag/token` names a condition key, not a secret.
    return is_secret_name(key) and not looks_like_permission(key)


def redacted(value: Any) -> Any:
    """`value` with secret values blanked: a new structure where anything changed, else `value` itself
    (never mutated). Anything that is not JSON (a datetime from an SDK) is left as it is."""
    return Redactor().value(value)


class Redactor:
    """`redacted`, remembering each string and key it has judged: one per report, whose strings repeat by
    the thousand (a walk of 40,000 evidence mappings is where a large report's redaction spends its time)."""

    def __init__(self) -> None:
        self._clean: set[str] = set()
        self._safe: set[str] = set()  # clean, and no secret-named flag (which blanks the next argument)
        self._blanked: dict[str, str] = {}
        self._plain_keys: set[Any] = set()

    @property
    def size(self) -> int:
        """How many strings it remembers."""
        return len(self._clean) + len(self._blanked)

    def value(self, node: Any) -> Any:
        """`node` blanked, as `redacted` does."""
        kind = type(node)
        if kind is str:
            return self.text(node)
        if kind is dict or isinstance(node, Mapping):
            return self._mapping(node)
        if kind is list or kind is tuple:
            return self._sequence(node)
        return node

    def text(self, text: str) -> str:
        """`text` blanked; `text` itself (the caller's object) when there is nothing to blank."""
        if text in self._clean:
            return text
        out = self._blanked.get(text)
        if out is None:
            out = self._text(text)
            if out == text:
                self._clean.add(text)
                if not (text[:1] == "-" and is_secret_name(text)):
                    self._safe.add(text)
                return text
            self._blanked[text] = out
        return out

    def _text(self, text: str) -> str:
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and len(stripped) > 1:
            try:
                inner = json.loads(stripped)
                cleaned = self.value(inner)
            except (ValueError, RecursionError):  # not JSON, or nested too deeply to walk: blank it as text
                inner = cleaned = None
            if isinstance(inner, dict | list):
                return json.dumps(cleaned, ensure_ascii=False) if cleaned is not inner else text
        out = redact_text(text)
        if out is text and len(text) >= 60 and _BASE64.fullmatch(stripped):
            return REDACTED if self._secret_inside(stripped) else text
        return out

    def _secret_inside(self, encoded: str) -> bool:
        """Base64 of a key file or of anything else credential-shaped (an inline GOOGLE_CREDENTIALS)."""
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return False
        return self.text(decoded) != decoded

    def _secret_key(self, key: Any) -> bool:
        """Whether `key` names a secret value (remembered: a report repeats its keys in every mapping)."""
        if key in self._plain_keys:
            return False
        secret = type(key) is str and _is_secret_key(key)
        if not secret:
            self._plain_keys.add(key)
        return secret

    def _mapping(self, node: Mapping[Any, Any]) -> Any:
        if node.get("kind") == "Secret":
            node = self._secret_object(node)
        elif self._known_clean(node):
            return node
        out: dict[Any, Any] | None = None
        for key, child in node.items():
            kind = type(child)
            if kind is str:
                if child and self._secret_key(key):
                    new: Any = child if child == REDACTED else REDACTED
                else:
                    new = self.text(child)
            else:
                self._secret_key(key)  # remembered: the next mapping with this key takes the quick way
                if child is None or kind in _SCALARS:
                    continue
                new = self.value(child)
            if new is not child:
                out = dict(node) if out is None else out
                out[key] = new
        if "value" in node or "Value" in node:
            for name_key, value_key in _PAIRS:
                name, value = node.get(name_key), node.get(value_key)
                if (
                    isinstance(name, str)
                    and isinstance(value, str)
                    and value not in ("", REDACTED)
                    and is_secret_variable(name, value)
                ):
                    out = dict(node) if out is None else out
                    out[value_key] = REDACTED
        return node if out is None else out

    def _known_clean(self, node: Mapping[Any, Any]) -> bool:
        """The quick way, for most mappings of a report: every key already judged plain, every value a string
        or a list of strings already judged clean (or a number), no name/value pair. True means unchanged."""
        if not self._plain_keys.issuperset(node) or "value" in node or "Value" in node:
            return False
        clean, safe = self._clean, self._safe
        for child in node.values():
            kind = type(child)
            if kind is str:
                if child not in clean:
                    return False
            elif kind is list:
                if not _all_in(safe, child):
                    return False
            elif child is not None and kind not in _SCALARS:
                return False
        return True

    def _secret_object(self, node: Mapping[Any, Any]) -> Mapping[Any, Any]:
        """A Secret keeps its key names; every value goes (base64 or not, whatever the key is called)."""
        out = None
        for key in ("data", "stringData"):
            data = node.get(key)
            if isinstance(data, Mapping) and any(v != "" for v in data.values()):
                out = dict(node) if out is None else out
                out[key] = dict.fromkeys(data, "")
        return node if out is None else out

    def _sequence(self, node: list[Any] | tuple[Any, ...]) -> Any:
        if _all_in(self._safe, node):
            return node  # a list of names already judged, no flag among them: the common case
        items = [self.value(child) for child in node]
        # `["--db-password", "VALUE"]`: a secret-named flag without `=` takes the next argument.
        for i in range(len(items) - 1):
            flag, nxt = items[i], items[i + 1]
            if (
                type(flag) is str
                and flag[:1] == "-"
                and isinstance(nxt, str)
                and "=" not in flag
                and " " not in flag
                and nxt
                and not nxt.startswith("-")
                and nxt != REDACTED
                and is_secret_name(flag)
            ):
                items[i + 1] = REDACTED
        if all(new is old for new, old in zip(items, node, strict=True)):
            return node
        return items if isinstance(node, list) else tuple(items)
