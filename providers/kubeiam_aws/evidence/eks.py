"""Parse the EKS files of one account and region: `eks/<cluster>/cluster.json` (describe-cluster),
`nodegroups.json` and `pod-identity-associations.json`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence


@dataclass(frozen=True, slots=True)
class EksFiles:
    """One EKS cluster's files, as read (the reader matches it to a Kubernetes evidence cluster)."""

    account: str
    region: str
    name: str
    cluster: Mapping[str, Any]
    nodegroups: tuple[Mapping[str, Any], ...] = ()
    associations: tuple[Mapping[str, Any], ...] = ()
    base: str = ""


def read_eks(evidence: Evidence, account: str, region: str) -> list[EksFiles]:
    out = []
    for name in evidence.children(f"aws/{account}/{region}/eks"):
        base = f"aws/{account}/{region}/eks/{name}"
        doc = evidence.load_object(f"{base}/cluster.json", "cluster")
        nodegroups = evidence.load_list(f"{base}/nodegroups.json", "nodegroups") or []
        associations = evidence.load_list(f"{base}/pod-identity-associations.json", "associations") or []
        if doc is None and not nodegroups and not associations:
            continue
        cluster = (doc or {}).get("cluster") or {"name": name}
        if not isinstance(cluster, Mapping):
            raise InputError(f"{base}/cluster.json: field 'cluster' must be an object")
        if doc is not None and "arn" not in cluster:
            raise InputError(f"{base}/cluster.json: missing field 'cluster.arn'")
        for i, ng in enumerate(nodegroups):
            if not isinstance(ng, Mapping) or "nodegroupName" not in ng:
                raise InputError(f"{base}/nodegroups.json: nodegroups[{i}]: missing field 'nodegroupName'")
        for i, a in enumerate(associations):
            for key in ("namespace", "serviceAccount", "roleArn"):
                if not isinstance(a, Mapping) or key not in a:
                    raise InputError(f"{base}/pod-identity-associations.json: associations[{i}]: missing field '{key}'")
        out.append(EksFiles(account, region, name, cluster, tuple(nodegroups), tuple(associations), base))
    return out
