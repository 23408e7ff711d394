"""Evidence strings on their way out: no control character reaches a terminal, no markup a page or a
spreadsheet would act on.

Why: a name, a subject or an error body comes from evidence someone else wrote; an ESC or OSC sequence
in it could recolour, retitle or rewrite the terminal of whoever reads the report, `<script>` would run
in report.html or in a markdown viewer that passes HTML through, and `=HYPERLINK(...)` would run in the
spreadsheet a CSV is opened in.

Each format has one function here; renderers use it for every string that did not come from kubeiam
itself. Secret values are blanked before (the renderers get a redacted report, `kubeiam.render.redacted`);
`safe_line`, for lines that skip the renderers (stderr), blanks them itself.
"""

from __future__ import annotations

import html
import re

from kubeiam.safety.secret_text import redact_text

# C0, DEL, C1, the line and paragraph separators, the bidi embeddings, overrides and isolates.
_OTHERS = r"\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_CONTROL = re.compile(rf"[\x00-\x1f{_OTHERS}]")
_CONTROL_BUT_NEWLINE = re.compile(rf"[\x00-\x09\x0b-\x1f{_OTHERS}]")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _json_escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Every control character written as a visible escape (`\\x1b`, `\\u202e`, `\\n`)."""
    return (_CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL).sub(_escaped, text)


def safe_line(text: str) -> str:
    """`text` as one visible terminal line: secret values blanked, every control character (C0, C1, DEL,
    line separators, bidi overrides) written as an escape, nothing a terminal would act on."""
    return _CONTROL.sub(_escaped, redact_text(text))


def json_block(text: str) -> str:
    """JSON text (indented: its newlines are kept) with the characters JSON encoders leave raw (DEL, C1,
    line separators, bidi controls) as `\\u` escapes: still the same JSON, nothing a viewer acts on."""
    return _CONTROL_BUT_NEWLINE.sub(_json_escaped, text)


def html_text(value: object) -> str:
    """Text or an attribute value for HTML: `<>&"'` as entities, control characters as escapes."""
    return html.escape(escape_controls("" if value is None else str(value), keep_newlines=True), quote=True)


_MARKDOWN = str.maketrans({"\\": "\\\\", "|": "\\|", "`": "'", "<": "&lt;", ">": "&gt;", "&": "&amp;"})


def markdown_text(value: object) -> str:
    """Text for a markdown table cell, heading or list item: one line, no raw HTML (`<script>`, `<img>`),
    no pipe that would end the cell, no backtick that would open code."""
    text = "" if value is None else str(value)
    return escape_controls(text.replace("\n", " ").replace("\r", " ")).translate(_MARKDOWN)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell no spreadsheet runs: a leading `= + - @`, TAB or CR (also after leading blanks) gets a
    `'` in front (OWASP's advice); control characters are escaped, newlines kept (a cell may hold lines)."""
    if value is None:
        return ""
    text = str(value)
    guarded = f"'{text}" if text[:1] in _FORMULA or text.lstrip()[:1] in _FORMULA else text
    return escape_controls(guarded, keep_newlines=True)
