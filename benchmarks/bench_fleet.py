"""The fleet report at the issue's scale: 200 clusters x 2,000 ServiceAccounts (400,000 ServiceAccounts,
about 2 million findings) merged in bounded memory and linear time.

    python benchmarks/bench_fleet.py [--clusters 200] [--service-accounts 2000] [--runs 2]
                                     [--dir DIR] [--scaling 50,100,200] [--repeat 1] [--json-out FILE]

1. Generates the fleet as one CronJob per cluster writes it: `DIR/kubeiam/<cluster>/<run>/findings.json`
   and `run.json`, `--runs` runs per cluster (the older ones share the newest findings file through a
   hard link: the fleet reads only run.json of an older run). The findings are real ones, from
   `kubeiam audit --demo --format json`, re-addressed to each cluster, ServiceAccount and identity:
   per cluster 50 namespaces (20 owners), 60% of ServiceAccounts with a cloud identity and 7 findings,
   the rest 2 findings (10,000 per cluster); the first 40 identities of a cluster are shared by the
   4 clusters of its account (platform roles), the others by 2 ServiceAccounts of one cluster; 2% of
   findings suppressed. Clusters cycle AWS / GCP / Azure.
2. Runs the fleet report (the code `kubeiam fleet` runs) in its own process, writing fleet.json,
   fleet.html and summary.md (`--output-dir`), and measures wall, CPU and peak RSS (procs.py); checks
   the report's totals against what was generated. `--scaling`: the same on the first N clusters.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import procs  # noqa: E402

SEVERITIES = ("critical", "high", "medium", "low", "info")
CLOUDS = ("aws", "gcp", "azure")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def templates() -> dict[str, list[dict[str, Any]]]:
    """Real findings of the demo, by the cloud whose identity they judge ('none': no identity)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo.json"
        code = "import sys; from kubeiam.cli import main; sys.exit(main(sys.argv[1:]))"
        subprocess.run([sys.executable, "-c", code, "audit", "--demo", "-q", "-f", "json", "-o", str(out)], check=False)
        findings = json.loads(out.read_text())["findings"]
    by: dict[str, list[dict[str, Any]]] = {c: [] for c in (*CLOUDS, "none")}
    for f in findings:
        by[f["cloud"] if f["principal"] and f["cloud"] in CLOUDS else "none"].append(f)
    return by


def cluster_identity(i: int) -> tuple[str, str, str, str]:
    """(name, cloud, cluster id, account): 4 clusters per account."""
    cloud, account = CLOUDS[i % 3], i // 12
    name = f"{cloud}-c{i:03d}"
    if cloud == "aws":
        acct = f"{100000000000 + account:012d}"
        return name, cloud, f"arn:aws:eks:eu-west-1:{acct}:cluster/{name}", acct
    if cloud == "gcp":
        proj = f"proj-{account:03d}"
        return name, cloud, f"//container.googleapis.com/projects/{proj}/locations/europe-west1/clusters/{name}", proj
    sub = f"00000000-0000-4000-8000-{account:012d}"
    return (
        name,
        cloud,
        f"/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/{name}",
        sub,
    )


def principal(cloud: str, account: str, role: str) -> str:
    if cloud == "aws":
        return f"arn:aws:iam::{account}:role/{role}"
    if cloud == "gcp":
        return f"{role}@{account}.iam.gserviceaccount.com"
    return (
        f"/subscriptions/{account}/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/{role}"
    )


def write_cluster(folder: Path, i: int, sas: int, runs: int, tpl: dict[str, list[dict[str, Any]]]) -> int:
    """One cluster's report folder; returns its number of findings."""
    from kubeiam.quarterly.run_index import ClusterIndex, RunIndex, file_digest

    name, cloud, cluster_id, account = cluster_identity(i)
    open_ = dict.fromkeys(SEVERITIES, 0)
    total = suppressed = 0
    newest = NOW - timedelta(hours=i % 24)
    run_names = [(newest - timedelta(days=91 * k)) for k in range(runs)][::-1]
    latest = folder / run_names[-1].strftime("%Y-%m-%dT%H%M%SZ")
    latest.mkdir(parents=True)
    with (latest / "findings.json").open("wb") as fh:
        head = {
            "schema_version": "1.0",
            "tool": {"name": "kubeiam", "version": "bench"},
            "generated_at": run_names[-1].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mode": "audit",
        }
        fh.write(orjson.dumps(head)[:-1] + b',"findings":[\n')
        first = True
        for j in range(sas):
            ns, sa, owner = f"ns-{j // 40}", f"sa-{j}", f"team-{(j // 40) % 20}"
            with_identity = j % 5 >= 2
            pool = tpl[cloud] if with_identity else tpl["none"]
            role = f"platform-{j}" if j < 40 else f"{name}-app-{j // 2}"
            who = principal(cloud, account, role) if with_identity else None
            for k in range(7 if with_identity else 2):
                t = pool[(j + k) % len(pool)]
                f = dict(t)
                f.update(
                    fingerprint=f"v1:{i:08x}{j:08x}{k:016x}",
                    cluster=name,
                    cluster_id=cluster_id,
                    namespace=ns,
                    service_account=sa,
                    node=None,
                    principal=who,
                    owner=owner,
                    cloud=t["cloud"],
                )
                if (j * 7 + k) % 50 == 0:
                    f["status"] = "suppressed"
                    f["suppression"] = {"reason": "accepted", "owner": owner, "expires": "2027-03-31", "source": "x"}
                    suppressed += 1
                else:
                    open_[f["severity"]] += 1
                total += 1
                fh.write((b"" if first else b",\n") + orjson.dumps(f))
                first = False
        coverage = {
            "clusters": [{"name": name, "id": cluster_id, "cloud": cloud, "service_accounts": sas}],
            "unchecked": [],
            "errors": [],
            "unreadable": [],
        }
        summary = {"total": total, "open": total - suppressed, "suppressed": suppressed, "by_severity": open_}
        fh.write(b"\n]," + orjson.dumps({"coverage": coverage, "summary": summary})[1:])
    digest = file_digest(latest / "findings.json")
    for when in run_names:
        run = when.strftime("%Y-%m-%dT%H%M%SZ")
        if run != latest.name:
            (folder / run).mkdir()
            os.link(latest / "findings.json", folder / run / "findings.json")
        cluster = ClusterIndex(
            name, cluster_id, cloud, sas, total, total - suppressed, suppressed, open_, 0, 0, 0, 0, 0, False
        )
        index = RunIndex(
            run,
            when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            None,
            "audit",
            summary,
            None,
            (cluster,),
            {"findings.json": digest},
        )
        (folder / run / "run.json").write_bytes(index.to_json())
    return total


def generate(root: Path, clusters: int, sas: int, runs: int) -> dict[str, Any]:
    tpl = templates()
    start = time.perf_counter()
    total = sum(write_cluster(root / cluster_identity(i)[0], i, sas, runs, tpl) for i in range(clusters))
    return {"findings": total, "seconds": round(time.perf_counter() - start, 1)}


def run_fleet_process(sources: list[Path], out: Path, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__)), "fleet", *map(str, sources), "--output-dir", str(out), "-q"]
    return procs.best_of(cmd, repeat)


def _fleet_main(argv: list[str]) -> int:
    """`bench_fleet.py fleet ARGS`: what `kubeiam fleet ARGS` runs (the lead wires the subcommand)."""
    from kubeiam.quarterly.fleet_cli import add_fleet_parser, run_fleet

    parser = argparse.ArgumentParser()
    add_fleet_parser(parser.add_subparsers(dest="command"))
    return run_fleet(parser.parse_args(["fleet", *argv]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clusters", type=int, default=200)
    p.add_argument("--service-accounts", type=int, default=2000)
    p.add_argument("--runs", type=int, default=2, help="runs per cluster (the trend)")
    p.add_argument("--dir", type=Path, help="where the fleet is generated (default: a temporary directory)")
    p.add_argument("--scaling", help="also measure the first N clusters, e.g. 50,100")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubeiam-fleet-bench-") as tmp:
        root = (args.dir or Path(tmp)) / "kubeiam"
        load_before = os.getloadavg()
        gen = generate(root, args.clusters, args.service_accounts, args.runs)
        print(
            f"generated {args.clusters} clusters, {gen['findings']:,} findings in {gen['seconds']} s", file=sys.stderr
        )
        folders = sorted(p for p in root.iterdir() if p.is_dir())
        rows = []
        for n in sorted({int(x) for x in (args.scaling or "").split(",") if x} | {args.clusters}):
            out = Path(tmp) / f"out-{n}"
            sources = [root] if n == args.clusters else folders[:n]
            result = run_fleet_process(sources, out, args.repeat)
            doc = json.loads((out / "fleet.json").read_bytes())
            expected = sum(
                json.loads((f / sorted(x.name for x in f.iterdir())[-1] / "run.json").read_bytes())["clusters"][0][
                    "total"
                ]
                for f in folders[:n]
            )
            assert doc["summary"]["total"] == len(doc["findings"]) == expected, (doc["summary"]["total"], expected)
            rows.append(
                {
                    "clusters": n,
                    "service_accounts": doc["summary"]["service_accounts"],
                    "findings": doc["summary"]["total"],
                    "shared_identities": doc["summary"]["shared_identities"],
                    "json_mb": round((out / "fleet.json").stat().st_size / 2**20),
                    "wall": round(result["wall"], 1),
                    "cpu": round(result["cpu"], 1),
                    "rss_mb": round(result["rss"]),
                    "us_per_finding": round(result["cpu"] / doc["summary"]["total"] * 1e6, 2),
                }
            )
            del doc
            print(json.dumps(rows[-1]), file=sys.stderr)
        result_doc = {
            "date": datetime.now(UTC).isoformat(timespec="minutes"),
            "cores": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "generation": gen,
            "rows": rows,
        }
        print(render(result_doc))
        if args.json_out:
            args.json_out.write_text(json.dumps(result_doc, indent=1) + "\n")


def render(doc: dict[str, Any]) -> str:
    out = [
        f"fleet report benchmark, {doc['date']}, {doc['cores']} cores, load {doc['load_before'][0]:.1f} -> "
        f"{doc['load_after'][0]:.1f}; generation {doc['generation']['seconds']} s",
        "",
        "| clusters | ServiceAccounts | findings | shared identities | fleet.json MB | wall s | CPU s | peak RSS MB "
        "| CPU µs/finding |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        out.append(
            f"| {r['clusters']} | {r['service_accounts']:,} | {r['findings']:,} | {r['shared_identities']:,} | "
            f"{r['json_mb']} | {r['wall']} | {r['cpu']} | {r['rss_mb']} | {r['us_per_finding']} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["fleet"]:
        sys.exit(_fleet_main(sys.argv[2:]))
    main()
