"""Evidence strings never reach a terminal, a spreadsheet, a markdown viewer or a browser unescaped.

A copy of the demo carries an OSC sequence that retitles a terminal, ESC colour codes, a bidi override,
`<script>` and `<img onerror>`, and spreadsheet formulas (one behind a TAB) in ServiceAccount names,
a namespace's owner label, an identity annotation's value and an Azure federated credential's name and
subject. Every format's bytes, and stderr, are checked.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from safety_helpers import DEMO, Run

from kubeiam.render import GROUPED, Format
from kubeiam.safety.text import csv_cell, html_text, json_block, markdown_text, safe_line

OSC = "\x1b]0;pwned\x07"
COLOUR = "\x1b[31m"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
FORMULA = '\t=HYPERLINK("http://evil.example","x")'
# Raw, none may reach a terminal-bound or document format: ESC, BEL, CSI (C1), bidi override, line separator.
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2028", "\x00")

EVIL_NAME = f"web{OSC}{COLOUR}{SCRIPT}\u202e"
FORMULA_NAME = FORMULA
UNCHECKED_NAME = f"lost{OSC}\x9b2J"


def _plant(dst: Path) -> None:
    shutil.copytree(DEMO, dst)
    path = dst / "kubernetes" / "eks-prod" / "resources.json"
    doc = json.loads(path.read_text())
    role = "arn:aws:iam::111122223333:role/payments-api"
    for name, arn in ((EVIL_NAME, role), (FORMULA_NAME, role), (UNCHECKED_NAME, "arn:aws:iam::999999999999:role/x")):
        doc["items"].append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": "payments", "annotations": {"eks.amazonaws.com/role-arn": arn}},
            }
        )
    doc["items"].append(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "bad-value",
                "namespace": "payments",
                "annotations": {"eks.amazonaws.com/role-arn": f"{SCRIPT}{COLOUR}{IMG}\u2028=1+1"},
            },
        }
    )
    namespace = next(i for i in doc["items"] if i["kind"] == "Namespace" and i["metadata"]["name"] == "payments")
    namespace["metadata"].setdefault("labels", {})["team"] = f"=cmd|' /C calc'!A0{OSC}"
    path.write_text(json.dumps(doc))

    [fic] = (dst / "azure").glob("*/federated-credentials.json")
    doc = json.loads(fic.read_text())
    identity = next(iter(doc))
    wild = {**doc[identity][0], "name": f"fic{OSC}{IMG}", "subject": f"system:serviceaccount:orders:*{OSC}{SCRIPT}"}
    doc[identity].append(wild)
    fic.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("evil") / "evidence"
    _plant(target)
    return target


def _render(run: Run, evil: Path, tmp_path: Path, fmt: str, *extra: str) -> tuple[str, str]:
    out = tmp_path / f"out.{fmt}{len(extra)}"
    w = run("audit", "-e", evil, "-f", fmt, "--output", out, *extra, watch=[out])
    assert w.code == 1, w.err
    return out.read_text(encoding="utf-8"), w.err


def _no_raw(text: str, where: str) -> None:
    found = [repr(c) for c in RAW if c in text]
    assert not found, f"{where}: raw {found}"


@pytest.mark.parametrize("grouped", [False, True])
def test_terminal_and_document_formats_escape_everything(run: Run, evil: Path, tmp_path: Path, grouped: bool) -> None:
    extra = ("--group-by", "service-account") if grouped else ()
    for fmt in (Format.TABLE, Format.CSV, Format.MARKDOWN, Format.HTML):
        if grouped and fmt not in GROUPED:
            continue
        text, err = _render(run, evil, tmp_path, fmt.value, *extra)
        _no_raw(text, f"--format {fmt}")
        _no_raw(err, f"stderr of --format {fmt}")
        # Escaped and visible: the reader sees what was there (markdown doubles the backslash, rendering one).
        shown = "\\\\x1b]0;pwned\\\\x07" if fmt is Format.MARKDOWN else "\\x1b]0;pwned\\x07"
        assert shown in text, fmt
        if fmt is Format.MARKDOWN:
            assert "<script" not in text and "<img" not in text
            assert "&lt;script&gt;" in text
        if fmt is Format.HTML:
            assert text.count("<script") == 1  # the page's own script, nothing from evidence
            assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        if fmt is Format.CSV:
            rows = list(csv.reader(io.StringIO(text)))
            cells = [cell for row in rows[1:] for cell in row]
            assert cells
            triggers = ("=", "+", "-", "@", "\t", "\r")
            formulas = [c for c in cells if c[:1] in triggers or c.lstrip()[:1] in triggers]
            assert formulas == []
            assert any(c.startswith("'\\t=HYPERLINK") for c in cells)  # guarded, and the TAB shown


def test_json_formats_stay_valid_json_with_no_raw_c0(run: Run, evil: Path, tmp_path: Path) -> None:
    for fmt in (Format.JSON, Format.JSONL, Format.SARIF, Format.OCSF):
        text, err = _render(run, evil, tmp_path, fmt.value)
        assert not any(c in text for c in ("\x1b", "\x07", "\x00")), fmt  # JSON escapes C0 itself
        _no_raw(err, f"stderr of --format {fmt}")
        # JSON lines are split at "\n" only (a raw U+2028 inside a string is valid JSON).
        for line in text.rstrip("\n").split("\n") if fmt is Format.JSONL else [text]:
            json.loads(line)
    # The exact data is kept in JSON: a consumer can see what the evidence held.
    doc = json.loads(_render(run, evil, tmp_path, "json")[0])
    assert EVIL_NAME in {f["service_account"] for f in doc["findings"]}


def test_stderr_coverage_lines_are_escaped(run: Run, evil: Path) -> None:
    w = run("audit", "-e", evil, "-f", "json")
    assert "lost\\x1b]0;pwned\\x07" in w.err  # the unchecked ServiceAccount is named, escaped
    _no_raw(w.err, "stderr")


def test_report_folder_files_are_escaped(run: Run, evil: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    w = run("audit", "-e", evil, "-f", "json", "--report-dir", runs, watch=[runs])
    [folder] = runs.iterdir()
    summary, page = (folder / "summary.md").read_text(), (folder / "report.html").read_text()
    _no_raw(summary, "summary.md")
    _no_raw(page, "report.html")
    assert "<script" not in summary and "<img" not in summary
    assert page.count("<script") == 1 and "<img" not in page
    _no_raw(w.err, "stderr")


def test_diff_text_is_escaped(run: Run, evil: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run("audit", "-e", DEMO, "-f", "json", "-q", "--report-dir", runs)
    run("audit", "-e", evil, "-f", "json", "-q", "--report-dir", runs)
    old, new = sorted(p / "findings.json" for p in runs.iterdir())
    w = run("diff", old, new)
    assert "new" in w.out
    _no_raw(w.out, "diff")


@pytest.mark.parametrize(
    ("escape", "text", "expected"),
    [
        (safe_line, f"a{OSC}b\u202ec\nd\te\x9b", "a\\x1b]0;pwned\\x07b\\u202ec\\nd\\te\\x9b"),
        (markdown_text, f"{SCRIPT}|`x`\n", "&lt;script&gt;alert(1)&lt;/script&gt;\\|'x' "),
        (html_text, f'"{IMG}"\x1b', "&quot;&lt;img src=x onerror=alert(1)&gt;&quot;\\x1b"),
        (csv_cell, "\t=1+1", "'\\t=1+1"),
        (csv_cell, "\r=1", "'\\r=1"),
        (csv_cell, "  @SUM(A1)", "'  @SUM(A1)"),
        (csv_cell, "-2+3", "'-2+3"),
        (csv_cell, "payments/api", "payments/api"),
        (json_block, '{\n  "a": "\u202e\x9b"\n}', '{\n  "a": "\\u202e\\u009b"\n}'),
    ],
)
def test_each_escape(escape, text, expected) -> None:
    assert escape(text) == expected


def test_progress_bars_show_context_names_as_text() -> None:
    """Live collection names kubeconfig contexts on stderr: no markup, no control sequence from them."""
    from kubeiam.render.terminal_progress import TerminalProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with TerminalProgress(stream) as bars:
        task = bars.task(f"context [bold]prod{OSC}", total=1)
        task.advance()
        task.done()
    shown = stream.getvalue()
    assert "[bold]prod\\x1b]0;pwned\\x07" in shown  # as written, escaped
    assert OSC not in shown
