"""The IAM policy files of a project folder: the project's, its ancestors', the resource-level ones
(Cloud Asset search) and the service accounts' own. Each yields checked bindings
(`{"role", "members", "condition"?}`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubeiam.pipeline.evidence import Evidence

from .json_checks import fail, load_list, load_object, require_str

Bindings = Sequence[Mapping[str, Any]]


def check_policy(policy: Any, file: str, where: str = "") -> list[Mapping[str, Any]]:
    """The bindings of an IAM policy (`{"bindings": [{"role", "members", "condition"?}], ...}`)."""
    at = f"{where}." if where else ""
    if not isinstance(policy, dict):
        raise fail(file, f"{where or 'policy'} must be an IAM policy object")
    bindings = policy.get("bindings") or []
    if not isinstance(bindings, list):
        raise fail(file, f"field '{at}bindings' must be a list")
    for i, b in enumerate(bindings):
        if not isinstance(b, dict) or not isinstance(b.get("role"), str):
            raise fail(file, f"field '{at}bindings[{i}].role' missing or not a string")
        members = b.get("members")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise fail(file, f"field '{at}bindings[{i}].members' must be a list of strings")
        if b.get("condition") is not None and not isinstance(b["condition"], dict):
            raise fail(file, f"field '{at}bindings[{i}].condition' must be an object")
    return bindings


def read_project_policy(evidence: Evidence, base: str) -> Bindings | None:
    file = f"{base}/project-iam-policy.json"
    doc = load_object(evidence, file)
    return None if doc is None else check_policy(doc, file)


def read_ancestors(evidence: Evidence, base: str) -> Mapping[str, Bindings] | None:
    """`folders/N` / `organizations/N` -> bindings; a policy that could not be read is absent from it."""
    file = f"{base}/ancestors-iam-policies.json"
    doc = load_object(evidence, file)
    if doc is None:
        return None
    out: dict[str, Bindings] = {}
    for scope, policy in doc.items():
        if not scope.startswith(("folders/", "organizations/")):
            raise fail(file, f"key '{scope}' is not folders/N or organizations/N")
        out[scope] = check_policy(policy, file, scope)
    return out


def read_assets(evidence: Evidence, base: str) -> Sequence[Mapping[str, Any]] | None:
    """Cloud Asset `searchAllIamPolicies` results: `{"resource", "assetType"?, "policy"}` each."""
    file = f"{base}/asset-iam-policies.json"
    items = load_list(evidence, file, "results", "iamPolicySearchResults")
    if items is None:
        return None
    for i, r in enumerate(items):
        require_str(r, "resource", file, f"[{i}]")
        check_policy(r.get("policy"), file, f"[{i}].policy")
    return items


def read_service_account_policies(evidence: Evidence, base: str) -> Mapping[str, Bindings] | None:
    """Service account email -> the bindings of its own IAM policy (who may act as it)."""
    file = f"{base}/service-account-iam-policies.json"
    doc = load_object(evidence, file)
    if doc is None:
        return None
    return {email: check_policy(p, file, email) for email, p in doc.items()}
