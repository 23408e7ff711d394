"""Parse `aws/<account>/iam.json` (get-account-authorization-details): roles and their policies.

Exit 2 only for a file that is not the command's shape at the top level (no `RoleDetailList` list).
Inside, every item is read on its own: a policy or a statement that is not IAM's grammar, a field of the
wrong type, becomes a `Gap` on the roles that depend on it (named by file and item path), and the rest is
judged; an item whose role or policy ARN cannot be read is a coverage error on the account, and then a
role the file does not hold is "not checked", never "does not exist".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError, Gap, Grant
from kubeiam.vocabulary.policy import PolicyDocument, Statement, parse_document, read_document
from kubeiam_aws.evidence.shapes import kind, mapping, one_page, text
from kubeiam_aws.evidence.usage import role_last_used
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


@dataclass
class AccountIam:
    """What one account's iam.json holds, and what of it could not be read."""

    roles: list[Role] = field(default_factory=list)
    errors: list[CoverageError] = field(default_factory=list)
    incomplete: str | None = None
    """Why a role absent from the file may still exist (one page only, an item without a readable ARN)."""


@dataclass(frozen=True, slots=True)
class _Policy:
    grant: Grant | None
    """None when no document could be judged."""
    gaps: tuple[Gap, ...] = ()


def _gaps(relative: str, where: str, doc: PolicyDocument) -> tuple[Gap, ...]:
    return tuple(Gap(relative, f"{where}.{p.item}" if p.item else where, p.reason) for p in doc.problems)


Interned = dict[Statement, Statement]
"""Equal statements of one file as one object: an inline copy of a managed policy, or the same statement in
many policies, is then one key to every per-statement cache of the analysis (found by identity, never compared
field by field again)."""


def _intern(interned: Interned, statement: Statement) -> Statement:
    found = interned.setdefault(statement, statement)
    # Only one written the same way: a finding shows the statement as its own policy writes it.
    return found if found is statement or found.raw == statement.raw else statement


def _permissions(
    relative: str, where: str, document: Any, interned: Interned
) -> tuple[tuple[Statement, ...], Mapping[str, Any], tuple[Gap, ...]]:
    """A permissions policy: statements understood, the document for evidence, and gaps. A Principal in a
    permissions policy is refused by IAM: such a statement is not judged (and named)."""
    doc = read_document(document)
    gaps = _gaps(relative, where, doc)
    kept = tuple(_intern(interned, s) for s in doc.statements if not (s.principals or s.not_principals))
    if len(kept) < len(doc.statements):
        gaps += (
            Gap(relative, f"{where}.Statement", "a Principal in a permissions policy (IAM refuses it): not judged"),
        )
    return kept, doc.raw, gaps


def read_policies(
    relative: str, data: Mapping[str, Any], account: str, out: AccountIam, interned: Interned
) -> dict[str, _Policy]:
    """Managed policies (their default version) by ARN."""
    found: dict[str, _Policy] = {}
    policies = data.get("Policies", [])
    if not isinstance(policies, list):
        raise InputError(f"{relative}: field 'Policies' must be a list, found {kind(policies)}")
    for i, pol in enumerate(policies):
        arn = text(mapping(pol).get("Arn"))
        if arn is None:
            what = f"Policies[{i}] has no readable 'Arn': roles attaching it are judged without it"
            out.errors.append(CoverageError("aws", relative, what, subject=account))
            continue
        where = f"Policies[{i}]"
        versions = pol.get("PolicyVersionList")
        default = pol.get("DefaultVersionId")
        listed = versions if isinstance(versions, list) else []
        chosen = next((v for v in listed if isinstance(v, Mapping) and v.get("IsDefaultVersion") is True), None)
        chosen = chosen or next((v for v in listed if isinstance(v, Mapping) and v.get("VersionId") == default), None)
        if chosen is None or "Document" not in chosen:
            found[arn] = _Policy(
                None, (Gap(relative, f"{where}.PolicyVersionList", f"no default version document of {arn}"),)
            )
            continue
        k = listed.index(chosen)
        document = chosen["Document"]
        statements, raw, gaps = _permissions(relative, f"{where}.PolicyVersionList[{k}].Document", document, interned)
        found[arn] = _Policy(Grant(source=arn, kind="managed-policy", statements=statements, document=raw), gaps)
    return found


class _RoleReader:
    """One RoleDetailList item into a Role, collecting what it could not understand as gaps."""

    def __init__(self, relative: str, account: str, policies: Mapping[str, _Policy], interned: Interned) -> None:
        self.relative = relative
        self.account = account
        self.policies = policies
        self.known = known_managed_policies()
        self.interned = interned

    def read(self, i: int, r: Mapping[str, Any], arn: str) -> tuple[Role, list[CoverageError]]:
        base = f"RoleDetailList[{i}]"
        gaps: list[Gap] = []
        name = text(r.get("RoleName"))
        if name is None:
            name = arn.rsplit("/", 1)[-1]  # the ARN's last part is the name: nothing is lost when it is absent
            if "RoleName" in r:
                gaps.append(Gap(self.relative, f"{base}.RoleName", f"is {kind(r.get('RoleName'))}, not a name"))
        before = len(gaps)
        trust, trust_raw = self._trust(base, r, gaps)
        trust_understood = len(gaps) == before
        grants, missing = self._grants(base, r, arn, gaps)
        boundary, boundary_arn = self._boundary(base, r, gaps, missing)
        profiles = self._list(base, r, "InstanceProfileList", gaps, required=False)
        created = r.get("CreateDate")
        last_used, last_used_read = role_last_used(r.get("RoleLastUsed"))
        role = Role(
            arn=arn,
            account=self.account,
            name=name,
            trust=trust,
            trust_document=trust_raw,
            grants=tuple(grants),
            boundary=boundary,
            boundary_arn=boundary_arn,
            created=parse_date(created) if isinstance(created, str) else None,
            instance_profiles=tuple(p["Arn"] for p in profiles if isinstance(p, Mapping) and text(p.get("Arn"))),
            missing_policies=tuple(missing),
            source=self.relative,
            gaps=tuple(gaps),
            trust_understood=trust_understood,
            last_used=last_used,
            last_used_read=last_used_read,
        )
        errors = [
            CoverageError("aws", self.relative, f"policy {parn} attached to {name} is not in 'Policies'", subject=arn)
            for parn in missing
        ]
        return role, errors

    def _trust(
        self, base: str, r: Mapping[str, Any], gaps: list[Gap]
    ) -> tuple[tuple[Statement, ...], Mapping[str, Any]]:
        where = f"{base}.AssumeRolePolicyDocument"
        if "AssumeRolePolicyDocument" not in r:
            gaps.append(Gap(self.relative, where, "missing: who may assume the role is unknown"))
            return (), {}
        doc = read_document(r["AssumeRolePolicyDocument"])
        gaps += _gaps(self.relative, where, doc)
        # NotPrincipal is refused in a trust policy: IAM would not hold it, so it is not judged.
        trust = tuple(s for s in doc.statements if not s.not_principals)
        if len(trust) < len(doc.statements):
            gaps.append(Gap(self.relative, f"{where}.Statement", "NotPrincipal in a trust policy (IAM refuses it)"))
        return trust, doc.raw

    def _list(self, base: str, r: Mapping[str, Any], key: str, gaps: list[Gap], *, required: bool) -> list[Any]:
        value = r.get(key)
        if isinstance(value, list):
            return value
        if value is not None or required:
            what = "missing" if value is None else f"is {kind(value)}, not a list"
            gaps.append(Gap(self.relative, f"{base}.{key}", f"{what}: what it holds is not judged"))
        return []

    def _grants(self, base: str, r: Mapping[str, Any], arn: str, gaps: list[Gap]) -> tuple[list[Grant], list[str]]:
        grants: list[Grant] = []
        for j, inline in enumerate(self._list(base, r, "RolePolicyList", gaps, required=True)):
            where = f"{base}.RolePolicyList[{j}]"
            pname = text(mapping(inline).get("PolicyName")) or f"#{j}"
            if "PolicyDocument" not in mapping(inline):
                gaps.append(Gap(self.relative, where, "no PolicyDocument"))
                continue
            document = inline["PolicyDocument"]
            statements, raw, found = _permissions(self.relative, f"{where}.PolicyDocument", document, self.interned)
            gaps += found
            grants.append(Grant(f"{arn}:inline/{pname}", "inline-policy", statements, document=raw))
        missing: list[str] = []
        for j, att in enumerate(self._list(base, r, "AttachedManagedPolicies", gaps, required=True)):
            parn = text(mapping(att).get("PolicyArn"))
            if parn is None:
                gaps.append(Gap(self.relative, f"{base}.AttachedManagedPolicies[{j}]", "no readable PolicyArn"))
                continue
            grant = self._policy(parn, gaps, missing)
            if grant is not None:
                grants.append(grant)
        return grants, missing

    def _policy(self, parn: str, gaps: list[Gap], missing: list[str]) -> Grant | None:
        found = self.policies.get(parn)
        if found is not None:
            gaps += found.gaps
            return found.grant
        if parn in self.known:
            return Grant(parn, "managed-policy", self.known[parn])
        missing.append(parn)
        return None

    def _boundary(
        self, base: str, r: Mapping[str, Any], gaps: list[Gap], missing: list[str]
    ) -> tuple[Grant | None, str | None]:
        raw = r.get("PermissionsBoundary")
        if raw is None:
            return None, None
        boundary_arn = text(mapping(raw).get("PermissionsBoundaryArn"))
        if boundary_arn is None:
            gaps.append(Gap(self.relative, f"{base}.PermissionsBoundary", "no readable PermissionsBoundaryArn"))
            return None, None
        found = self._policy(boundary_arn, gaps, missing)
        if found is None:
            return None, boundary_arn
        return Grant(boundary_arn, "permissions-boundary", found.statements, document=found.document), boundary_arn


def read_roles(relative: str, account: str, data: Mapping[str, Any], out: AccountIam) -> None:
    roles = data["RoleDetailList"]
    if not isinstance(roles, list):
        raise InputError(f"{relative}: field 'RoleDetailList' must be a list, found {kind(roles)}")
    interned: Interned = {}
    reader = _RoleReader(relative, account, read_policies(relative, data, account, out, interned), interned)
    unreadable = 0
    for i, r in enumerate(roles):
        arn = text(mapping(r).get("Arn"))
        if arn is None or ":role/" not in arn:
            unreadable += 1
            what = f"RoleDetailList[{i}] has no readable role 'Arn': that role is not judged"
            out.errors.append(CoverageError("aws", relative, what, subject=account))
            continue
        role, errors = reader.read(i, r, arn)
        out.roles.append(role)
        out.errors += errors
    if unreadable and out.incomplete is None:
        out.incomplete = f"{relative} has {unreadable} role(s) whose ARN could not be read"


def read_account_iam(evidence: Evidence, account: str) -> AccountIam | None:
    relative = f"aws/{account}/iam.json"
    data = evidence.load_object(relative, "RoleDetailList")
    if data is None:
        return None
    out = AccountIam()
    page = one_page(relative, data, "aws iam get-account-authorization-details", account)
    if page is not None:
        out.errors.append(page)
        out.incomplete = f"{relative} holds one page of get-account-authorization-details"
    read_roles(relative, account, data, out)
    return out
