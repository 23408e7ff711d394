"""`azure/<subscription>/aks/<resource-group>/<name>.json`: one managed cluster (`az aks show`).

The file must hold an object (else exit 2: not `az aks show` output). Every field of it that cannot
be read becomes a `Problem` naming the field and the rules it decides, and the setting takes the
exposed value or stays unknown: never the protected one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from kubeiam.errors import InputError
from kubeiam_azure.evidence.fields import Unreadable, flat, kind, text
from kubeiam_azure.view import AgentPool, AksCluster, KnownIdentity

IMDS_ACCESS = ("imds", "none")
"""`podLinkLocalAccess` values ARM documents: `IMDS` (default) and `None`."""
NETWORK_POLICIES = ("none", "azure", "calico", "cilium")
"""`networkProfile.networkPolicy` values ARM documents (null: none)."""
BINDING_RULE = "AZ-010"
IMDS_RULE = "AZ-011"
ESCALATION_RULE = "AZ-002"
CLUSTER_RULES = (BINDING_RULE, IMDS_RULE)
MANAGED_CLUSTERS = "Microsoft.ContainerService/managedClusters"


class Problem(NamedTuple):
    item: str
    reason: str
    rules: tuple[str, ...]


class _Reader:
    """Reads sections of one cluster object, recording what it could not read instead of raising."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def note(self, item: str, reason: str, *rules: str) -> None:
        self.problems.append(Problem(item, reason, rules))

    def section(self, obj: Mapping[str, Any], key: str, *rules: str, within: str = "") -> Mapping[str, Any] | None:
        """An object-valued field: {} when absent or null, None (and a problem) when of another type."""
        value = obj.get(key)
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.note(f"{within}{key}", f"must be an object, found {kind(value)}", *rules)
        return None

    def flag(self, obj: Mapping[str, Any] | None, key: str, where: str, *rules: str) -> bool | None:
        """A boolean feature flag: absent or null is off (what ARM prints for a disabled feature);
        anything but a boolean is unknown (None), never "on"."""
        if obj is None:
            return None
        value = obj.get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        self.note(f"{where}.{key}".lstrip("."), f"must be true or false, found {kind(value)} {value!r}"[:200], *rules)
        return None

    def enum(self, value: Any, where: str, known: tuple[str, ...], exposed: str, *rules: str) -> str | None:
        """A documented enum value as written; None when absent (the caller's default). Anything unknown
        counts as `exposed` (and is a problem): an unknown value never counts as the protecting one."""
        if value is None:
            return None
        if isinstance(value, str) and value.lower() in known:
            return value
        self.note(where, f"unknown value {value!r} (known: {', '.join(known)}): counted as {exposed!r}"[:240], *rules)
        return exposed

    def known(self, role: str, raw: Any, where: str, *rules: str) -> KnownIdentity | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.note(where, f"must be an object, found {kind(raw)}", *rules)
            return None

        def low(key: str) -> str | None:
            v = raw.get(key)
            if v is not None and not isinstance(v, str):
                self.note(f"{where}.{key}", f"must be a string, found {kind(v)}", *rules)
            return v.lower() if isinstance(v, str) and v else None

        return KnownIdentity(role, low("clientId"), low("objectId"), low("resourceId"))


def parse_aks(raw: Any, where: str, subscription: str) -> tuple[AksCluster, tuple[Problem, ...]]:
    """One `az aks show` object (`where`: `azure/<sub>/aks/<resource group>/<name>.json`)."""
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a JSON object (az aks show), found {kind(raw)}")
    obj = flat(raw)
    r = _Reader()
    # The file's path names the cluster too (evidence.md): an unreadable id or name is a problem, and
    # the cluster is still read under the name its path gives.
    rg, name = where.rsplit("/", 2)[-2], where.rsplit("/", 1)[-1].removesuffix(".json")
    try:
        name = str(text(obj, "name", ""))
    except Unreadable as exc:
        r.note(exc.item.lstrip("."), f"{exc.reason}: the file's name {name!r} is used", *CLUSTER_RULES)
    try:
        rid = str(text(obj, "id", ""))
    except Unreadable as exc:
        rid = f"/subscriptions/{subscription}/resourceGroups/{rg}/providers/{MANAGED_CLUSTERS}/{name}"
        r.note(exc.item.lstrip("."), f"{exc.reason}: the id is taken from the file's path", *CLUSTER_RULES)
    oidc = r.section(obj, "oidcIssuerProfile", BINDING_RULE)
    security = r.section(obj, "securityProfile", BINDING_RULE)
    wi = (
        r.section(security, "workloadIdentity", BINDING_RULE, within="securityProfile.")
        if security is not None
        else None
    )
    issuer = (oidc or {}).get("issuerUrl")
    profile = r.section(obj, "identityProfile", IMDS_RULE)
    kubelet = r.known("kubelet", (profile or {}).get("kubeletidentity"), "identityProfile.kubeletidentity", IMDS_RULE)
    addons = []
    for key, addon in sorted((r.section(obj, "addonProfiles") or {}).items()):
        if isinstance(addon, dict) and addon.get("identity"):
            found = r.known(f"addon:{key}", addon.get("identity"), f"addonProfiles.{key}.identity")
            if found:
                addons.append(found)
    pools = []
    listed = obj.get("agentPoolProfiles") or []
    if not isinstance(listed, list):
        r.note("agentPoolProfiles", f"must be a list, found {kind(listed)}", IMDS_RULE)
        listed = []
    for i, pool in enumerate(listed):
        item = f"agentPoolProfiles[{i}]"
        if not isinstance(pool, dict) or not isinstance(pool.get("name"), str):
            r.note(item, "not an object with a 'name': its podLinkLocalAccess is not known", IMDS_RULE)
            continue
        access = r.enum(pool.get("podLinkLocalAccess"), f"{item}.podLinkLocalAccess", IMDS_ACCESS, "IMDS", IMDS_RULE)
        pools.append(AgentPool(pool["name"], access))
    network = r.section(obj, "networkProfile", IMDS_RULE) or {}
    return (
        AksCluster(
            id=rid.lower(),
            name=name,
            subscription=subscription,
            oidc_issuer_enabled=r.flag(oidc, "enabled", "oidcIssuerProfile", BINDING_RULE),
            issuer=issuer if isinstance(issuer, str) and issuer else None,
            workload_identity_enabled=r.flag(wi, "enabled", "securityProfile.workloadIdentity", BINDING_RULE),
            kubelet=kubelet,
            addon_identities=tuple(addons),
            agent_pools=tuple(pools),
            pod_link_local_access=r.enum(
                network.get("podLinkLocalAccess"), "networkProfile.podLinkLocalAccess", IMDS_ACCESS, "IMDS", IMDS_RULE
            ),
            # No networkPolicy (null, absent, or no networkProfile at all) means no policy engine: the
            # cluster's NetworkPolicy objects are not enforced.
            network_policy=r.enum(
                network.get("networkPolicy"), "networkProfile.networkPolicy", NETWORK_POLICIES, "none", IMDS_RULE
            )
            or "none",
            node_resource_group=_lower(obj.get("nodeResourceGroup")),
            source=where,
            # Unknown (not a boolean) counts as enabled: listClusterAdminCredential then hands out cluster-admin.
            local_accounts_disabled=r.flag(obj, "disableLocalAccounts", "", ESCALATION_RULE),
        ),
        tuple(r.problems),
    )


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None
