"""Reading an evidence directory (docs/evidence.md): every file optional, every bad file named."""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kubeiam.errors import InputError
from kubeiam.safety.redaction import redacted
from kubeiam.vocabulary.model import CoverageError


@dataclass
class Evidence:
    """An evidence directory. Paths given to it are relative to its root, with `/` separators."""

    root: Path
    read: list[str] = field(default_factory=list)
    """Files read so far, relative to the root (becomes the report's `coverage.sources`)."""
    refused: list[CoverageError] = field(default_factory=list)
    """Links out of the directory that were not followed (the report's coverage names each)."""

    def path(self, relative: str) -> Path:
        return self.root / relative

    def exists(self, relative: str) -> bool:
        return self._inside(relative) and self.path(relative).is_file()

    def children(self, relative: str = "") -> list[str]:
        """Sorted names of the sub-directories of `relative` (sorted: runs are reproducible)."""
        base = self.path(relative) if relative else self.root
        if not base.is_dir():
            return []
        names = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        return [n for n in names if self._inside(f"{relative}/{n}" if relative else n)]

    def files(self, relative: str, suffix: str = ".json") -> list[str]:
        base = self.path(relative)
        if not base.is_dir():
            return []
        names = sorted(p.name for p in base.iterdir() if p.is_file() and p.name.endswith(suffix))
        return [n for n in names if self._inside(f"{relative}/{n}")]

    def load(self, relative: str) -> Any:
        """Parse a JSON file, or raise InputError naming it. Missing files return None.

        Accepts what the CLIs print where they run: UTF-8 with or without a byte-order mark, and UTF-16
        (Windows PowerShell's `>`). A directory or `null` where the file should be is not the command's
        output: an input error, never "absent"."""
        path = self.path(relative)
        if path.is_dir():
            raise InputError(f"{relative}: is a directory, not the command's JSON output")
        if not path.is_file() or not self._inside(relative):
            return None
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{relative}: cannot read: {exc.strerror or exc}") from None
        text = decode(data, relative)
        if not text.strip():
            raise InputError(f"{relative}: file is empty (expected JSON)")
        try:
            value = json.loads(text, parse_constant=_not_json)
        except json.JSONDecodeError as exc:
            raise InputError(f"{relative}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise InputError(f"{relative}: not readable: nested too deeply") from None
        except ValueError as exc:  # NaN / Infinity, or an integer of thousands of digits
            raise InputError(f"{relative}: not valid JSON ({exc})") from None
        if value is None:
            raise InputError(f"{relative}: holds null, not the command's JSON output")
        if "\\ud" in text or "\\uD" in text:
            value = _without_lone_surrogates(value)
        self.read.append(relative)
        return value

    def _inside(self, relative: str) -> bool:
        """False (and a coverage error) for a link that leads out of the evidence directory: an evidence
        directory handed over by someone else must not make the audit read, or a report folder copy,
        anything outside it."""
        path, step = self.path(relative), self.root
        links = False
        for part in Path(relative).parts:  # only links inside the directory count, not above its root
            step = step / part
            links = links or step.is_symlink()
        if not links:
            return True
        try:
            path.resolve().relative_to(self.root.resolve())
            return True
        except ValueError:
            refusal = CoverageError(
                "evidence", relative, "a link out of the evidence directory: not followed", subject=relative
            )
            if refusal not in self.refused:
                self.refused.append(refusal)
            return False

    def load_object(self, relative: str, *required: str) -> dict[str, Any] | None:
        """Load a JSON object; each of `required` keys must be present (else InputError)."""
        value = self.load(relative)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InputError(f"{relative}: expected a JSON object, found {_kind(value)}")
        for key in required:
            if key not in value:
                raise InputError(f"{relative}: missing field '{key}'")
        return value

    def load_list(self, relative: str, key: str | None = None) -> list[Any] | None:
        """Load a JSON list, either bare or under `key` of an object."""
        value = self.load(relative)
        if value is None:
            return None
        if key is not None and isinstance(value, dict):
            if key not in value:
                raise InputError(f"{relative}: missing field '{key}'")
            value = value[key]
            where = f"field '{key}'"
        else:
            where = "top level"
        if not isinstance(value, list):
            raise InputError(f"{relative}: {where} must be a list, found {_kind(value)}")
        return value

    def walk(self, relative: str, name: str) -> Iterator[str]:
        """Every file called `name` below `relative`, sorted."""
        base = self.path(relative)
        if base.is_dir():
            for p in sorted(base.rglob(name)):
                found = p.relative_to(self.root).as_posix()
                if self._inside(found):
                    yield found


def write_json_file(
    path: Path, value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None
) -> None:
    """Write an evidence file atomically (a reader never sees half a file), indented for the people
    who read evidence. With orjson: the standard library's indenting encoder is pure Python, half a
    second for the 8 MB iam.json of a 5,000-role account."""
    value = redacted(value)  # no collector writes a secret value, whatever an API answered
    option = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    data = orjson.dumps(value, default=default, option=option)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # hidden, and not *.json: never read as evidence
    tmp.write_bytes(data)
    os.replace(tmp, path)


_KINDS: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}


def decode(data: bytes, relative: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 (with BOM, or without one when the NUL bytes say so)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif len(data) >= 2 and data[0] != 0 and data[1] == 0:
        encoding = "utf-16-le"
    elif len(data) >= 2 and data[0] == 0 and data[1] != 0:
        encoding = "utf-16-be"
    else:
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{relative}: not {encoding.upper().replace('-SIG', '')} text ({exc.reason})") from None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """`value` with each lone surrogate (`"\\ud800"`: valid JSON, but no character, so no report or terminal
    could write it) replaced by U+FFFD. In place, without recursion: the document may be deeply nested."""

    def fixed(x: Any) -> Any:
        if isinstance(x, str):
            return _LONE_SURROGATE.sub("\ufffd", x)
        if isinstance(x, list | dict):
            stack.append(x)
        return x

    stack: list[Any] = []
    value = fixed(value)
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            container[:] = [fixed(x) for x in container]
        else:
            items = [(fixed(k), fixed(x)) for k, x in container.items()]
            container.clear()
            container.update(items)
    return value


def _not_json(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)
