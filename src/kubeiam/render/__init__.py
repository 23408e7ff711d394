"""Output formats: an enum mapped to renderer functions (report -> text)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum

from kubeiam.errors import InputError
from kubeiam.pipeline.report import Report
from kubeiam.render.csv_format import render_csv, render_csv_grouped
from kubeiam.render.graph import render_graph
from kubeiam.render.html import render_html
from kubeiam.render.json_format import iter_json, render_json, render_json_grouped
from kubeiam.render.jsonl import iter_jsonl, render_jsonl, render_jsonl_grouped
from kubeiam.render.markdown import render_markdown, render_markdown_grouped
from kubeiam.render.ocsf import render_ocsf
from kubeiam.render.redacted import redacted_report
from kubeiam.render.sarif import render_sarif
from kubeiam.render.table import render_table


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    SARIF = "sarif"
    OCSF = "ocsf"
    CSV = "csv"
    MARKDOWN = "markdown"
    HTML = "html"
    GRAPH = "graph"
    """The identity graph as BloodHound OpenGraph JSON (cloud principals, Kubernetes subjects,
    ServiceAccounts, cloud identities and what they can do)."""


class GroupBy(StrEnum):
    SERVICE_ACCOUNT = "service-account"


Renderer = Callable[[Report, bool], str]
"""(report, colour) -> text."""

RENDERERS: dict[Format, Renderer] = {
    Format.TABLE: render_table,
    Format.JSON: render_json,
    Format.JSONL: render_jsonl,
    Format.SARIF: render_sarif,
    Format.OCSF: render_ocsf,
    Format.CSV: render_csv,
    Format.MARKDOWN: render_markdown,
    Format.HTML: render_html,
    Format.GRAPH: render_graph,
}

# Table and HTML are already organised per ServiceAccount; SARIF and OCSF are per-result by definition.
GROUPED: dict[Format, Renderer] = {
    Format.TABLE: render_table,
    Format.HTML: render_html,
    Format.JSON: render_json_grouped,
    Format.JSONL: render_jsonl_grouped,
    Format.CSV: render_csv_grouped,
    Format.MARKDOWN: render_markdown_grouped,
}


def check_group_by(fmt: Format, group_by: GroupBy | None) -> None:
    """Called before the audit too, so a bad combination fails before any work is done."""
    if group_by is not None and fmt not in GROUPED:
        raise InputError(f"--group-by {group_by} does not apply to --format {fmt} (one result per finding)")


def render(report: Report, fmt: Format, *, colour: bool = False, group_by: GroupBy | None = None) -> str:
    """The report in `fmt`, secret values blanked (every format writes the same redacted report)."""
    check_group_by(fmt, group_by)
    return (RENDERERS if group_by is None else GROUPED)[fmt](redacted_report(report), colour)


# Formats that can be written piece by piece: a 100,000-finding report never sits in memory as text.
STREAMED: dict[Format, Callable[[Report], Iterable[str]]] = {Format.JSON: iter_json, Format.JSONL: iter_jsonl}


def render_pieces(
    report: Report, fmt: Format, *, colour: bool = False, group_by: GroupBy | None = None
) -> Iterable[str]:
    """`render`, as pieces to write in order."""
    if group_by is None and fmt in STREAMED:
        return STREAMED[fmt](redacted_report(report))
    return (render(report, fmt, colour=colour, group_by=group_by),)
