"""Which network policies stop pods from reaching the instance metadata service.

Why it matters: every cloud serves node credentials at 169.254.169.254; a policy that denies
egress there is the one mitigation that works even when the node's IMDS settings are loose.
On an IPv6 cluster (a node or pod address is IPv6) EC2 also serves IMDS at fd00:ec2::254: a policy
must stop both addresses to count.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from kubeiam.vocabulary.model import EgressBlock

IMDS = ipaddress.ip_address("169.254.169.254")
IMDS_IPV6 = ipaddress.ip_address("fd00:ec2::254")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _covers(cidr: str, addr: Address = IMDS) -> bool:
    try:
        return addr in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _opens(cidr: str, excepts: list[str], addrs: tuple[Address, ...]) -> bool:
    """Whether an allowed CIDR (minus its `except`s) lets some IMDS address through."""
    return any(_covers(cidr, a) and not any(_covers(e, a) for e in excepts) for a in addrs)


def _imds_addresses(by_kind: Mapping[str, Iterable[Mapping[str, Any]]]) -> tuple[Address, ...]:
    """169.254.169.254, and fd00:ec2::254 when the cluster is IPv6 (a node or pod address says so)."""
    # `status` is not checked when the file is read (nothing else reads it): any shape is taken as no address.
    for node in by_kind.get("Node", []):
        addresses = _field(_field(node, "status"), "addresses")
        for a in addresses if isinstance(addresses, list) else ():
            if isinstance(a, Mapping) and a.get("type") == "InternalIP" and ":" in str(a.get("address", "")):
                return (IMDS, IMDS_IPV6)
    for pod in by_kind.get("Pod", []):
        status = _field(pod, "status")
        pod_ips = _field(status, "podIPs")
        ips = [
            _field(status, "podIP"),
            *(i.get("ip") for i in (pod_ips if isinstance(pod_ips, list) else ()) if isinstance(i, Mapping)),
        ]
        if any(":" in str(ip) for ip in ips if ip):
            return (IMDS, IMDS_IPV6)
    return (IMDS,)


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _selects_all(selector: Any) -> bool:
    return isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions")


def _k8s_rule_allows_imds(rule: Mapping[str, Any], addrs: tuple[Address, ...]) -> bool:
    peers = rule.get("to")
    if not peers:  # no `to`: every destination
        return True
    for peer in peers:
        block = peer.get("ipBlock")
        if block and _opens(block.get("cidr", ""), block.get("except") or [], addrs):
            return True
    return False


def _k8s_restricts_egress(policy: Mapping[str, Any]) -> bool:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
    return "Egress" in types


def _k8s_allows_imds(policy: Mapping[str, Any], addrs: tuple[Address, ...]) -> bool:
    return _k8s_restricts_egress(policy) and any(
        _k8s_rule_allows_imds(r, addrs) for r in (policy.get("spec") or {}).get("egress") or []
    )


def _k8s_blocks(policy: Mapping[str, Any], addrs: tuple[Address, ...]) -> bool:
    return _k8s_restricts_egress(policy) and not _k8s_allows_imds(policy, addrs)


def _cilium_blocks(policy: Mapping[str, Any], addrs: tuple[Address, ...]) -> tuple[bool, bool, bool]:
    """(blocks IMDS, selects every endpoint, by an egressDeny) for a Cilium(Clusterwide)NetworkPolicy."""
    specs = policy.get("specs") or [policy.get("spec") or {}]
    for spec in specs:
        selects_all = _selects_all(spec.get("endpointSelector"))
        # A toCIDRSet `except` carves an address out of the deny: then it is not denied.
        denied = [(c, []) for rule in spec.get("egressDeny") or [] for c in rule.get("toCIDR") or []] + [
            (c.get("cidr", ""), c.get("except") or [])
            for rule in spec.get("egressDeny") or []
            for c in rule.get("toCIDRSet") or []
        ]
        if denied and all(any(_opens(c, ex, (a,)) for c, ex in denied) for a in addrs):
            return True, selects_all, True
        egress = spec.get("egress")
        if egress is not None and not any(_cilium_rule_allows_imds(r, addrs) for r in egress):
            return True, selects_all, False
    return False, False, False


def _cilium_allows_imds(policy: Mapping[str, Any], addrs: tuple[Address, ...]) -> bool:
    specs = policy.get("specs") or [policy.get("spec") or {}]
    return any(_cilium_rule_allows_imds(r, addrs) for spec in specs for r in spec.get("egress") or [])


def _cilium_rule_allows_imds(rule: Mapping[str, Any], addrs: tuple[Address, ...]) -> bool:
    if rule.get("toEntities") and {"world", "all"} & set(rule["toEntities"]):
        return True
    if any(_opens(c, [], addrs) for c in rule.get("toCIDR") or []):
        return True
    return any(_opens(c.get("cidr", ""), c.get("except") or [], addrs) for c in rule.get("toCIDRSet") or [])


def egress_blocks(
    cluster: str, by_kind: Mapping[str, Iterable[Mapping[str, Any]]], unreadable: Iterable[Mapping[str, Any]] = ()
) -> list[EgressBlock]:
    """Policies that stop every pod they select from reaching IMDS.

    Why the union check: Kubernetes (and Cilium allow) policies add up. A deny-all-egress policy
    does not protect a pod that another policy lets out to 0.0.0.0/0, and an EgressBlock claims a
    whole namespace (or cluster), so any policy there that allows IMDS voids the allow-list blocks.
    Cilium `egressDeny` is different: a deny wins over every allow, so it stands on its own.
    A policy the reader could not read (`unreadable`, a field of the wrong type) may allow anything:
    it counts as opening IMDS where it applies, never as a block.
    """
    addrs = _imds_addresses(by_kind)
    # Namespaces (None: cluster-wide) where some policy lets some pod reach IMDS.
    opened: set[str | None] = set()
    for policy in by_kind.get("NetworkPolicy", []):
        if _k8s_allows_imds(policy, addrs):
            opened.add(_namespace(policy))
    for kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
        for policy in by_kind.get(kind, []):
            if _cilium_allows_imds(policy, addrs):
                opened.add(None if kind == "CiliumClusterwideNetworkPolicy" else _namespace(policy))
    for policy in unreadable:
        opened.add(None if policy.get("kind") == "CiliumClusterwideNetworkPolicy" else _namespace(policy))

    def voided(namespace: str | None) -> bool:
        # A cluster-wide allow-list block is void if any namespace opens IMDS; a namespaced one if
        # its namespace, or a cluster-wide policy, does.
        return bool(opened) if namespace is None else bool({namespace, None} & opened)

    out = []
    for policy in by_kind.get("NetworkPolicy", []):
        if _k8s_blocks(policy, addrs) and not voided(_namespace(policy)):
            selects_all = _selects_all((policy.get("spec") or {}).get("podSelector"))
            name = policy["metadata"]["name"]
            out.append(EgressBlock(cluster, _namespace(policy), "NetworkPolicy", name, selects_all))
    for kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
        for policy in by_kind.get(kind, []):
            blocks, selects_all, by_deny = _cilium_blocks(policy, addrs)
            namespace = None if kind == "CiliumClusterwideNetworkPolicy" else _namespace(policy)
            if blocks and (by_deny or not voided(namespace)):
                out.append(EgressBlock(cluster, namespace, kind, policy["metadata"]["name"], selects_all))
    return out


def _namespace(policy: Mapping[str, Any]) -> str:
    return (policy.get("metadata") or {}).get("namespace") or "default"
