"""Whether an EKS cluster enforces its network policies: a NetworkPolicy that blocks IMDS only blocks it when
something enforces it. On EKS that is the VPC CNI's network policy agent (off unless the vpc-cni add-on's
configuration sets `enableNetworkPolicy`), or another engine: Cilium (which also enforces its own
CiliumNetworkPolicy objects) or Calico.

`aws/<account>/<region>/eks/<cluster>/addon-vpc-cni.json` is `aws eks describe-addon --cluster-name <cluster>
--addon-name vpc-cni --output json`; its `addon.configurationValues` is the add-on's JSON or YAML configuration.
Cilium and Calico are seen in resources.json: their agents' pods (DaemonSets `cilium`, `calico-node`), or
Cilium's own policy objects and CRDs. Nothing of these read: enforcement is unknown, and a policy not known
to be enforced is no mitigation (the node findings name it and say why).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_aws.evidence.shapes import kind, mapping
from kubeiam_aws.view import EksCluster, NetworkPolicyEnforcement

ADDON = "addon-vpc-cni.json"
_CILIUM_KINDS = ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")
_CILIUM_CRDS = {"ciliumnetworkpolicies.cilium.io", "ciliumclusterwidenetworkpolicies.cilium.io"}
_AGENTS = {"cilium": "Cilium", "cilium-agent": "Cilium", "calico-node": "Calico"}


@dataclass(frozen=True, slots=True)
class VpcCni:
    network_policy: bool | None
    """`enableNetworkPolicy` of the add-on's configuration (False when not set: the add-on's default)."""
    source: str


def read_vpc_cni(evidence: Evidence, base: str, errors: list[CoverageError], subject: str) -> VpcCni | None:
    relative = f"{base}/{ADDON}"
    data = evidence.load(relative)
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("addon"), Mapping):
        found = kind(data.get("addon")) if isinstance(data, dict) else kind(data)
        raise InputError(f"{relative}: field 'addon' must be the describe-addon object, found {found}")
    addon = data["addon"]
    if addon.get("addonName") not in (None, "vpc-cni"):
        raise InputError(f"{relative}: is the {addon.get('addonName')!r} add-on: write `--addon-name vpc-cni` here")
    raw = addon.get("configurationValues")
    try:
        config = yaml.safe_load(raw) if isinstance(raw, str) and raw.strip() else {}
    except yaml.YAMLError:
        config = None
    if not isinstance(config, Mapping):
        reason = (
            "addon.configurationValues is not a JSON or YAML object: whether network policies are enforced is unknown"
        )
        errors.append(CoverageError("aws", relative, reason, subject=subject, rules=("AWS-020", "AWS-021")))
        return VpcCni(None, relative)
    value = config.get("enableNetworkPolicy")
    return VpcCni(str(value).lower() == "true" if value is not None else False, relative)


def enforcement(
    inventory: Inventory, eks: Iterable[EksCluster], addons: Mapping[str, VpcCni]
) -> dict[str, NetworkPolicyEnforcement]:
    """Kubernetes cluster name -> what enforces its network policies. `addons`: EKS cluster source -> add-on."""
    by_cluster = {c.k8s_cluster: addons.get(c.source) for c in eks if c.k8s_cluster}
    engines = _engines(inventory)
    out = {}
    for cluster in inventory.clusters:
        seen = engines.get(cluster.name, set())
        cilium = "Cilium" in seen
        addon = by_cluster.get(cluster.name)
        if seen:
            how = f"{' and '.join(sorted(seen))} in resources.json"
            out[cluster.name] = NetworkPolicyEnforcement(True, cilium, how)
        elif addon is not None and addon.network_policy is not None:
            how = f"{addon.source}: enableNetworkPolicy {'true' if addon.network_policy else 'not set'}"
            out[cluster.name] = NetworkPolicyEnforcement(addon.network_policy, False, how)
        else:
            how = (
                "enforcement unknown: no eks/<cluster>/addon-vpc-cni.json (aws eks describe-addon --addon-name "
                "vpc-cni) and no Cilium or Calico in resources.json"
            )
            out[cluster.name] = NetworkPolicyEnforcement(None, False, how)
    return out


def _engines(inventory: Inventory) -> dict[str, set[str]]:
    """Cluster -> the policy engines its evidence shows running (agent pods, Cilium's own objects)."""
    out: dict[str, set[str]] = {}
    for w in inventory.workloads:
        engine = _AGENTS.get(w.owner_name) if w.owner_kind == "DaemonSet" else None
        if engine:
            out.setdefault(w.cluster, set()).add(engine)
    for block in inventory.egress_blocks:
        if block.kind in _CILIUM_KINDS:
            out.setdefault(block.cluster, set()).add("Cilium")
    view: Any = inventory.views.get("kubernetes")
    for cluster in inventory.clusters:
        if view is None or not hasattr(view, "of_kind"):
            break
        crds = {mapping(o.get("metadata")).get("name") for o in view.of_kind(cluster.name, "CustomResourceDefinition")}
        if crds & _CILIUM_CRDS or any(view.of_kind(cluster.name, k) for k in _CILIUM_KINDS):
            out.setdefault(cluster.name, set()).add("Cilium")
    return out
