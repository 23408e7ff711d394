"""Output formats: an enum mapped to renderer functions (report -> text)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from kubeiam.render.json_format import render_json
from kubeiam.render.table import render_table
from kubeiam.report import Report


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


Renderer = Callable[[Report, bool], str]
"""(report, colour) -> text."""

RENDERERS: dict[Format, Renderer] = {
    Format.TABLE: render_table,
    Format.JSON: render_json,
}


def render(report: Report, fmt: Format, *, colour: bool = False) -> str:
    return RENDERERS[fmt](report, colour)
