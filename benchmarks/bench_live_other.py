"""Live GCP, Azure and Kubernetes collection benchmark: kubeiam's collectors against the test suite's
local servers with an injected per-call latency.

    python benchmarks/bench_live_other.py [--cloud gcp --cloud azure --cloud kubernetes]
                                          [--scale 1.0] [--latency-ms 20] [--repeat 3] [--arm-page 100]

Default estate (other_clouds.py, as the AWS live benchmark's): 5,000 ServiceAccounts, 1,000 Google
service accounts / managed identities, 300 custom roles, 500 nodes (`--scale 0.1` for a quick run).
For each cloud: build the estate (live_estates.py), start its servers in their own process
(live_servers.py: the servers of tests/, counting requests), then run each collection in a fresh
child process (wall time of `collect()`, the process's peak RSS) and compare the calls the server
counted, per operation, with lower_bound_other.py. Collections: the whole cluster, and `check` of one
ServiceAccount.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import live_servers  # noqa: E402, F401  (puts tests/ on sys.path, for the servers' modules)
import procs  # noqa: E402
from estate import Scale  # noqa: E402
from live_estates import (  # noqa: E402
    azure_estate,
    azure_needs,
    gcp_estate,
    gcp_needs,
    kube_estate,
    kube_needs,
    service_accounts,
)
from lower_bound_other import Bound, azure_bound, gcp_bound, kube_bound  # noqa: E402

LIVE_SCALE = Scale(service_accounts=5_000, roles=1_000, policies=300, nodes=500)
CLOUDS = ("gcp", "azure", "kubernetes")
KUBE_CONTEXT_CLUSTER = "gke_bench-proj_europe-west1_bench-gke"


# -- the estate and its server ---------------------------------------------------------------------


def build(cloud: str, scale: Scale, tmp: Path, arm_page: int) -> tuple[Any, dict[str, Any], str]:
    """(estate, the server's data, the ServiceAccount `check` audits)."""
    if cloud == "gcp":
        estate = gcp_estate(scale, tmp / "estate")
        data = {"routes": estate.routes, "projects": estate.projects, "organizations": estate.organizations}
        last = service_accounts(estate.evidence)[-1]["metadata"]
        return estate, data, f"{last['namespace']}/{last['name']}"
    if cloud == "azure":
        estate = azure_estate(scale, tmp / "estate")
        last = service_accounts(estate.evidence)[-1]["metadata"]
        data = {"arm_root": str(estate.arm_root), "page": arm_page, "dir": str(tmp)}
        return estate, data, f"{last['namespace']}/{last['name']}"
    estate = kube_estate(scale, tmp / "estate")
    pod = next(o for o in estate.objects if o["kind"] == "Pod")  # a ServiceAccount that runs a pod
    data = {"objects": estate.objects, "openid_configuration": estate.openid_configuration}
    return estate, data, f"{pod['metadata']['namespace']}/{pod['spec']['serviceAccountName']}"


def bound_of(cloud: str, estate: Any, check: str | None, arm_page: int) -> Bound:
    if cloud == "gcp":
        return gcp_bound(gcp_needs(estate, check))
    if cloud == "azure":
        from kubeiam_azure.judge.catalogue import builtin_role_guids

        return azure_bound(azure_needs(estate, check, arm_page, builtin_role_guids()))
    return kube_bound(kube_needs(estate, check))


def client_endpoints(cloud: str, endpoints: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """What the collector is given: the servers' endpoints, and for Kubernetes a kubeconfig."""
    if cloud != "kubernetes":
        return endpoints
    from servers.kube_support import write_kubeconfig

    contexts = {"bench": (KUBE_CONTEXT_CLUSTER, endpoints["url"])}
    return {**endpoints, "kubeconfig": str(write_kubeconfig(tmp / "kubeconfig", contexts, token=endpoints["token"]))}


class ServerProcess:
    """live_servers.py in a child process, driven by one-line commands."""

    def __init__(self, cloud: str, data_file: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "live_servers.py"), cloud, str(data_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.endpoints: dict[str, Any] = json.loads(self._readline())

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"server process ended (exit {self.proc.wait()})")
        return line

    def command(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return json.loads(self._readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=10)


# -- one collection, in a fresh process ------------------------------------------------------------


def collect_once(cloud: str, evidence: Path, out: Path, endpoints: dict[str, Any], check: str | None) -> dict:
    """Run one collection in this process: {"wall", "cpu", "setup", "errors", "concurrency"}."""
    import argparse as ap

    from kubeiam_kubernetes.evidence.reader import read as read_kubernetes

    from kubeiam.pipeline.evidence import Evidence
    from kubeiam.pipeline.providers import CollectRequest, declarations_of, load_providers
    from kubeiam.vocabulary.model import Inventory

    sa = tuple(check.split("/", 1)) if check else None
    scope = {"namespace": sa[0] if sa else None, "service_account": sa}
    start = time.perf_counter()
    run, concurrency = _prepare(cloud, endpoints)  # imports (and warms) the SDK: timed apart
    setup = time.perf_counter() - start
    if cloud == "kubernetes":
        options = ap.Namespace(kubeconfig=endpoints["kubeconfig"], contexts=None, cluster_name=None)
        request = CollectRequest(options, out, **scope)  # type: ignore[arg-type]
        start, cpu = time.perf_counter(), time.process_time()
        errors = run(request, None)
    else:
        inventory = read_kubernetes(Evidence(evidence), Inventory(declarations=declarations_of(load_providers())))
        request = CollectRequest(ap.Namespace(), out, **scope)  # type: ignore[arg-type]
        start, cpu = time.perf_counter(), time.process_time()
        errors = run(request, inventory)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "wall": wall,
        "cpu": cpu,
        "setup": setup,
        "concurrency": concurrency,
        "error_count": len(errors),
        "errors": [f"{e.location}: {e.reason}" for e in errors][:5],
    }


def _prepare(cloud: str, endpoints: dict[str, Any]) -> tuple[Any, dict[str, int]]:
    """(run(request, inventory) -> coverage errors, the collector's concurrency limit per service)."""
    if cloud == "gcp":
        from google.cloud import asset_v1, container_v1, iam_admin_v1, resourcemanager_v3  # noqa: F401
        from kubeiam_gcp.live import collect
        from kubeiam_gcp.live.clients import Settings
        from kubeiam_gcp.live.collector import ASSET, CONTAINER, IAM, RM
        from kubeiam_gcp.live.usage import ANALYZER, RECOMMENDER

        settings = Settings(rest_endpoint=endpoints["rest"], iam_grpc_endpoint=endpoints["iam"])
        limits = dict.fromkeys((RM, IAM, CONTAINER, ASSET, RECOMMENDER, ANALYZER), settings.per_service)
        return (lambda request, inventory: collect(request, inventory, settings=settings)), limits
    if cloud == "azure":
        from azure.mgmt import authorization, containerservice, msi  # noqa: F401
        from kubeiam_azure.live import collect
        from kubeiam_azure.live.clients import Settings, StaticToken

        settings = Settings(endpoint=endpoints["url"], ca_bundle=endpoints["ca"])
        token = StaticToken(endpoints["token"])

        def run(request: Any, inventory: Any) -> list:
            return collect(request, inventory, credential=token, settings=settings)

        return run, {"arm": settings.concurrency}
    from kubeiam_kubernetes.live import collect as kube_collect
    from kubeiam_kubernetes.live.clients import CONCURRENCY as KUBE_CONCURRENCY
    from kubernetes import client

    # This client builds a pydantic schema per method when an API class is first made (~0.5 s, once
    # per process): set-up, like the imports, timed apart from the collection.
    api = client.ApiClient()
    apis = (
        "CoreV1Api",
        "CustomObjectsApi",
        "NetworkingV1Api",
        "AppsV1Api",
        "BatchV1Api",
        "RbacAuthorizationV1Api",
        "WellKnownApi",
    )
    for name in apis:
        getattr(client, name)(api)

    # The collector reads the kinds side by side, at most KUBE_CONCURRENCY requests in flight.
    return (lambda request, _: kube_collect(request)), {"kube-apiserver": KUBE_CONCURRENCY}


def run_child(cloud: str, server: ServerProcess, evidence: Path, out: Path, check: str | None) -> dict[str, Any]:
    server.command("reset")
    cmd = [sys.executable, __file__, "--child", cloud, "--evidence", str(evidence), "--out", str(out)]
    cmd += ["--endpoints", json.dumps(server.endpoints)] + (["--check", check] if check else [])
    done = procs.run(cmd, subprocess.PIPE)
    if done["code"] != 0:
        raise SystemExit(f"{cloud} collection failed:\n{done['stderr']}")
    result = json.loads(done["stdout"].strip().splitlines()[-1])
    result["rss"] = done["rss"]  # the child's own peak (procs.py says why a launcher)
    stats = server.command("stats")
    result["calls"] = dict(sorted(stats["calls"].items()))
    result["failed"] = stats["failed"]
    result["server_cpu"] = stats["cpu"]
    return result


# -- the measurement -------------------------------------------------------------------------------


def measure_cloud(cloud: str, a: argparse.Namespace, scale: Scale, tmp: Path) -> dict[str, Any]:
    start = time.perf_counter()
    estate, data, check_sa = build(cloud, scale, tmp, a.arm_page)
    data_file = tmp / "server-data.json"
    data_file.write_text(json.dumps(data))
    built = time.perf_counter() - start
    server = ServerProcess(cloud, data_file)
    server.endpoints = client_endpoints(cloud, server.endpoints, tmp)
    out: dict[str, Any] = {"estate_seconds": round(built, 1), "runs": {}}
    try:
        server.command(f"latency {a.latency_ms / 1000}")
        for label, check in (("whole cluster", None), (f"check {check_sa}", check_sa)):
            best: dict[str, Any] | None = None
            walls = []
            for i in range(a.repeat):
                r = run_child(cloud, server, estate.evidence, tmp / f"out-{len(out['runs'])}-{i}", check)
                walls.append(round(r["wall"], 2))
                if best is None or r["wall"] < best["wall"]:
                    best = r
            assert best is not None
            bound = bound_of(cloud, estate, check, a.arm_page)
            best.update(
                runs=walls,
                bound=bound.calls,
                bound_total=bound.total,
                depth=bound.depth,
                wall_bound=bound.wall(a.latency_ms / 1000, best["concurrency"]),
            )
            out["runs"][label] = best
    finally:
        server.close()
    return out


def measure(a: argparse.Namespace) -> dict[str, Any]:
    scale = LIVE_SCALE.scaled(a.scale) if a.scale != 1 else LIVE_SCALE
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_before": [round(x, 1) for x in os.getloadavg()],
        "scale": asdict(scale),
        "latency_ms": a.latency_ms,
        "arm_page": a.arm_page,
        "clouds": {},
    }
    for cloud in a.cloud or CLOUDS:
        with tempfile.TemporaryDirectory(prefix=f"kubeiam-bench-{cloud}-") as tmpdir:
            results["clouds"][cloud] = measure_cloud(cloud, a, scale, Path(tmpdir))
        results["clouds"][cloud]["load_after"] = [round(x, 1) for x in os.getloadavg()]
    results["load_after"] = [round(x, 1) for x in os.getloadavg()]
    return results


def render(results: dict[str, Any]) -> str:
    s = results["scale"]
    lines = [
        f"{results['date']}: {s['service_accounts']} ServiceAccounts, {s['roles']} identities, {s['policies']} custom"
        f" roles, {s['nodes']} nodes; latency {results['latency_ms']} ms per call; ARM page {results['arm_page']};"
        f" {results['cores']} cores, Python {results['python']}; load average {results['load_before']} before,"
        f" {results['load_after']} after",
        "",
        "| cloud | collection | API calls | lower bound | calls / bound | wall (s), best | runs | wall bound (s)"
        " | wall / bound | CPU: collector, server (s) | SDK set-up (s) | peak RSS (MiB) | coverage errors |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|",
    ]
    for cloud, c in results["clouds"].items():
        for label, r in c["runs"].items():
            calls = sum(r["calls"].values())
            lines.append(
                f"| {cloud} | {label} | {calls} | {r['bound_total']} | {calls / r['bound_total']:.3f} | {r['wall']:.2f}"
                f" | {', '.join(map(str, r['runs']))} | {r['wall_bound']:.2f} | {_ratio(r['wall'], r['wall_bound'])}"
                f" | {r['cpu']:.2f}, {r['server_cpu']:.2f} | {r['setup']:.2f} | {r['rss']:.0f} | {r['error_count']} |"
            )
    for cloud, c in results["clouds"].items():
        runs = list(c["runs"].items())
        lines += ["", f"{cloud}, calls per operation (load average after: {c['load_after']}):", ""]
        lines += ["| operation | " + " | ".join(f"{label}: calls | bound" for label, _ in runs) + " |"]
        lines += ["|---|" + "---:|---:|" * len(runs)]
        ops = sorted({op for _, r in runs for op in (*r["calls"], *r["bound"])})
        for op in ops:
            cells = [f"{r['calls'].get(op, 0)} | {r['bound'].get(op, 0)}" for _, r in runs]
            lines.append(f"| `{op}` | " + " | ".join(cells) + " |")
        for label, r in runs:
            if r["errors"]:
                lines.append(f"\n{label}: coverage errors (first 5): {r['errors']}")
    return "\n".join(lines)


def _ratio(value: float, bound: float) -> str:
    return f"{value / bound:.2f}" if bound else "n/a"  # no latency: no wall bound


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cloud", action="append", choices=CLOUDS, help="repeatable; default: all three")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every count (0.1 for a quick run)")
    p.add_argument("--latency-ms", type=float, default=20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--arm-page", type=int, default=100, help="items per page of every ARM list")
    p.add_argument("--json-out", type=Path)
    p.add_argument("--child", choices=CLOUDS, help=argparse.SUPPRESS)
    p.add_argument("--evidence", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--endpoints", help=argparse.SUPPRESS)
    p.add_argument("--check", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        result = collect_once(a.child, a.evidence, a.out, json.loads(a.endpoints), a.check)
        sys.stdout.write(json.dumps(result) + "\n")
        return
    results = measure(a)
    print(render(results))
    if a.json_out:
        a.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
