"""`azure/<subscription>/aks/<resource-group>/<name>.json`: one managed cluster (`az aks show`)."""

from __future__ import annotations

from typing import Any

from kubeiam.errors import InputError
from kubeiam_azure.evidence.fields import flat, optional_text, text
from kubeiam_azure.view import AgentPool, AksCluster, KnownIdentity


def _known(role: str, raw: Any, where: str) -> KnownIdentity | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InputError(f"{where}: must be an object")

    def low(key: str) -> str | None:
        v = raw.get(key)
        return v.lower() if isinstance(v, str) and v else None

    return KnownIdentity(role, low("clientId"), low("objectId"), low("resourceId"))


def parse_aks(raw: Any, where: str, subscription: str) -> AksCluster:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a JSON object (az aks show)")
    obj = flat(raw)
    rid = str(text(obj, "id", where))
    name = str(text(obj, "name", where))
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
        pools.append(AgentPool(pool["name"], optional_text(pool.get("podLinkLocalAccess"))))
    network = obj.get("networkProfile") or {}
    issuer = oidc.get("issuerUrl")
    return AksCluster(
        id=rid.lower(),
        name=name,
        subscription=subscription,
        oidc_issuer_enabled=bool(oidc.get("enabled")),
        issuer=issuer if isinstance(issuer, str) and issuer else None,
        workload_identity_enabled=bool(isinstance(wi, dict) and wi.get("enabled")),
        kubelet=_known("kubelet", profile.get("kubeletidentity"), f"{where}: identityProfile.kubeletidentity"),
        addon_identities=tuple(addons),
        agent_pools=tuple(pools),
        pod_link_local_access=optional_text(network.get("podLinkLocalAccess")) if isinstance(network, dict) else None,
        # A networkProfile without networkPolicy means no policy engine: NetworkPolicies are not enforced.
        network_policy=(optional_text(network.get("networkPolicy")) or "none")
        if isinstance(network, dict) and network
        else None,
        source=where,
    )
