"""Analysis benchmark: `kubeiam audit --evidence` on a synthetic estate, beside cloudsplaining and
parliament on the same authorization-details file.

    python benchmarks/bench_analysis.py [--service-accounts 20000 --roles 5000 --policies 300 --nodes 500]
        [--peers /path/to/venv-with-cloudsplaining-and-parliament/bin] [--repeat 3]

Each tool runs as its own process (wall time from the parent, peak RSS from wait4), so the numbers
include start-up and JSON parsing, as a user would see them. The peers are optional: install them in
a separate virtualenv (`pip install cloudsplaining parliament`) and pass its bin directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import ACCOUNT, generate


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.read().decode(errors="replace") if proc.stderr else "")
    return wall, usage.ru_maxrss / 1024, proc.returncode


def best(cmd: list[str], repeat: int) -> tuple[float, float]:
    runs = [run(cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--service-accounts", type=int, default=20_000)
    p.add_argument("--roles", type=int, default=5_000)
    p.add_argument("--policies", type=int, default=300)
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--peers", type=Path, help="bin directory holding cloudsplaining and parliament")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", type=Path, help="generate the estate here and keep it")
    a = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        estate = a.keep or Path(tmp) / "estate"
        generate(estate, a.service_accounts, a.roles, a.policies, a.nodes)
        iam = estate / "aws" / ACCOUNT / "iam.json"
        kubeiam = Path(sys.executable).with_name("kubeiam")
        report = Path(tmp) / "report.json"
        rows = []
        wall, rss = best(
            [str(kubeiam), "audit", "--evidence", str(estate), "--format", "json", "--output", str(report)], a.repeat
        )
        findings = json.loads(report.read_text())["findings"]
        rows.append(("kubeiam audit --evidence", wall, rss, f"{len(findings)} findings"))
        if a.peers:
            out = Path(tmp) / "cloudsplaining"
            out.mkdir()
            cs_wall, cs_rss = best([str(a.peers / "cloudsplaining"), "scan", "-i", str(iam), "-o", str(out), "-s"], 1)
            rows.append(("cloudsplaining scan", cs_wall, cs_rss, _cloudsplaining_count(out)))
            pa_wall, pa_rss = best([str(a.peers / "parliament"), "--auth-details-file", str(iam), "--json"], 1)
            rows.append(("parliament --auth-details-file", pa_wall, pa_rss, ""))

    print(
        f"estate: {a.service_accounts} ServiceAccounts, {a.roles} roles, {a.policies} managed policies, "
        f"{a.nodes} nodes; {os.cpu_count()} cores"
    )
    print("| tool | wall (s) | peak RSS (MiB) | speed-up of kubeiam | output |")
    print("|---|---:|---:|---:|---|")
    base = rows[0][1]
    for name, wall, rss, note in rows:
        print(f"| {name} | {wall:.2f} | {rss:.0f} | {wall / base:.1f}x | {note} |")


def _cloudsplaining_count(out: Path) -> str:
    try:
        data = json.loads(next(out.glob("iam-findings-*.json")).read_text())
    except (StopIteration, json.JSONDecodeError):
        return ""
    return f"{len(data)} policy findings"


if __name__ == "__main__":
    main()
