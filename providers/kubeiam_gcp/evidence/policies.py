"""The IAM policy files of a project folder: the project's, its ancestors', the resource-level ones
(Cloud Asset search) and the service accounts' own. Each yields checked bindings
(`{"role", "members", "condition"}`) and the items it could not read (`Unread`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeiam.pipeline.evidence import Evidence

from .json_checks import ACCOUNT_POLICY, BINDING, ListFile, Unread, fail, kind_of, load_list, load_object

Bindings = Sequence[Mapping[str, Any]]

_ANCESTOR_TYPES = {"folder": "folders", "organization": "organizations"}


@dataclass(frozen=True)
class PolicyFile:
    bindings: Bindings
    unread: tuple[Unread, ...] = ()


@dataclass(frozen=True)
class AncestorsFile:
    policies: Mapping[str, Bindings]
    """`folders/N` / `organizations/N` -> bindings; a policy that could not be read is absent from it."""
    chain: tuple[str, ...] | None = None
    """The ancestors from the project up, when the file says (gcloud's get-ancestors-iam-policy list)."""
    project: Bindings | None = None
    """The project's own policy, when the file carries it (the list form does)."""
    unread: tuple[Unread, ...] = ()


@dataclass(frozen=True)
class AssetsFile:
    results: Sequence[Mapping[str, Any]]
    """`{"resource", "assetType"?, "policy": {"bindings": [checked]}}` each."""
    next_page: str | None = None
    unread: tuple[Unread, ...] = ()


@dataclass(frozen=True)
class AccountPoliciesFile:
    policies: Mapping[str, Bindings]
    """Email -> the bindings of its own IAM policy (who may act as it); unreadable ones left out."""
    unread: tuple[Unread, ...] = field(default=())


def check_policy(
    policy: Any, file: str, where: str = "", account: str | None = None
) -> tuple[list[Mapping[str, Any]], list[Unread]]:
    """The bindings of an IAM policy that can be read, and an `Unread` for each one that cannot.

    A binding whose role cannot be read is left out (its members named, so that they are unchecked);
    a member that is not a string is unknown (who it grants to cannot be told); a condition that is not
    an object counts as no condition (the wider reading) and is named.
    """
    at = f"{where}." if where else ""
    if not isinstance(policy, dict):
        reason = f"expected an IAM policy object, found {kind_of(policy)}"
        return [], [Unread(BINDING, file, where or "(policy)", reason, account=account)]
    bindings = policy.get("bindings", [])  # absent: no bindings (what the API prints for none)
    if not isinstance(bindings, list):
        reason = f"expected a list, found {kind_of(bindings)}"
        return [], [Unread(BINDING, file, f"{at}bindings", reason, account=account)]
    out: list[Mapping[str, Any]] = []
    unread: list[Unread] = []
    for i, b in enumerate(bindings):
        item = f"{at}bindings[{i}]"
        if not isinstance(b, dict):
            unread.append(Unread(BINDING, file, item, f"expected an object, found {kind_of(b)}", account=account))
            continue
        members_value = b.get("members")
        if not isinstance(members_value, list):
            reason = f"expected a list of members, found {kind_of(members_value)}"
            unread.append(Unread(BINDING, file, f"{item}.members", reason, account=account))
            continue
        members = [m for m in members_value if isinstance(m, str)]
        if len(members) < len(members_value):
            j = next(j for j, m in enumerate(members_value) if not isinstance(m, str))
            reason = f"expected a member string, found {kind_of(members_value[j])}"
            unread.append(Unread(BINDING, file, f"{item}.members[{j}]", reason, account=account))
        role = b.get("role")
        if not isinstance(role, str) or not role:
            reason = f"expected a role name, found {kind_of(role)}"
            unread.append(Unread(BINDING, file, f"{item}.role", reason, tuple(members), account=account))
            continue
        condition = b.get("condition")
        if condition is not None and not _condition_ok(condition):
            found = "an expression or title that is not text" if isinstance(condition, dict) else kind_of(condition)
            reason = f"expected a condition object, found {found}: read as unconditioned"
            unread.append(Unread(BINDING, file, f"{item}.condition", reason, tuple(members), account=account))
            condition = None
        out.append({"role": role, "members": members, "condition": condition or None})
    return out, unread


def _condition_ok(condition: Any) -> bool:
    """An IAM condition object whose expression and title are text (what a grant shows and hashes)."""
    return isinstance(condition, dict) and all(
        isinstance(condition.get(k), str) for k in ("expression", "title") if condition.get(k) is not None
    )


def read_project_policy(evidence: Evidence, base: str) -> PolicyFile | None:
    file = f"{base}/project-iam-policy.json"
    doc = load_object(evidence, file, "gcloud projects get-iam-policy PROJECT --format=json")
    if doc is None:
        return None
    bindings, unread = check_policy(doc, file)
    return PolicyFile(bindings, tuple(unread))


def read_ancestors(evidence: Evidence, base: str) -> AncestorsFile | None:
    """The documented object (`{"folders/N": policy, "organizations/N": policy}`), or the list gcloud's
    `projects get-ancestors-iam-policy` prints (`[{"type", "id", "policy"}]`, the project first)."""
    file = f"{base}/ancestors-iam-policies.json"
    doc = evidence.load(file)
    if doc is None:
        return None
    policies: dict[str, Bindings] = {}
    unread: list[Unread] = []
    if isinstance(doc, dict):
        for scope, policy in doc.items():
            if not _ancestor(scope):
                reason = "not folders/N or organizations/N: its bindings are not read"
                unread.append(Unread(BINDING, file, scope, reason))
                continue
            bindings, bad = check_policy(policy, file, scope)
            policies[scope] = bindings
            unread += bad
        return AncestorsFile(policies, unread=tuple(unread))
    if not isinstance(doc, list):
        raise fail(
            file,
            f"top level must be an object of folders/N and organizations/N policies or the list "
            f"`gcloud projects get-ancestors-iam-policy PROJECT --format=json` prints, found {kind_of(doc)}",
        )
    chain: list[str] = []
    project: Bindings | None = None
    for i, entry in enumerate(doc):
        kind, ident = (entry.get("type"), entry.get("id")) if isinstance(entry, dict) else (None, None)
        if kind not in ("project", *_ANCESTOR_TYPES) or not isinstance(ident, (str, int)) or isinstance(ident, bool):
            unread.append(Unread(BINDING, file, f"[{i}]", "expected {type: project|folder|organization, id, policy}"))
            continue
        policy = entry.get("policy")
        if _is_deny_policy(policy):
            continue  # `--include-deny`: deny rules only take access away; leaving them out never hides a finding
        bindings, bad = check_policy(policy, file, f"[{i}].policy")
        unread += bad
        if kind == "project":
            project = [*(project or ()), *bindings]
            continue
        scope = f"{_ANCESTOR_TYPES[kind]}/{str(ident).rpartition('/')[2]}"
        chain.append(scope)
        policies[scope] = [*policies.get(scope, ()), *bindings]
    return AncestorsFile(policies, tuple(dict.fromkeys(chain)), project, tuple(unread))


def _ancestor(scope: str) -> bool:
    kind, _, ident = scope.partition("/")
    return kind in ("folders", "organizations") and ident.isdigit()


def _is_deny_policy(policy: Any) -> bool:
    if not isinstance(policy, dict) or "bindings" in policy:
        return False
    return "rules" in policy or "denypolicies" in str(policy.get("name", ""))


def read_assets(evidence: Evidence, base: str) -> AssetsFile | None:
    """Cloud Asset `searchAllIamPolicies` results: `{"resource", "assetType"?, "policy"}` each."""
    file = f"{base}/asset-iam-policies.json"
    found: ListFile | None = load_list(
        evidence,
        file,
        "results",
        "iamPolicySearchResults",
        command="gcloud asset search-all-iam-policies --scope=projects/PROJECT --format=json",
        empty_object=False,
    )
    if found is None:
        return None
    results: list[Mapping[str, Any]] = []
    unread: list[Unread] = []
    for i, r in enumerate(found.items):
        resource = r.get("resource") if isinstance(r, dict) else None
        if not isinstance(resource, str) or not resource:
            reason = f"expected a result with a 'resource' name, found {kind_of(r if resource is None else resource)}"
            unread.append(Unread(BINDING, file, f"[{i}].resource", reason))
            continue
        bindings, bad = check_policy(r.get("policy"), file, f"[{i}].policy")
        unread += bad
        asset_type = r.get("assetType")
        results.append(
            {
                "resource": resource,
                "assetType": asset_type if isinstance(asset_type, str) else None,
                "project": r.get("project") if isinstance(r.get("project"), str) else None,
                "policy": {"bindings": bindings},
            }
        )
    return AssetsFile(results, found.next_page, tuple(unread))


def read_service_account_policies(evidence: Evidence, base: str) -> AccountPoliciesFile | None:
    """Service account email -> the bindings of its own IAM policy (who may act as it)."""
    file = f"{base}/service-account-iam-policies.json"
    doc = load_object(evidence, file, '{"EMAIL": gcloud iam service-accounts get-iam-policy EMAIL --format=json}')
    if doc is None:
        return None
    policies: dict[str, Bindings] = {}
    unread: list[Unread] = []
    for email, policy in doc.items():
        if not isinstance(policy, dict):
            reason = f"expected the account's IAM policy object, found {kind_of(policy)}: its trust is not known"
            unread.append(Unread(ACCOUNT_POLICY, file, email, reason, account=email))
            continue
        bindings, bad = check_policy(policy, file, email, account=email)
        policies[email] = bindings
        unread += bad
    return AccountPoliciesFile(policies, tuple(unread))
