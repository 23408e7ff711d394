"""`--report-dir DIR`: one dated folder per run, so the quarter's audits sit side by side.

```
DIR/
  2026-11-26T110707Z/
    evidence/        the evidence audited (copied, or collected here by a live run): the audit trail
    findings.json    the JSON report (`--format json`), written last: a folder without it is ignored
    report.html      self-contained report: summary, charts, trend, drill-down per ServiceAccount
    summary.md       markdown summary for a ticket or an email
    right-sizing/    when findings carry a right-sized grant: one ready-to-apply JSON document per identity
                     (`<cloud>/<identity>.json`) and README.md listing them (render/right_sizing.py)
```
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import decode
from kubeiam.pipeline.report import Report
from kubeiam.render.html import render_html
from kubeiam.render.json_format import render_json
from kubeiam.render.markdown import render_markdown
from kubeiam.render.redacted import redacted_report
from kubeiam.render.right_sizing import grant_files, readme
from kubeiam.safety.redaction import redacted

RUN_NAME = "%Y-%m-%dT%H%M%SZ"
FINDINGS = "findings.json"


def runs(root: Path) -> list[Path]:
    """Completed runs (those with findings.json), oldest first (names sort by time)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / FINDINGS).is_file())


def previous_findings(root: Path, scope: dict[str, str | None] | None = None) -> Path | None:
    """The latest run of the same scope: a `check` of one ServiceAccount is no baseline for a full audit."""
    for run in reversed(runs(root)):
        try:
            doc = json.loads((run / FINDINGS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return run / FINDINGS  # let the baseline reader report the damaged file
        if isinstance(doc, dict) and doc.get("scope") == scope:
            return run / FINDINGS
    return None


def new_run(root: Path, now: datetime) -> Path:
    """Create the run folder; a second run in the same second gets a suffix rather than overwriting."""
    base = now.strftime(RUN_NAME)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            candidate = root / (base if n == 1 else f"{base}-{n}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as exc:
        raise InputError(f"--report-dir {root}: cannot create: {exc.strerror or exc}") from None
    raise InputError(f"--report-dir {root}: too many runs named {base}")


@contextmanager
def run_folder(root: Path | None, now: datetime) -> Iterator[Path | None]:
    """A new run folder under `root` (None without --report-dir); removed again if the run fails before writing."""
    if root is None:
        yield None
        return
    run = new_run(root, now)
    try:
        yield run
    except BaseException:
        if not any(run.iterdir()):
            run.rmdir()  # nothing was written: leave no empty run folder behind
        raise


def trend(root: Path, exclude: Path | None = None, scope: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    """One point per earlier run of the same scope (a `check` of one ServiceAccount would read as a dip):
    open findings by severity, what its baseline said was new/resolved, and (with usage data) how much of
    the granted access was used, per unit (`summary.usage`)."""
    points = []
    for run in runs(root):
        if exclude is not None and run.resolve() == exclude.resolve():
            continue
        try:
            doc = json.loads((run / FINDINGS).read_text(encoding="utf-8"))
            if doc.get("scope") != scope:
                continue
            summary = doc["summary"]
            base = doc.get("baseline") or {}
            points.append(
                {
                    "generated_at": doc["generated_at"],
                    "by_severity": summary["by_severity"],
                    "new": base.get("new"),
                    "resolved": base.get("resolved"),
                    "run": run.name,
                    **({"usage": summary["usage"]} if isinstance(summary.get("usage"), dict) else {}),
                }
            )
        except (OSError, ValueError, KeyError, TypeError):
            # A damaged earlier run only loses its trend point; the baseline read fails loudly instead.
            continue
    return points


def write_run(run: Path, report: Report, evidence: Path | None, history: Sequence[dict[str, Any]]) -> None:
    """Write one run folder. `evidence` is copied in unless it already is `run/evidence`."""
    target = run / "evidence"
    report = redacted_report(report)  # what `render` does for every format: no secret value in any file
    try:
        if evidence is not None and evidence.resolve() != target.resolve():
            copy_evidence(evidence, target)
        write_right_sizing(run, report)
        write_atomic(run / "report.html", render_html(report, trend=history))
        write_atomic(run / "summary.md", render_markdown(report))
        write_atomic(run / FINDINGS, render_json(report))
    except OSError as exc:
        raise InputError(f"--report-dir {run}: cannot write: {exc.strerror or exc}") from None


def write_right_sizing(run: Path, report: Report) -> None:
    """`right-sizing/`: each identity's right-sized grant, exactly the document to apply, and a README."""
    files = grant_files(report.findings)
    if not files:
        return
    for g in files:
        write_atomic(run / g.path, g.grant.text)
    write_atomic(run / "right-sizing" / "README.md", readme(files, report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")))


def copy_evidence(src: Path, dst: Path) -> None:
    """Copy an evidence directory, with secret values blanked in the copy.

    Hand-built evidence may hold what no kubeiam file should, and what live collection never writes:
    a Secret's data, a literal credential in a pod's env, args or annotations (also inside
    `last-applied-configuration`), a password in a URL, launch-template user data, tags named
    `password`, a service-account key's private key. Names, keys and shapes stay, so the copy audits
    to the same findings. A link out of the directory is not followed (the audit's coverage names it),
    nor one back up into it (it would copy forever); hidden files stay behind.
    """
    root = src.resolve()
    shutil.copytree(src, dst, ignore=_not_copied(root))
    for path in sorted(p for p in dst.rglob("*") if p.is_file()):
        _blank_secrets(path)


def _not_copied(root: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        skipped = set()
        for name in names:
            path = Path(folder) / name
            if name.startswith("."):
                skipped.add(name)
            elif path.is_symlink():
                target = path.resolve()
                outside = target != root and root not in target.parents
                loops = target == here or target in here.parents
                if outside or loops or not target.exists():
                    skipped.add(name)
        return skipped

    return ignore


def _blank_secrets(path: Path) -> None:
    """Blank secret values in one copied file, in place; a file that is not text is left behind."""
    try:
        text = decode(path.read_bytes(), path.name)
    except (OSError, InputError):
        path.unlink()  # not text (no evidence file is binary): nothing unread leaves the directory
        return
    cleaned = _blanked_json(text) if path.suffix == ".json" else None
    if cleaned is None:
        # Not JSON: blanked as text, so the re-audit of the copy reports the file as the audit did.
        cleaned = redacted(text)
    if cleaned != text:
        path.write_text(cleaned, encoding="utf-8")


def _blanked_json(text: str) -> str | None:
    """The JSON with secret values blanked (the text itself when there are none); None if it is not JSON."""
    try:
        doc = json.loads(text)
        cleaned = redacted(doc)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the audit reads
        return None
    return text if cleaned is doc else json.dumps(cleaned, indent=1, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Write through a temporary file in the same folder, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8", suffix=".tmp") as fh:
        fh.writelines([text] if isinstance(text, str) else text)
    Path(fh.name).replace(path)
