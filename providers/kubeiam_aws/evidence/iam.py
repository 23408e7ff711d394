"""Parse `aws/<account>/iam.json` (get-account-authorization-details): roles and their policies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError, Grant
from kubeiam.vocabulary.policy import PolicyFormatError, Statement, parse_document
from kubeiam_aws.judge.conditions import parse_date
from kubeiam_aws.view import Role


@lru_cache(maxsize=1)
def known_managed_policies() -> dict[str, tuple[Statement, ...]]:
    """AWS managed policies judged by ARN when an iam.json lists the attachment but not the document."""
    raw = json.loads(files("kubeiam_aws").joinpath("data/known_managed_policies.json").read_text(encoding="utf-8"))
    out = {}
    for p in raw["policies"].values():
        out[p["arn"]] = parse_document(p["document"])
        out[p["arn"].replace("arn:aws:", "arn:aws-cn:")] = out[p["arn"]]
        out[p["arn"].replace("arn:aws:", "arn:aws-us-gov:")] = out[p["arn"]]
    return out


def _doc(relative: str, where: str, document: Any) -> tuple[tuple[Statement, ...], Mapping[str, Any]]:
    try:
        statements = parse_document(document)
    except PolicyFormatError as exc:
        raise InputError(f"{relative}: {where}: {exc}") from None
    raw = document if isinstance(document, Mapping) else {"Statement": [dict(s.raw) for s in statements]}
    return statements, raw


def _list(relative: str, obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{relative}: {where}: field '{key}' must be a list")
    return value


def _field(relative: str, obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise InputError(f"{relative}: {where}: missing field '{key}'")
    return obj[key]


def read_policies(relative: str, data: Mapping[str, Any]) -> dict[str, Grant]:
    """Managed policies (their default version) by ARN."""
    out: dict[str, Grant] = {}
    for i, pol in enumerate(_list(relative, data, "Policies", "top level")):
        arn = _field(relative, pol, "Arn", f"Policies[{i}]")
        default = pol.get("DefaultVersionId")
        versions = _list(relative, pol, "PolicyVersionList", f"Policies[{i}] ({arn})")
        chosen = next((v for v in versions if isinstance(v, Mapping) and v.get("IsDefaultVersion")), None)
        if chosen is None:
            chosen = next((v for v in versions if isinstance(v, Mapping) and v.get("VersionId") == default), None)
        if chosen is None:
            raise InputError(f"{relative}: Policies[{i}] ({arn}): no default version in 'PolicyVersionList'")
        where = f"Policies[{i}] ({arn}) version {chosen.get('VersionId')}"
        statements, raw = _doc(relative, where, _field(relative, chosen, "Document", where))
        out[arn] = Grant(source=arn, kind="managed-policy", statements=statements, document=raw)
    return out


def read_roles(
    relative: str, account: str, data: Mapping[str, Any], policies: Mapping[str, Grant]
) -> tuple[list[Role], list[CoverageError]]:
    roles, errors = [], []
    known = known_managed_policies()
    for i, r in enumerate(_list(relative, data, "RoleDetailList", "top level")):
        if not isinstance(r, Mapping):
            raise InputError(f"{relative}: RoleDetailList[{i}] is not an object")
        arn = _field(relative, r, "Arn", f"RoleDetailList[{i}]")
        name = r.get("RoleName") or arn.rsplit("/", 1)[-1]
        where = f"RoleDetailList[{i}] ({name})"
        trust, trust_raw = _doc(
            relative, f"{where} AssumeRolePolicyDocument", _field(relative, r, "AssumeRolePolicyDocument", where)
        )
        grants: list[Grant] = []
        for j, inline in enumerate(_list(relative, r, "RolePolicyList", where)):
            pname = _field(relative, inline, "PolicyName", f"{where} RolePolicyList[{j}]")
            w = f"{where} RolePolicyList[{j}] ({pname})"
            statements, raw = _doc(relative, w, _field(relative, inline, "PolicyDocument", w))
            grants.append(Grant(f"{arn}:inline/{pname}", "inline-policy", statements, document=raw))
        missing: list[str] = []
        for j, att in enumerate(_list(relative, r, "AttachedManagedPolicies", where)):
            parn = _field(relative, att, "PolicyArn", f"{where} AttachedManagedPolicies[{j}]")
            if parn in policies:
                grants.append(policies[parn])
            elif parn in known:
                grants.append(Grant(parn, "managed-policy", known[parn]))
            else:
                missing.append(parn)
        boundary_arn = (r.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundary = None
        if boundary_arn:
            found = policies.get(boundary_arn)
            if found is not None:
                boundary = Grant(boundary_arn, "permissions-boundary", found.statements, document=found.document)
            elif boundary_arn in known:
                boundary = Grant(boundary_arn, "permissions-boundary", known[boundary_arn])
            else:
                missing.append(boundary_arn)
        for parn in missing:
            errors.append(
                CoverageError("aws", relative, f"policy {parn} attached to {name} is not in 'Policies'", subject=arn)
            )
        created = r.get("CreateDate")
        roles.append(
            Role(
                arn=arn,
                account=account,
                name=name,
                trust=trust,
                trust_document=trust_raw,
                grants=tuple(grants),
                boundary=boundary,
                boundary_arn=boundary_arn,
                created=parse_date(str(created)) if created else None,
                instance_profiles=tuple(
                    p["Arn"]
                    for p in _list(relative, r, "InstanceProfileList", where)
                    if isinstance(p, Mapping) and "Arn" in p
                ),
                missing_policies=tuple(missing),
                source=relative,
            )
        )
    return roles, errors


def read_account_iam(evidence: Evidence, account: str) -> tuple[list[Role], list[CoverageError]] | None:
    relative = f"aws/{account}/iam.json"
    data = evidence.load_object(relative, "RoleDetailList")
    if data is None:
        return None
    return read_roles(relative, account, data, read_policies(relative, data))
