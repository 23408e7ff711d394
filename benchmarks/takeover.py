"""Who can become a ServiceAccount (K8S-006) at scale: the 20,000-ServiceAccount estate of `generate.py` with
2,000 Roles/ClusterRoles and 5,000 bindings added (rbac.json, beside the bootstrap policy), audited end to end;
and the takeover analysis alone at growing binding counts, to show it is linear in bindings.

    python benchmarks/takeover.py [--service-accounts 20000 --roles 2000 --bindings 5000] [--repeat 3]
        [--scaling 1250,2500,5000,10000] [--keep DIR]

The synthetic RBAC is what teams write: per namespace a pod reader, a deployer (pods and Deployments), a
ServiceAccount token minter limited by resourceNames to one ServiceAccount and a secret reader, bound to
team groups, users and ServiceAccounts; cluster roles for monitoring (nodes/proxy), CI (create pods
everywhere, bound to one group), viewers, and aggregated roles. So most ServiceAccounts have a takeover
finding or two, as in a real estate, and the judge meets every kind of rule.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402
from procs import best_of  # noqa: E402

DEFAULTS = HERE.parent / "fixtures" / "kubernetes" / "rbac" / "k8s-defaults"
KUBEIAM = Path(sys.executable).with_name("kubeiam")
RBAC = "rbac.authorization.k8s.io"


def default_items() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(DEFAULTS.glob("*.yaml")):
        out += yaml.safe_load(path.read_text())["items"]
    return out


def _rule(verbs: str, resources: str, groups: str = "", names: str | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"apiGroups": groups.split(","), "resources": resources.split(","), "verbs": verbs.split(",")}
    if names:
        r["resourceNames"] = names.split(",")
    return r


def _role(
    name: str, rules: list[dict[str, Any]], ns: str | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {}), **({"labels": labels} if labels else {})}
    return {"apiVersion": f"{RBAC}/v1", "kind": "Role" if ns else "ClusterRole", "metadata": meta, "rules": rules}


def _binding(
    name: str, role: str, subject: dict[str, Any], ns: str | None = None, kind: str = "ClusterRole"
) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding" if ns else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
        "subjects": [subject],
    }


def synthetic_rbac(
    namespaces: list[str], sas: list[tuple[str, str]], roles: int, bindings: int
) -> list[dict[str, Any]]:
    """`roles` Roles/ClusterRoles and `bindings` bindings over the estate's namespaces (deterministic).

    Per namespace: a pod reader, a secret reader limited to one Secret, a token minter limited to one
    ServiceAccount, a deployer (pods and Deployments) bound to the namespace's team group; most bindings
    give the harmless roles to users, groups and ServiceAccounts. Cluster-wide: viewers and aggregated CRD
    roles bound to ServiceAccounts, one metrics role with nodes/proxy bound to one monitoring ServiceAccount.
    About one takeover finding per ServiceAccount (the team group), plus the named and node ones."""
    by_ns: dict[str, list[str]] = {}
    for ns, name in sas:
        by_ns.setdefault(ns, []).append(name)
    cluster_roles = max(2, roles // 5)
    kinds = ("pod-reader", "secret-reader", "token-minter", "deployer")
    out: list[dict[str, Any]] = []
    ns_roles: list[tuple[str, str]] = []
    for i in range(roles - cluster_roles):
        ns = namespaces[i % len(namespaces)]
        kind = kinds[(i // len(namespaces)) % len(kinds)]
        round_ = i // (len(namespaces) * len(kinds))
        name = f"{kind}-{round_}" if round_ else kind
        names = by_ns.get(ns, ["default"])
        rules = {
            "pod-reader": [_rule("get,list,watch", "pods,pods/log")],
            "secret-reader": [_rule("get", "secrets", names="app-config")],
            "token-minter": [_rule("create", "serviceaccounts/token", names=names[i % len(names)])],
            "deployer": [
                _rule("create,update,patch", "deployments,replicasets", "apps"),
                _rule("create,delete", "pods"),
            ],
        }[kind]
        out.append(_role(name, rules, ns))
        ns_roles.append((ns, name))
    c_names = ["node-metrics"]
    out.append(_role("node-metrics", [_rule("get", "nodes/proxy,nodes/metrics")]))
    for i in range(cluster_roles - 1):
        labels = {f"rbac.authorization.k8s.io/aggregate-to-{'view' if i % 2 else 'edit'}": "true"}
        out.append(
            _role(f"widgets-{i}", [_rule("get,list,watch" if i % 2 else "*", "widgets", "example.com")], labels=labels)
        )
        c_names.append(f"widgets-{i}")
    cluster_bindings = max(1, bindings // 5)
    for i in range(bindings - cluster_bindings):
        ns, role = ns_roles[i % len(ns_roles)]
        names = by_ns.get(ns, ["default"])
        if role.startswith("deployer"):
            subject = {"kind": "Group", "name": f"team-{ns}", "apiGroup": RBAC}
        elif role.startswith("token-minter"):
            subject = {"kind": "ServiceAccount", "name": "ci", "namespace": ns}
        else:
            subject = [
                {"kind": "Group", "name": f"readers-{ns}", "apiGroup": RBAC},
                {"kind": "User", "name": f"dev-{i % 997}@example.com", "apiGroup": RBAC},
                {"kind": "ServiceAccount", "name": names[i % len(names)], "namespace": ns},
            ][i % 3]
        out.append(_binding(f"{role}-{i}", role, subject, ns, "Role"))
    out.append(
        _binding(
            "node-metrics", "node-metrics", {"kind": "ServiceAccount", "name": "collector", "namespace": "monitoring"}
        )
    )
    for i in range(cluster_bindings - 1):
        role = c_names[1 + i % (len(c_names) - 1)] if len(c_names) > 1 else c_names[0]
        ns = namespaces[i % len(namespaces)]
        out.append(
            _binding(f"{role}-{i}", role, {"kind": "ServiceAccount", "name": "widget-operator", "namespace": ns})
        )
    return out


def write_rbac(cluster_dir: Path, items: list[dict[str, Any]]) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
    (cluster_dir / "rbac.json").write_text(json.dumps(doc, separators=(",", ":")))


def analysis_alone(items: list[dict[str, Any]], targets: list[tuple[str, str, int]]) -> dict[str, float]:
    """Seconds to parse, index and ask for every target, in process (what K8S-006 does per cluster). Asked as
    for a live collection: token Secrets unknown, so the Secret readers' buckets are read too (marked)."""
    from kubeiam_kubernetes.judge.rbac_parse import parse_rbac
    from kubeiam_kubernetes.judge.takeover import TakeoverIndex
    from kubeiam_kubernetes.judge.takeover_model import PodRef, Target

    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        objects = parse_rbac([("rbac.json", {"kind": "List", "items": items})])
        t1 = time.perf_counter()
        index = TakeoverIndex(objects)
        t2 = time.perf_counter()
        found = 0
        for ns, name, node in targets:
            pods = (PodRef(f"{name}-pod", f"node-{node}"),) if node >= 0 else ()
            found += len(index.who_can_become(Target(ns, name, pods, token_secrets_known=False)).findings)
        t3 = time.perf_counter()
    finally:
        gc.enable()
    return {"parse": t1 - t0, "index": t2 - t1, "ask": t3 - t2, "total": t3 - t0, "takeovers": float(found)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--service-accounts", type=int, default=20_000)
    p.add_argument("--identities", type=int, default=5_000)
    p.add_argument("--policies", type=int, default=300)
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--roles", type=int, default=2_000, help="Roles and ClusterRoles added")
    p.add_argument("--bindings", type=int, default=5_000, help="RoleBindings and ClusterRoleBindings added")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scaling", default="1250,2500,5000,10000,20000", help="binding counts for the linearity run")
    p.add_argument("--keep", type=Path, help="write the estate here and keep it")
    args = p.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="kubeiam-takeover-"))
    estate = generate(root, args.service_accounts, args.identities, args.policies, args.nodes)
    cluster_dir = root / "kubernetes" / estate.cluster
    sas = [(ns, name) for ns, name, _ in estate.service_accounts]
    namespaces = list(estate.namespaces)
    report = root.parent / f"{root.name}-report.json"
    without = best_of(
        [str(KUBEIAM), "audit", "--evidence", str(root), "--format", "json", "--output", str(report), "--quiet"],
        args.repeat,
    )
    rbac = default_items() + synthetic_rbac(namespaces, sas, args.roles, args.bindings)
    write_rbac(cluster_dir, rbac)
    with_rbac = best_of(
        [str(KUBEIAM), "audit", "--evidence", str(root), "--format", "json", "--output", str(report), "--quiet"],
        args.repeat,
    )
    findings = json.loads(report.read_text())["findings"]
    takeovers = sum(1 for f in findings if f["rule_id"] == "K8S-006")
    print(f"estate: {args.service_accounts} ServiceAccounts, {args.identities} roles; rbac.json: {len(rbac)} objects "
          f"({args.roles} roles + {args.bindings} bindings added to the bootstrap policy)")  # fmt: skip
    print(
        f"audit without rbac.json: wall {without['wall']:.2f} s, cpu {without['cpu']:.2f} s, "
        f"peak RSS {without['rss']:.0f} MiB"
    )
    print(
        f"audit with rbac.json:    wall {with_rbac['wall']:.2f} s, cpu {with_rbac['cpu']:.2f} s, "
        f"peak RSS {with_rbac['rss']:.0f} MiB"
    )
    print(f"findings: {len(findings)} ({takeovers} K8S-006)")

    pods = {name: i % max(1, args.nodes) for i, (_ns, name) in enumerate(sas[: len(sas) // 4])}
    targets = [(ns, name, pods.get(name, -1)) for ns, name in sas]
    print("takeover analysis alone (parse + index + every ServiceAccount asked), best of repeats:")
    print("| bindings | roles | parse s | index s | ask s | total s | us per binding |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(x) for x in args.scaling.split(",")):
        items = default_items() + synthetic_rbac(namespaces, sas, max(1, n * 2 // 5), n)
        runs = [analysis_alone(items, targets) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["total"])
        print(f"| {n} | {n * 2 // 5} | {best['parse']:.3f} | {best['index']:.3f} | {best['ask']:.3f} | "
              f"{best['total']:.3f} | {best['total'] / n * 1e6:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
