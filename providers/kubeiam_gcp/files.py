"""Loading the GCP files of an evidence directory (shared EVIDENCE.md), checking their shapes.

Each loader returns plain, checked data; a present but malformed file raises `InputError`
naming the file and the field. Both the gcloud `--format=json` shapes and the REST shapes the
live collector writes (`{"accounts": [...]}`, `{"results": [...]}`...) are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeiam.errors import InputError
from kubeiam.evidence import Evidence


def _fail(file: str, what: str) -> InputError:
    return InputError(f"{file}: {what}")


def _list(evidence: Evidence, file: str, *keys: str) -> list[Any] | None:
    """A bare list, or the list under the first of `keys` an object carries (REST pages merged)."""
    value = evidence.load(file)
    if value is None:
        return None
    if isinstance(value, dict):
        key = next((k for k in keys if k in value), None)
        if key is None:
            if not value:  # `{}`: an empty REST response
                return []
            raise _fail(file, f"expected a list or an object with '{keys[0]}'")
        value = value[key]
        if value is None:
            return []
    if not isinstance(value, list):
        raise _fail(file, "expected a JSON list")
    return value


def _object(evidence: Evidence, file: str) -> dict[str, Any] | None:
    value = evidence.load(file)
    if value is not None and not isinstance(value, dict):
        raise _fail(file, "expected a JSON object")
    return value


def check_policy(policy: Any, file: str, where: str = "") -> list[Mapping[str, Any]]:
    """The bindings of an IAM policy (`{"bindings": [{"role", "members", "condition"?}], ...}`)."""
    at = f"{where}." if where else ""
    if not isinstance(policy, dict):
        raise _fail(file, f"{where or 'policy'} must be an IAM policy object")
    bindings = policy.get("bindings") or []
    if not isinstance(bindings, list):
        raise _fail(file, f"field '{at}bindings' must be a list")
    for i, b in enumerate(bindings):
        if not isinstance(b, dict) or not isinstance(b.get("role"), str):
            raise _fail(file, f"field '{at}bindings[{i}].role' missing or not a string")
        members = b.get("members")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise _fail(file, f"field '{at}bindings[{i}].members' must be a list of strings")
        if b.get("condition") is not None and not isinstance(b["condition"], dict):
            raise _fail(file, f"field '{at}bindings[{i}].condition' must be an object")
    return bindings


def _require_str(obj: Any, key: str, file: str, where: str) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get(key), str):
        raise _fail(file, f"field '{where}.{key}' missing or not a string")
    return obj[key]


@dataclass
class ProjectFiles:
    """One `gcp/<project-id>/` folder, checked. `None` means the file is absent."""

    project: str
    number: str | None = None
    parent: str | None = None
    iam_policy: list[Mapping[str, Any]] | None = None
    ancestors: dict[str, list[Mapping[str, Any]]] | None = None
    assets: list[Mapping[str, Any]] | None = None
    service_accounts: list[Mapping[str, Any]] | None = None
    sa_policies: dict[str, list[Mapping[str, Any]]] | None = None
    sa_keys: dict[str, list[Mapping[str, Any]]] | None = None
    custom_roles: list[Mapping[str, Any]] | None = None
    clusters: list[tuple[str, Mapping[str, Any], list[Mapping[str, Any]] | None]] = field(default_factory=list)
    """(cluster.json path, cluster object, node pools or None)."""


def load_project(evidence: Evidence, project: str) -> ProjectFiles:
    base = f"gcp/{project}"
    out = ProjectFiles(project)

    f = f"{base}/project.json"
    doc = _object(evidence, f)
    if doc is not None:
        # gcloud (v1) prints projectNumber and parent {type, id}; the v3 API has name projects/N, parent "folders/N".
        number = doc.get("projectNumber")
        if number is None and str(doc.get("name", "")).startswith("projects/"):
            number = doc["name"].split("/", 1)[1]
        if number is None:
            raise _fail(f, "missing field 'projectNumber' (or 'name': projects/NUMBER)")
        out.number = str(number)
        parent = doc.get("parent")
        if isinstance(parent, dict) and parent.get("type") and parent.get("id"):
            out.parent = f"{'organizations' if parent['type'] == 'organization' else 'folders'}/{parent['id']}"
        elif isinstance(parent, str):
            out.parent = parent

    f = f"{base}/project-iam-policy.json"
    doc = _object(evidence, f)
    if doc is not None:
        out.iam_policy = check_policy(doc, f)

    f = f"{base}/ancestors-iam-policies.json"
    doc = _object(evidence, f)
    if doc is not None:
        out.ancestors = {}
        for scope, policy in doc.items():
            if not scope.startswith(("folders/", "organizations/")):
                raise _fail(f, f"key '{scope}' is not folders/N or organizations/N")
            out.ancestors[scope] = check_policy(policy, f, scope)

    f = f"{base}/asset-iam-policies.json"
    items = _list(evidence, f, "results", "iamPolicySearchResults")
    if items is not None:
        for i, r in enumerate(items):
            _require_str(r, "resource", f, f"[{i}]")
            check_policy(r.get("policy"), f, f"[{i}].policy")
        out.assets = items

    f = f"{base}/service-accounts.json"
    items = _list(evidence, f, "accounts")
    if items is not None:
        for i, sa in enumerate(items):
            _require_str(sa, "email", f, f"[{i}]")
        out.service_accounts = items

    f = f"{base}/service-account-iam-policies.json"
    doc = _object(evidence, f)
    if doc is not None:
        out.sa_policies = {email: check_policy(p, f, email) for email, p in doc.items()}

    f = f"{base}/service-account-keys.json"
    doc = _object(evidence, f)
    if doc is not None:
        out.sa_keys = {}
        for email, keys in doc.items():
            if isinstance(keys, dict):
                keys = keys.get("keys") or []
            if not isinstance(keys, list):
                raise _fail(f, f"field '{email}' must be a list of keys")
            for i, k in enumerate(keys):
                _require_str(k, "name", f, f"{email}[{i}]")
            out.sa_keys[email] = keys

    f = f"{base}/custom-roles.json"
    items = _list(evidence, f, "roles")
    if items is not None:
        for i, r in enumerate(items):
            _require_str(r, "name", f, f"[{i}]")
            perms = r.get("includedPermissions", [])
            if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
                raise _fail(f, f"field '[{i}].includedPermissions' must be a list of strings")
        out.custom_roles = items

    for location in evidence.children(f"{base}/gke"):
        for name in evidence.children(f"{base}/gke/{location}"):
            f = f"{base}/gke/{location}/{name}/cluster.json"
            cluster = _object(evidence, f)
            pools_file = f"{base}/gke/{location}/{name}/node-pools.json"
            pools = _list(evidence, pools_file, "nodePools")
            if cluster is None:
                continue
            _require_str(cluster, "name", f, "cluster")
            if pools is None and isinstance(cluster.get("nodePools"), list):
                pools, pools_file = cluster["nodePools"], f
            for i, p in enumerate(pools or []):
                _require_str(p, "name", pools_file, f"nodePools[{i}]")
                if p.get("config") is not None and not isinstance(p["config"], dict):
                    raise _fail(pools_file, f"field 'nodePools[{i}].config' must be an object")
            out.clusters.append((f, {**cluster, "_location": location, "_pools_file": pools_file}, pools))
    return out
