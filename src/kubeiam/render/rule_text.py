"""`kubeiam rules RULE-ID`: one rule whole, as plain text a terminal wraps well."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

WIDTH = 100


def rule_text(meta: Mapping[str, Any]) -> str:
    lines = [
        f"{meta['id']}  {meta['title']}",
        f"cloud: {meta['cloud']}   category: {meta['category']}   default severity: {meta['severity']}",
        "",
        "Why it matters",
        *_wrapped(meta.get("rationale") or "-"),
        "",
        "What to do",
        *_wrapped(meta.get("remediation") or "-"),
    ]
    controls = list(meta.get("compliance") or ())
    if controls:
        lines += ["", "Controls it evidences"]
        lines += [
            f"  {c['framework']} {c['version']} {c['id']}: {c['title']}"
            + (f" (on {c['applies_to']})" if c.get("applies_to") not in (None, "any") else "")
            for c in controls
        ]
    references = list(meta.get("references") or ())
    if references:
        lines += ["", "References", *(f"  {ref}" for ref in references)]
    return "\n".join(lines) + "\n"


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent="  ", subsequent_indent="  ") or ["  -"]
