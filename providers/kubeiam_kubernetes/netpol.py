"""Which network policies stop pods from reaching the instance metadata service.

Why it matters: every cloud serves node credentials at 169.254.169.254; a policy that denies
egress there is the one mitigation that works even when the node's IMDS settings are loose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from kubeiam.model import EgressBlock

IMDS = ipaddress.ip_address("169.254.169.254")


def _covers(cidr: str) -> bool:
    try:
        return IMDS in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _selects_all(selector: Any) -> bool:
    return isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions")


def _k8s_rule_allows_imds(rule: Mapping[str, Any]) -> bool:
    peers = rule.get("to")
    if not peers:  # no `to`: every destination
        return True
    for peer in peers:
        block = peer.get("ipBlock")
        if block and _covers(block.get("cidr", "")) and not any(_covers(e) for e in block.get("except") or []):
            return True
    return False


def _k8s_blocks(policy: Mapping[str, Any]) -> bool:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
    if "Egress" not in types:
        return False
    return not any(_k8s_rule_allows_imds(r) for r in spec.get("egress") or [])


def _cilium_blocks(policy: Mapping[str, Any]) -> tuple[bool, bool]:
    """(blocks IMDS, selects every endpoint) for a Cilium(Clusterwide)NetworkPolicy."""
    specs = policy.get("specs") or [policy.get("spec") or {}]
    for spec in specs:
        selects_all = _selects_all(spec.get("endpointSelector"))
        for rule in spec.get("egressDeny") or []:
            cidrs = list(rule.get("toCIDR") or []) + [c.get("cidr", "") for c in rule.get("toCIDRSet") or []]
            if any(_covers(c) for c in cidrs):
                return True, selects_all
        egress = spec.get("egress")
        if egress is not None and not any(_cilium_rule_allows_imds(r) for r in egress):
            return True, selects_all
    return False, False


def _cilium_rule_allows_imds(rule: Mapping[str, Any]) -> bool:
    if rule.get("toEntities") and {"world", "all"} & set(rule["toEntities"]):
        return True
    for c in rule.get("toCIDR") or []:
        if _covers(c):
            return True
    for c in rule.get("toCIDRSet") or []:
        if _covers(c.get("cidr", "")) and not any(_covers(e) for e in c.get("except") or []):
            return True
    return False


def egress_blocks(cluster: str, by_kind: Mapping[str, Iterable[Mapping[str, Any]]]) -> list[EgressBlock]:
    out = []
    for policy in by_kind.get("NetworkPolicy", []):
        if _k8s_blocks(policy):
            meta = policy["metadata"]
            out.append(
                EgressBlock(
                    cluster,
                    meta.get("namespace") or "default",
                    "NetworkPolicy",
                    meta["name"],
                    _selects_all((policy.get("spec") or {}).get("podSelector")),
                )
            )
    for kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
        for policy in by_kind.get(kind, []):
            blocks, selects_all = _cilium_blocks(policy)
            if blocks:
                meta = policy["metadata"]
                namespace = None if kind == "CiliumClusterwideNetworkPolicy" else meta.get("namespace") or "default"
                out.append(EgressBlock(cluster, namespace, kind, meta["name"], selects_all))
    return out
