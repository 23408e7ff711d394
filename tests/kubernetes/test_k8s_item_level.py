"""One object or field the reader cannot read is named (file + item path) with the subject it leaves unchecked.

Never "internal error", never exit 2 for one item, never the safe value taken silently: a ServiceAccount
whose annotations cannot be read is unchecked, not unannotated.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from kubeiam_kubernetes.evidence import reader
from kubeiam_kubernetes.evidence.shapes import SHAPES, mismatches

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import declarations_of, load_providers
from kubeiam.vocabulary.model import CoverageError, Inventory

REPO = Path(__file__).resolve().parents[2]
EKS = REPO / "fixtures" / "demo" / "kubernetes" / "eks-prod"
FILE = "kubernetes/prod/resources.json"


def read(tmp_path: Path, items: list[Any]) -> Inventory:
    folder = tmp_path / "kubernetes" / "prod"
    folder.mkdir(parents=True, exist_ok=True)
    # Infinity is no JSON (the core refuses the file); 1e999 is, and reads as infinity.
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}).replace("Infinity", "1e999")
    (folder / "resources.json").write_text(text)
    # The cluster's RBAC is read (none beyond the resources here): what is left unread is only what these tests plant.
    (folder / "rbac.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
    return reader.read(Evidence(tmp_path), Inventory(declarations=declarations_of(load_providers())))


def sa(name: str, namespace: str = "apps", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace, **meta}}


def pod(name: str, spec: dict[str, Any], namespace: str = "apps") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


ANNOTATED = {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/web"}
KEY_ENV = [{"name": "AWS_ACCESS_KEY_ID", "value": "x"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": "y"}]


def errors_of(inv: Inventory) -> dict[str, CoverageError]:
    return {e.location: e for e in inv.errors}


def test_annotations_as_a_list_leave_the_service_account_unchecked_not_unannotated(tmp_path):
    items = [sa("ok", annotations=ANNOTATED), sa("web", annotations=[ANNOTATED])]
    inv = read(tmp_path, items)

    err = errors_of(inv)[f"{FILE}: items[1].metadata.annotations"]
    assert (err.source, err.subject, err.whole) == ("kubernetes", "prod/apps/web", False)
    assert err.reason.startswith("metadata.annotations is a list, not a map of strings")
    assert "workload-identity annotations are unchecked" in err.reason
    # The ServiceAccount is still audited (on what was read), and the other one untouched.
    assert {s.name: dict(s.annotations) for s in inv.service_accounts} == {"ok": ANNOTATED, "web": {}}
    assert len(inv.errors) == 1


def test_a_non_string_annotation_value_is_named_and_the_others_kept(tmp_path):
    inv = read(tmp_path, [sa("web", annotations={**ANNOTATED, "example.com/team": 7, "huge": float("inf")})])
    assert set(errors_of(inv)) == {
        f'{FILE}: items[0].metadata.annotations["example.com/team"]',
        f"{FILE}: items[0].metadata.annotations.huge",
    }
    assert {e.reason.split(" is ")[1].split(":")[0] for e in inv.errors} == {
        "a number, not a string",
        "a non-finite number, not a string",
    }
    assert dict(inv.service_accounts[0].annotations) == ANNOTATED


def test_labels_as_a_string_and_automount_as_a_string(tmp_path):
    items = [sa("web", labels="team=payments"), {**sa("job"), "automountServiceAccountToken": "false"}]
    inv = read(tmp_path, items)
    errors = errors_of(inv)
    assert errors[f"{FILE}: items[0].metadata.labels"].subject == "prod/apps/web"
    automount = errors[f"{FILE}: items[1].automountServiceAccountToken"]
    assert automount.subject == "prod/apps/job"
    assert automount.reason.startswith("automountServiceAccountToken is a string, not true or false")
    # Unknown is not safe: read as "not set", which mounts the token.
    assert {s.name: s.automount_token for s in inv.service_accounts} == {"web": None, "job": None}


def test_containers_as_an_object_name_the_pod_and_its_service_account(tmp_path):
    items = [
        pod("a", {"serviceAccountName": "web", "containers": {"name": "app", "env": KEY_ENV}}),
        pod("b", {"serviceAccountName": "batch", "containers": [{"name": "app", "env": KEY_ENV}]}),
    ]
    inv = read(tmp_path, items)
    err = errors_of(inv)[f"{FILE}: items[0].spec.containers"]
    assert err.subject == "prod/apps/web"
    assert err.reason == "spec.containers is a map, not a list: the pod's cloud credentials are unchecked"
    assert {w.pod: len(w.credentials) for w in inv.workloads} == {"a": 0, "b": 2}


def test_env_entries_that_are_not_objects_are_named_and_the_rest_read(tmp_path):
    env = ["AWS_ACCESS_KEY_ID=x", KEY_ENV[1], None, {"name": ["AWS_ACCESS_KEY_ID"], "value": "x"}]
    inv = read(tmp_path, [pod("a", {"serviceAccountName": "web", "containers": [{"name": "app", "env": env}]})])
    assert set(errors_of(inv)) == {
        f"{FILE}: items[0].spec.containers[0].env[0]",
        f"{FILE}: items[0].spec.containers[0].env[2]",
        f"{FILE}: items[0].spec.containers[0].env[3].name",
    }
    assert all(e.subject == "prod/apps/web" for e in inv.errors)
    [w] = inv.workloads
    assert [c.variable for c in w.credentials] == ["AWS_SECRET_ACCESS_KEY"]


def test_a_pod_whose_service_account_cannot_be_read_is_not_guessed_as_default(tmp_path):
    inv = read(tmp_path, [pod("a", {"serviceAccountName": ["web"]}), pod("b", {"serviceAccountName": "web"})])
    err = errors_of(inv)[f"{FILE}: items[0].spec.serviceAccountName"]
    assert err.subject == "prod"  # which ServiceAccount's findings it hides is unknown: the cluster's
    assert "which ServiceAccount it runs as is unknown" in err.reason
    assert [(w.pod, w.service_account) for w in inv.workloads] == [("b", "web")]


def test_host_network_that_is_not_a_boolean_is_unchecked(tmp_path):
    inv = read(tmp_path, [pod("a", {"serviceAccountName": "web", "hostNetwork": float("inf")})])
    err = errors_of(inv)[f"{FILE}: items[0].spec.hostNetwork"]
    assert err.reason.startswith("spec.hostNetwork is a non-finite number, not true or false")
    assert err.subject == "prod/apps/web"


def test_objects_without_a_name_or_kind_are_named_and_skipped(tmp_path):
    items = [
        "pod",
        {"metadata": {"name": "x"}},
        {"kind": "ServiceAccount", "metadata": {"namespace": "apps"}},
        {"kind": "Pod", "metadata": []},
        sa("ok"),
        {**sa("bad"), "metadata": {"name": "bad", "namespace": 3}},
    ]
    inv = read(tmp_path, items)
    assert set(errors_of(inv)) == {
        f"{FILE}: items[0]",
        f"{FILE}: items[1].kind",
        f"{FILE}: items[2].metadata.name",
        f"{FILE}: items[3].metadata",
        f"{FILE}: items[5].metadata.namespace",
    }
    assert all(e.subject == "prod" for e in inv.errors)
    assert [s.name for s in inv.service_accounts] == ["ok"]


def test_a_node_with_a_wrong_provider_id_names_the_node(tmp_path):
    node = {"kind": "Node", "metadata": {"name": "n1", "labels": {"zone": "a"}}, "spec": {"providerID": 42}}
    inv = read(tmp_path, [node])
    err = errors_of(inv)[f"{FILE}: items[0].spec.providerID"]
    assert err.subject == "prod/node/n1"
    assert [(n.name, n.provider_id) for n in inv.nodes] == [("n1", None)]


def test_a_network_policy_that_cannot_be_read_blocks_nothing_and_voids_blocks_beside_it(tmp_path):
    deny_all = {"podSelector": {}, "policyTypes": ["Egress"]}
    garbled = {"podSelector": {}, "policyTypes": ["Egress"], "egress": {"to": "0.0.0.0/0"}}
    items = [
        {"kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "apps"}, "spec": deny_all},
        {"kind": "NetworkPolicy", "metadata": {"name": "odd", "namespace": "apps"}, "spec": garbled},
        {"kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "other"}, "spec": deny_all},
    ]
    inv = read(tmp_path, items)
    err = errors_of(inv)[f"{FILE}: items[1].spec.egress"]
    assert "not counted as blocking IMDS" in err.reason and err.subject == "prod"
    # Read as absent, `odd` would be a deny-all block; unread, it may let pods out, so `apps` has no block.
    assert {(b.namespace, b.name) for b in inv.egress_blocks} == {("other", "deny")}


def test_owner_references_that_cannot_be_read_name_the_owner_and_fields_nobody_reads_are_not_checked(tmp_path):
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c9b6", "controller": True}
    web = pod("web-5d8f7c9b6-abcde", {"serviceAccountName": "web"})
    web["metadata"].update(ownerReferences=[ref], labels={"pod-template-hash": "5d8f7c9b6"})
    refs = {"kind": "Deployment"}  # a map, not a list
    replica_set = {
        "kind": "ReplicaSet",
        "metadata": {"name": "web-5d8f7c9b6", "namespace": "apps", "ownerReferences": refs},
    }
    config_map = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps", "labels": ["x"]}, "data": 3}
    inv = read(tmp_path, [web, replica_set, config_map])
    [error] = inv.errors
    assert (error.location, error.subject) == (f"{FILE}: items[1].metadata.ownerReferences", "prod")
    [w] = inv.workloads
    assert (w.owner_kind, w.owner_name) == ("Deployment", "web")  # from the pod's own names, as when no RS is there


# -- every field the reader reads, of every type it should not be ----------------------------------


def _paths(shape: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, its shape) for every field the shapes name, through the first element of lists."""
    out = [(path, shape)] if path else []
    if isinstance(shape, list) and isinstance(shape[0], dict):
        shape = shape[0]
    if isinstance(shape, dict):
        for key, inner in shape.items():
            out += _paths(inner, (*path, key))
    return out


def _set(item: dict[str, Any], path: tuple[str, ...], value: Any) -> bool:
    """Set `path` in `item` (through the first element of lists); False when the path is not there."""
    node: Any = item
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, dict):
            return False
    node[path[-1]] = value
    return True


WRONG = {"list": ["x"], "map": {"x": "y"}, "string": "x", "number": 10**400, "inf": float("inf"), "bool": True}


@pytest.mark.parametrize("kind", ["ServiceAccount", "Pod", "Node", "Namespace", "NetworkPolicy"])
def test_every_read_field_of_every_wrong_type_is_named_never_a_crash(tmp_path, kind):
    demo = json.loads((EKS / "resources.json").read_text())["items"]
    index = next(
        i for i, item in enumerate(demo) if item["kind"] == kind and (kind != "Pod" or item["spec"].get("containers"))
    )
    checked = 0
    # `metadata` as a whole goes with its name: test_objects_without_a_name_or_kind_are_named_and_skipped.
    for path, shape in [(p, s) for p, s in _paths(SHAPES[kind]) if p != ("metadata",)]:
        for label, value in WRONG.items():
            items = copy.deepcopy(demo)
            if not _set(items[index], path, value):
                continue
            inv = read(tmp_path / f"{'.'.join(path)}-{label}", items)  # never raises
            prefix = f"{FILE}: items[{index}]."
            named = [
                e
                for e in inv.errors
                if e.location.startswith(prefix)
                and re.sub(r"\[\d+\]", "", e.location[len(prefix) :]).startswith(".".join(path))
            ]
            assert bool(named) == bool(mismatches(value, shape)), (path, label, inv.errors)
            assert all(e.subject and e.subject.startswith("prod") and "\n" not in e.reason for e in named)
            checked += bool(named)
    assert checked >= 5


# -- through the CLI, against the previous run -----------------------------------------------------


def _demo_copy(tmp_path: Path) -> Path:
    root = tmp_path / "ev"
    shutil.copytree(EKS, root / "kubernetes" / "eks-prod")
    return root


def _edit(root: Path, change: Any) -> None:
    path = root / "kubernetes" / "eks-prod" / "resources.json"
    doc = json.loads(path.read_text())
    change(doc["items"])
    path.write_text(json.dumps(doc))


def _named(items: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(i for i in items if i["kind"] == kind and i["metadata"]["name"] == name)


@pytest.mark.parametrize(
    ("subject", "change", "location"),
    [
        # K8S-003 (a malformed role ARN) rests on these annotations.
        (("data", "reporting"),
         lambda items: _named(items, "ServiceAccount", "reporting")["metadata"].update(annotations=[{"a": "b"}]),
         "items[11].metadata.annotations"),
        # K8S-001 (AWS keys in env) rests on the pod's containers.
        (("payments", "legacy-worker"),
         lambda items: _named(items, "Pod", "legacy-worker-5c4b8d7f9-m3n2b")["spec"].update(
             containers={"name": "worker"}),
         "items[28].spec.containers"),
    ],
)  # fmt: skip
def test_an_unreadable_field_leaves_its_findings_not_rechecked(kubeiam_cli, tmp_path, subject, change, location):
    root = _demo_copy(tmp_path)
    before = kubeiam_cli("audit", "--evidence", str(root), "--format", "json")
    previous = tmp_path / "previous.json"
    previous.write_text(before.out)
    own = {f["fingerprint"] for f in before.json()["findings"] if (f["namespace"], f["service_account"]) == subject}
    assert own

    _edit(root, change)
    after = kubeiam_cli("audit", "--evidence", str(root), "--format", "json", "--baseline", str(previous),
                        "--strict", "--fail-on", "critical")  # fmt: skip

    report = after.json()
    assert report["resolved"] == []
    assert {f["fingerprint"] for f in report["not_rechecked"]} == own
    [error] = report["coverage"]["errors"]
    assert error["location"] == f"kubernetes/eks-prod/resources.json: {location}"
    assert error["subject"] == "eks-prod/" + "/".join(subject)
    assert after.code == 3
    assert "internal error" not in after.err and "Traceback" not in after.err
