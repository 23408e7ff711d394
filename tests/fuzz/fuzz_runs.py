"""Run the real CLI on a mutated evidence directory and check what it did.

`Workbench` keeps one working copy of an evidence set, writes a mutation into it, runs
`kubeiam.cli.main` in-process (audit --evidence DIR --baseline PRISTINE.json --format F --output FILE),
and puts the file back. `problems` returns the properties the run broke, each a readable sentence.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import re
import shutil
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz_mutations import DELETE_FILE, INVALID, NEST, NUMBER, Mutation, Path_, Verdict, apply, classify, nodes

EXIT_CODES = frozenset({0, 1, 2, 3})
# What only the JSON parser can say: a file-level error whatever the path of the mutation.
PARSE_LEVEL = ("not valid JSON", "nested too deeply", "not UTF", "holds null", "is empty")
COLLECT_EVERY = 16  # runs between two full garbage collections (see Workbench.run_cli)


@dataclass(frozen=True)
class EvidenceSet:
    """A pristine evidence directory and its documents (every *.json file), by relative path."""

    name: str
    root: Path
    docs: dict[str, Any]
    paths: dict[str, list[Path_]]

    @classmethod
    def load(cls, name: str, root: Path) -> EvidenceSet:
        docs = {p.relative_to(root).as_posix(): json.loads(p.read_text()) for p in sorted(root.rglob("*.json"))}
        return cls(name, root, docs, {f: nodes(d) for f, d in docs.items()})

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self.docs)


@dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    output: str | None
    report: dict[str, Any] | None = None
    raised: str | None = None
    """A traceback: main() raised, or (rerun with --debug) what stands behind an "internal error"."""


@dataclass
class Workbench:
    evidence: EvidenceSet
    workdir: Path
    baseline: dict[str, Any] = field(default_factory=dict)
    runs: int = 0

    def __post_init__(self) -> None:
        self.copy = self.workdir / "evidence"
        if self.copy.exists():
            shutil.rmtree(self.copy)
        shutil.copytree(self.evidence.root, self.copy)
        self.config = self.workdir / "kubeiam.toml"  # empty: no kubeiam.toml of the working directory applies
        self.config.write_text("")
        self.baseline_path = self.workdir / "baseline.json"
        first = self.run_cli("json", baseline=False)
        if first.code not in (0, 1) or first.report is None:
            raise RuntimeError(f"the unmutated {self.evidence.name} evidence does not audit: {first.stderr}")
        self.baseline_path.write_text(first.output or "")
        self.baseline = first.report

    def run(self, m: Mutation, fmt: str = "json", strict: bool = False) -> Outcome:
        """Write `m` into the working copy, run, and put the file back."""
        try:
            apply(self.copy, m, self.evidence.docs[m.file])
            outcome = self.run_cli(fmt, strict=strict)
            if "internal error" in outcome.stderr and outcome.raised is None:
                outcome.raised = self.run_cli(fmt, strict=strict, debug=True).raised
            return outcome
        finally:
            shutil.copyfile(self.evidence.root / m.file, self.copy / m.file)

    def run_cli(self, fmt: str, *, baseline: bool = True, strict: bool = False, debug: bool = False) -> Outcome:
        from kubeiam import cli

        output = self.workdir / f"report.{fmt}"
        output.unlink(missing_ok=True)
        argv = ["--debug"] if debug else []
        argv += ["audit", "--evidence", str(self.copy), "--format", fmt, "--output", str(output)]
        argv += ["--config", str(self.config)]
        if baseline:
            argv += ["--baseline", str(self.baseline_path)]
        if strict:
            argv.append("--strict")
        out, err = io.StringIO(), io.StringIO()
        raised = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: int | None = cli.main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else None
            except BaseException:  # a property failure, reported with its traceback
                code, raised = None, traceback.format_exc()
        # The CLI freezes its report for the rest of the process, and its cycles then wait for a full
        # collection that may never come: this process goes on, run after run (3 MB a run otherwise).
        gc.unfreeze()
        self.runs += 1
        if self.runs % COLLECT_EVERY == 0:
            gc.collect()
        text = output.read_text(encoding="utf-8", errors="replace") if output.exists() else None
        outcome = Outcome(code, out.getvalue(), err.getvalue(), text, raised=raised)
        if fmt == "json" and text is not None:
            with contextlib.suppress(ValueError):
                outcome.report = json.loads(text, parse_constant=_no_constant)
        return outcome


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} in the JSON report")


# --- the properties ------------------------------------------------------------------------------------


def exit_problems(m: Mutation, outcome: Outcome, fmt: str = "json") -> list[str]:
    """Property 1: exit 0, 1, 2 or 3; never an internal error or a traceback; exit 2 with one stderr line
    naming the file; otherwise a report written (JSON: valid JSON, no NaN)."""
    found = []
    if outcome.raised:
        found.append(f"traceback:\n{outcome.raised}")
    if outcome.code not in EXIT_CODES:
        found.append(f"exit code {outcome.code!r}")
    for bad in ("internal error", "Traceback"):
        if bad in outcome.stderr:
            found.append(f"stderr says {bad!r}: {_tail(outcome.stderr)}")
    if outcome.code == 2:
        lines = outcome.stderr.strip().splitlines()
        base = m.file.rsplit("/", 1)[-1]
        if len(lines) != 1:
            found.append(f"exit 2 with {len(lines)} stderr lines: {_tail(outcome.stderr)}")
        elif base not in lines[0]:
            found.append(f"exit 2 without naming {m.file}: {lines[0]}")
    elif outcome.code in (0, 1, 3):
        if outcome.output is None:
            found.append(f"exit {outcome.code} and no report written")
        elif fmt == "json" and outcome.report is None:
            found.append("the JSON report is not valid JSON")
    return found


def item_level_problems(m: Mutation, outcome: Outcome) -> list[str]:
    """Item-level degradation: below the top level of a file (inside an item of a list), a mutation is a
    gap or a coverage entry, never exit 2, unless only the JSON parser could see it."""
    if outcome.code != 2 or not any(isinstance(p, int) for p in m.path) or "internal error" in outcome.stderr:
        return []
    if any(s in outcome.stderr for s in PARSE_LEVEL) or (m.kind in (NUMBER, NEST) and "JSON" in outcome.stderr):
        return []
    return [f"exit 2 for one item (should be a gap or a coverage entry): {outcome.stderr.strip()}"]


def vanished(bench: Workbench, m: Mutation, outcome: Outcome) -> tuple[list[dict[str, Any]], bool]:
    """The findings of the pristine run (the baseline) this run lacks and does not list `not_rechecked`,
    and whether a coverage entry names the mutated file. A finding still reported under another fingerprint
    (same rule, same subject: what it cites changed) has not vanished: `refingerprinted` counts those."""
    report = outcome.report or {}
    findings = report.get("findings") or ()
    kept = {f.get("fingerprint") for f in findings} | {f.get("fingerprint") for f in report.get("not_rechecked") or ()}
    before = {f["fingerprint"] for f in bench.baseline.get("findings") or ()}
    fresh = Counter(subject_of(f) for f in findings if f.get("fingerprint") not in before)
    gone = []
    for f in bench.baseline.get("findings") or ():
        if f["fingerprint"] in kept:
            continue
        if fresh[subject_of(f)] > 0:
            fresh[subject_of(f)] -= 1
            continue
        gone.append(f)
    return gone, bool(gone) and names_file(report.get("coverage") or {}, m)


def refingerprinted(bench: Workbench, outcome: Outcome) -> int:
    """Findings of the pristine run reported again on the same subject by the same rule, under another
    fingerprint (noted by scripts/fuzz.py: a ticket would be closed and reopened)."""
    findings = (outcome.report or {}).get("findings") or ()
    now = {f.get("fingerprint") for f in findings}
    before = {f["fingerprint"] for f in bench.baseline.get("findings") or ()}
    fresh = Counter(subject_of(f) for f in findings if f.get("fingerprint") not in before)
    lost = Counter(subject_of(f) for f in bench.baseline.get("findings") or () if f["fingerprint"] not in now)
    return sum((fresh & lost).values())


def subject_of(f: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(f.get(k) for k in ("rule_id", "cluster", "namespace", "service_account", "node"))


def vanished_problems(bench: Workbench, m: Mutation, verdict: Verdict, outcome: Outcome) -> list[str]:
    """Property 2 (the key one): after an INVALID mutation (evidence removed or corrupted), every finding of
    the pristine run that this run lacks is `not_rechecked`, or a coverage entry names the mutated file.
    A VALID mutation is a real state of the clouds: its findings may rightly go."""
    if verdict.kind != INVALID or outcome.code not in (0, 1, 3) or outcome.report is None:
        return []
    if not isinstance(outcome.report.get("resolved"), list):
        return [f"no 'resolved' list in a run with --baseline: {sorted(outcome.report)}"]
    gone, named = vanished(bench, m, outcome)
    if not gone or named:
        return []
    listed = "\n".join(map(describe, gone))
    return [f"{len(gone)} finding(s) gone, not `not_rechecked`, and no coverage entry names {m.file}:\n{listed}"]


def resolved_despite_coverage(bench: Workbench, m: Mutation, outcome: Outcome) -> list[dict[str, Any]]:
    """Not a failure of the property, counted by scripts/fuzz.py: after an INVALID mutation, findings of
    the pristine run listed `resolved` although a coverage entry names the mutated file (docs/evidence.md
    would have them `not_rechecked`)."""
    if outcome.report is None or classify(m, bench.evidence.docs[m.file]).kind != INVALID:
        return []
    gone, named = vanished(bench, m, outcome)
    return gone if named else []


def names_file(coverage: dict[str, Any], m: Mutation) -> bool:
    """Whether a coverage entry (errors, unchecked, unreadable) names the file: its path, a location
    pattern that fits it (`aws/<account>/<region>/ec2-instances.json`), or, for a deleted file, a folder
    holding it."""
    wanted = {m.file}
    if m.kind == DELETE_FILE:
        parts = m.file.split("/")
        wanted |= {"/".join(parts[:i]) for i in range(2, len(parts))}
    for text in _strings([coverage.get(k) for k in ("errors", "unchecked", "unreadable")]):
        if m.file in text:
            return True
        for token in re.findall(r"[^\s()'\"`,;]+", text):  # a path inside a sentence
            if token.rstrip("/:") in wanted:
                return True
            if "<" in token and re.fullmatch(re.sub(r"<[^>/]*>", "[^/]+", re.escape(token.rstrip(":"))), m.file):
                return True
    return False


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in _strings(v)] if isinstance(value, list) else []


def describe(f: dict[str, Any]) -> str:
    if f.get("node"):
        subject = f"{f.get('cluster')}/node/{f['node']}"
    else:
        subject = f"{f.get('cluster')}/{f.get('namespace')}/{f.get('service_account')}"
    principal = f" principal={f['principal']}" if f.get("principal") else ""
    return f"  {f.get('rule_id')} {f.get('severity')} {subject}{principal} fingerprint={f.get('fingerprint')}"


def problems(bench: Workbench, m: Mutation, outcome: Outcome, fmt: str = "json") -> list[str]:
    """Every property that `outcome` (a run of `bench` with `m` applied) breaks, each a readable sentence."""
    verdict = classify(m, bench.evidence.docs[m.file])
    return [
        *exit_problems(m, outcome, fmt),
        *item_level_problems(m, outcome),
        *(vanished_problems(bench, m, verdict, outcome) if fmt == "json" else []),
    ]


def counterexample(bench: Workbench, m: Mutation, outcome: Outcome, found: list[str]) -> str:
    verdict = classify(m, bench.evidence.docs[m.file])
    return "\n".join(
        [
            f"evidence set {bench.evidence.name}; mutation: {m.describe()}",
            f"classified {verdict.kind}: {verdict.why}",
            f"exit {outcome.code}; stderr: {_tail(outcome.stderr)}",
            *found,
        ]
    )


def _tail(text: str, limit: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]
