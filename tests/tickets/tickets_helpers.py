"""Shared helpers for the ticket tests: real quarterly reports, the CLI in-process, the fake trackers.

The reports are real kubeiam output: `kubeiam audit` over the demo evidence (Q1), over a copy with
one ServiceAccount removed and one rule's severity raised in the config (Q2: one fixed, one changed,
the rest unchanged, with Q1 as baseline), over the demo again with one finding suppressed (Q3: the
removed one is back, a regression), and over a copy without one cluster (its findings are
`not_rechecked`).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubeiam_tickets.cli import add_tickets_parser, run_tickets
from kubeiam_tickets.execute import Tracker

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo"
FIXED_SA = ("aks-apps", "platform", "dns-sync")  # removed in Q2: its finding is resolved
RAISED_RULE = "AWS-015"  # medium in Q1, raised to high by the Q2 config: its ticket is updated
ABSENT_CLUSTER = "gke-data"  # missing from the not-re-checked run


@dataclass(frozen=True)
class Quarters:
    q1: Path
    q2: Path
    q3: Path
    not_rechecked: Path
    suppressed: str
    """Fingerprint suppressed in Q3."""

    def doc(self, path: Path) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(path.read_text())
        return doc


def audit(*args: str | Path, output: Path) -> dict[str, Any]:
    """`kubeiam audit ... --format json --output FILE` in a subprocess: exactly what a user runs."""
    code = "import sys; from kubeiam.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", code, "audit", *map(str, args), "--format", "json", "--output", str(output)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=output.parent)
    assert done.returncode in (0, 1), done.stderr  # 1: findings at or above --fail-on, the normal case
    doc: dict[str, Any] = json.loads(output.read_text())
    return doc


def _without_service_account(src: Path, dst: Path, cluster: str, namespace: str, name: str) -> None:
    shutil.copytree(src, dst)
    path = dst / "kubernetes" / cluster / "resources.json"
    doc = json.loads(path.read_text())
    doc["items"] = [
        i
        for i in doc["items"]
        if not (
            i["kind"] == "ServiceAccount"
            and (i["metadata"].get("namespace"), i["metadata"]["name"]) == (namespace, name)
        )
        and not (i["kind"] == "Pod" and (i.get("spec") or {}).get("serviceAccountName") == name)
    ]
    path.write_text(json.dumps(doc))


def build_quarters(root: Path) -> Quarters:
    q1 = root / "q1.json"
    first = audit("--evidence", DEMO, output=q1)
    fixed = root / "evidence-q2"
    _without_service_account(DEMO, fixed, *FIXED_SA)
    config = root / "q2-config.toml"  # not kubeiam.toml: the other audits would read it
    config.write_text(f'[severity_overrides]\n"{RAISED_RULE}" = "high"\n')
    q2 = root / "q2.json"
    audit("--evidence", fixed, "--baseline", q1, "--config", config, output=q2)
    suppressed = next(f["fingerprint"] for f in first["findings"] if f["rule_id"] == "K8S-004")
    risks = root / "accepted-risks.yaml"
    risks.write_text(
        f'suppressions:\n  - fingerprint: "{suppressed}"\n    reason: "node-exporter needs the host network"\n'
        "    owner: sre\n    expires: 2099-12-31\n"
    )
    q3 = root / "q3.json"
    audit("--evidence", DEMO, "--baseline", q2, "--config", config, "--suppressions", risks, output=q3)
    partial = root / "evidence-partial"
    shutil.copytree(DEMO, partial)
    shutil.rmtree(partial / "kubernetes" / ABSENT_CLUSTER)
    nr = root / "not-rechecked.json"
    audit("--evidence", partial, "--baseline", q1, output=nr)
    return Quarters(q1, q2, q3, nr, suppressed)


@pytest.fixture(scope="session")
def quarters(tmp_path_factory: pytest.TempPathFactory) -> Quarters:
    return build_quarters(tmp_path_factory.mktemp("quarters"))


def parse(*argv: str | Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kubeiam")
    add_tickets_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["tickets", *map(str, argv)])


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def tickets(*argv: str | Path, tracker: Tracker | None = None, tty: bool = False) -> tuple[int, str]:
    """`kubeiam tickets ...` in-process: (exit code, what it printed)."""
    out: io.StringIO = Terminal() if tty else io.StringIO()
    code = run_tickets(parse(*argv), tracker=tracker, out=out)
    return code, out.getvalue()


def open_keys(doc: dict[str, Any], *, with_suppressed: bool = False) -> set[str]:
    """Fingerprints that should have an open ticket after filing `doc`."""
    return {
        f["fingerprint"]
        for f in doc["findings"]
        if f.get("status", "open") == "open" or (with_suppressed and f.get("status") == "suppressed")
    }


def absent_cluster_keys(doc: dict[str, Any]) -> set[str]:
    """Fingerprints of `doc`'s findings in ABSENT_CLUSTER: the ones the not-re-checked run cannot decide."""
    return {f["fingerprint"] for f in doc["findings"] if f["cluster"] == ABSENT_CLUSTER}


def changed(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Findings of both reports whose ticket content differs: severity, title, evidence, remediation, owner."""
    what = ("severity", "title", "evidence", "remediation", "owner", "principal")
    before = {f["fingerprint"]: [f.get(k) for k in what] for f in old["findings"]}
    return {
        f["fingerprint"]
        for f in new["findings"]
        if before.get(f["fingerprint"], [f.get(k) for k in what]) != [f.get(k) for k in what]
    }


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Retry waits, recorded instead of slept (both clients sleep through `time.sleep`)."""
    import time

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", lambda seconds: slept.append(float(seconds)))
    yield slept


ServerFactory = Callable[..., Any]
