"""What a role's permissions amount to: admin, privilege escalation, broad data read.

One judgement per distinct role (memoised): rules ask per grant, and a cluster with a thousand
ServiceAccounts bound to the same few roles must not re-scan 12,000 permissions each time.
The escalation methods come from `data/escalation_methods.json` (Rhino's, gcpwn's and the Google Cloud
docs' methods, see data/CATALOGUE.md); `iam.serviceAccounts.actAs` alone escalates nothing: it only
lets a way to run code (a deploy path) run as the account, so a role counts it with such a path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ADMIN_ROLES = frozenset({"roles/owner", "roles/editor"})
ACT_AS = "iam.serviceAccounts.actAs"
CATALOGUE = Path(__file__).resolve().parents[1] / "data" / "escalation_methods.json"


@dataclass(frozen=True, slots=True)
class Method:
    id: str
    permissions: frozenset[str]
    """All needed (lower case); `act_as` methods need actAs on the account they run as, besides."""
    how: str
    act_as: bool
    on: tuple[str, ...]
    """Where one grant carrying the permissions applies: `broad`, `service-account`, Cloud Asset types."""
    hop: str | None
    """`token`, `key`, `policy`: the holder becomes the service account (chains follow it)."""


def _load(path: Path) -> tuple[Method, ...]:
    doc: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        Method(
            m["id"],
            frozenset(p.lower() for p in m["permissions"]),
            m["how"],
            bool(m.get("act_as")),
            tuple(m.get("on", ("broad",))),
            m.get("hop"),
        )
        for m in doc["methods"]
    )


METHODS = _load(CATALOGUE)
_SINGLE = {next(iter(m.permissions)): m for m in METHODS if len(m.permissions) == 1 and not m.act_as}
_NAMES = {p.lower(): p for m in json.loads(CATALOGUE.read_text())["methods"] for p in m["permissions"]}
ESCALATION: dict[str, str] = {_NAMES[p]: m.how for p, m in _SINGLE.items()}
"""Single permissions that escalate on their own: permission -> how (the finding's evidence)."""
COMBINATIONS: dict[str, frozenset[str]] = {
    m.id: frozenset({*(_NAMES[p] for p in m.permissions), *((ACT_AS,) if m.act_as else ())})
    for m in METHODS
    if len(m.permissions) > 1 or m.act_as
}
"""Methods needing several permissions (`method:ID` in a profile): id -> every permission they need."""
RUNNERS = {m.id: m for m in METHODS if m.act_as}
_METHOD_PERMISSIONS = frozenset(p for m in METHODS for p in m.permissions) | {ACT_AS.lower()}
"""Deploy paths: code that runs as an account the identity may act as."""
HOPS: dict[str, str] = {_NAMES[p]: m.hop for p, m in _SINGLE.items() if m.hop}
"""Permissions on a service account that make the holder that account: permission -> hop kind."""
# Acting as *another* account: harmless on the identity's own service account, an escalation on
# any other, and on every account of the project when granted at project level or above.
IMPERSONATION = frozenset(_NAMES[p] for p, m in _SINGLE.items() if "service-account" in m.on)
# Escalations a grant on one resource carries (setIamPolicy on resources that run as or hold an
# identity or secret, gcpwn's list; metadata of a VM, which runs as its service account).
RESOURCE_SET_IAM = frozenset(
    {
        "iam.serviceAccounts.setIamPolicy",
        "compute.instances.setIamPolicy",
        "cloudfunctions.functions.setIamPolicy",
        "run.services.setIamPolicy",
        "run.jobs.setIamPolicy",
        "secretmanager.secrets.setIamPolicy",
    }
)
ON_RESOURCE = RESOURCE_SET_IAM | {_NAMES[p] for p, m in _SINGLE.items() if any("/" in o for o in m.on)}

DATA_ACCESS: dict[str, str] = {
    "secretmanager.versions.access": "read secret values",
    "storage.objects.get": "read objects",
    "cloudkms.cryptoKeyVersions.useToDecrypt": "decrypt with KMS keys",
}


@dataclass(frozen=True, slots=True)
class RoleProfile:
    role: str
    admin: bool
    escalation: tuple[str, ...]
    """Escalating permissions (and `method:NAME` for combinations) the role holds, sorted."""
    data: tuple[str, ...]
    """Broad-read permissions the role holds."""
    read_only: bool = False
    """Every permission reads metadata or policies (get/list/search), none escalates or reads data."""
    act_as: bool = False
    """Holds iam.serviceAccounts.actAs (an escalation only with a way to run code: `runners`)."""
    runners: tuple[str, ...] = ()
    """Deploy paths (method ids) whose permissions the role holds, actAs aside."""
    method_permissions: frozenset[str] = frozenset()
    """The role's permissions (lower case) that some method needs: what methods split over grants use."""

    def escalation_on(self, scope: str) -> tuple[str, ...]:
        """The escalations that apply where the role is granted.

        `scope`: `broad` (project, folder, organisation: every resource below), `own-account` (the
        identity's own service account), `other-account` (another service account), `resource`.
        Why narrower on resources: a grant on a resource only carries the permissions that apply
        to it (a deploy path on a bucket grants nothing), and setIamPolicy on a bucket controls that
        bucket only; it escalates where the resource runs or holds an identity or secret (gcpwn's list).
        """
        if scope == "broad":
            return self.escalation
        if scope == "own-account":
            return ()
        if scope == "other-account":
            return tuple(p for p in self.escalation if p in IMPERSONATION or p == "iam.serviceAccounts.setIamPolicy")
        return tuple(p for p in self.escalation if p in ON_RESOURCE)

    @property
    def sensitive(self) -> bool:
        return self.admin or bool(self.escalation) or bool(self.data)


_CACHE: dict[tuple[str, int], tuple[frozenset[str], RoleProfile]] = {}


def classify(role: str, permissions: Iterable[str]) -> RoleProfile:
    perms = permissions if isinstance(permissions, frozenset) else frozenset(permissions)
    key = (role, id(perms))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is perms:
        return hit[1]
    lowered = {p.lower() for p in perms}
    found = {_NAMES[p] for p in _SINGLE if p in lowered}
    # setIamPolicy at any level: whoever sets a policy can grant itself anything on that resource.
    found.update(p for p in perms if p.endswith(".setIamPolicy"))
    act_as = ACT_AS.lower() in lowered
    runners = tuple(sorted(m.id for m in RUNNERS.values() if m.permissions <= lowered))
    found.update(
        f"method:{m.id}"
        for m in METHODS
        if m.id in COMBINATIONS and m.permissions <= lowered and (act_as or not m.act_as)
    )
    profile = RoleProfile(
        role=role,
        admin=role in ADMIN_ROLES,
        escalation=tuple(sorted(found)),
        data=tuple(sorted(p for p in DATA_ACCESS if p.lower() in lowered)),
        act_as=act_as,
        runners=runners,
        method_permissions=frozenset(lowered & _METHOD_PERMISSIONS),
    )
    profile = replace(profile, read_only=not profile.sensitive and not act_as and all(_reads(p) for p in perms))
    _CACHE[key] = (perms, profile)
    return profile


_READ_VERBS = ("get", "list", "search", "query")
_NOT_METADATA = ("Token", "getData", "Secret", "Content", "getPrivate")


def _reads(permission: str) -> bool:
    """A metadata or policy read: `x.y.get`, `x.y.list`, `x.getIamPolicy`, `cloudasset.assets.search...`
    (not token, secret or content reads that merely start with `get`)."""
    verb = permission.rsplit(".", 1)[-1]
    return verb.startswith(_READ_VERBS) and not any(word in verb for word in _NOT_METADATA)


_BY_ID = {m.id: m for m in METHODS}


def describe(permission: str) -> str:
    if permission.startswith("method:"):
        name = permission[7:].split(" ", 1)[0]
        method = _BY_ID.get(name)
        return f"{method.how} ({name})" if method else f"{name} (privilege-escalation method)"
    if permission.endswith(".setIamPolicy"):
        return "change the resource's IAM policy and grant itself any role on it"
    return ESCALATION.get(permission) or DATA_ACCESS.get(permission, "")
