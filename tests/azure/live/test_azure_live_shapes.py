"""The collected REST shape and the az CLI's flattened shape of the same state audit the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from azure_live_helpers import LIVE, SUB_A, SUB_B, graph_note, make_request
from kubeiam_azure import PROVIDER as AZURE
from kubeiam_azure.live import collect
from kubeiam_kubernetes import PROVIDER as KUBERNETES

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence


def _flatten(obj: dict) -> dict:
    """What the az CLI prints for a REST object: `properties` lifted to the top level.

    Role definitions also rename `properties.type` (BuiltInRole/CustomRole) to `roleType`, since the
    top-level `type` is the resource type.
    """
    props = dict(obj.get("properties") or {})
    if "roleName" in props and "type" in props:
        props["roleType"] = props.pop("type")
    flat = {k: v for k, v in obj.items() if k != "properties"} | props
    parts = str(obj.get("id", "")).split("/")
    lower = [p.lower() for p in parts]
    if "resourcegroups" in lower:
        flat["resourceGroup"] = parts[lower.index("resourcegroups") + 1]
    return flat


def _as_az_cli(rest: Path, out: Path) -> None:
    shutil.copytree(rest, out)
    for path in (out / "azure").rglob("*.json"):
        doc = json.loads(path.read_text())
        if isinstance(doc, list):
            doc = [_flatten(x) for x in doc]
        elif path.name == "federated-credentials.json":
            doc = {k: [_flatten(c) for c in v] for k, v in doc.items()}
        else:
            doc = _flatten(doc)
        path.write_text(json.dumps(doc))


def _fingerprints(root: Path, rest: Path) -> set[str]:
    report = audit(Evidence(root), providers=(KUBERNETES, AZURE))
    # Only notes, nothing unreadable: Microsoft Graph is not collected live (AZ-013, and the grant rules for the
    # estate's role assignment to a group), and the fixture's Kubernetes files hold no RBAC (K8S-006). The
    # Activity Log is collected: no AZ-012 note.
    errors = report.to_dict()["coverage"]["errors"]
    graph, groups = graph_note(rest)
    assert groups == 1 and f"{groups} role assignment(s) to groups" in errors[0]["reason"]
    assert [(e["source"], e["location"], e["subject"], e["rules"]) for e in errors] == [
        graph,
        ("kubernetes", "kubernetes/aks-apps/rbac.json", "aks-apps", ["K8S-006"]),
    ]
    assert report.to_dict()["coverage"]["unchecked"] == []
    return {f["fingerprint"] for f in report.to_dict()["findings"]}


def test_rest_and_az_cli_shapes_give_the_same_findings(tmp_path, k8s_inventory, credential, settings):
    rest = tmp_path / "rest"
    shutil.copytree(LIVE / "kubernetes", rest / "kubernetes")
    errors = collect(
        make_request(rest, subscriptions=[SUB_A, SUB_B]), k8s_inventory, credential=credential, settings=settings
    )
    assert errors == []
    _as_az_cli(rest, tmp_path / "az")
    flat = json.loads((tmp_path / "az" / "azure" / SUB_A / "identities.json").read_text())
    assert "clientId" in flat[0] and "properties" not in flat[0]
    found = _fingerprints(rest, rest)
    assert found and found == _fingerprints(tmp_path / "az", rest)
