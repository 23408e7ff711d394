"""Analysis benchmark: `kubeiam audit --evidence` on a synthetic estate, beside cloudsplaining and
parliament on the same authorization-details file.

    python benchmarks/bench_analysis.py [--service-accounts 20000 --roles 5000 --policies 300 --nodes 500]
        [--peers /tmp/peers/bin] [--repeat 3] [--scaling 5000,10000,20000] [--phases] [--profile]
        [--cloud gcp|azure]   (the same knobs for GKE/GCP and AKS/Azure estates; no peers there)
        [--managed-policies fixtures/aws/corpus/aws-managed-policies.json.gz]   (AWS: the second estate, whose
        roles have 2 real AWS managed policies attached and 1 inline, all from that corpus; see managed_estate.py)
        [--assume-chains]   (AWS: 10% of the roles strung into sts:AssumeRole chains of up to 5; see reach_estate.py)

Each tool runs as its own process (wall time and peak RSS measured by a small launcher, procs.py), so the numbers
include start-up and JSON parsing, as a user would see them; the best of `--repeat` runs is kept
(the machine may be shared). `--phases` times read / analyse / report / enrich / render inside one
process; `--profile` prints the functions where the time goes (cProfile, so inflated ~2-3x).
The peers are optional: install them in a separate virtualenv and pass its bin directory
(benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from compare import compare, markdown
from estate import Scale
from generate import generate, generate_managed
from other_clouds import generate as generate_other
from procs import best_of

KUBEIAM = Path(sys.executable).with_name("kubeiam")


def kubeiam_audit(estate: Path, report: Path, repeat: int, fmt: str = "json") -> dict[str, Any]:
    cmd = [str(KUBEIAM), "audit", "--evidence", str(estate), "--format", fmt, "--output", str(report), "--quiet"]
    return best_of(cmd, repeat)


def phases(estate: Path) -> dict[str, float]:
    """Seconds per stage of one in-process audit (same code path as the CLI)."""
    import kubeiam.cli as cli
    import kubeiam.quarterly.stages as workflow

    spent: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return wrapper

    import kubeiam.pipeline.audit as pipeline

    # The stages are looked up where they are called (the core moves them between these modules).
    for module in (pipeline, workflow):
        for name in ("read_inventory", "analyse", "build_report", "enrich"):
            if hasattr(module, name):
                setattr(module, name, timed(name, getattr(module, name)))
        if hasattr(module, "all_rules"):
            rules_of = module.all_rules
            module.all_rules = lambda providers, f=rules_of: tuple(_TimedRule(r, spent) for r in f(providers))
    cli._emit = timed("render + write (json)", cli._emit)  # streamed: rendering happens while writing
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        args = ["audit", "--evidence", str(estate), "--format", "json", "--output", f"{tmp}/r.json", "--quiet"]
        with contextlib.suppress(SystemExit):
            cli.main(args)
        spent["total in process"] = time.perf_counter() - start
    stages = {k: round(v, 2) for k, v in spent.items() if not k.startswith("rule ")}
    rules = sorted(((k, round(v, 2)) for k, v in spent.items() if k.startswith("rule ")), key=lambda kv: -kv[1])
    return {**stages, **dict(rules[:8])}


class _TimedRule:
    """A rule whose matches are timed as they are drawn (the engine's own work per match is not)."""

    def __init__(self, rule: Any, spent: dict[str, float]) -> None:
        self._rule = rule
        self._spent = spent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rule, name)

    def check(self, inventory: Any) -> Any:
        key = f"rule {self._rule.id}"
        it = iter(self._rule.check(inventory))
        while True:
            start = time.perf_counter()
            try:
                match = next(it)
            except StopIteration:
                return
            finally:
                self._spent[key] = self._spent.get(key, 0.0) + time.perf_counter() - start
            yield match


def profile(estate: Path, top: int = 25) -> str:
    import cProfile
    import io
    import pstats

    import kubeiam.cli as cli

    with tempfile.TemporaryDirectory() as tmp:
        prof = cProfile.Profile()
        prof.enable()
        with contextlib.suppress(SystemExit):
            cli.main(["audit", "--evidence", str(estate), "-f", "json", "-o", f"{tmp}/r.json", "-q"])
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def peers(peers_bin: Path, iam: Path, tmp: Path, repeat: int) -> list[dict[str, Any]]:
    out = tmp / "cloudsplaining"
    out.mkdir(exist_ok=True)
    rows = []
    cs = best_of([str(peers_bin / "cloudsplaining"), "scan", "-i", str(iam), "-o", str(out), "-s"], repeat)
    rows.append({"tool": "cloudsplaining scan", **cs, "results": str(next(out.glob("iam-results-*.json"), ""))})
    with (tmp / "parliament.jsonl").open("w") as sink:
        pa = best_of([str(peers_bin / "parliament"), "--auth-details-file", str(iam), "--json"], repeat, sink)
    lines = (tmp / "parliament.jsonl").read_text().splitlines()
    rows.append({"tool": "parliament --auth-details-file", **pa, "note": f"{len(lines)} findings (last run)"})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cloud", choices=("aws", "gcp", "azure"), default="aws", help="peers run for aws only")
    p.add_argument("--service-accounts", type=int, default=20_000)
    p.add_argument("--roles", type=int, default=5_000)
    p.add_argument("--policies", type=int, default=300)
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--peers", type=Path, help="bin directory holding cloudsplaining and parliament")
    p.add_argument("--peer-repeat", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scaling", help="comma-separated ServiceAccount counts (roles, policies, nodes fixed)")
    p.add_argument("--phases", action="store_true", help="time each stage in process")
    p.add_argument("--profile", action="store_true", help="print the top functions (cProfile)")
    p.add_argument("--keep", type=Path, help="generate the estate here and keep it")
    p.add_argument("--json-out", type=Path, help="also write the results as JSON here")
    p.add_argument(
        "--managed-policies",
        type=Path,
        metavar="CORPUS",
        help="AWS: the estate of real AWS managed policies (2 attached + 1 inline per role) drawn from this corpus",
    )
    p.add_argument(
        "--assume-chains", action="store_true", help="AWS: 10%% of the roles in sts:AssumeRole chains of up to 5 roles"
    )
    a = p.parse_args()

    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "load_before": [round(x, 1) for x in os.getloadavg()],
        "cloud": a.cloud,
        "scale": {"service_accounts": a.service_accounts, "roles": a.roles, "policies": a.policies, "nodes": a.nodes},
        **({"managed_policies": str(a.managed_policies)} if a.managed_policies else {}),
        **({"assume_chains": True} if a.assume_chains else {}),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        estate = a.keep or tmp / "estate"
        make(a.cloud, estate, a.service_accounts, a.roles, a.policies, a.nodes, a.managed_policies, a.assume_chains)
        report = tmp / "report.json"
        ki = kubeiam_audit(estate, report, a.repeat)
        doc = json.loads(report.read_text())
        ki.update(tool="kubeiam audit --evidence (json)", note=f"{len(doc['findings'])} findings")
        rows = [ki]
        jl = kubeiam_audit(estate, tmp / "report.jsonl", a.repeat, "jsonl")
        rows.append({"tool": "kubeiam audit --evidence (jsonl)", **jl, "note": "same findings, compact output"})
        if a.phases:
            results["phases"] = phases(estate)
        if a.profile:
            print(profile(estate))
        if a.peers and a.cloud == "aws":
            found = peers(a.peers, next((estate / "aws").glob("*/iam.json")), tmp, a.peer_repeat)
            rows += found
            cs_results = Path(found[0]["results"])
            if cs_results.is_file():
                results["completeness"] = compare(cs_results, report)
        if a.cloud == "aws":
            # The like-for-like part: what the peers do with the same file (read it, judge every role).
            iam = best_of([sys.executable, str(Path(__file__).with_name("iam_only.py")), str(estate)], a.repeat)
            rows.append({"tool": "kubeiam, IAM judgement only (iam_only.py)", **iam, "note": "every role of iam.json"})
        results["rows"] = rows
        if a.scaling:
            results["scaling"] = []
            for n in [int(x) for x in a.scaling.split(",")]:
                d = tmp / f"scale-{n}"
                make(a.cloud, d, n, a.roles, a.policies, a.nodes, a.managed_policies, a.assume_chains)
                r = kubeiam_audit(d, tmp / f"scale-{n}.json", a.repeat)
                r["findings"] = len(json.loads((tmp / f"scale-{n}.json").read_text())["findings"])
                results["scaling"].append({"service_accounts": n, **r})
    results["load_after"] = [round(x, 1) for x in os.getloadavg()]
    print(render(results))
    if a.json_out:
        a.json_out.write_text(json.dumps(results, indent=2, default=str))


def make(
    cloud: str,
    out: Path,
    service_accounts: int,
    roles: int,
    policies: int,
    nodes: int,
    managed: Path | None = None,
    chains: bool = False,
) -> None:
    """`managed`: write the managed-policy estate (`--managed-policies`) instead of the synthetic-policy one;
    `chains`: string 10% of the roles into AssumeRole chains (`--assume-chains`)."""
    if cloud == "aws" and managed is not None:
        generate_managed(out, service_accounts, roles, nodes, managed)
    elif cloud == "aws":
        generate(out, service_accounts, roles, policies, nodes, chains=chains)
    else:
        generate_other(cloud, out, Scale(service_accounts, roles, policies, nodes))


def render(results: dict[str, Any]) -> str:
    s = results["scale"]
    policies = (
        f"2 AWS managed + 1 inline policies per role from {results['managed_policies']}"
        if results.get("managed_policies")
        else f"{s['policies']} managed policies / custom roles"
    ) + ("; 10% of the roles in AssumeRole chains of up to 5" if results.get("assume_chains") else "")
    lines = [
        f"{results['date']}, {results.get('cloud', 'aws')}: {s['service_accounts']} ServiceAccounts, {s['roles']}"
        f" identities, {policies}, {s['nodes']} nodes; {results['cores']} cores;"
        f" load average {results['load_before']} before, "
        f"{results['load_after']} after",
        "",
        "| tool | wall (s), best | runs (s) | CPU (s), best | peak RSS (MiB) | times kubeiam (json) | output |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    base = results["rows"][0]["wall"]
    for r in results["rows"]:
        runs = ", ".join(str(x) for x in r["runs"])
        lines.append(
            f"| {r['tool']} | {r['wall']:.2f} | {runs} | {r.get('cpu', 0.0):.2f} | {r['rss']:.0f}"
            f" | {r['wall'] / base:.1f}x | {r.get('note', '')} |"
        )
    if "phases" in results:
        lines += ["", "in-process stages (s): " + ", ".join(f"{k} {v}" for k, v in results["phases"].items())]
    if "scaling" in results:
        lines += [
            "",
            "| ServiceAccounts | wall (s), best | CPU (s), best | peak RSS (MiB) | findings | s per 1k SAs |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results["scaling"]:
            n = r["service_accounts"]
            lines.append(
                f"| {n} | {r['wall']:.2f} | {r.get('cpu', 0.0):.2f} | {r['rss']:.0f} | {r['findings']}"
                f" | {r['wall'] / n * 1000:.3f} |"
            )
    if "completeness" in results:
        lines += ["", markdown(results["completeness"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
