"""Evidence strings on their way to a terminal: no control character gets through.

Why: a name, a subject or an error body comes from evidence someone else wrote; an ESC or OSC sequence
in it could recolour, retitle or rewrite the terminal of whoever reads the report.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def safe_line(text: str) -> str:
    """`text` with every control character (C0, C1, DEL, line separators, bidi overrides) written as an
    escape: one visible line, nothing a terminal would act on."""
    return _CONTROL.sub(_escaped, text)
