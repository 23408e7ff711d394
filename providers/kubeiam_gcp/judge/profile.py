"""What a role's permissions amount to: admin, privilege escalation, broad data read.

One judgement per distinct role (memoised): rules ask per grant, and a cluster with a thousand
ServiceAccounts bound to the same few roles must not re-scan 12,000 permissions each time.
Sources: RhinoSecurityLabs' GCP privilege-escalation methods and NetSPI gcpwn's paths (both BSD-3),
FINDINGS.md's category list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

ADMIN_ROLES = frozenset({"roles/owner", "roles/editor"})

# Permissions that on their own let the holder raise its privileges (Rhino's single-permission
# methods, plus gcpwn's Cloud Build update). Value: how, for the finding's evidence.
ESCALATION: dict[str, str] = {
    "iam.roles.update": "add permissions to a custom role the identity holds",
    "iam.serviceAccountKeys.create": "create a key for a service account and act as it",
    "iam.serviceAccounts.getAccessToken": "mint access tokens for a service account",
    "iam.serviceAccounts.implicitDelegation": "mint tokens through a delegation chain",
    "iam.serviceAccounts.signBlob": "sign blobs as a service account (self-signed tokens)",
    "iam.serviceAccounts.signJwt": "sign JWTs as a service account (self-signed tokens)",
    "iam.serviceAccounts.actAs": "attach a service account to compute it creates and run as it",
    "orgpolicy.policy.set": "disable organisation policy constraints",
    "storage.hmacKeys.create": "create HMAC keys for a service account",
    "deploymentmanager.deployments.create": "deploy as the Google APIs service agent (Editor)",
    "cloudbuild.builds.create": "run builds as the Cloud Build service account",
    "cloudbuild.builds.update": "change builds that run as the Cloud Build service account",
    "serviceusage.apiKeys.create": "create API keys",
    "serviceusage.apiKeys.list": "read existing API keys",
}

# Acting as *another* account: harmless on the identity's own service account, an escalation on
# any other, and on every account of the project when granted at project level or above.
IMPERSONATION = frozenset(
    {
        "iam.serviceAccountKeys.create",
        "iam.serviceAccounts.getAccessToken",
        "iam.serviceAccounts.implicitDelegation",
        "iam.serviceAccounts.signBlob",
        "iam.serviceAccounts.signJwt",
        "iam.serviceAccounts.actAs",
        "storage.hmacKeys.create",
    }
)

# Rhino's multi-permission methods: escalation only when every permission is held.
COMBINATIONS: dict[str, frozenset[str]] = {
    "ExfilCloudFunctionCreds": frozenset(
        {"cloudfunctions.functions.create", "cloudfunctions.functions.sourceCodeSet", "iam.serviceAccounts.actAs"}
    ),
    "UpdateCloudFunction": frozenset(
        {"cloudfunctions.functions.sourceCodeSet", "cloudfunctions.functions.update", "iam.serviceAccounts.actAs"}
    ),
    "CreateGCEInstanceWithSA": frozenset(
        {"compute.instances.create", "compute.instances.setServiceAccount", "iam.serviceAccounts.actAs"}
    ),
    "CloudRunServiceAsSA": frozenset({"run.services.create", "iam.serviceAccounts.actAs"}),
    "CloudSchedulerJobAsSA": frozenset({"cloudscheduler.jobs.create", "iam.serviceAccounts.actAs"}),
}

# setIamPolicy on these resources reaches an identity or a secret (NetSPI gcpwn's paths).
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

    def escalation_on(self, scope: str) -> tuple[str, ...]:
        """The escalations that apply where the role is granted.

        `scope`: `broad` (project, folder, organisation: every resource below), `own-account` (the
        identity's own service account), `other-account` (another service account), `resource`.
        Why narrower on resources: a grant on a resource only carries the permissions that apply
        to it (actAs on a bucket grants nothing), and setIamPolicy on a bucket controls that bucket
        only; it escalates where the resource runs or holds an identity or secret (gcpwn's list).
        """
        if scope == "broad":
            return self.escalation
        if scope == "own-account":
            return ()
        if scope == "other-account":
            return tuple(p for p in self.escalation if p in IMPERSONATION or p == "iam.serviceAccounts.setIamPolicy")
        return tuple(p for p in self.escalation if p in RESOURCE_SET_IAM)

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
    found = {p for p in ESCALATION if p.lower() in lowered}
    # setIamPolicy at any level: whoever sets a policy can grant itself anything on that resource.
    found.update(p for p in perms if p.endswith(".setIamPolicy"))
    found.update(f"method:{name}" for name, needs in COMBINATIONS.items() if {n.lower() for n in needs} <= lowered)
    profile = RoleProfile(
        role=role,
        admin=role in ADMIN_ROLES,
        escalation=tuple(sorted(found)),
        data=tuple(sorted(p for p in DATA_ACCESS if p.lower() in lowered)),
    )
    profile = replace(profile, read_only=not profile.sensitive and all(_reads(p) for p in perms))
    _CACHE[key] = (perms, profile)
    return profile


_READ_VERBS = ("get", "list", "search", "query")
_NOT_METADATA = ("Token", "getData", "Secret", "Content", "getPrivate")


def _reads(permission: str) -> bool:
    """A metadata or policy read: `x.y.get`, `x.y.list`, `x.getIamPolicy`, `cloudasset.assets.search...`
    (not token, secret or content reads that merely start with `get`)."""
    verb = permission.rsplit(".", 1)[-1]
    return verb.startswith(_READ_VERBS) and not any(word in verb for word in _NOT_METADATA)


def describe(permission: str) -> str:
    if permission.startswith("method:"):
        return f"{permission[7:]} (Rhino privilege-escalation method)"
    if permission.endswith(".setIamPolicy"):
        return "change the resource's IAM policy and grant itself any role on it"
    return ESCALATION.get(permission) or DATA_ACCESS.get(permission, "")
