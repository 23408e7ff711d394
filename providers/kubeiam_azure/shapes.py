"""Azure evidence objects as typed values, read from either of their two JSON shapes.

The az CLI flattens what the REST API nests under `properties` (and renames a few fields:
`roleType` is REST's `properties.type`). Every parser here accepts both, checks the fields a
rule depends on, and raises `InputError("<file>: <where>: <what>")` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam.errors import InputError

AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True, slots=True)
class Permission:
    """One entry of a role definition's `permissions`: allowed = actions minus notActions."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    condition: str | None = None
    """A role-level ABAC condition (e.g. constrained role-assignment delegation), as written."""


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    id: str
    """The role definition's GUID, lower-cased (the same for a built-in role in every tenant)."""
    name: str
    """`roleName`, e.g. `Owner`."""
    custom: bool
    permissions: tuple[Permission, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    """Assignment resource id, lower-cased."""
    principal_id: str
    """Object id of the principal, lower-cased."""
    role_id: str
    """GUID of the role definition, lower-cased."""
    scope: str
    role_name: str | None = None
    """`roleDefinitionName` when the az CLI printed it."""
    principal_type: str | None = None
    condition: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class ManagedIdentity:
    id: str
    """Resource id, lower-cased."""
    name: str
    client_id: str
    principal_id: str
    tenant_id: str | None
    subscription: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class FederatedCredential:
    id: str
    name: str
    issuer: str
    subject: str | None
    audiences: tuple[str, ...]
    claims_expression: str | None = None
    """Flexible federated credentials: `claimsMatchingExpression.value` instead of a subject."""
    source: str = ""


@dataclass(frozen=True, slots=True)
class KnownIdentity:
    """An identity the AKS object names (kubelet, add-ons): client id, object id, resource id."""

    role: str
    client_id: str | None
    object_id: str | None
    resource_id: str | None


@dataclass(frozen=True, slots=True)
class AgentPool:
    name: str
    pod_link_local_access: str | None = None
    """`IMDS` (default) or `None`: whether non-hostNetwork pods can reach IMDS (preview API)."""


@dataclass(frozen=True, slots=True)
class AksCluster:
    id: str
    """Resource id, lower-cased (the cluster's `stable_id`)."""
    name: str
    resource_group: str
    subscription: str
    oidc_issuer_enabled: bool
    issuer: str | None
    workload_identity_enabled: bool
    kubelet: KnownIdentity | None
    addon_identities: tuple[KnownIdentity, ...] = ()
    agent_pools: tuple[AgentPool, ...] = ()
    pod_link_local_access: str | None = None
    """`networkProfile.podLinkLocalAccess` (cluster-wide default for the pools)."""
    network_policy: str | None = None
    source: str = ""


def flat(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """REST objects nest under `properties`; merge them up so one lookup serves both shapes.

    An az CLI object is already flat: returned as is (read, never changed), not copied."""
    props = obj.get("properties")
    return {**obj, **props} if isinstance(props, Mapping) else obj


def items_of(doc: Any, where: str) -> list[Any]:
    """A bare list (az CLI) or a REST page `{"value": [...]}`."""
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        return doc["value"]
    if isinstance(doc, list):
        return doc
    raise InputError(f"{where}: expected a JSON list (or a REST page with 'value')")


def _text(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: missing field '{key}'" if value is None else f"{where}: '{key}' must be a string")
    return value


def _strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def last_segment(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1].lower()


def parse_role_definition(raw: Any, where: str, source: str = "") -> RoleDefinition:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a role definition must be an object")
    obj = flat(raw)
    ident = _text(obj, "name", where)
    role_name = _text(obj, "roleName", where)
    # az CLI: `roleType`; REST: `properties.type` (the top-level `type` is the resource type).
    role_type = obj.get("roleType") or (raw.get("properties") or {}).get("type") or ""
    perms = obj.get("permissions")
    if not isinstance(perms, list):
        raise InputError(f"{where}: missing field 'permissions'")
    permissions = []
    for i, p in enumerate(perms):
        pw = f"{where}.permissions[{i}]"
        if not isinstance(p, dict):
            raise InputError(f"{pw}: must be an object")
        cond = p.get("condition")
        permissions.append(
            Permission(
                actions=_strings(p, "actions", pw),
                not_actions=_strings(p, "notActions", pw),
                data_actions=_strings(p, "dataActions", pw),
                not_data_actions=_strings(p, "notDataActions", pw),
                condition=cond if isinstance(cond, str) and cond else None,
            )
        )
    return RoleDefinition(
        id=last_segment(str(ident)),
        name=str(role_name),
        custom=str(role_type).lower() == "customrole",
        permissions=tuple(permissions),
        source=source,
    )


def parse_role_assignment(raw: Any, where: str, source: str) -> RoleAssignment:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a role assignment must be an object")
    obj = flat(raw)
    cond = obj.get("condition")
    return RoleAssignment(
        id=str(_text(obj, "id", where)).lower(),
        principal_id=str(_text(obj, "principalId", where)).lower(),
        role_id=last_segment(str(_text(obj, "roleDefinitionId", where))),
        scope=str(_text(obj, "scope", where)),
        role_name=obj.get("roleDefinitionName") if isinstance(obj.get("roleDefinitionName"), str) else None,
        principal_type=obj.get("principalType") if isinstance(obj.get("principalType"), str) else None,
        condition=cond if isinstance(cond, str) and cond else None,
        source=source,
    )


def parse_identity(raw: Any, where: str, subscription: str, source: str) -> ManagedIdentity:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: an identity must be an object")
    obj = flat(raw)
    rid = str(_text(obj, "id", where))
    return ManagedIdentity(
        id=rid.lower(),
        name=str(obj.get("name") or last_segment(rid)),
        client_id=str(_text(obj, "clientId", where)).lower(),
        principal_id=str(_text(obj, "principalId", where)).lower(),
        tenant_id=(_text(obj, "tenantId", where, required=False) or "").lower() or None,
        subscription=subscription,
        source=source,
    )


def parse_federated_credential(raw: Any, where: str, source: str) -> FederatedCredential:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a federated credential must be an object")
    obj = flat(raw)
    expr = obj.get("claimsMatchingExpression")
    expression = expr.get("value") if isinstance(expr, dict) else None
    subject = _text(obj, "subject", where, required=expression is None)
    audiences = _strings(obj, "audiences", where)
    if "audiences" not in obj:
        raise InputError(f"{where}: missing field 'audiences'")
    return FederatedCredential(
        id=str(obj.get("id") or "").lower(),
        name=str(obj.get("name") or ""),
        issuer=str(_text(obj, "issuer", where)),
        subject=subject,
        audiences=audiences,
        claims_expression=expression if isinstance(expression, str) else None,
        source=source,
    )


def _known(role: str, raw: Any, where: str) -> KnownIdentity | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InputError(f"{where}: must be an object")

    def low(key: str) -> str | None:
        v = raw.get(key)
        return v.lower() if isinstance(v, str) and v else None

    return KnownIdentity(role, low("clientId"), low("objectId"), low("resourceId"))


def parse_aks(raw: Any, where: str, subscription: str, resource_group: str) -> AksCluster:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a JSON object (az aks show)")
    obj = flat(raw)
    rid = str(_text(obj, "id", where))
    name = str(_text(obj, "name", where))
    oidc = obj.get("oidcIssuerProfile") or {}
    security = obj.get("securityProfile") or {}
    if not isinstance(oidc, dict) or not isinstance(security, dict):
        raise InputError(f"{where}: 'oidcIssuerProfile' and 'securityProfile' must be objects")
    wi = security.get("workloadIdentity") or {}
    profile = obj.get("identityProfile") or {}
    if not isinstance(profile, dict):
        raise InputError(f"{where}: 'identityProfile' must be an object")
    addons = []
    for key, addon in sorted((obj.get("addonProfiles") or {}).items()):
        if isinstance(addon, dict) and addon.get("identity"):
            found = _known(f"addon:{key}", addon.get("identity"), f"{where}: addonProfiles.{key}.identity")
            if found:
                addons.append(found)
    pools = []
    for i, pool in enumerate(obj.get("agentPoolProfiles") or []):
        if not isinstance(pool, dict) or not isinstance(pool.get("name"), str):
            raise InputError(f"{where}: agentPoolProfiles[{i}]: missing field 'name'")
        pools.append(AgentPool(pool["name"], _opt_str(pool.get("podLinkLocalAccess"))))
    network = obj.get("networkProfile") or {}
    issuer = oidc.get("issuerUrl")
    return AksCluster(
        id=rid.lower(),
        name=name,
        resource_group=str(obj.get("resourceGroup") or resource_group),
        subscription=subscription,
        oidc_issuer_enabled=bool(oidc.get("enabled")),
        issuer=issuer if isinstance(issuer, str) and issuer else None,
        workload_identity_enabled=bool(isinstance(wi, dict) and wi.get("enabled")),
        kubelet=_known("kubelet", profile.get("kubeletidentity"), f"{where}: identityProfile.kubeletidentity"),
        addon_identities=tuple(addons),
        agent_pools=tuple(pools),
        pod_link_local_access=_opt_str(network.get("podLinkLocalAccess")) if isinstance(network, dict) else None,
        # A networkProfile without networkPolicy means no policy engine: NetworkPolicies are not enforced.
        network_policy=(_opt_str(network.get("networkPolicy")) or "none")
        if isinstance(network, dict) and network
        else None,
        source=where,
    )


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
