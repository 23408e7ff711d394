"""Parse `aws/<account>/organization-policies.json`: the SCPs and RCPs along the account's path in AWS
Organizations (root, OUs, the account), an object keyed by target id:

    {"Organization": <aws organizations describe-organization --query Organization>,
     "<target id>": {"Parents": <aws organizations list-parents --child-id <target id> --query Parents>,
                     "Policies": [<aws organizations describe-policy --policy-id <id> --query Policy> for each
                                  id of list-policies-for-target --target-id <target id>
                                  --filter SERVICE_CONTROL_POLICY, and --filter RESOURCE_CONTROL_POLICY]},
     ...}

for the account and every OU above it up to the root (`r-...`). Each level's SCPs are one allow-list (an action
must be allowed at every level); RCPs only deny. The management account is exempt from both, and so are
service-linked roles (`/aws-service-role/`). What cannot be read is a coverage entry on the account, and cuts
nothing: a level read in part allows everything, a policy not understood denies nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam.vocabulary.policy import read_document
from kubeiam_aws.evidence.shapes import kind, mapping, text
from kubeiam_aws.judge.guardrails import RCP, SCP, Guardrail
from kubeiam_aws.view import Role

FILE = "organization-policies.json"
_TYPES = {"SERVICE_CONTROL_POLICY": SCP, "RESOURCE_CONTROL_POLICY": RCP}
_ROOT = re.compile(r"^r-[0-9a-z]{4,32}$")
_DEPTH = 8
"""A root, at most five OU levels and the account: a longer chain of parents is a loop in the file."""


@dataclass(frozen=True, slots=True)
class Organization:
    org_id: str | None
    guardrails: tuple[Guardrail, ...]
    """What applies to the account's roles (empty for the management account)."""


def read_organization(evidence: Evidence, account: str) -> tuple[Organization | None, list[CoverageError]]:
    relative = f"aws/{account}/{FILE}"
    data = evidence.load(relative)
    if data is None:
        return None, []
    if not isinstance(data, dict):
        raise InputError(f"{relative}: expected an object keyed by target id (account, OU, root), found {kind(data)}")
    if account not in data:
        raise InputError(f"{relative}: missing field '{account}' (the account's own parents and policies)")
    errors: list[CoverageError] = []

    def problem(reason: str) -> None:
        errors.append(CoverageError("aws", relative, reason, subject=account))

    org = mapping(data.get("Organization"))
    org_id, management = text(org.get("Id")), text(org.get("MasterAccountId") or org.get("ManagementAccountId"))
    if management is None:
        problem(
            "no 'Organization' (describe-organization): whether the account is the management account, which SCPs "
            "and RCPs do not bind, is unknown: they are not applied"
        )
        return Organization(org_id, ()), errors
    if management == account:
        return Organization(org_id, ()), errors
    guardrails: list[Guardrail] = []
    target: str | None = account
    for _ in range(_DEPTH):
        if target is None:
            break
        entry = data.get(target)
        if not isinstance(entry, Mapping):
            problem(f"'{target}' is {kind(entry)}: its SCPs and RCPs are not applied")
            break
        guardrails += _level(relative, target, entry, problem)
        target = _parent(entry, target, problem)
    else:
        problem("the chain of 'Parents' does not reach a root: the levels above are not applied")
    return Organization(org_id, tuple(guardrails)), errors


def _parent(entry: Mapping[str, Any], target: str, problem: Any) -> str | None:
    if _ROOT.match(target):
        return None
    raw = entry.get("Parents")
    parents = raw.get("Parents") if isinstance(raw, Mapping) else raw  # the whole list-parents output, or its list
    first = parents[0] if isinstance(parents, list) and parents else None
    parent = text(mapping(first).get("Id"))
    if parent is None:
        problem(f"'{target}' has no readable 'Parents': the levels above it are not applied")
    return parent


def _level(relative: str, target: str, entry: Mapping[str, Any], problem: Any) -> list[Guardrail]:
    policies = entry.get("Policies", [])
    if not isinstance(policies, list):
        problem(f"'{target}'.Policies is {kind(policies)}, not a list: this level is not applied")
        return []
    scps: list[tuple[str, Any]] = []
    out: list[Guardrail] = []
    readable = True
    for i, raw in enumerate(policies):
        policy = mapping(raw.get("Policy") if isinstance(raw, Mapping) and "Policy" in raw else raw)
        summary = mapping(policy.get("PolicySummary"))
        kind_ = _TYPES.get(str(summary.get("Type")))
        if kind_ is None:
            continue  # tag, backup, AI opt-out policies grant and deny nothing
        name = text(summary.get("Name")) or text(summary.get("Id")) or f"#{i}"
        doc = read_document(policy.get("Content"))
        if doc.problems:
            readable = readable and kind_ != SCP
            first = doc.problems[0]
            problem(f"'{target}'.Policies[{i}] ({name}) not understood ({first.item or 'Content'}: {first.reason})")
            if kind_ == SCP:
                continue
        if kind_ == RCP:
            out.append(Guardrail(RCP, f"RCP {name} on {target}", doc.statements, relative, allow_list=False))
        else:
            scps.append((name, doc.statements))
    if scps:
        # One SCP of the level not understood: what the level allows is unknown (it allows everything here), but
        # the Denies of the others still hold.
        names = ", ".join(n for n, _ in scps)
        statements = tuple(s for _, stmts in scps for s in stmts)
        out.insert(0, Guardrail(SCP, f"SCPs on {target} ({names})", statements, relative, allow_list=readable))
    return out


def with_guardrails(roles: list[Role], org: Organization | None) -> list[Role]:
    """The roles of an account, each carrying its organization's guardrails (service-linked roles are exempt)."""
    if org is None or not org.guardrails:
        return roles
    return [r if "/aws-service-role/" in r.arn else replace(r, guardrails=org.guardrails) for r in roles]
