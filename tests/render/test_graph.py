"""`--format graph`: BloodHound OpenGraph JSON, valid against the ingest schemas SpecterOps publishes
(fixtures/opengraph), with the takeover paths walkable from a cloud principal to what the identity can do."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.render.graph import TECHNIQUE_EDGES, opengraph, render_graph
from kubeiam.render.redacted import redacted_report

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "fixtures" / "opengraph"
sys.path.insert(0, str(REPO / "tests" / "kubernetes"))
sys.path.insert(0, str(REPO / "tests" / "aws"))
import takeover_evidence as te  # noqa: E402


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())


def validate(doc: dict[str, Any]) -> None:
    """The payload of the schema page: metadata, and graph.nodes / graph.edges each valid against its schema."""
    assert set(doc) <= {"metadata", "graph"} and set(doc["graph"]) == {"nodes", "edges"}
    jsonschema.validate(doc.get("metadata", {}), _schema("metadata.json"))
    node, edge = _schema("node.json"), _schema("edge.json")
    for n in doc["graph"]["nodes"]:
        jsonschema.validate(n, node)
        assert all(k == k.lower() for k in (n.get("properties") or {})), n  # lower-case property names
    for e in doc["graph"]["edges"]:
        jsonschema.validate(e, edge)
        for value in (e["properties"] or {}).values():
            assert not isinstance(value, list) or len({type(v) for v in value}) <= 1  # homogeneous arrays


def test_the_validation_can_fail() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate({"graph": {"nodes": [{"id": "x", "kinds": []}], "edges": []}})
    with pytest.raises(jsonschema.ValidationError):
        edge = {"start": {"value": "a"}, "end": {"value": "b"}, "kind": "Can-Exec", "properties": {}}
        validate({"graph": {"nodes": [], "edges": [edge]}})


def test_every_technique_edge_kind_is_valid() -> None:
    pattern = _schema("edge.json")["properties"]["kind"]["pattern"]
    import re

    assert all(re.fullmatch(pattern, k) for k in TECHNIQUE_EDGES.values())


def test_the_demo_graph_is_valid_opengraph() -> None:
    from kubeiam.pipeline.audit import demo_dir

    report = audit(Evidence(demo_dir()), providers=load_providers())
    doc = json.loads(render_graph(redacted_report(report)))
    validate(doc)
    kinds = {k for n in doc["graph"]["nodes"] for k in n["kinds"]}
    assert {"K8sServiceAccount", "CloudIdentity", "Cloud"} <= kinds
    ids = {n["id"] for n in doc["graph"]["nodes"]}
    assert all(e["start"]["value"] in ids and e["end"]["value"] in ids for e in doc["graph"]["edges"])


def test_token_secret_edges_say_when_the_secret_may_not_exist() -> None:
    """The demo's Secrets are unknown (no token-secrets.json): every CanReadTokenSecret edge is conditional,
    and no other edge is."""
    from kubeiam.pipeline.audit import demo_dir

    doc = json.loads(render_graph(redacted_report(audit(Evidence(demo_dir()), providers=load_providers()))))
    edges = doc["graph"]["edges"]
    secret_edges = [e for e in edges if e["kind"] == "CanReadTokenSecret"]
    assert secret_edges
    assert all(e["properties"].get("conditional") for e in secret_edges)
    assert not any(e["properties"].get("conditional") for e in edges if e["kind"] != "CanReadTokenSecret")


def test_a_cloud_principal_path_is_walkable_to_the_identity_power(tmp_path: Path) -> None:
    import aws_evidence as aws

    te.irsa_estate(
        tmp_path, [("team-a", "app")], rbac=[te.binding("alice-edit", "edit", "User:alice", namespace="team-a")]
    )
    eks = tmp_path / "aws" / aws.ACCOUNT / aws.REGION / "eks" / "prod"
    cluster = {"name": "prod", "arn": f"arn:aws:eks:{aws.REGION}:{aws.ACCOUNT}:cluster/prod",
               "identity": {"oidc": {"issuer": aws.ISSUER}}, "accessConfig": {"authenticationMode": "API"}}  # fmt: skip
    aws.write(eks / "cluster.json", {"cluster": cluster})
    ci = "arn:aws:iam::111122223333:role/ci"
    policy = {
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
        "accessScope": {"type": "namespace", "namespaces": ["team-a"]},
    }
    entry = {"principalArn": ci, "username": "ci", "type": "STANDARD", "kubernetesGroups": [],
             "associatedAccessPolicies": [policy]}  # fmt: skip
    aws.write(eks / "access-entries.json", {"accessEntries": [entry]})
    doc = opengraph(redacted_report(audit(Evidence(tmp_path), providers=load_providers())))
    validate(doc)
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for e in doc["graph"]["edges"]:
        out[e["start"]["value"]].add((e["kind"], e["end"]["value"]))
    cluster_id = "arn:aws:eks:eu-west-1:111122223333:cluster/prod"
    user, sa = f"k8s:{cluster_id}:user:ci", f"k8s:{cluster_id}:serviceaccount:team-a/app"
    role = "arn:aws:iam::111122223333:role/team-a-app"
    assert ("MappedTo", user) in out[ci]
    assert ("CanCreatePods", sa) in out[user] and ("CanCreatePods", sa) in out[f"k8s:{cluster_id}:user:alice"]
    assert ("UsesIdentity", role) in out[sa]
    assert ("AdminOf", "cloud:aws") in out[role]
    nodes = {n["id"]: n for n in doc["graph"]["nodes"]}
    assert nodes[role]["properties"]["power"] == "admin" and "AWSIdentity" in nodes[role]["kinds"]
    create = next(e for e in doc["graph"]["edges"] if e["kind"] == "CanCreatePods" and e["start"]["value"] == user)
    assert create["properties"]["severity"] == "critical" and create["properties"]["bindings"]
