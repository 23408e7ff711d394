"""The typed view the GCP rules read (`inventory.views["gcp"]`): frozen, built by the reader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubeiam.vocabulary.model import Grant, Inventory, Node
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.usage import UsageData

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


@dataclass(frozen=True, slots=True)
class Binding:
    """One role granted to one member at one scope, as an IAM policy binding says."""

    role: str
    member: str
    scope: str
    """`projects/ID`, `folders/N`, `organizations/N`, or a full resource name (`//storage...`)."""
    scope_level: str
    """`organization`, `folder`, `project` or `resource`."""
    source: str
    """The evidence file it was read from."""
    condition: Mapping[str, Any] | None = None
    """The IAM condition as found (`expression`, `title`, `description`)."""
    resource_type: str | None = None
    """Cloud Asset type for resource-level bindings, e.g. `storage.googleapis.com/Bucket`."""

    @property
    def grant_source(self) -> str:
        """What a person looks up (and what fingerprints hash): `ROLE@SCOPE`, plus the condition title."""
        title = (self.condition or {}).get("title") or (self.condition or {}).get("expression")
        return f"{self.role}@{self.scope}" + (f" if {title}" if title else "")

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "member": self.member, "scope": self.scope, "file": self.source}
        if self.condition:
            out["condition"] = dict(self.condition)
        return out


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    name: str
    """`projects/P/serviceAccounts/EMAIL/keys/KEY_ID`."""
    key_type: str
    """`USER_MANAGED` or `SYSTEM_MANAGED`."""
    origin: str | None = None
    valid_after: str | None = None
    valid_before: str | None = None
    disabled: bool = False

    @property
    def key_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    def usable_at(self, now: datetime | None) -> bool:
        """Not disabled and not past its `validBeforeTime` (an expired key signs nothing Google accepts).
        Without a time to judge by, or with a time that cannot be read, the key counts: never clean by guess."""
        if self.disabled:
            return False
        if now is None or not self.valid_before:
            return True
        try:
            expiry = datetime.fromisoformat(self.valid_before)
        except ValueError:
            return True
        # Google prints UTC ("...Z"); a time without a zone is read as UTC too (never a crash comparing them).
        return _utc(expiry) > _utc(now)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class GoogleServiceAccount:
    email: str
    project: str
    unique_id: str | None = None
    disabled: bool = False
    display_name: str = ""
    source: str = ""
    keys: tuple[ServiceAccountKey, ...] | None = None
    """None when the keys were not collected (never read as "no keys")."""


@dataclass(frozen=True, slots=True)
class NodePool:
    cluster: str
    """Kubernetes cluster name (evidence folder)."""
    name: str
    service_account: str
    """Email of the node service account (`default` resolved to the Compute Engine default)."""
    metadata_mode: str | None
    """`workloadMetadataConfig.mode`: GKE_METADATA hides node credentials; None when not set."""
    source: str
    self_link: str = ""
    oauth_scopes: tuple[str, ...] | None = None
    """`config.oauthScopes`: what the node's own credentials may call (None: not in the evidence)."""


@dataclass(frozen=True, slots=True)
class GkeCluster:
    k8s_name: str
    """The Kubernetes evidence folder it matched."""
    project: str
    location: str
    name: str
    stable_id: str
    """`//container.googleapis.com/projects/P/locations/L/clusters/N`."""
    workload_pool: str | None
    """`PROJECT.svc.id.goog` when Workload Identity is enabled, else None."""
    autopilot: bool
    node_pools: tuple[NodePool, ...]
    source: str
    network_policy: str | None = None
    """What enforces NetworkPolicy: `Dataplane V2`, `Calico (networkPolicy.enabled)`; None: nothing does
    (a policy then blocks nothing) or the cluster object does not say."""


@dataclass(frozen=True)
class DenyRuleView:
    """One IAM deny rule (`evidence/guardrail_files.py`), its attachment point by project id."""

    attachment: str
    policy: str
    denied_principals: frozenset[str]
    exception_principals: frozenset[str]
    denied_permissions: tuple[str, ...]
    exception_permissions: tuple[str, ...]
    condition: str | None
    source: str


@dataclass(frozen=True)
class Guardrails:
    deny: tuple[DenyRuleView, ...] = ()
    deny_read: frozenset[str] = frozenset()
    """Projects whose deny-policies.json was read (elsewhere deny policies are unknown: none applied)."""
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Group email -> member emails, for the groups whose members are known."""
    ancestry: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Project id -> (`projects/ID`, its folders and organisation as the evidence names them)."""
    numbers: Mapping[str, str] = field(default_factory=dict)
    """Project id -> number."""


@dataclass(frozen=True)
class GcpView:
    clusters: Mapping[str, GkeCluster] = field(default_factory=dict)
    """By Kubernetes cluster name."""
    service_accounts: Mapping[str, GoogleServiceAccount] = field(default_factory=dict)
    """By email, every project read."""
    grants: Mapping[str, tuple[Grant, ...]] = field(default_factory=dict)
    """Member string (`serviceAccount:EMAIL`, `principal://...`) -> its grants, every scope."""
    trusted_by: Mapping[str, tuple[Binding, ...]] = field(default_factory=dict)
    """GSA email -> the bindings that let Kubernetes ServiceAccounts impersonate it."""
    permissions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Role -> permissions, for every role some grant uses (custom roles included)."""
    project_numbers: Mapping[str, str] = field(default_factory=dict)
    """Project id -> number."""
    usage: UsageData = field(default_factory=UsageData)
    """The usage files read (recommender insights and recommendations, last authentication): GCP-011."""

    custom_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Custom role -> permissions, every one read (what a reached account's grants need)."""
    accounts: Mapping[str, tuple[Grant, ...]] = field(default_factory=dict)
    """GSA email -> its grants (groups and principal sets included), worked out on first ask: what a
    chain through other accounts reaches (`judge/reach.py`)."""
    accounts_in: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """`projects/ID`, `folders/N`, `organizations/N` -> the emails of the GSAs read below it."""
    guardrails: Guardrails = field(default_factory=lambda: Guardrails())
    """Deny policies, group memberships and project ancestry (`judge/guardrails.py`)."""

    def permissions_of(self, role: str) -> frozenset[str] | None:
        """A role's permissions: the roles rules see, else custom roles, else the predefined catalogue."""
        found = self.permissions.get(role)
        if found is None:
            found = self.custom_roles.get(role)
        return found if found is not None else load_catalogue().permissions_of(role)

    def node_pool(self, node: Node) -> NodePool | None:
        """The node pool a Kubernetes node belongs to (GKE's `cloud.google.com/gke-nodepool` label)."""
        cluster = self.clusters.get(node.cluster)
        pool = node.labels.get("cloud.google.com/gke-nodepool")
        if cluster is None or pool is None:
            return None
        return next((p for p in cluster.node_pools if p.name == pool), None)


def view_of(inv: Inventory) -> GcpView:
    """The GCP view of an inventory (empty when the GCP provider did not read)."""
    view = inv.views.get(GCP)
    return view if isinstance(view, GcpView) else GcpView()
