"""The test suite's local servers, run as a benchmark's server process, with latency and call counts.

    python benchmarks/live_servers.py gcp|azure|kubernetes DATA.json

Serves what DATA.json holds (written by bench_live_other.py from live_estates.py) with the servers
of tests/ (imported, not copied): `gcp_live_servers.RestServer` + `IamServer` (REST and gRPC),
`azure_arm_server.ArmServer` (HTTPS), `servers.kube_api.KubeApiServer`. Prints one JSON line with
its endpoints, then answers commands on stdin, one JSON line each:

    latency SECONDS   every answer waits this long (the servers' own `latency` hook)
    reset             forget the requests served
    stats             {"calls": {operation: requests}, "failed": requests not answered 2xx (ARM only),
                       "cpu": CPU seconds this process spent since the last reset}

Why a process of its own: the servers then do not share the collector's interpreter (GIL, memory),
as a cloud API would not.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / "tests", REPO / "tests" / "gcp" / "live", REPO / "tests" / "azure" / "live"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# GCP REST paths (as the server records them: "METHOD /path") -> API method names (docs/gcp-live.md).
_GCP_REST = [
    (re.compile(r"^GET /v3/projects/[^/:]+$"), "projects.get"),
    (re.compile(r"^POST /v3/projects/[^/:]+:getIamPolicy$"), "projects.getIamPolicy"),
    (re.compile(r"^GET /v3/folders/[^/:]+$"), "folders.get"),
    (re.compile(r"^POST /v3/folders/[^/:]+:getIamPolicy$"), "folders.getIamPolicy"),
    (re.compile(r"^POST /v3/organizations/[^/:]+:getIamPolicy$"), "organizations.getIamPolicy"),
    (re.compile(r"^GET /v1/projects/[^/:]+:searchAllIamPolicies$"), "searchAllIamPolicies"),
    (re.compile(r"^GET /v1/projects/[^/]+/locations/[^/]+/clusters/[^/]+$"), "projects.locations.clusters.get"),
    (re.compile(r"^GET /v1/projects/[^/]+/locations/[^/]+/clusters$"), "projects.locations.clusters.list"),
    # Usage data (issue 14): the IAM recommender and Policy Analyzer activity.
    (
        re.compile(r"^GET /v1/projects/[^/]+/locations/global/insightTypes/[^/]+/insights$"),
        "projects.locations.insightTypes.insights.list",
    ),
    (
        re.compile(r"^GET /v1/projects/[^/]+/locations/global/recommenders/[^/]+/recommendations$"),
        "projects.locations.recommenders.recommendations.list",
    ),
    (
        re.compile(r"^GET /v1/projects/[^/]+/locations/global/activityTypes/(\w+)/activities:query$"),
        "activityTypes.{}.activities.query",
    ),
]
_GCP_RPC = {
    "ListServiceAccounts": "projects.serviceAccounts.list",
    "GetServiceAccount": "projects.serviceAccounts.get",
    "GetIamPolicy": "projects.serviceAccounts.getIamPolicy",
    "ListServiceAccountKeys": "projects.serviceAccounts.keys.list",
}
_ARM = [
    (re.compile(r"/userassignedidentities$"), "userAssignedIdentities.list"),
    (re.compile(r"/federatedidentitycredentials$"), "federatedIdentityCredentials.list"),
    (re.compile(r"/roleassignments$"), "roleAssignments.list"),
    (re.compile(r"/roledefinitions$"), "roleDefinitions.list"),
    (re.compile(r"/roledefinitions/[^/]+$"), "roleDefinitions.get"),
    (re.compile(r"/managedclusters$"), "managedClusters.list"),
    (re.compile(r"/providers/microsoft\.insights/eventtypes/management/values$"), "activityLogs.list"),
]


def gcp_operation(key: Any) -> str:
    """A RestServer key ("GET /v3/...") or an IamServer key ((rpc, resource)) -> the API method."""
    if isinstance(key, tuple):
        rpc, resource = key
        if rpc in ("ListRoles", "GetRole"):
            kind = "organizations" if resource.startswith("organizations/") else "projects"
            return f"{kind}.roles.{'list' if rpc == 'ListRoles' else 'get'}"
        return _GCP_RPC.get(rpc, rpc)
    for rx, op in _GCP_REST:
        m = rx.match(key)
        if m:
            return op.format(*m.groups())
    return str(key)


def arm_operation(path: str) -> str:
    return next((op for rx, op in _ARM if rx.search(path.lower().rstrip("/"))), path)


class _Gcp:
    def __init__(self, data: dict[str, Any]) -> None:
        from gcp_live_servers import IamServer, RestServer

        self.rest = RestServer(routes=data["routes"]).start()
        self.iam = IamServer(projects=data["projects"], organizations=data["organizations"]).start()
        self.endpoints = {"rest": self.rest.url, "iam": self.iam.target}

    def latency(self, seconds: float) -> None:
        self.rest.latency = self.iam.latency = seconds

    def close(self) -> None:
        self.rest.stop()
        self.iam.stop()

    def reset(self) -> None:
        self.rest.reset()
        self.iam.reset()

    def stats(self) -> dict[str, Any]:
        calls: Counter[str] = Counter()
        for key, n in [*self.rest.requests.items(), *self.iam.requests.items()]:
            calls[gcp_operation(key)] += n
        return {"calls": dict(calls), "failed": None}  # not tracked: the collector reports what failed


class _Azure:
    def __init__(self, data: dict[str, Any]) -> None:
        import trustme
        from azure_arm_server import ArmServer

        ca = trustme.CA()
        pem = Path(data["dir"]) / "ca.pem"
        ca.cert_pem.write_to_path(str(pem))
        page = int(data["page"])
        sizes = dict.fromkeys(("ids", "ras", "fic", "rds", "aks", "activity"), page)
        self.arm = ArmServer(ca, page_size=sizes, root=Path(data["arm_root"]))
        self.endpoints = {"url": self.arm.url, "ca": str(pem), "token": self.arm.token}

    def latency(self, seconds: float) -> None:
        self.arm.latency = seconds

    def close(self) -> None:
        self.arm.close()

    def reset(self) -> None:
        self.arm.reset()

    def stats(self) -> dict[str, Any]:
        calls = Counter(arm_operation(e.path) for e in self.arm.log)
        return {"calls": dict(calls), "failed": sum(e.status >= 300 for e in self.arm.log)}


class _Kube:
    def __init__(self, data: dict[str, Any]) -> None:
        from servers.kube_api import DEFAULT_TOKEN, KubeApiServer

        self.api = KubeApiServer(data["objects"], openid_configuration=data["openid_configuration"]).start()
        self.endpoints = {"url": self.api.url, "token": DEFAULT_TOKEN}

    def latency(self, seconds: float) -> None:
        self.api.latency = seconds

    def close(self) -> None:
        self.api.stop()

    def reset(self) -> None:
        self.api.reset()

    def stats(self) -> dict[str, Any]:
        # kubeiam sends `limit` with every list and never with a get.
        calls = Counter(f"{'list' if 'limit' in r.query else 'get'} {r.path}" for r in list(self.api.requests))
        return {"calls": dict(calls), "failed": None}  # 404s of absent custom resources are expected


SERVERS = {"gcp": _Gcp, "azure": _Azure, "kubernetes": _Kube}


def serve(cloud: str, data: dict[str, Any]) -> Any:
    """Start the servers of `cloud` in this process (the smoke test uses this directly)."""
    return SERVERS[cloud](data)


def main() -> None:
    cloud, data_file = sys.argv[1], Path(sys.argv[2])
    server = serve(cloud, json.loads(data_file.read_text()))
    print(json.dumps(server.endpoints), flush=True)
    cpu = time.process_time()
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "latency":
            server.latency(float(arg))
            answer: dict[str, Any] = {"ok": True}
        elif command == "reset":
            server.reset()
            cpu = time.process_time()
            answer = {"ok": True}
        elif command == "stats":
            answer = {**server.stats(), "cpu": round(time.process_time() - cpu, 3)}
        else:
            break
        print(json.dumps(answer), flush=True)
    server.close()


if __name__ == "__main__":
    main()
