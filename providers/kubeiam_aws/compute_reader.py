"""Parse the EC2 and EKS files of one account and region (describe-instances, launch templates, EKS)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeiam.errors import InputError
from kubeiam.evidence import Evidence
from kubeiam_aws.view import ImdsOptions


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    account: str
    region: str
    imds: ImdsOptions
    instance_profile: str | None
    tags: Mapping[str, str]
    source: str


@dataclass(frozen=True, slots=True)
class LaunchTemplateVersion:
    template_id: str
    name: str
    version: int
    default: bool
    imds: ImdsOptions
    instance_profile: str | None
    source: str


@dataclass(frozen=True, slots=True)
class EksFiles:
    account: str
    region: str
    name: str
    cluster: Mapping[str, Any]
    nodegroups: list[Mapping[str, Any]] = field(default_factory=list)
    associations: list[Mapping[str, Any]] = field(default_factory=list)
    base: str = ""


def imds_options(raw: Any, *, karpenter: bool = False) -> ImdsOptions:
    """MetadataOptions (EC2, PascalCase) or metadataOptions (Karpenter, camelCase)."""
    raw = raw if isinstance(raw, Mapping) else {}
    if karpenter:
        # Karpenter's documented defaults: IMDSv2 required, hop limit 1, endpoint enabled.
        hop = raw.get("httpPutResponseHopLimit", 1)
        return ImdsOptions(raw.get("httpTokens", "required"), _int(hop), raw.get("httpEndpoint", "enabled"))
    hop = raw.get("HttpPutResponseHopLimit")
    return ImdsOptions(raw.get("HttpTokens"), _int(hop), raw.get("HttpEndpoint"))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def read_instances(evidence: Evidence, account: str, region: str) -> list[Instance]:
    relative = f"aws/{account}/{region}/ec2-instances.json"
    reservations = evidence.load_list(relative, "Reservations")
    if reservations is None:
        return []
    out = []
    for i, res in enumerate(reservations):
        if not isinstance(res, Mapping) or not isinstance(res.get("Instances", []), list):
            raise InputError(f"{relative}: Reservations[{i}]: field 'Instances' must be a list")
        for j, inst in enumerate(res.get("Instances", [])):
            if not isinstance(inst, Mapping) or "InstanceId" not in inst:
                raise InputError(f"{relative}: Reservations[{i}].Instances[{j}]: missing field 'InstanceId'")
            tags = {str(t.get("Key")): str(t.get("Value")) for t in inst.get("Tags") or [] if isinstance(t, Mapping)}
            out.append(
                Instance(
                    instance_id=inst["InstanceId"],
                    account=account,
                    region=region,
                    imds=imds_options(inst.get("MetadataOptions")),
                    instance_profile=(inst.get("IamInstanceProfile") or {}).get("Arn"),
                    tags=tags,
                    source=relative,
                )
            )
    return out


def read_launch_templates(evidence: Evidence, account: str, region: str) -> list[LaunchTemplateVersion]:
    relative = f"aws/{account}/{region}/launch-template-versions.json"
    versions = evidence.load_list(relative, "LaunchTemplateVersions")
    if versions is None:
        return []
    out = []
    for i, v in enumerate(versions):
        if not isinstance(v, Mapping) or "LaunchTemplateId" not in v or "VersionNumber" not in v:
            raise InputError(
                f"{relative}: LaunchTemplateVersions[{i}]: missing field 'LaunchTemplateId' or 'VersionNumber'"
            )
        data = v.get("LaunchTemplateData") or {}
        profile = data.get("IamInstanceProfile") or {}
        out.append(
            LaunchTemplateVersion(
                template_id=v["LaunchTemplateId"],
                name=str(v.get("LaunchTemplateName", "")),
                version=int(v["VersionNumber"]),
                default=bool(v.get("DefaultVersion")),
                imds=imds_options(data.get("MetadataOptions")),
                instance_profile=profile.get("Arn") or profile.get("Name"),
                source=relative,
            )
        )
    return out


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
        out.append(EksFiles(account, region, name, cluster, list(nodegroups), list(associations), base))
    return out
