"""The smaller grant an identity could have, from what it used: never more than today.

Per tracked binding with permissions neither used nor predicted (the insight's exercised and inferred
permissions), in this order of preference:
1. the IAM recommender's own recommendation for that binding: REMOVE_ROLE, or its replacement roles when
   their permissions are known, lie within the binding's role and cover what was used;
2. no permission used: remove the binding;
3. a custom role with the used (and predicted) permissions, defined in the binding's project.
An identity not used in the window loses every grant. Untracked bindings stay as they are.

Every replacement is checked here to be a subset of the binding it replaces (same resource, same
condition); a suggestion that would not be is not made.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .grants import BROAD_LEVELS, grant_scope
from .profile import COMBINATIONS, classify
from .profile import _reads as reads_metadata  # the one definition of a read-only permission
from .usage import BindingUse, IdentityUse

LEVELS = ("none", "read", "write", "data", "escalation", "admin")
"""What a right-sizing drops, weakest first: the finding's severity follows the strongest."""

PermissionsOf = Callable[[str], frozenset[str] | None]
"""Role name -> its permissions (predefined catalogue, custom roles read), None when unknown."""


@dataclass(frozen=True, slots=True)
class Change:
    """One binding replaced: by `roles` (the recommender's), by a custom role of `kept`, or by nothing."""

    binding: BindingUse
    kept: frozenset[str]
    roles: tuple[str, ...] = ()
    custom_role: str | None = None
    """The custom role's name (`projects/P/roles/ID`) when one is created."""
    why: str = ""


@dataclass(frozen=True)
class RightSized:
    format: str
    """`gcp-custom-role` when a custom role is created, else `gcp-role` (predefined roles kept or none)."""
    document: Mapping[str, Any]
    drops: tuple[str, ...]
    level: str
    """The strongest of LEVELS the change drops."""
    changes: tuple[Change, ...]


def right_size(principal: str, use: IdentityUse, permissions_of: PermissionsOf) -> RightSized | None:
    """The right-sized grant of one identity, None when nothing can be dropped."""
    changes = [c for b in use.bindings if (c := _change(principal, use, b, permissions_of)) is not None]
    if not changes:
        return None
    drops: list[str] = []
    level = 0
    for c in changes:
        found, strongest = _drops(principal, c)
        drops += found
        level = max(level, strongest)
    document = _document(use.member, changes)
    return RightSized(
        "gcp-custom-role" if document["customRoles"] else "gcp-role", document, tuple(drops), LEVELS[level],
        tuple(changes),
    )  # fmt: skip


def _change(principal: str, use: IdentityUse, b: BindingUse, permissions_of: PermissionsOf) -> Change | None:
    if use.idle:
        return Change(b, frozenset(), why="the identity was not used in the window")
    if b.exercised is None or b.kept >= b.permissions:
        return None  # untracked, or everything used (or predicted to be needed)
    rec = b.recommendation
    if rec is not None:
        if rec.subtype == "REMOVE_ROLE" and not b.exercised:
            return Change(b, frozenset(), why=f"recommendation {rec.name}")
        added = [permissions_of(r) for r in rec.added_roles]
        if rec.added_roles and all(p is not None for p in added):
            after = frozenset().union(*(p for p in added if p is not None))
            if b.exercised <= after < b.permissions:
                return Change(b, after, roles=rec.added_roles, why=f"recommendation {rec.name}")
        custom = rec.custom_permissions
        if custom is not None and b.exercised <= custom < b.permissions:
            return _custom(principal, b, custom, f"recommendation {rec.name}")
    if not b.kept:
        return Change(b, frozenset(), why="no permission used")
    return _custom(principal, b, b.kept, "its used and predicted permissions, google.iam.policy.Insight")


def _custom(principal: str, b: BindingUse, kept: frozenset[str], why: str) -> Change | None:
    scope = b.grant.scope or ""
    if b.grant.scope_level != "project" or not scope.startswith("projects/"):
        return None  # a custom role is defined in a project (or the organisation); only project bindings are tracked
    return Change(b, kept, custom_role=f"{scope}/roles/{role_id(principal, b.grant.role or '')}", why=why)


_NOT_ID = re.compile(r"[^a-zA-Z0-9_.]+")


def role_id(principal: str, role: str) -> str:
    """A custom role id (`[a-zA-Z0-9_.]{3,64}`), the same for the same identity and role in every run."""
    who = principal.rsplit("/sa/", 1)[-1] if "://" in principal else principal.split("@", 1)[0]
    name = f"kubeiam.{_NOT_ID.sub('_', who)}.{_NOT_ID.sub('_', role.rsplit('/', 1)[-1])}"
    if len(name) <= 64:
        return name
    digest = hashlib.sha256(f"{principal} {role}".encode()).hexdigest()[:8]
    return f"{name[:55]}.{digest}"


def _drops(principal: str, c: Change) -> tuple[list[str], int]:
    """What the change removes, in words, and the strongest level of it."""
    grant = c.binding.grant
    where = f"{grant.role} on {grant.scope}"
    profile = classify(grant.role or "", c.binding.permissions)
    dropped = c.binding.permissions - c.kept
    out: list[str] = []
    level = LEVELS.index("read")
    if (
        profile.admin
        and grant.scope_level in BROAD_LEVELS
        and not any(r in ("roles/owner", "roles/editor") for r in c.roles)
    ):
        out.append(f"admin: {where}")
        level = LEVELS.index("admin")
    else:
        lost = [e for e in profile.escalation_on(grant_scope(principal, grant)) if _lost(e, c.kept)]
        if lost:
            out.append(f"escalation: {', '.join(lost[:3])}{', ...' if len(lost) > 3 else ''} ({where})")
            level = LEVELS.index("escalation")
        data = [p for p in profile.data if p in dropped]
        if data:
            out.append(f"data: {', '.join(data)} ({where})")
            level = max(level, LEVELS.index("data"))
        if level < LEVELS.index("write") and any(not reads_metadata(p) for p in dropped):
            level = LEVELS.index("write")
    if c.kept:
        out.append(f"{len(dropped)} of {len(c.binding.permissions)} permissions of {where} not used")
    else:
        out.append(f"{where}: not used ({len(dropped)} permission{'s' if len(dropped) != 1 else ''})")
    return out, level


def _lost(escalation: str, kept: frozenset[str]) -> bool:
    if escalation.startswith("method:"):
        needs = COMBINATIONS.get(escalation[7:])
        return needs is None or not needs <= kept  # a method not known here: counted as dropped (never hidden)
    return escalation not in kept


def _document(member: str, changes: list[Change]) -> dict[str, Any]:
    """What to apply: the bindings to remove, the ones to add in their place, the custom roles to create
    first (as `gcloud iam roles create ID --project P --file ROLE.json` reads them)."""
    remove: list[dict[str, Any]] = []
    add: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for c in changes:
        grant = c.binding.grant
        remove.append(_binding(grant.scope or "", grant.role or "", member, grant.document))
        for role in c.roles:
            add.append(_binding(grant.scope or "", role, member, grant.document))
        if c.custom_role is not None:
            add.append(_binding(grant.scope or "", c.custom_role, member, grant.document))
            roles.append(
                {
                    "name": c.custom_role,
                    "title": f"{grant.role} as used"[:100],
                    "description": f"What {member} uses of {grant.role} ({c.why}); written by kubeiam"[:300],
                    "stage": "GA",
                    "includedPermissions": sorted(c.kept),
                }
            )
    return {"member": member, "removeBindings": remove, "addBindings": add, "customRoles": roles}


def _binding(scope: str, role: str, member: str, document: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"resource": scope, "role": role, "members": [member]}
    condition = (document or {}).get("condition")
    if condition:
        out["condition"] = dict(condition)
    return out


def permissions_after(document: Mapping[str, Any], permissions_of: PermissionsOf) -> dict[tuple[str, str], set[str]]:
    """(resource, condition) -> the permissions the added bindings grant there (custom roles from the document
    itself): for checking that a suggestion is within the bindings it removes."""
    custom = {r["name"]: set(r["includedPermissions"]) for r in document.get("customRoles", ())}
    out: dict[tuple[str, str], set[str]] = {}
    for b in document.get("addBindings", ()):
        key = (b["resource"], str((b.get("condition") or {}).get("expression", "")))
        perms = custom.get(b["role"]) if b["role"] in custom else permissions_of(b["role"])
        out.setdefault(key, set()).update(perms or ())
    return out
