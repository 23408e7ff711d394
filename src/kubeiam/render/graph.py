"""`--format graph`: the identity graph as BloodHound OpenGraph JSON, to explore the paths in BloodHound.

Nodes: cloud principals mapped into clusters, Kubernetes subjects (users, groups, ServiceAccounts), the
ServiceAccounts of the findings, their cloud identities, and each cloud. Edges: `MappedTo` (a cloud
principal -> the Kubernetes user or group it is mapped to), one edge per takeover technique (a subject ->
a ServiceAccount it can act as: `CanCreatePods`, `CanExec`, ...), `UsesIdentity` (a ServiceAccount -> its
cloud identity), and `AdminOf` / `CanDo` (a cloud identity -> its cloud, with what it can do).

Built from the report alone (the findings and their evidence), so what the graph shows is what the report
says: K8S-006 findings give the takeover edges, every finding with a principal gives a `UsesIdentity` edge.
Shapes follow the OpenGraph ingest schemas (fixtures/opengraph): one to three kinds per node, edge kinds of
letters, digits and underscores, flat lower-case properties, homogeneous arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubeiam.pipeline.report import Report
from kubeiam.vocabulary.findings import Finding

SOURCE_KIND = "KubeIAM"
TAKEOVER_RULE = "K8S-006"
# Takeover technique -> edge kind (OpenGraph edge kinds: ^[A-Za-z0-9_]+$).
TECHNIQUE_EDGES: Mapping[str, str] = {
    "wildcard": "CanDoAnything",
    "create-pods": "CanCreatePods",
    "write-workload": "CanWriteWorkload",
    "create-token": "CanCreateToken",
    "impersonate": "CanImpersonate",
    "exec": "CanExec",
    "attach": "CanAttach",
    "ephemeral-container": "CanAddEphemeralContainer",
    "patch-pod": "CanPatchPod",
    "read-token-secret": "CanReadTokenSecret",
    "create-token-secret": "CanCreateTokenSecret",
    "nodes-proxy": "CanProxyNode",
    "grant-itself": "CanGrantItself",
}
_SUBJECT_KINDS = {"User": "K8sUser", "Group": "K8sGroup", "ServiceAccount": "K8sServiceAccount"}
# What other findings' categories say of an identity when no takeover finding carries its power.
_CATEGORY_POWER = {"admin-access": "admin", "privilege-escalation": "escalation", "data-access": "data"}
_POWER_RANK = {"admin": 5, "escalation": 4, "unknown": 3, "data": 2, "write": 2, "read": 1, "none": 0}
Properties = dict[str, Any]


def render_graph(report: Report, colour: bool = False) -> str:
    return json.dumps(opengraph(report), indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def opengraph(report: Report) -> dict[str, Any]:
    graph = _Graph(report)
    for f in report.findings:
        if f.status == "open":
            graph.finding(f)
    return {
        "metadata": {"source_kind": SOURCE_KIND},
        "graph": {"nodes": list(graph.nodes.values()), "edges": list(graph.edges.values())},
    }


class _Graph:
    def __init__(self, report: Report) -> None:
        self.titles = dict(report.cloud_titles)
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.power: dict[str, tuple[int, str, list[str]]] = {}

    # -- building ------------------------------------------------------------------------------

    def node(self, node_id: str, kinds: list[str], **properties: Any) -> str:
        found = self.nodes.get(node_id)
        if found is None:
            self.nodes[node_id] = {"id": node_id, "kinds": kinds[:3], "properties": _flat(properties)}
        else:
            for k, v in _flat(properties).items():
                found["properties"].setdefault(k, v)
        return node_id

    def edge(self, start: str, kind: str, end: str, **properties: Any) -> None:
        key = (start, kind, end)
        found = self.edges.get(key)
        flat = _flat(properties)
        if found is None:
            self.edges[key] = {
                "start": {"match_by": "id", "value": start},
                "end": {"match_by": "id", "value": end},
                "kind": kind,
                "properties": flat,
            }
            return
        for k, v in flat.items():  # the same edge from several findings: lists merge, the worst severity stays
            old = found["properties"].get(k)
            if isinstance(old, list) and isinstance(v, list):
                found["properties"][k] = sorted({*old, *v})
            elif k == "severity" and _SEVERITY.get(str(v), 0) > _SEVERITY.get(str(old), 0):
                found["properties"][k] = v

    def finding(self, f: Finding) -> None:
        if f.service_account is None:
            return
        sa = self._service_account(f, f.namespace or "", f.service_account)
        identity = self._identity(f) if f.principal and f.cloud in self.titles else None
        if identity is not None:
            self.edge(sa, "UsesIdentity", identity, cloud=f.cloud)
            self._note_power(f, identity)
        if f.rule_id == TAKEOVER_RULE:
            self._takeover(f, sa)

    def _service_account(self, f: Finding, namespace: str, name: str) -> str:
        cluster = f.cluster_id or f.cluster
        return self.node(
            f"k8s:{cluster}:serviceaccount:{namespace}/{name}",
            ["K8sServiceAccount", "K8sSubject"],
            name=f"{namespace}/{name}",
            cluster=f.cluster,
            clusterid=cluster,
            namespace=namespace,
        )

    def _identity(self, f: Finding) -> str:
        title = self.titles.get(f.cloud, f.cloud)
        kind = "".join(c for c in f"{title}Identity" if c.isalnum())
        return self.node(str(f.principal), [kind, "CloudIdentity"], name=str(f.principal), cloud=f.cloud)

    def _note_power(self, f: Finding, identity: str) -> None:
        level = f.evidence.get("power") if f.rule_id == TAKEOVER_RULE else _CATEGORY_POWER.get(f.category.value)
        if not isinstance(level, str):
            return
        summary = [str(s) for s in f.evidence.get("power_summary") or []] if f.rule_id == TAKEOVER_RULE else [f.title]
        rank = _POWER_RANK.get(level, 3)
        if rank > self.power.get(identity, (-1, "", []))[0]:
            self.power[identity] = (rank, level, summary)
            cloud = self.node(f"cloud:{f.cloud}", ["Cloud"], name=self.titles.get(f.cloud, f.cloud), cloud=f.cloud)
            for kind in ("AdminOf", "CanDo"):
                self.edges.pop((identity, kind, cloud), None)
            self.nodes[identity]["properties"]["power"] = level
            self.edge(identity, "AdminOf" if level == "admin" else "CanDo", cloud, power=level, summary=summary)

    def _takeover(self, f: Finding, sa: str) -> None:
        ev = f.evidence
        principal = str(ev.get("subject") or "")
        kind, _, name = principal.partition(":")
        cluster = f.cluster_id or f.cluster
        if kind == "serviceaccount":
            ns, _, sa_name = name.partition("/")
            subject = self._service_account(f, ns, sa_name)
        else:
            label = str(ev.get("subject_kind") or kind.title())
            subject = self.node(
                f"k8s:{cluster}:{kind}:{name}",
                [_SUBJECT_KINDS.get(label, "K8sSubject"), "K8sSubject"],
                name=name,
                cluster=f.cluster,
                clusterid=cluster,
                broad=bool(ev.get("broad")),
            )
        bindings = [str(b) for b in ev.get("bindings") or []]
        # Secrets are never read: a token-Secret edge may rest on a Secret not known to exist, and says so.
        unknown_secret = str(ev.get("legacy_token_secret_exists") or "").startswith("unknown")
        for technique in ev.get("techniques") or []:
            edge = TECHNIQUE_EDGES.get(str(technique), "CanActAs")
            conditional = (
                "a legacy token Secret that may not exist" if unknown_secret and edge == "CanReadTokenSecret" else None
            )
            self.edge(
                subject,
                edge,
                sa,
                technique=str(technique),
                bindings=bindings,
                severity=f.severity.value,
                conditional=conditional,
            )
        for cp in ev.get("cloud_principals") or []:
            if isinstance(cp, Mapping) and cp.get("principal"):
                p = str(cp["principal"])
                self.node(p, ["CloudPrincipal"], name=p)
                self.edge(p, "MappedTo", subject, source=str(cp.get("file") or ""), note=str(cp.get("note") or ""))


_SEVERITY = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def _flat(properties: Mapping[str, Any]) -> Properties:
    """OpenGraph properties: lower-case names, primitives or homogeneous lists of strings; None left out."""
    out: Properties = {}
    for key, value in properties.items():
        if value is None:
            continue
        if isinstance(value, bool | int | float | str):
            out[key.lower()] = value
        elif isinstance(value, list | tuple):
            out[key.lower()] = [str(v) for v in value]
        else:
            out[key.lower()] = str(value)
    return out
